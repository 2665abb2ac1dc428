"""Runs a command the way test_host_clean.py wants to watch it: in its own
mount and PID namespaces (unshare --mount --pid --fork --mount-proc), with
a given copy of /etc/postfix bind-mounted over /etc/postfix, so that what
the command does to /etc/postfix shows in that copy and nothing else on
the host (another test run, say) can change it meanwhile.

    unshare --mount --pid --fork --mount-proc /usr/bin/python3 hostclean.py \\
        ETC_COPY run|interrupt:REGEX CMD...

Prints one JSON object: the copy's snapshot before and after, the exit
status, the command's output, the processes still alive once it ended
(none should be: every process it started, daemonised or not, lives in
this PID namespace), and the /tmp/postseal-demo.* directories and
mailstack slots (directories, lock files) it left.
interrupt:REGEX sends SIGINT to the command's process group (a terminal's
Ctrl-C) when a line of its output matches REGEX.
"""

import fcntl
import glob
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time


def snapshot(top):
    """{relative path: (type, mode, uid, gid, sha256 or link target)} for
    everything under top, top itself included."""
    st = os.lstat(top)
    out = {".": ("d", st.st_mode, st.st_uid, st.st_gid, "")}
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(base, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = ("l", st.st_mode, st.st_uid, st.st_gid, os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("d", st.st_mode, st.st_uid, st.st_gid, "")
            else:
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ("f", st.st_mode, st.st_uid, st.st_gid, digest)
    return out


def reap():
    """Collects exited orphans (this process is PID 1 of the namespace)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def alive():
    """Command lines of every process in this PID namespace but this one."""
    procs = []
    for d in glob.glob("/proc/[0-9]*"):
        pid = int(os.path.basename(d))
        if pid == os.getpid():
            continue
        try:
            with open(f"{d}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open(f"{d}/cmdline", "rb") as f:
                procs.append(f.read().replace(b"\0", b" ").decode(errors="replace").strip())
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return procs


def run(mode, cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    pattern = re.compile(mode.split(":", 1)[1]) if mode.startswith("interrupt:") else None
    lines = []
    for raw in proc.stdout:
        line = raw.decode(errors="replace")
        lines.append(line)
        if pattern and pattern.search(line):
            os.killpg(proc.pid, signal.SIGINT)
            pattern = None
    return proc.wait(), "".join(lines)


def main(argv):
    etc_copy, mode, cmd = argv[1], argv[2], argv[3:]
    if os.getpid() != 1:
        raise SystemExit("hostclean.py: run me under unshare --pid --fork --mount-proc")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "--bind", etc_copy, "/etc/postfix"], check=True)
    demos_before = set(glob.glob("/tmp/postseal-demo.*"))
    slots_before = set(glob.glob("/var/tmp/postseal-mailstack/slot-*"))
    before = snapshot("/etc/postfix")
    rc, output = run(mode, cmd)
    # a stop in progress is not a leak: wait (bounded) for the rest to exit
    end = time.monotonic() + 30
    while True:
        reap()
        left = alive()
        if not left or time.monotonic() > end:
            break
        time.sleep(0.2)
    result = {
        "rc": rc,
        "output": output,
        "before": before,
        "after": snapshot("/etc/postfix"),
        "alive": left,
        "demo_dirs_left": sorted(set(glob.glob("/tmp/postseal-demo.*")) - demos_before),
        "slots_left": sorted(p for p in set(glob.glob("/var/tmp/postseal-mailstack/slot-*"))
                             - slots_before if not held_by_another(p)),
    }
    print(json.dumps(result))
    return 0  # the kernel kills whatever is left when PID 1 exits


def held_by_another(path):
    """A slot (its directory or lock file) another test run on this host
    holds right now: not ours, so not a leak of the run under watch."""
    lock = path if path.endswith(".lock") else path + ".lock"
    try:
        with open(lock) as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv))
