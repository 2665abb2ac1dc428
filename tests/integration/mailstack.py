"""A private Postfix, an smtp-sink behind it and a dnsmasq beside it, for
integration tests that need real mail flowing (milter, policy service).

Nothing of the system's Postfix is touched: each PostfixInstance lives in
its own slot directory under /var/tmp/postseal-mailstack (mode 0755, never
world-writable), locked for its lifetime, so test runs in parallel never
share a queue or a port.  Started as root with `postfix -c DIR`, an
instance needs no entry in /etc/postfix/main.cf (which may not even
exist) as long as its own main.cf names a maillog_file_prefixes that
covers its maillog_file.  The set-gid programs (sendmail, postdrop,
postqueue) would insist on such an entry, so they are never run: local
submissions are written into the maildrop queue the way postdrop writes
them, and pickup is woken through its socket.

    with SmtpSink() as sink, PostfixInstance(sink, milter="inet:127.0.0.1:8891") as pf:
        pf.swaks("--to", "bob@example.net", "--from", "app@example.com")
        [msg] = sink.wait_for(1)
"""

import contextlib
import fcntl
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time

BASE = "/var/tmp/postseal-mailstack"
SLOTS = 64
POSTFIX = "/usr/sbin/postfix"
SMTP_SINK = "/usr/sbin/smtp-sink"
DNSMASQ = "/usr/sbin/dnsmasq"

MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    """Waits until something accepts connections on port."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def _base_dir():
    """BASE, created 0755 and owned by root (Postfix refuses a queue under
    a directory others may write to, and so does this harness)."""
    os.makedirs(BASE, mode=0o755, exist_ok=True)
    st = os.lstat(BASE)
    if not os.path.isdir(BASE) or os.path.islink(BASE) or st.st_uid != 0 or st.st_mode & 0o022:
        raise RuntimeError(f"{BASE} must be a directory owned by root, mode 0755")
    return BASE


class _Slot:
    """An exclusive directory under BASE, held by an flock on its lock file
    until closed. Closing removes the directory, the lock file and, when
    no other slot is left, BASE itself: nothing stays on the host."""

    def __init__(self):
        for _ in range(5):  # BASE may vanish under us when the last slot closes
            base = _base_dir()
            for i in range(SLOTS):
                fd = self._lock(os.path.join(base, f"slot-{i}.lock"))
                if fd is None:
                    continue
                self.lock_fd, self.lock_path = fd, os.path.join(base, f"slot-{i}.lock")
                self.dir = os.path.join(base, f"slot-{i}")
                shutil.rmtree(self.dir, ignore_errors=True)
                os.makedirs(self.dir)
                os.chmod(self.dir, 0o755)
                return
            if os.path.isdir(base):
                raise RuntimeError(f"all {SLOTS} mailstack slots are busy")
        raise RuntimeError(f"could not hold a slot under {BASE}")

    @staticmethod
    def _lock(path):
        """The locked descriptor of path, or None when another holds it or
        removed it meanwhile (a lock on an unlinked file guards nothing)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except (BlockingIOError, FileNotFoundError):
            pass
        os.close(fd)
        return None

    def close(self, keep=False):
        if self.lock_fd is None:  # closed already
            return
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
            os.unlink(self.lock_path)  # still held: nobody can take the old inode
        os.close(self.lock_fd)
        self.lock_fd = None
        with contextlib.suppress(OSError):
            os.rmdir(BASE)  # only when empty


