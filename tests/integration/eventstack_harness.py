"""The stack test_events.py and test_suppression.py share: a real Postfix
that signs through postseal-milter (an Ed25519 key for example.com) and
relays to a loopback OutcomeServer (which accepts, defers or refuses each
recipient), with postseal-policyd following Postfix's maillog_file into
an [events] dir. Each test adds its own main.cf, sections and daemons:

    class Stack(EventStack):
        def __init__(self, tmp):
            super().__init__(tmp, "s2026e")
            self.start(main={...}, policyd={"store": ...}, sections={...})
            self.pd = self.policyd()
"""

import os
import re

import pytest

import mailstack as ms
from smtp_outcomes import OutcomeServer

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")
POLICYD = os.path.join(BUILD, "postseal-policyd")
CLI = os.path.join(BUILD, "postseal")

needs_daemons = pytest.mark.skipif(
    not (os.access(MILTER, os.X_OK) and os.access(POLICYD, os.X_OK)),
    reason="daemons not built")


class EventStack:
    def __init__(self, tmp, selector):
        """The scratch directory, the events dir, the key (selector) and
        the ports; start() makes Postfix, the config and the milter."""
        self.tmp = tmp
        self.events = os.path.join(tmp, "events")
        os.mkdir(self.events)
        self.key = ms.DkimKey(tmp, selector, "ed25519")
        self.selector = selector
        self.mport, self.pport = ms.free_port(), ms.free_port()

    def start(self, main, policyd, sections, master=""):
        """Postfix with main (extra main.cf), postseal.conf (self.sections:
        the milter signing example.com, [policyd] listening with policyd's
        keys, [events] on Postfix's log, and sections), master (more
        master.cf lines) and the milter."""
        self.remote = OutcomeServer()
        self.pf = ms.PostfixInstance(self.remote.port, milter=f"inet:127.0.0.1:{self.mport}",
                                     main=main, master=master)
        self.sections = {
            "milter": {"socket": f"inet:{self.mport}@127.0.0.1", "mode": "sign",
                       "internal_hosts": "127.0.0.0/8", "authserv_id": "mx.example.com"},
            "keys": {"own": f"example.com {self.selector} {self.key.path}"},
            "signing": {"example.com": "own"},
            "policyd": {"listen": f"inet:127.0.0.1:{self.pport}", **policyd},
            "events": {"dir": self.events, "maillog": self.pf.maillog},
            **sections,
        }
        self.conf = ms.write_ini(os.path.join(self.tmp, "postseal.conf"), self.sections)
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.mport)

    def policyd(self):
        """A postseal-policyd on this stack's config, started."""
        return ms.Daemon([POLICYD, "-f", "-c", self.conf], port=self.pport)

    def send_raw(self, raw, sender, rcpts, xclient=None):
        """raw through Postfix's SMTP port; the queue id it was given."""
        code, text = self.pf.smtp_send(raw, sender, rcpts, xclient=xclient)
        assert code == 250, text
        return re.search(rb"queued as ([0-9A-Za-z]+)", text).group(1).decode()

    def close_with(self, *daemons):
        """Postfix, the milter, daemons, then the remote; no sanitizer report."""
        report = ms.shutdown(self.pf, self.milter, *daemons)
        self.remote.close()
        assert report is None, report
