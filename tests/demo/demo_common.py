"""What the demo's Python steps share: printing as they go, the failure
they raise, and stopping cleanly on Ctrl-C, SIGTERM or SIGHUP."""

import shlex
import signal


class DemoFailed(Exception):
    pass


def say(text=""):
    print(text, flush=True)


def show_cmd(argv, background=False):
    say("$ " + " ".join(shlex.quote(str(a)) for a in argv) + (" &" if background else ""))


def _stop(signum, frame):
    signal.signal(signum, signal.SIG_IGN)
    print(f"\ndemo: interrupted (signal {signum}), stopping what it started", flush=True)
    raise SystemExit(128 + signum)


def stop_on_signals():
    """Ctrl-C, SIGTERM and SIGHUP end the step through SystemExit, so every
    `with` and ExitStack on the way out stops what the step started."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _stop)