class SmtpSink:
    """smtp-sink on a loopback port, writing each message to its own file."""

    def __init__(self, port=None, dump_dir=None):
        self.port = port or free_port()
        self._own_dir = dump_dir is None
        self.dir = dump_dir or _mkdtemp("postseal-sink-")
        pw = pwd.getpwnam("postfix")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "postfix", "-d", os.path.join(self.dir, "%Y%m%d%H%M%S."),
             f"127.0.0.1:{self.port}", "64"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port)
        self._seen = set()

    def files(self):
        return sorted(glob.glob(os.path.join(self.dir, "*")), key=os.path.getmtime)

    def wait_for(self, count=1, timeout=30.0):
        """The next count messages (bytes, as smtp-sink dumped them: its
        X-* envelope lines first) not returned before."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            new = [f for f in self.files() if f not in self._seen and _settled(f)]
            if len(new) >= count:
                new = new[:count]
                self._seen.update(new)
                return [open(f, "rb").read() for f in new]
            time.sleep(0.1)
        raise TimeoutError(f"{count} message(s) not delivered to the sink in {timeout}s")

    def close(self):
        _terminate(self.proc)
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def message_of(dump):
    """The message as Postfix delivered it: the smtp-sink dump without its
    X-Client-*, X-Helo-Args, X-Mail-Args, X-Rcpt-Args lines and its own
    Received field, with CRLF line ends."""
    lines = dump.replace(b"\r\n", b"\n").split(b"\n")
    i = 0
    while i < len(lines) and re.match(rb"^X-(Client|Helo|Mail|Rcpt)-[A-Za-z-]*:", lines[i]):
        i += 1
    if i < len(lines) and lines[i].startswith(b"Received: from "):
        j = i + 1
        while j < len(lines) and lines[j][:1] in (b" ", b"\t"):
            j += 1
        if b"by smtp-sink (smtp-sink)" in b"\n".join(lines[i:j]):
            i = j
    body = b"\n".join(lines[i:])
    return body.replace(b"\n", b"\r\n")


def envelope_of(dump):
    """{"mail": ..., "rcpt": [...]} from an smtp-sink dump's X-* lines."""
    env = {"mail": None, "rcpt": []}
    for line in dump.split(b"\n"):
        m = re.match(rb"^X-(Mail|Rcpt)-Args: (.*?)\r?$", line)
        if not m:
            if not line.startswith(b"X-"):
                break
            continue
        if m.group(1) == b"Mail":
            env["mail"] = m.group(2).decode(errors="replace")
        else:
            env["rcpt"].append(m.group(2).decode(errors="replace"))
    return env


def header_values(msg, name):
    """Unfolded values of every field called name in a message (bytes)."""
    head = msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    out, cur = [], None
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and cur is not None:
            cur[1] += b"\n" + line
            continue
        if cur is not None:
            out.append(cur)
        k, _, v = line.partition(b":")
        cur = [k, v]
    if cur is not None:
        out.append(cur)
    want = name.lower().encode()
    return [v.decode(errors="replace") for k, v in out if k.strip().lower() == want]


def _mkdtemp(prefix):
    import tempfile
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


@contextlib.contextmanager
def running(factory, prefix="postseal-"):
    """factory(tmpdir) in a fresh world-readable scratch directory (Postfix
    and smtp-sink run as other users); closed, and the directory removed,
    on the way out. For module-scoped fixtures:
        with ms.running(Stack) as s: yield s"""
    import tempfile
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.chmod(tmp, 0o755)
        obj = factory(tmp)
        try:
            yield obj
        finally:
            obj.close()


def shutdown(*parts):
    """Closes each part in order (PostfixInstance, SmtpSink, Dnsmasq:
    close(); Daemon: finish()); the first sanitizer report a Daemon's log
    held, or None."""
    report = None
    for part in parts:
        if part is None:
            continue
        if isinstance(part, Daemon):
            report = report or part.finish()
        else:
            part.close()
    return report


