"""The providers' own published webhook vectors (tests/vectors/webhooks)
through a real nginx with ngx_http_webhook_verify_module (tolerance off, as
for recorded fixtures) and through `postseal webhook verify` (at the
vector's time): the valid ones pass, the negative ones fail.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_nginx_vectors.py
"""

import os
import subprocess

import pytest

from nginx_harness import (VECTORS, Nginx, Upstream, load_vectors, location,
                           needs_module)

VECTOR_LIST = load_vectors()


def vector_location(v):
    secrets = [v.get("secret")] if v.get("secret") is not None else []
    keys = [str(VECTORS / v.get("key"))] if v.get("key") else []
    return location(f"/v/{v.name}", v.get("scheme"), secrets, keys,
                    extra="webhook_verify_tolerance off;")


@pytest.fixture(scope="module")
def ng(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vectors")
    server = "\n".join(vector_location(v) for v in VECTOR_LIST)
    with Upstream() as up, Nginx(tmp, server, upstream=up) as n:
        n.up = up
        yield n


def test_there_are_vectors_for_every_published_source():
    schemes = {v.get("scheme") for v in VECTOR_LIST}
    assert {"standard", "svix", "resend", "mailgun", "sendgrid", "sns", "github",
            "slack", "postal"} <= schemes
    for v in VECTOR_LIST:
        assert v.get("source"), v.name
        assert v.get("expect") in ("ok", "400", "401"), v.name
    assert sum(v.get("expect") == "ok" for v in VECTOR_LIST) >= 15
    assert sum(v.get("expect") != "ok" for v in VECTOR_LIST) >= 15


@needs_module
@pytest.mark.parametrize("v", VECTOR_LIST, ids=lambda v: v.name)
def test_vector_through_nginx(ng, v):
    headers = {k: val for k, val in v.headers if k.lower() != "content-length"}
    n = len(ng.up.requests)
    status, _, _ = ng.request(f"/v/{v.name}", v.body, headers)
    if v.get("expect") == "ok":
        assert status == 200
        assert ng.up.requests[-1].body == v.body
        assert ng.up.requests[-1].headers["x-webhook-verified"] == "1"
    else:
        assert status == int(v.get("expect"))
        assert len(ng.up.requests) == n


def cli_path():
    from nginx_harness import build_dir
    return build_dir() / "postseal"


def cli_has_webhook():
    if not os.access(cli_path(), os.X_OK):
        return False
    r = subprocess.run([str(cli_path()), "webhook", "--help"], capture_output=True)
    return r.returncode == 0


needs_cli = pytest.mark.skipif(not cli_has_webhook(),
                               reason="postseal webhook not built or not dispatched")


@needs_cli
@pytest.mark.parametrize("v", VECTOR_LIST, ids=lambda v: v.name)
def test_vector_through_the_cli(tmp_path, v):
    args = [str(cli_path()), "webhook", "verify", "--scheme", v.get("scheme")]
    if v.get("secret") is not None:
        f = tmp_path / "secret"
        f.write_text(v.get("secret") + "\n")
        os.chmod(f, 0o600)
        args += ["--secret-file", str(f)]
    else:
        args += ["--key-file", str(VECTORS / v.get("key"))]
    args += ["--now", v.get("now")] if v.get("now") else ["--tolerance", "off"]
    r = subprocess.run(args, input=v.request, capture_output=True, timeout=30)
    if v.get("expect") == "ok":
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(b"verified: scheme=" + v.get("scheme").encode())
    else:
        assert r.returncode == 1, r.stderr
        assert f"refused ({v.get('expect')})".encode() in r.stderr


def secret_file(tmp_path, text, name="s.secrets"):
    f = tmp_path / name
    f.write_text(text + "\n")
    os.chmod(f, 0o600)
    return str(f)


@needs_cli
@pytest.mark.parametrize("scheme,secret", [
    ("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("svix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("resend", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("stripe", "whsec_test_secret"), ("github", "It's a Secret to Everybody"),
    ("slack", "8f742231b10e8888abcd99yyyzzz85a5"), ("shopify", "hush"),
    ("basic", "hooks:pw"), ("bearer", "tok_1")])
def test_cli_sign_then_verify(tmp_path, scheme, secret):
    exe = str(cli_path())
    sec = secret_file(tmp_path, secret)
    body = b'{"event":"delivered","n":1}'
    signed = subprocess.run([exe, "webhook", "sign", "--scheme", scheme, "--secret-file", sec],
                            input=body, capture_output=True, timeout=30)
    assert signed.returncode == 0, signed.stderr
    request = b"POST /hook HTTP/1.1\r\n" + signed.stdout.replace(b"\n", b"\r\n") + b"\r\n" + body
    ok = subprocess.run([exe, "webhook", "verify", "--scheme", scheme, "--secret-file", sec],
                        input=request, capture_output=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    if scheme in ("basic", "bearer"):
        return
    bad = subprocess.run([exe, "webhook", "verify", "--scheme", scheme, "--secret-file", sec],
                         input=request[:-1] + b"2", capture_output=True, timeout=30)
    assert bad.returncode == 1 and b"refused (401)" in bad.stderr


@needs_cli
def test_cli_timestamps_and_usage(tmp_path):
    exe = str(cli_path())
    sec = secret_file(tmp_path, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    old = subprocess.run([exe, "webhook", "sign", "--scheme", "standard", "--secret-file", sec,
                          "--timestamp", "1614265330", "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek"],
                         input=b'{"test": 2432232314}', capture_output=True).stdout
    assert b"webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" in old
    req = old + b"\n" + b'{"test": 2432232314}'
    verify = [exe, "webhook", "verify", "--scheme", "standard", "--secret-file", sec]
    r = subprocess.run(verify, input=req, capture_output=True)
    assert r.returncode == 1 and b"in the past" in r.stderr
    assert subprocess.run(verify + ["--now", "1614265330"], input=req).returncode == 0
    assert subprocess.run(verify + ["--tolerance", "off"], input=req).returncode == 0
    (tmp_path / "req").write_bytes(req)
    assert subprocess.run(verify + ["--now", "1614265330", str(tmp_path / "req")]).returncode == 0
    usage = [
        [exe, "webhook"],
        [exe, "webhook", "frobnicate"],
        [exe, "webhook", "sign", "--secret-file", sec],
        [exe, "webhook", "sign", "--scheme", "nosuch", "--secret-file", sec],
        [exe, "webhook", "sign", "--scheme", "postal", "--secret-file", sec],
        [exe, "webhook", "verify", "--scheme", "standard"],
        [exe, "webhook", "verify", "--scheme", "standard", "--secret-file", sec, "--now", "x"],
        [exe, "webhook", "verify", "--scheme", "standard", "--secret-file", "/nonexistent"],
        verify + [str(tmp_path / "missing")],
    ]
    for args in usage:
        r = subprocess.run(args, input=b"", capture_output=True)
        assert r.returncode == 2, args
        assert r.stderr.count(b"\n") == 1 and r.stderr.startswith(b"postseal: "), r.stderr
    r = subprocess.run(verify, input=b"no blank line", capture_output=True)
    assert r.returncode == 2 and b"no empty line" in r.stderr
    r = subprocess.run([exe, "webhook", "sign", "--scheme", "sns", "--key-file", sec],
                       input=b"{}", capture_output=True)
    assert r.returncode == 2 and b"--cert-url" in r.stderr
    assert subprocess.run([exe, "webhook", "--help"], capture_output=True).returncode == 0
    assert subprocess.run([exe, "webhook", "verify", "--help"],
                          capture_output=True).returncode == 0
