"""What the inbound verification tests share (test_milter_verify.py,
test_milter_verify_results.py, test_milter_dmarc.py,
test_metrics_milter.py): postseal-milter with a dnsmasq on loopback as
its resolver, in front of a real Postfix named AUTHSERV that delivers to
an smtp-sink. A test's Stack makes its keys and self.dns, then:

    self.start(tmp, {"mode": "verify", ...}, sections={...})
"""

import os

import pytest

import mailstack as ms

BUILD = os.environ.get("POSTSEAL_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
MILTER = os.path.join(BUILD, "postseal-milter")
AUTHSERV = "mx.example.test"
OUTSIDE = {"ADDR": "192.0.2.7", "NAME": "mail.ext.example"}

needs_milter = pytest.mark.skipif(not os.access(MILTER, os.X_OK),
                                  reason="postseal-milter not built")


class VerifyStack:
    def start(self, tmp, milter, sections=None, resolver=None):
        """The milter ([milter]: its socket, AUTHSERV, resolver or
        self.dns's, then milter; then sections), the sink and Postfix."""
        self.port = ms.free_port()
        self.conf = ms.write_ini(os.path.join(tmp, "postseal.conf"), {
            "milter": {"socket": f"inet:{self.port}@127.0.0.1", "authserv_id": AUTHSERV,
                       "resolver": resolver or self.dns.resolver, **milter},
            **(sections or {}),
        })
        self.milter = ms.Daemon([MILTER, "-f", "-c", self.conf], port=self.port)
        self.sink = ms.SmtpSink()
        self.pf = ms.PostfixInstance(self.sink, milter=f"inet:127.0.0.1:{self.port}",
                                     hostname=AUTHSERV,
                                     main={"local_header_rewrite_clients": ""})

    def close(self):
        """Stops everything; fails on a sanitizer report in the milter log."""
        report = ms.shutdown(self.pf, self.sink, self.milter, self.dns)
        assert report is None, report