def _terminate(proc, timeout=5.0):
    """SIGTERM, then SIGKILL if proc has not exited within timeout."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    return proc.returncode


def _settled(path, quiet=0.2):
    """Whether smtp-sink has stopped writing the file."""
    try:
        return time.time() - os.path.getmtime(path) > quiet
    except FileNotFoundError:
        return False


def _record(rtype, data):
    """One Postfix queue file record: type byte, length in 7-bit groups
    (low first, high bit set while more follow), data (rec_put())."""
    n, length = len(data), bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        length.append(byte | (0x80 if n else 0))
        if not n:
            return rtype + bytes(length) + data


def maildrop_file(message, sender, recipients, line_limit=2048):
    """The maildrop queue file sendmail + postdrop write for message
    (bytes): envelope (S, R...), content (M, then one N record a line, L
    for each line_length_limit piece of a longer one), X, E. CRLF and LF
    both end a line, as with sendmail_fix_line_endings = always."""
    recs = [_record(b"S", sender.encode())]
    recs += [_record(b"R", r.encode()) for r in recipients]
    recs.append(_record(b"M", b""))
    text = message.replace(b"\r\n", b"\n")
    lines = text.split(b"\n")
    if text.endswith(b"\n"):
        lines.pop()
    for line in lines:
        if line == b".":
            break
        while len(line) > line_limit:
            recs.append(_record(b"L", line[:line_limit]))
            line = line[line_limit:]
        recs.append(_record(b"N", line))
    recs += [_record(b"X", b""), _record(b"E", b"")]
    return b"".join(recs)


class PostfixInstance:
    """A private Postfix: its own config, queue and log, an smtpd on a free
    loopback port, relaying everything to sink (an SmtpSink, or a port).

    milter / non_smtpd_milter: values for smtpd_milters / non_smtpd_milters
    (e.g. "inet:127.0.0.1:8891"); main: more main.cf parameters (dict,
    applied last); master: more master.cf lines.  XCLIENT is allowed from
    127.0.0.0/8 so tests can pose as any client or SASL login."""

    def __init__(self, sink, milter=None, non_smtpd_milter=None, main=None,
                 master="", hostname="mx.example.test", keep=None):
        self.slot = _Slot()
        self.dir = self.slot.dir
        self.etc = os.path.join(self.dir, "etc")
        self.maillog = os.path.join(self.dir, "maillog")
        self.port = free_port()
        self.sink_port = sink.port if isinstance(sink, SmtpSink) else int(sink)
        self.hostname = hostname
        self.keep = keep if keep is not None else bool(os.environ.get("POSTSEAL_KEEP"))
        self.started = False
        params = self._params(milter, non_smtpd_milter)
        params.update(main or {})
        self._write_config(params, master)
        self.start()

    def _params(self, milter, non_smtpd_milter):
        p = {
            "compatibility_level": "3.6",
            "queue_directory": os.path.join(self.dir, "spool"),
            "data_directory": os.path.join(self.dir, "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": self.hostname,
            "mydomain": self.hostname.partition(".")[2] or self.hostname,
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": f"[127.0.0.1]:{self.sink_port}",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": BASE,
            "smtp_dns_support_level": "disabled",
            "disable_dns_lookups": "yes",
            "smtpd_peername_lookup": "no",
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
            "smtpd_tls_security_level": "none",
            "smtp_tls_security_level": "none",
            # loopback only: any client may relay, so tests can pose as outsiders
            "smtpd_relay_restrictions": "check_client_access static:OK, reject_unauth_destination",
            "queue_run_delay": "2s",
            "minimal_backoff_time": "2s",
            "maximal_backoff_time": "4s",
            "smtp_connect_timeout": "5s",
            "milter_default_action": "tempfail",
            "milter_protocol": "6",
        }
        if milter:
            p["smtpd_milters"] = milter
        if non_smtpd_milter:
            p["non_smtpd_milters"] = non_smtpd_milter
        return p

    def _write_config(self, params, master):
        os.makedirs(self.etc)
        for d in ("spool", "data"):
            os.makedirs(os.path.join(self.dir, d))
        pw = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.dir, "data"), pw.pw_uid, pw.pw_gid)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            for k, v in params.items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))
            f.write(master)
        for name in ("dynamicmaps.cf", "postfix-files"):
            src = os.path.join("/etc/postfix", name)
            if os.path.exists(src):
                shutil.copy(src, self.etc)

    def postfix(self, *args, check=True):
        r = subprocess.run([POSTFIX, "-c", self.etc, *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)} failed ({r.returncode}): "
                               f"{r.stdout}{r.stderr}\n--- maillog ---\n{self.log()[-3000:]}")
        return r

    def start(self):
        self.postfix("set-permissions")
        self.postfix("start")
        self.started = True
        wait_port(self.port)

    def stop(self):
        if self.started:
            self.postfix("stop", check=False)
            self._wait_master_gone()
            self.started = False

    def _wait_master_gone(self, timeout=10.0):
        pidfile = os.path.join(self.dir, "spool", "pid", "master.pid")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                pid = int(open(pidfile).read().strip())
                os.kill(pid, 0)
            except (FileNotFoundError, ValueError, ProcessLookupError):
                return
            time.sleep(0.1)
        with contextlib.suppress(Exception):
            os.kill(int(open(pidfile).read().strip()), signal.SIGKILL)

    def reload(self):
        self.postfix("reload")

    def close(self):
        self.stop()
        self.slot.close(keep=self.keep)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- sending -----------------------------------------------------------

    def swaks(self, *args, check=True, timeout=60):
        """Runs swaks against this instance's smtpd; returns the result
        (text). Add --xclient "ADDR=... LOGIN=..." to pose as a client."""
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.port),
                            "--silent", "1", *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"swaks failed ({r.returncode}): {r.stdout}{r.stderr}")
        return r

    def smtp_send(self, message, sender, recipients, xclient=None, helo="client.example.test"):
        """Sends message (bytes, CRLF or LF) with smtplib; xclient: dict
        such as {"ADDR": "192.0.2.7", "LOGIN": "app@example.com"}.
        Returns the final reply (code, text)."""
        import smtplib
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname=helo, timeout=60) as s:
            s.ehlo()
            if xclient:
                arg = " ".join(f"{k}={v}" for k, v in xclient.items())
                code, text = s.docmd("XCLIENT", arg)
                if code != 220:
                    raise RuntimeError(f"XCLIENT refused: {code} {text}")
                s.ehlo(helo)
            s.mail(sender)
            for r in recipients:
                s.rcpt(r)
            return s.data(message)

    def sendmail(self, message, sender, recipients):
        """Submits message as Postfix's sendmail would (the non-SMTP path:
        pickup, cleanup, non_smtpd_milters), without the set-gid programs:
        the queue file postdrop would write goes into the maildrop
        directory, and pickup is woken. As with sendmail without -i, a
        line holding only "." ends the message."""
        maildrop = os.path.join(self.dir, "spool", "maildrop")
        qid = os.urandom(6).hex().upper()
        tmp = os.path.join(maildrop, f".{qid}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(maildrop_file(message, sender, recipients))
        # pickup takes only complete files: owner rwx (MAIL_QUEUE_STAT_READY),
        # readable by user postfix; owned by root, so milters run on it
        os.chmod(tmp, 0o744)
        os.rename(tmp, os.path.join(maildrop, qid))
        self.wake_pickup()
        return qid

    def wake_pickup(self):
        """What postdrop does after writing: a wakeup request to pickup."""
        path = os.path.join(self.dir, "spool", "public", "pickup")
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            s.sendall(b"W")

    def log(self):
        try:
            return open(self.maillog, errors="replace").read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=30.0):
        """Waits until the maillog matches pattern (regex); the match."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.log())
            if m:
                return m
            time.sleep(0.1)
        raise TimeoutError(f"/{pattern}/ not in the maillog after {timeout}s:\n{self.log()[-3000:]}")


