"""The Debian packages, end to end: `make deb` (conf-examples/debian/
build-deb.sh), lintian, dpkg -i, the user and directories postinst makes,
the installed daemons checking and serving their installed config on
loopback, the installed nginx module verifying a webhook through its
modules-enabled snippet, then dpkg --remove and --purge leaving nothing.

The host is left as it was found: everything installed is purged and the
account files' backups (/etc/passwd- ...) that adduser/deluser rewrite are
restored, on failure too. Skipped when not root, when a tool is missing,
or when postseal is already installed here (a purge would destroy it).
"""

import base64
import contextlib
import grp
import hashlib
import http.client
import os
import pathlib
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

import mailstack as ms
import nginx_harness as nh

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "build-deb"
PACKAGES = ["postseal", "libnginx-mod-http-webhook-verify"]
SNIPPET = "/usr/share/nginx/modules-available/mod-http-webhook-verify.conf"
ENABLED = "/etc/nginx/modules-enabled/50-mod-http-webhook-verify.conf"
MODULE = "/usr/lib/nginx/modules/ngx_http_webhook_verify_module.so"
ACCOUNT_FILES = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"]
# what postinst makes (not in the .deb) and purge must remove
MADE = ["/etc/postseal", "/etc/postseal/keys", "/var/lib/postseal"]
# besides those, purge removes the socket directory the units create
PURGED = MADE + ["/var/spool/postfix/postseal"]
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def run(*argv, check=True, timeout=600, **kw):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       timeout=timeout, env=ENV, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {r.returncode}:\n"
                             f"{r.stdout}{r.stderr}")
    return r


def installed(pkg):
    r = run("dpkg-query", "-W", "-f=${db:Status-Status}", pkg, check=False)
    return r.returncode == 0 and r.stdout.strip() not in ("", "not-installed")


def why_skip():
    if os.geteuid() != 0:
        return "dpkg -i needs root"
    for tool in ("dpkg-deb", "dpkg-shlibdeps", "lintian", "adduser", nh.NGINX):
        if not shutil.which(tool):
            return f"{tool} missing (make deps)"
    if not os.path.isdir("/usr/share/nginx/src"):
        return "nginx-dev missing (make deps)"
    for pkg in PACKAGES:
        if installed(pkg):
            return f"{pkg} is installed on this host: purging it would destroy its config"
    with contextlib.suppress(KeyError):
        pwd.getpwnam("postseal")
        return "a postseal user exists already: the test could not tell it from the package's"
    for d in PURGED:
        if os.path.lexists(d):
            return f"{d} exists already (dpkg --purge would remove it)"
    return None


def sha(path):
    try:
        return hashlib.sha256(open(path, "rb").read()).hexdigest()
    except FileNotFoundError:
        return None


def deb_paths(deb):
    """The files and symlinks a .deb ships (absolute paths, no directories)."""
    r = run("dpkg-deb", "-c", deb)
    paths = []
    for line in r.stdout.splitlines():
        if line.startswith("d"):
            continue
        name = line.split(None, 5)[5].split(" -> ")[0]
        paths.append("/" + name.lstrip("./"))
    return paths


@pytest.fixture(scope="module")
def debs():
    reason = why_skip()
    if reason:
        pytest.skip(reason)
    r = run(ROOT / "conf-examples/debian/build-deb.sh", OUT, cwd=ROOT, timeout=1800)
    built = [pathlib.Path(p) for p in r.stdout.split() if p.endswith(".deb")]
    assert sorted(p.name.split("_")[0] for p in built) == sorted(PACKAGES), r.stdout
    return {p.name.split("_")[0]: p for p in built}


