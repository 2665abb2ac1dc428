"""Least privilege, proven on the running processes: started as root, both
daemons run as `user =` (read back from /proc/PID/status), load keys and
reload after the drop, refuse a user that does not exist with file:line,
run as themselves when not started as root, give unix sockets
socket_group/socket_mode, replace a stale socket and never take a live one,
tell systemd when they are ready (sd_notify); and a real Postfix whose
chrooted smtpd runs as `postfix` signs and enforces quotas through both
daemons over unix sockets below its queue directory."""

import contextlib
import grp
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

import mailstack as ms
from policyd_harness import PolicyClient, policyd_bin

BUILD = os.path.dirname(policyd_bin())
MILTER = os.path.join(BUILD, "postseal-milter")
POLICYD = policyd_bin()
CLI = os.path.join(BUILD, "postseal")
USER = "nobody"
NOBODY = pwd.getpwnam(USER)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start daemons as root"),
    pytest.mark.skipif(not (os.access(MILTER, os.X_OK) and os.access(POLICYD, os.X_OK)),
                       reason="daemons not built"),
]


# ---- helpers -------------------------------------------------------------------

def ids(pid):
    """{"Uid": [real, effective, saved, fs], "Gid": [...], "Groups": [...]}."""
    out = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, val = line.partition(":")
        if key in ("Uid", "Gid", "Groups"):
            out[key] = [int(v) for v in val.split()]
    return out


def assert_runs_as(pid, user):
    pw = pwd.getpwnam(user)
    got = ids(pid)
    assert got["Uid"] == [pw.pw_uid] * 4, got
    assert got["Gid"] == [pw.pw_gid] * 4, got
    assert 0 not in got["Groups"], got  # root's supplementary groups are gone


def accepts(path):
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        return True
    return False


def wait_accepts(path, daemon, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if accepts(path):
            return
        if daemon.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{path} does not accept:\n{daemon.log()}")


def owned_dir(path, user=USER, group=None, mode=0o750):
    os.makedirs(path, exist_ok=True)
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, grp.getgrnam(group).gr_gid if group else pw.pw_gid)
    os.chmod(path, mode)
    return path


def give(path, user=USER):
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def stale_socket(path):
    """A socket file nobody listens on, as a crashed daemon leaves it."""
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode) and not accepts(path)


class UnixPolicyClient(PolicyClient):
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


