"""What the fault tests (test_faults_*.py) share: the figures each prints
and keeps in $POSTSEAL_BUILD/faults.txt (one line per test, replaced on
each run) for the README to quote, and a thread-safe tally.

    figures("milter_kill9", accepted=100, deferred=7)
"""

import collections
import fcntl
import os
import pathlib
import threading

ROOT = pathlib.Path(__file__).resolve().parents[2]


def figures_path():
    return pathlib.Path(os.environ.get("POSTSEAL_BUILD", ROOT / "build")) / "faults.txt"


def figures(name, **values):
    """Prints "name: k=v ..." and puts that line in faults.txt in place of
    the line an earlier run wrote for name."""
    line = f"{name}: " + " ".join(f"{k}={v}" for k, v in values.items())
    print("\n" + line)
    path = figures_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        kept = [x for x in f.read().splitlines() if x and not x.startswith(name + ":")]
        f.seek(0)
        f.truncate()
        f.write("\n".join(sorted(kept + [line])) + "\n")
    return line


class Tally:
    """Counters and lists several threads add to."""

    def __init__(self):
        self.lock = threading.Lock()
        self.n = collections.Counter()
        self.lists = collections.defaultdict(list)

    def add(self, key, item=None):
        with self.lock:
            self.n[key] += 1
            if item is not None:
                self.lists[key].append(item)

    def __getitem__(self, key):
        with self.lock:
            return self.n[key]


def latency_summary(seconds):
    """"min/median/max ms" of a list of durations in seconds."""
    if not seconds:
        return "none"
    s = sorted(seconds)
    return "/".join(f"{x * 1000:.0f}" for x in (s[0], s[len(s) // 2], s[-1])) + "ms"
