"""`make demo` and the private Postfix of mailstack.py leave the host as
they found it: /etc/postfix byte for byte (every file hashed, the listing
with modes and owners), no process left running, no scratch directory
left, after a run that succeeds and after a Ctrl-C in the middle.

Each run sees a copy of /etc/postfix bind-mounted over the real one in
its own mount and PID namespaces (hostclean.py), so a change would show in
the copy, and no leftover process can hide among the host's. The copies
are a pristine Debian "No configuration" install (no main.cf at all) and
one with Debian's main.cf.proto as main.cf.
"""

import json
import os
import pathlib
import shutil
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = pathlib.Path(os.environ.get("POSTSEAL_BUILD", ROOT / "build")).resolve()
PYTHON = "/usr/bin/python3"


def why_skip():
    if os.geteuid() != 0:
        return "needs root (Postfix, mount namespaces)"
    for tool in ("unshare", "mount", "/usr/sbin/postfix", "/usr/sbin/smtp-sink", "swaks"):
        if not shutil.which(tool):
            return f"{tool} missing (make deps)"
    r = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "true"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return f"no mount/PID namespaces here: {r.stderr.strip()}"
    return None


pytestmark = pytest.mark.skipif(why_skip() is not None, reason=str(why_skip()))


@pytest.fixture(params=["no-main-cf", "main-cf-proto"])
def etc_copy(request, tmp_path):
    """A copy of /etc/postfix as a fresh install leaves it."""
    d = tmp_path / "etc-postfix"
    shutil.copytree("/etc/postfix", d, symlinks=True)
    (d / "main.cf").unlink(missing_ok=True)
    if request.param == "main-cf-proto":
        if not (d / "main.cf.proto").exists():
            pytest.skip("no /etc/postfix/main.cf.proto")
        shutil.copy(d / "main.cf.proto", d / "main.cf")
    return d


def watched(etc_copy, mode, *cmd, timeout=600):
    r = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", PYTHON,
                        str(HERE / "hostclean.py"), str(etc_copy), mode, *map(str, cmd)],
                       capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, POSTSEAL_BUILD=str(BUILD)))
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def assert_clean(res):
    changed = {k for k in set(res["before"]) | set(res["after"])
               if res["before"].get(k) != res["after"].get(k)}
    assert not changed, f"/etc/postfix changed: {sorted(changed)}\n{res['output'][-3000:]}"
    assert res["alive"] == [], f"processes left running: {res['alive']}"
    assert res["demo_dirs_left"] == [], res["demo_dirs_left"]
    assert res["slots_left"] == [], res["slots_left"]


MAILSTACK_RUN = """
import sys; sys.path.insert(0, %r)
import mailstack as ms
with ms.SmtpSink() as sink, ms.PostfixInstance(sink) as pf:
    assert pf.dir.startswith("/var/tmp/"), pf.dir
    for d in (ms.BASE, pf.dir):
        assert ms.os.stat(d).st_mode & 0o777 == 0o755, d
    pf.swaks("--from", "a@example.test", "--to", "b@example.net")
    pf.sendmail(b"Subject: local\\n\\nsubmitted locally\\n", "a@example.test", ["c@example.net"])
    sink.wait_for(2)
print("mailstack ok")
"""


def test_mailstack_instance_leaves_etc_postfix_alone(etc_copy):
    res = watched(etc_copy, "run", PYTHON, "-c", MAILSTACK_RUN % str(HERE))
    assert res["rc"] == 0, res["output"]
    assert "mailstack ok" in res["output"]
    assert_clean(res)


def needs_build():
    for name in ("postseal", "postseal-milter", "postseal-policyd",
                 "ngx_http_webhook_verify_module.so"):
        if not (BUILD / name).exists():
            pytest.skip(f"{BUILD / name} not built")


# the demo once, on the pristine copy (the mailstack test covers both)
@pytest.mark.parametrize("etc_copy", ["no-main-cf"], indirect=True)
def test_demo_leaves_host_alone(etc_copy):
    needs_build()
    res = watched(etc_copy, "run", ROOT / "tests/demo/demo.sh", BUILD)
    assert res["rc"] == 0, res["output"][-5000:]
    out = res["output"]
    for want in ("==== 3.", "==== 4.", "==== 5.", "==== 6.", "signed delivery: HTTP 200",
                 "(forged): HTTP 401", "(replay): HTTP 409"):
        assert want in out, want
    assert "FAILED" not in out
    assert_clean(res)


@pytest.mark.parametrize("etc_copy", ["no-main-cf"], indirect=True)
def test_demo_interrupted_leaves_host_alone(etc_copy):
    """Ctrl-C while Postfix, the milter and the policy daemon all run."""
    needs_build()
    res = watched(etc_copy, r"interrupt:^Send 4 messages", ROOT / "tests/demo/demo.sh", BUILD)
    assert res["rc"] != 0, res["output"][-3000:]
    assert "interrupted" in res["output"], res["output"][-3000:]
    assert_clean(res)


@pytest.mark.parametrize("etc_copy", ["no-main-cf"], indirect=True)
def test_demo_failing_leaves_host_alone(etc_copy, tmp_path):
    """A step that fails with Postfix and the milter running (here a
    postseal-policyd that refuses every config) ends the demo with its
    reason, and what it started is stopped all the same."""
    needs_build()
    build = tmp_path / "build"
    build.mkdir()
    for name in ("postseal", "postseal-milter", "ngx_http_webhook_verify_module.so"):
        (build / name).symlink_to(BUILD / name)
    fake = build / "postseal-policyd"
    fake.write_text("#!/bin/sh\necho \"$0: refusing every config, for the test\" >&2\nexit 1\n")
    fake.chmod(0o755)
    res = watched(etc_copy, "run", ROOT / "tests/demo/demo.sh", build)
    assert res["rc"] != 0, res["output"][-3000:]
    assert "demo FAILED" in res["output"] and "refusing every config" in res["output"]
    assert_clean(res)