class World:
    """A scratch directory (0755) with a nobody-owned run/ for sockets,
    stores and keys."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.run = owned_dir(os.path.join(tmp, "run"), mode=0o755)
        self.daemons = []

    def close(self):
        """Stops the daemons; fails on a sanitizer report in a log
        (make SANITIZE=1, POSTSEAL_BUILD=build-san)."""
        reports = [d.finish() for d in self.daemons]
        assert not any(reports), [r for r in reports if r]

    def policyd_conf(self, name="pd", limits=None, **policyd):
        sect = {"listen": f"unix:{self.run}/{name}.sock", "store": f"lmdb:{self.run}/{name}q",
                "user": USER}
        sect.update(policyd)
        path = os.path.join(self.tmp, f"{name}.conf")
        ms.write_ini(path, {"policyd": sect, "limits": limits or {}})
        os.chmod(path, 0o644)
        return path

    def milter_conf(self, name="m", keys=1, **milter):
        sect = {"socket": f"unix:{self.run}/{name}.sock", "mode": "sign",
                "internal_hosts": "127.0.0.0/8", "user": USER}
        sect.update(milter)
        keydir = owned_dir(os.path.join(self.run, "keys"), mode=0o700)
        ktab = {}
        for i in range(keys):
            path = os.path.join(keydir, f"k{i}.pem")
            if not os.path.exists(path):
                give(ms.DkimKey(keydir, f"k{i}", kind="ed25519").path)
            ktab[f"k{i}"] = f"example.com s{i} {path}"
        path = os.path.join(self.tmp, f"{name}.conf")
        ms.write_ini(path, {"milter": sect, "keys": ktab,
                            "signing": {"example.com": ", ".join(ktab)}})
        os.chmod(path, 0o644)
        return path

    def start(self, binary, conf, sock, argv_prefix=(), env=None):
        d = ms.Daemon([*argv_prefix, binary, "-c", conf, "-f"],
                      log_path=conf + ".log", env=env)
        self.daemons.append(d)
        wait_accepts(sock, d)
        return d


@pytest.fixture
def world():
    with ms.running(World, "postseal-priv-") as w:
        yield w


# ---- dropping privileges ---------------------------------------------------------

def test_policyd_runs_as_user_socket_group_mode_reload(world):
    conf = world.policyd_conf(limits={"sasl_username": "messages 5/1h"},
                              socket_group="postfix", socket_mode="0660")
    sock = f"{world.run}/pd.sock"
    with world.start(POLICYD, conf, sock) as d:
        assert_runs_as(d.pid, USER)
        st = os.lstat(sock)
        assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
        assert st.st_uid == NOBODY.pw_uid and st.st_gid == grp.getgrnam("postfix").gr_gid
        assert "event=privileges_dropped user=nobody" in d.log()
        # the LMDB store was created by the user, not by root
        assert os.stat(f"{world.run}/pdq").st_uid == NOBODY.pw_uid
        with UnixPolicyClient(sock) as c:
            assert c.message("a@x", "1", state_rcpt=False) == ["DUNNO"]
        # SIGHUP after the drop: the file is re-read as nobody
        world.policyd_conf(limits={"sasl_username": "messages 1/1h"},
                           socket_group="postfix", socket_mode="0660")
        d.signal(signal.SIGHUP)
        d.wait_log(r"event=reload result=ok limits=1")
        with UnixPolicyClient(sock) as c:
            answer = c.message("a@x", "2", state_rcpt=False)[0]
            assert answer.startswith("DEFER_IF_PERMIT") and "messages 1/1h" in answer, answer
        assert_runs_as(d.pid, USER)


def test_milter_loads_keys_as_user_and_reloads(world):
    conf = world.milter_conf(socket_group="postfix", socket_mode="0660")
    sock = f"{world.run}/m.sock"
    with world.start(MILTER, conf, sock) as d:
        assert_runs_as(d.pid, USER)
        st = os.lstat(sock)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == grp.getgrnam("postfix").gr_gid
        world.milter_conf(keys=2, socket_group="postfix", socket_mode="0660")
        after = len(d.log())
        d.signal(signal.SIGHUP)
        d.wait_log(r"event=reload result=ok keys=2", after=after)
        assert_runs_as(d.pid, USER)


def test_milter_keys_are_read_after_the_drop(world):
    """A key only root can read stops the start: keys load as the user."""
    conf = world.milter_conf()
    key = os.path.join(world.run, "keys", "k0.pem")
    os.chown(key, 0, 0)
    r = run([MILTER, "-c", conf, "-f"])
    assert r.returncode == 1, r.stderr
    assert re.search(r"k0\.pem: cannot open: Permission denied", r.stderr), r.stderr


@pytest.mark.parametrize("binary,section", [(MILTER, "milter"), (POLICYD, "policyd")])
def test_missing_user_refused_with_file_line(world, binary, section):
    conf = (world.milter_conf(user="no-such-ps-user") if section == "milter"
            else world.policyd_conf(user="no-such-ps-user"))
    line = next(i for i, text in enumerate(open(conf), 1) if text.startswith("user ="))
    r = run([binary, "-c", conf, "-f"])
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1, r.stderr
    assert re.fullmatch(rf"postseal-{section}: {re.escape(conf)}:{line}: \[{section}\] user "
                        r"'no-such-ps-user': no such user; .*\n", r.stderr), r.stderr
    assert not os.path.exists(f"{world.run}/{'m' if section == 'milter' else 'pd'}.sock")
    r = run([binary, "-n", "-c", conf])  # -n as root says the same
    assert r.returncode == 1 and f"{conf}:{line}: [{section}] user" in r.stderr, r.stderr


def test_user_root_only_when_named_and_warned(world):
    conf = world.policyd_conf(user="root")
    with world.start(POLICYD, conf, f"{world.run}/pd.sock") as d:
        assert ids(d.pid)["Uid"] == [0, 0, 0, 0]
        d.wait_log(r"event=running_as_root .*why=\"\[policyd\] user = root\"")


def test_not_started_as_root_runs_as_itself(world):
    conf = world.policyd_conf(user="postseal-absent-user")  # irrelevant then
    as_nobody = ["setpriv", f"--reuid={USER}", "--regid=nogroup", "--init-groups"]
    with world.start(POLICYD, conf, f"{world.run}/pd.sock", argv_prefix=as_nobody) as d:
        assert_runs_as(d.pid, USER)
        assert "privileges_dropped" not in d.log() and "running_as_root" not in d.log()


@contextlib.contextmanager
def postseal_user():
    """The package's user: created for the test when absent, then removed."""
    try:
        pwd.getpwnam("postseal")
        yield
        return
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "postseal"],
                   check=True)
    try:
        yield
    finally:
        subprocess.run(["userdel", "postseal"], check=False)