@pytest.fixture(scope="module")
def host(debs):
    """Installs the packages; on the way out purges them and puts back the
    account files' backups, whatever happened in between."""
    saved = {f: open(f, "rb").read() for f in ACCOUNT_FILES + [a + "-" for a in ACCOUNT_FILES]
             if os.path.exists(f)}
    enabled_before = sorted(os.listdir("/etc/nginx/modules-enabled"))
    state = {"saved": saved, "enabled_before": enabled_before, "debs": debs}
    try:
        yield state
    finally:
        run("dpkg", "--purge", *PACKAGES, check=False)
        with contextlib.suppress(KeyError):  # purge failed before deluser
            pwd.getpwnam("postseal")
            run("userdel", "postseal", check=False)
        with contextlib.suppress(KeyError):
            grp.getgrnam("postseal")
            run("groupdel", "postseal", check=False)
        for f, data in saved.items():
            if f.endswith("-") and open(f, "rb").read() != data:
                st = os.stat(f)
                with open(f, "wb") as out:
                    out.write(data)
                os.chown(f, st.st_uid, st.st_gid)
                os.chmod(f, stat.S_IMODE(st.st_mode))
        for d in MADE:
            if os.path.isdir(d):
                shutil.rmtree(d, ignore_errors=True)


def test_lintian_no_errors(debs):
    r = run("lintian", "--tag-display-limit", "0", *debs.values(), check=False)
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    errors = [t for t in tags if t.startswith("E:")]
    assert not errors, r.stdout
    # warnings accepted only once explained in conf-examples/debian/README
    assert not tags, "lintian warnings: " + "\n".join(tags)


def test_depends_computed(debs):
    ctl = {p: run("dpkg-deb", "-f", d, "Depends").stdout for p, d in debs.items()}
    for lib in ("libssl3", "libmilter1.0.1", "libopendkim11", "libspf2-2", "liblmdb0",
                "libhiredis0.14", "libevent-2.1-7", "libinih1", "libc6", "adduser"):
        assert lib in ctl["postseal"], ctl["postseal"]
    abi = run("dpkg-query", "-W", "-f=${Provides}\n", "nginx", check=False).stdout
    want = re.search(r"nginx-abi-[^ ,\n]+", abi)
    assert want, abi
    mod = ctl["libnginx-mod-http-webhook-verify"]
    assert want.group(0) in mod and "libssl3" in mod, mod


def test_install_run_remove_purge(host):
    debs = host["debs"]
    run("dpkg", "-i", *debs.values())
    for pkg in PACKAGES:
        assert installed(pkg)

    # the system user and its directories
    pw = pwd.getpwnam("postseal")
    assert pw.pw_dir == "/var/lib/postseal"
    assert pw.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
    assert pw.pw_uid < 1000
    assert grp.getgrgid(pw.pw_gid).gr_name == "postseal"
    for path, mode, owner in (("/var/lib/postseal", 0o750, "postseal"),
                              ("/etc/postseal/keys", 0o700, "postseal"),
                              ("/etc/postseal", 0o755, "root")):
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == mode, (path, oct(st.st_mode))
        assert pwd.getpwuid(st.st_uid).pw_name == owner, path
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "postseal").stdout
    assert "/etc/postseal/postseal.conf" in conffiles

    # the installed programs accept the installed config as it stands
    conf = "/etc/postseal/postseal.conf"
    run("/usr/bin/postseal", "check", "-c", conf)
    run("/usr/sbin/postseal-milter", "-n", "-c", conf)
    run("/usr/sbin/postseal-policyd", "-n", "-c", conf)
    for unit in ("postseal-milter", "postseal-policyd"):
        text = open(f"/lib/systemd/system/{unit}.service").read()
        execs = re.findall(r"^Exec\w+=[-@+!]*(/\S+)", text, re.M)
        assert execs and all(os.access(e, os.X_OK) for e in execs), execs
        assert f"/usr/sbin/{unit}" in execs

    serve_installed_daemons(conf)
    serve_installed_module()
    assert sha(ENABLED) == sha(SNIPPET)  # the link Debian's way, to the snippet

    # remove: programs gone, configuration and the user kept
    run("dpkg", "--remove", *PACKAGES)
    for path in ("/usr/bin/postseal", "/usr/sbin/postseal-milter", MODULE, SNIPPET):
        assert not os.path.lexists(path), path
    assert os.path.exists(conf)
    assert not os.path.lexists(ENABLED) and os.path.islink(ENABLED + ".removed")
    pwd.getpwnam("postseal")

    # purge: nothing left
    run("dpkg", "--purge", *PACKAGES)
    for pkg in PACKAGES:
        assert not installed(pkg)
        assert not list(pathlib.Path("/var/lib/dpkg/info").glob(f"{pkg}.*")), pkg
    left = [p for d in debs.values() for p in deb_paths(d) if os.path.lexists(p)]
    left += [p for p in PURGED + [ENABLED, ENABLED + ".removed"] if os.path.lexists(p)]
    assert not left, left
    with pytest.raises(KeyError):
        pwd.getpwnam("postseal")
    with pytest.raises(KeyError):
        grp.getgrnam("postseal")
    for f in ACCOUNT_FILES:
        assert open(f, "rb").read() == host["saved"][f], f"{f} differs after purge"
    assert sorted(os.listdir("/etc/nginx/modules-enabled")) == host["enabled_before"]