class Dnsmasq:
    """dnsmasq on a loopback UDP/TCP port answering only from the records
    given: txt={"name": "value" or ["part1", "part2"]}, a={"name": "ip"}.
    Everything else gets NXDOMAIN (no upstream, no /etc/hosts)."""

    def __init__(self, txt=None, a=None, mx=None, port=None):
        self.port = port or free_port()
        args = [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--no-poll", "--bind-interfaces", "--listen-address=127.0.0.1",
                f"--port={self.port}", "--log-facility=-", "--user=root",
                "--pid-file=", "--conf-file=/dev/null", "--local=/#/"]
        for name, value in (txt or {}).items():
            parts = value if isinstance(value, (list, tuple)) else _split255(value)
            args.append("--txt-record=" + ",".join([name] + parts))
        for name, ip in (a or {}).items():
            args.append(f"--address=/{name}/{ip}")
        for name, host in (mx or {}).items():
            args.append(f"--mx-host={name},{host}")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port)

    @property
    def resolver(self):
        """The [milter] resolver value pointing at this server."""
        return f"127.0.0.1:{self.port}"

    def close(self):
        _terminate(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _split255(value):
    return [value[i:i + 255] for i in range(0, len(value), 255)] or [""]


class Daemon:
    """A foreground daemon under test (postseal-milter -f, ...): stderr
    goes to a log file the test can read; stop() sends SIGTERM and waits."""

    SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")

    def __init__(self, argv, port=None, log_path=None, env=None, wait=10.0):
        self.argv = list(argv)
        self._own_dir = None if log_path else _mkdtemp("postseal-daemon-")
        self.log_path = log_path or self._own_dir + "/daemon.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env)
        self.port = port
        if port is not None:
            try:
                wait_port(port, wait)
            except TimeoutError:
                self.stop()
                raise RuntimeError(f"{argv[0]} did not listen on {port}:\n{self.log()}")

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        self.proc.send_signal(sig)

    def log(self):
        if not self._log.closed:
            self._log.flush()
        return open(self.log_path, errors="replace").read()

    def wait_log(self, pattern, timeout=15.0, after=0):
        """Waits until the log, from offset after on, matches pattern."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.log()[after:])
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise TimeoutError(f"/{pattern}/ not in the log:\n{self.log()[-3000:]}")

    def stop(self, timeout=30.0):
        """SIGTERM, then SIGKILL after timeout; the exit status."""
        _terminate(self.proc, timeout)
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode

    def sanitizer_report(self):
        """The log from the first ASan/UBSan/LSan report on, or None
        (for binaries built with make SANITIZE=1)."""
        text = self.log()
        m = self.SANITIZER.search(text)
        return text[max(0, m.start() - 200):] if m else None

    def finish(self):
        """Stops the daemon and removes its log; the sanitizer report the
        log held (None when clean), for the test to assert on."""
        self.stop()
        report = self.sanitizer_report()
        if self._own_dir and not os.environ.get("POSTSEAL_KEEP"):
            shutil.rmtree(self._own_dir, ignore_errors=True)
        return report

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def write_ini(path, sections):
    """Writes postseal.conf-style INI: {"milter": {"socket": ...}, ...};
    a list value repeats the key. A daemon section without `user` gets
    `user = root`: the tests run as root and their keys live in root's
    0700 temporary directories (tests/integration/test_privilege.py runs
    the daemons as other users)."""
    with open(path, "w") as f:
        for name, items in sections.items():
            if name in ("milter", "policyd") and "user" not in items:
                items = {**items, "user": "root"}
            f.write(f"[{name}]\n")
            for k, v in items.items():
                for one in (v if isinstance(v, list) else [v]):
                    f.write(f"{k} = {one}\n")
            f.write("\n")
    return path


class DkimKey:
    """A DKIM private key made with openssl (mode 0600) and the TXT record
    that publishes it: kind "rsa" (2048 bits) or "ed25519"."""

    def __init__(self, directory, name, kind="rsa", domain="example.com", selector=None):
        import base64
        self.kind, self.domain = kind, domain
        self.selector = selector or name
        self.path = os.path.join(directory, f"{name}.pem")
        algo = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if kind == "rsa" \
            else ["-algorithm", "ed25519"]
        subprocess.run(["openssl", "genpkey", *algo, "-out", self.path], check=True,
                       capture_output=True)
        os.chmod(self.path, 0o600)
        der = subprocess.run(["openssl", "pkey", "-in", self.path, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        pub = der if kind == "rsa" else der[-32:]  # RFC 8463: the raw key
        self.p = base64.b64encode(pub).decode()
        self.record = f"v=DKIM1; k={kind}; p={self.p}"
        self.pem = open(self.path, "rb").read()
        if kind == "ed25519":
            raw = subprocess.run(["openssl", "pkey", "-in", self.path, "-outform", "DER"],
                                 check=True, capture_output=True).stdout[-32:]
            self.dkimpy_private = base64.b64encode(raw)  # what dkimpy signs with
        else:
            self.dkimpy_private = self.pem

    @property
    def dns_name(self):
        return f"{self.selector}._domainkey.{self.domain}"