def test_default_user_is_postseal(world):
    with postseal_user():
        owned_dir(world.run, user="postseal", mode=0o755)
        conf = world.policyd_conf()
        text = open(conf).read().replace("user = nobody\n", "")
        open(conf, "w").write(text)
        with world.start(POLICYD, conf, f"{world.run}/pd.sock") as d:
            assert_runs_as(d.pid, "postseal")
        owned_dir(world.run, mode=0o755)  # before the user goes


# ---- sockets -----------------------------------------------------------------------

@pytest.mark.parametrize("binary", [MILTER, POLICYD])
def test_stale_socket_replaced(world, binary):
    conf = world.milter_conf() if binary == MILTER else world.policyd_conf()
    sock = f"{world.run}/{'m' if binary == MILTER else 'pd'}.sock"
    stale_socket(sock)
    with world.start(binary, conf, sock) as d:
        assert_runs_as(d.pid, USER)
        assert os.lstat(sock).st_uid == NOBODY.pw_uid  # the daemon's, not the stale one


@pytest.mark.parametrize("binary", [MILTER, POLICYD])
def test_live_socket_not_stolen(world, binary):
    conf = world.milter_conf() if binary == MILTER else world.policyd_conf()
    sock = f"{world.run}/{'m' if binary == MILTER else 'pd'}.sock"
    with socket.socket(socket.AF_UNIX) as owner:
        owner.bind(sock)
        owner.listen(4)
        inode = os.lstat(sock).st_ino
        r = run([binary, "-c", conf, "-f"])
        assert r.returncode == 1
        assert "another process accepts on this socket" in r.stderr, r.stderr
        assert os.lstat(sock).st_ino == inode and accepts(sock)