def serve_installed_daemons(conf):
    """Both daemons from /usr/sbin, in the foreground, on free loopback
    ports (the installed config with only the addresses changed); the
    policy daemon answers a real request."""
    text = open(conf).read()
    mport, pport = ms.free_port(), ms.free_port()
    text = re.sub(r"(?m)^socket = .*$", f"socket = inet:{mport}@127.0.0.1", text)
    text = re.sub(r"(?m)^listen = .*$", f"listen = inet:127.0.0.1:{pport}", text)
    with tempfile.TemporaryDirectory(prefix="postseal-pkg-") as tmp:
        os.chmod(tmp, 0o755)
        local = os.path.join(tmp, "postseal.conf")
        with open(local, "w") as f:
            f.write(text)
        milter = ms.Daemon(["/usr/sbin/postseal-milter", "-f", "-c", local], port=mport)
        policyd = None
        try:
            policyd = ms.Daemon(["/usr/sbin/postseal-policyd", "-f", "-c", local], port=pport)
            with socket.create_connection(("127.0.0.1", pport), 10) as s:
                s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
                          b"sasl_username=app@example.com\nrecipient=bob@example.net\n\n")
                reply = b""
                while not reply.endswith(b"\n\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            assert reply.startswith(b"action="), reply
        finally:
            ms.shutdown(policyd, milter)


def serve_installed_module():
    """Debian's nginx with the module loaded through the enabled snippet:
    a signed Standard Webhooks request reaches the upstream, a forged one
    gets 401, a replay 409; nginx -t passes first."""
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    with tempfile.TemporaryDirectory(prefix="postseal-pkg-ngx-") as tmp, nh.Upstream() as up:
        os.chmod(tmp, 0o755)
        d = pathlib.Path(tmp)
        port = nh.free_port()
        (d / "nginx.conf").write_text(f"""
include {ENABLED};
worker_processes 1;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    webhook_verify_replay_zone hooks:1m;
    server {{
        listen 127.0.0.1:{port};
        location = /hooks {{
            webhook_verify standard;
            webhook_verify_secret "{secret}";
            webhook_verify_replay zone=hooks;
            proxy_pass http://127.0.0.1:{up.port};
        }}
    }}
}}
""")
        argv = [nh.NGINX, "-p", tmp, "-c", str(d / "nginx.conf")]
        r = run(*argv, "-t", check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        with open(d / "stderr.log", "wb") as err:
            proc = subprocess.Popen(argv + ["-g", "daemon off;"], stdout=err, stderr=err)
        try:
            assert nh.wait_port(port, proc), (d / "stderr.log").read_text()
            body = b'{"type":"email.bounced"}'
            hdrs = nh.sign_standard(secret, "msg_pkg1", int(time.time()), body)
            assert post(port, body, hdrs) == 200
            assert up.requests[-1].body == body
            assert post(port, body, dict(hdrs, **{"webhook-id": "msg_pkg2"})) == 401
            assert post(port, body, hdrs) == 409
            assert len(up.requests) == 1
        finally:
            proc.terminate()
            proc.wait(10)


def post(port, body, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("POST", "/hooks", body=body, headers=headers)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()