def test_ready_notification_when_socket_accepts(world):
    """Type=notify: READY=1 reaches NOTIFY_SOCKET, and by then the socket
    accepts."""
    for binary in (MILTER, POLICYD):
        conf = world.milter_conf() if binary == MILTER else world.policyd_conf()
        sock = f"{world.run}/{'m' if binary == MILTER else 'pd'}.sock"
        notify = os.path.join(world.tmp, "notify.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(notify)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as n:
            n.bind(notify)
            os.chown(notify, NOBODY.pw_uid, NOBODY.pw_gid)
            n.settimeout(30)
            d = ms.Daemon([binary, "-c", conf, "-f"], log_path=conf + ".log",
                          env={**os.environ, "NOTIFY_SOCKET": notify})
            world.daemons.append(d)
            try:
                msg = n.recv(4096).decode()
                assert "READY=1" in msg, msg
                assert accepts(sock), d.log()
                d.signal(signal.SIGTERM)
                try:
                    got = n.recv(4096).decode()
                except TimeoutError:
                    got = "timeout " + binary + d.log()
                assert "STOPPING=1" in got, got
            finally:
                d.stop()


# ---- a real Postfix, chrooted smtpd running as postfix --------------------------------

class ChrootedPostfix(ms.PostfixInstance):
    """The mailstack instance with its smtpd chrooted to the queue directory."""

    def _write_config(self, params, master):
        super()._write_config(params, master)
        path = os.path.join(self.etc, "master.cf")
        text = open(path).read()
        listen = f"127.0.0.1:{self.port} inet n - n - - smtpd"
        assert listen in text
        open(path, "w").write(text.replace(listen, f"127.0.0.1:{self.port} inet n - y - - smtpd"))


class Stack:
    def __init__(self, tmp):
        self.world = World(tmp)
        self.sink = ms.SmtpSink()
        svc = "check_policy_service unix:postseal/policyd.sock"
        self.pf = ChrootedPostfix(self.sink, milter="unix:postseal/milter.sock", main={
            "smtpd_recipient_restrictions": svc,
            "smtpd_end_of_data_restrictions": svc,
        })
        spool = os.path.join(self.pf.dir, "spool")
        self.spool = spool
        run_dir = owned_dir(os.path.join(spool, "postseal"), group="postfix", mode=0o750)
        common = {"socket_group": "postfix", "socket_mode": "0660"}
        mconf = self.world.milter_conf(socket=f"unix:{run_dir}/milter.sock", **common)
        pconf = self.world.policyd_conf(limits={"sasl_username": "messages 1/1h"},
                                        listen=f"unix:{run_dir}/policyd.sock",
                                        over_quota="REJECT", **common)
        self.milter = self.world.start(MILTER, mconf, f"{run_dir}/milter.sock")
        self.pd = self.world.start(POLICYD, pconf, f"{run_dir}/policyd.sock")

    def send(self, login):
        r = self.pf.swaks("--to", "bob@example.net", "--from", "app@example.com",
                          "--xclient", f"LOGIN={login}", "--timeout", "30", check=False)
        return r.returncode, r.stdout + r.stderr

    def close(self):
        ms.shutdown(self.pf, self.sink)
        self.world.close()


def smtpd_pids(master_pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            comm = open(f"/proc/{p}/comm").read().strip()
            if comm == "smtpd" and int(fields[1]) == master_pid:
                out.append(int(p))
    return out


def test_postfix_as_postfix_signs_and_enforces_quota_over_unix_sockets():
    with ms.running(Stack, "postseal-priv-pf-") as s:
        assert_runs_as(s.milter.pid, USER)
        assert_runs_as(s.pd.pid, USER)
        rc, out = s.send("app1@example.com")
        assert rc == 0, out
        master = int(open(os.path.join(s.spool, "pid", "master.pid")).read())
        pids = smtpd_pids(master)
        assert pids, "no smtpd child of the instance's master"
        postfix = pwd.getpwnam("postfix")
        for pid in pids:
            assert ids(pid)["Uid"] == [postfix.pw_uid] * 4, ids(pid)
            assert os.readlink(f"/proc/{pid}/root") == s.spool  # chrooted
        [dump] = s.sink.wait_for(1)
        signed = ms.message_of(dump)
        sigs = ms.header_values(signed, "DKIM-Signature")
        assert len(sigs) == 1 and "d=example.com" in sigs[0], signed[:600]
        # the second message of a 1/1h login is refused by the policy service
        rc, out = s.send("app1@example.com")
        assert rc != 0 and re.search(r"<~?\*\* 5\d\d .*messages 1/1h", out), out
        s.pd.wait_log(r"event=over_quota .*key=sasl_username:app1@example.com")
        assert not re.search(r"(milter|policy).*(Permission denied|connect)", s.pf.log()), \
            s.pf.log()[-2000:]


def test_quota_and_suppression_cli_as_root_act_as_the_daemon_user(world):
    """`postseal quota` / `postseal suppression` run as root before the
    daemon ever started: the LMDB store they create is [policyd] user's,
    so the daemon (as nobody) can then open it."""
    conf = world.policyd_conf(name="adm")
    for argv in ([CLI, "quota", "show", "-c", conf],
                 [CLI, "suppression", "list", "-c", conf]):
        r = run(argv)
        assert r.returncode == 0, r.stdout + r.stderr
    made = [os.path.join(world.run, f) for f in os.listdir(world.run)
            if f.startswith("admq")]
    assert made, os.listdir(world.run)
    owners = {p: os.stat(p).st_uid for p in made}
    assert set(owners.values()) == {NOBODY.pw_uid}, owners
    with world.start(POLICYD, conf, f"{world.run}/adm.sock") as d:
        assert_runs_as(d.pid, USER)
