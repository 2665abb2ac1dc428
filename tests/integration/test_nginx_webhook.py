"""ngx_http_webhook_verify_module in a real nginx: the HMAC schemes
(Standard Webhooks, Svix, Stripe, GitHub, Slack, Shopify) against fresh
signatures from Python's hmac, a flipped byte anywhere, timestamps either
side of the window, rotation, replays, 413 before the body, the spill
bypass with a 10 MB body, chunked bodies, HTTP/2 and satisfy any.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_nginx_webhook.py
"""

import base64
import hashlib
import os
import socket
import subprocess
import time

import pytest

from nginx_harness import (Nginx, Upstream, flips, location, needs_module,
                           sign_github, sign_shopify, sign_slack, sign_standard,
                           sign_stripe, status_of)

pytestmark = needs_module

STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STD_SECRET2 = "whsec_" + base64.b64encode(b"the second secret, after rotation").decode()
GH_SECRET = "It's a Secret to Everybody"
STRIPE_SECRET = "whsec_test_secret"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SHOPIFY_SECRET = "hush"
FILE_SECRET = "whsec_" + base64.b64encode(b"a secret kept in a file").decode()
BODY = b'{"type":"email.delivered","data":{"id":"m1","to":"a@example.com"}}'


@pytest.fixture(scope="module")
def ng(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    secret_file = tmp / "std.secrets"
    secret_file.write_text(f"# rotated in 2026\n{FILE_SECRET}\n")
    os.chmod(secret_file, 0o600)
    locs = "\n".join([
        location("/standard", "standard", [STD_SECRET, f"file={secret_file}"],
                 extra="webhook_verify_replay zone=wh;"),
        location("/rotated", "standard", [STD_SECRET, STD_SECRET2]),
        location("/svix", "svix", [STD_SECRET]),
        location("/github", "github", [GH_SECRET], extra="webhook_verify_replay zone=wh;"),
        location("/stripe", "stripe", [STRIPE_SECRET]),
        location("/slack", "slack", [SLACK_SECRET]),
        location("/shopify", "shopify", [SHOPIFY_SECRET]),
        location("/small", "standard", [STD_SECRET], extra="webhook_verify_max_body 1k;"),
        location("/spill", "github", [GH_SECRET], extra="""
            client_body_buffer_size 1k;
            webhook_verify_max_body 20m;"""),
        location("/spill-std", "standard", [STD_SECRET], extra="""
            client_body_buffer_size 1k;
            webhook_verify_max_body 20m;"""),
        location("/tolerance10", "standard", [STD_SECRET], extra="webhook_verify_tolerance 10s;"),
        location("/any-ip", "standard", [STD_SECRET], extra="""
            satisfy any;
            allow 127.0.0.1;
            deny all;"""),
        location("/any-deny", "standard", [STD_SECRET], extra="""
            satisfy any;
            deny all;"""),
        location("/replay-retry", "github", [GH_SECRET],
                 extra="webhook_verify_replay zone=wh;", upstream="127.0.0.1:UPFAIL"),
    ])
    with Upstream() as up, Upstream() as failing:
        failing.status = 503
        locs = locs.replace("UPFAIL", str(failing.port))
        with Nginx(tmp, locs, http="webhook_verify_replay_zone wh:1m;", upstream=up) as n:
            n.up = up
            n.failing = failing
            yield n


def now():
    return int(time.time())


def std(body=BODY, ts=None, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", secret=STD_SECRET,
        prefix="webhook"):
    return sign_standard(secret, msg_id, now() if ts is None else ts, body, prefix)


def fresh_id():
    return "msg_" + os.urandom(8).hex()


# ---- the module loads and answers ----------------------------------------

def test_config_checks(ng):
    rc, out = ng.check()
    assert rc == 0, out


def test_standard_passes_and_upstream_gets_the_verified_bytes(ng):
    msg_id = fresh_id()
    status, _, _ = ng.request("/standard", BODY, std(msg_id=msg_id))
    assert status == 200
    got = ng.up.requests[-1]
    assert got.body == BODY
    assert got.headers["x-webhook-verified"] == "1"
    assert got.headers["x-webhook-scheme"] == "standard"
    assert got.headers["x-webhook-id"] == msg_id
    assert got.headers["x-webhook-key"] == "1"  # the first secret matched


def test_flipped_byte_anywhere_fails(ng):
    ts = now()
    hdrs = std(ts=ts)
    seen = len(ng.up.requests)
    for _, body in flips(BODY, step=7):
        assert ng.request("/standard", body, hdrs)[0] == 401
    sig = hdrs["webhook-signature"]
    for i in range(3, len(sig), 5):
        bad = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
        assert ng.request("/standard", BODY, dict(hdrs, **{"webhook-signature": bad}))[0] \
            in (400, 401)
    assert ng.request("/standard", BODY, dict(hdrs, **{"webhook-id": "msg_other"}))[0] == 401
    assert ng.request("/standard", BODY,
                      dict(hdrs, **{"webhook-timestamp": str(ts + 1)}))[0] == 401
    assert len(ng.up.requests) == seen  # nothing refused reached the upstream


def test_refusals_are_logged_with_a_reason_never_the_secret(ng):
    ng.request("/standard", BODY + b"x", std())
    log = ng.error_log()
    assert "webhook_verify: standard: 401: signature does not match" in log
    for secret in (STD_SECRET, STD_SECRET.removeprefix("whsec_"), FILE_SECRET, GH_SECRET):
        assert secret not in log


def test_missing_and_malformed_headers(ng):
    hdrs = std()
    for name in hdrs:
        partial = {k: v for k, v in hdrs.items() if k != name}
        assert ng.request("/standard", BODY, partial)[0] == 401
    assert ng.request("/standard", BODY, dict(hdrs, **{"webhook-timestamp": "hello"}))[0] == 400
    # an entry that does not decode is skipped, as the reference libraries
    # do: nothing checkable remains
    assert ng.request("/standard", BODY,
                      dict(hdrs, **{"webhook-signature": "v1,not base64!"}))[0] == 401


def test_other_versions_are_ignored_and_several_signatures_work(ng):
    hdrs = std(msg_id=fresh_id())
    good = hdrs["webhook-signature"]
    other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    hdrs["webhook-signature"] = f"{other} v1a,{good[3:]} v2,{good[3:]} {good} {other}"
    assert ng.request("/standard", BODY, hdrs)[0] == 200
    hdrs["webhook-signature"] = f"v1a,{good[3:]} v2,{good[3:]}"
    assert ng.request("/standard", BODY, hdrs)[0] == 401


def test_timestamps_outside_the_window_either_way(ng):
    # 30 s either side of the 300 s tolerance: the test's and nginx's
    # integer-second clocks may differ by a second or more on a loaded host
    for ts, want in [(now() - 330, 401), (now() + 330, 401), (now() - 270, 200),
                     (now() + 270, 200)]:
        assert ng.request("/standard", BODY, std(ts=ts, msg_id=fresh_id()))[0] == want, ts
    assert ng.request("/tolerance10", BODY, std(ts=now() - 20))[0] == 401
    assert ng.request("/tolerance10", BODY, std(ts=now() + 20))[0] == 401
    assert ng.request("/tolerance10", BODY, std(ts=now()))[0] == 200
    assert "s in the past" in ng.error_log() and "s in the future" in ng.error_log()


def test_every_secret_is_tried_rotation(ng):
    assert ng.request("/rotated", BODY, std(secret=STD_SECRET2))[0] == 200
    assert ng.request("/rotated", BODY, std(secret=STD_SECRET))[0] == 200
    assert ng.request("/standard", BODY, std(secret=FILE_SECRET, msg_id=fresh_id()))[0] == 200
    assert ng.request("/standard", BODY, std(secret=STD_SECRET2))[0] == 401
    # a header carrying the old and the new signature, as during a rotation
    a = std(secret=STD_SECRET2, ts=now(), msg_id="msg_rot")
    b = std(secret=STD_SECRET, ts=int(a["webhook-timestamp"]), msg_id="msg_rot")
    a["webhook-signature"] += " " + b["webhook-signature"]
    assert ng.request("/rotated", BODY, a)[0] == 200


def test_svix_headers(ng):
    assert ng.request("/svix", BODY, std(prefix="svix"))[0] == 200
    assert ng.request("/svix", BODY, std(prefix="webhook"))[0] == 200
    assert ng.request("/svix", BODY + b" ", std(prefix="svix"))[0] == 401
    assert ng.request("/standard", BODY, std(prefix="svix"))[0] == 401


def test_github_stripe_slack_shopify_fresh_signatures(ng):
    body = b'{"action":"opened","number":1}'
    cases = [
        ("/github", lambda b: sign_github(GH_SECRET, b, delivery=fresh_id())),
        ("/stripe", lambda b: sign_stripe(STRIPE_SECRET, now(), b)),
        ("/slack", lambda b: sign_slack(SLACK_SECRET, now(), b)),
        ("/shopify", lambda b: sign_shopify(SHOPIFY_SECRET, b)),
    ]
    for path, sign in cases:
        hdrs = sign(body)
        assert ng.request(path, body, hdrs)[0] == 200, path
        assert ng.up.requests[-1].body == body
        assert ng.up.requests[-1].headers["x-webhook-scheme"] == path[1:]
        for _, bad in flips(body, step=5):
            assert ng.request(path, bad, hdrs)[0] == 401, path


def test_stripe_several_v1_and_old_timestamps(ng):
    ts = now()
    good = sign_stripe(STRIPE_SECRET, ts, BODY)["Stripe-Signature"]
    hdr = f"{good},v1={'0' * 64},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    assert ng.request("/stripe", BODY, {"Stripe-Signature": hdr})[0] == 200
    assert ng.request("/stripe", BODY, sign_stripe(STRIPE_SECRET, ts - 400, BODY))[0] == 401
    assert ng.request("/stripe", BODY, {"Stripe-Signature": f"v1={'0' * 64}"})[0] == 400


def test_wrong_schemes_headers(ng):
    gh = sign_github(GH_SECRET, BODY)
    assert ng.request("/standard", BODY, gh)[0] == 401
    assert ng.request("/stripe", BODY, std())[0] == 401
    assert ng.request("/github", BODY, sign_slack(GH_SECRET, now(), BODY))[0] == 401
    assert ng.request("/shopify", BODY, gh)[0] == 401


def test_repeated_signature_header_is_malformed(ng):
    raw = (b"POST /github HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n"
           b"X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\r\n"
           b"X-Hub-Signature-256: sha256=00\r\nConnection: close\r\n\r\nHello, World!")
    assert status_of(ng.raw(raw)) == 400


# ---- replays ---------------------------------------------------------------

def test_replay_is_refused_409(ng):
    hdrs = std(msg_id=fresh_id())
    assert ng.request("/standard", BODY, hdrs)[0] == 200
    n = len(ng.up.requests)
    assert ng.request("/standard", BODY, hdrs)[0] == 409
    assert len(ng.up.requests) == n
    assert "409: replayed" in ng.error_log()
    # the same delivery with only a subset of its signatures is the same replay
    hdrs["webhook-signature"] = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + \
        hdrs["webhook-signature"]
    assert ng.request("/standard", BODY, hdrs)[0] == 409


def test_github_replay_and_retry_after_upstream_failure(ng):
    body = os.urandom(32).hex().encode()
    hdrs = sign_github(GH_SECRET, body)
    assert ng.request("/github", body, hdrs)[0] == 200
    assert ng.request("/github", body, hdrs)[0] == 409
    # the upstream answered 503: the key is forgotten and the retry goes through
    body = os.urandom(32).hex().encode()
    hdrs = sign_github(GH_SECRET, body)
    assert ng.request("/replay-retry", body, hdrs)[0] == 503
    assert ng.request("/replay-retry", body, hdrs)[0] == 503
    assert len([r for r in ng.failing.requests if r.body == body]) == 2


# ---- body limits and streaming ------------------------------------------

def test_413_without_reading_the_body(ng):
    # headers promise 10 MB, no body is sent: the answer must come without
    # it, long before nginx's 60 s client_body_timeout would give up waiting
    raw = (b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n" +
           b"".join(f"{k}: {v}\r\n".encode() for k, v in std().items()) + b"\r\n")
    t = time.monotonic()
    assert status_of(ng.raw(raw, timeout=30)) == 413
    assert time.monotonic() - t < 20
    assert ng.request("/small", b"x" * 2000, std(b"x" * 2000))[0] == 413
    assert ng.request("/small", b"x" * 1000, std(b"x" * 1000))[0] == 200


def test_headers_are_checked_before_the_body(ng):
    raw = (b"POST /standard HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
           b"webhook-id: a\r\nwebhook-timestamp: 1\r\nwebhook-signature: v1,AAAA\r\n\r\n")
    t = time.monotonic()
    assert status_of(ng.raw(raw, timeout=30)) == 401
    assert time.monotonic() - t < 20  # not after the 60 s body timeout


def test_chunked_over_the_limit_is_413(ng):
    body = b"y" * 5000
    assert ng.request("/small", body, std(body), chunked=True)[0] == 413


def test_chunked_bodies(ng):
    body = os.urandom(3000).hex().encode()
    pieces = [body[:1], body[1:700], body[700:701], body[701:]]
    assert ng.request("/standard", pieces, std(body, msg_id=fresh_id()), chunked=True)[0] == 200
    assert ng.up.requests[-1].body == body
    bad = [pieces[0], pieces[1], b"Z", pieces[3]]
    assert ng.request("/standard", bad, std(body, msg_id=fresh_id()), chunked=True)[0] == 401


def test_spill_bypass_10mb(ng):
    """A signature over an empty body must not pass with a body that went to
    a temp file (client_body_buffer_size 1k); the valid one must, and the
    upstream must get exactly the 10 MB that were hashed."""
    big = os.urandom(5 * 1024 * 1024).hex().encode()
    assert len(big) == 10 * 1024 * 1024
    empty_sig = sign_github(GH_SECRET, b"")
    assert ng.request("/spill", b"", empty_sig)[0] == 200
    assert ng.request("/spill", big, empty_sig)[0] == 401
    assert ng.request("/spill", big, empty_sig, chunked=True)[0] == 401
    n = len(ng.up.requests)
    assert ng.request("/spill", big, sign_github(GH_SECRET, big))[0] == 200
    assert len(ng.up.requests) == n + 1
    assert hashlib.sha256(ng.up.requests[-1].body).digest() == hashlib.sha256(big).digest()
    assert "a client request body is buffered to a temporary file" in ng.error_log()
    big2 = big[:-1] + b"!"
    assert ng.request("/spill", big2, sign_github(GH_SECRET, big))[0] == 401
    hdrs = std(big, msg_id=fresh_id())
    assert ng.request("/spill-std", big, hdrs, chunked=True)[0] == 200
    assert ng.up.requests[-1].body == big


# ---- HTTP/2 and satisfy any ----------------------------------------------

def curl_h2(port, path, body, headers):
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
            "--http2-prior-knowledge", "--data-binary", "@-",
            f"http://127.0.0.1:{port}{path}"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    r = subprocess.run(args, input=body, capture_output=True, timeout=60)
    code, version = r.stdout.decode().split()
    return int(code), version


def test_http2(ng):
    body = os.urandom(200000).hex().encode()
    code, version = curl_h2(ng.h2_port, "/standard", body, std(body, msg_id=fresh_id()))
    assert (code, version) == (200, "2")
    assert ng.up.requests[-1].body == body
    assert curl_h2(ng.h2_port, "/standard", body + b"!", std(body))[0] == 401
    assert curl_h2(ng.h2_port, "/spill", body, sign_github(GH_SECRET, b""))[0] == 401
    assert curl_h2(ng.h2_port, "/spill", body, sign_github(GH_SECRET, body))[0] == 200
    # A 413 before the body: nginx answers, then resets the stream with
    # NO_ERROR (RFC 9113 8.1); curl 7.88 sometimes reports that as an error
    # instead of the answer, so the log is the witness.
    before = ng.error_log().count("standard: 413:")
    assert curl_h2(ng.h2_port, "/small", body, std(body))[0] in (413, 0)
    assert ng.error_log().count("standard: 413:") == before + 1


def test_satisfy_any(ng):
    # allowed by address: no signature needed
    assert ng.request("/any-ip", BODY, {})[0] == 200
    # nobody allowed by address: the signature alone decides
    assert ng.request("/any-deny", BODY, std())[0] == 200
    assert ng.request("/any-deny", BODY, {})[0] == 401
    assert ng.request("/any-deny", BODY + b"!", std())[0] == 401


def test_bad_configurations_are_refused(tmp_path):
    cases = [
        (location("/x", "nosuch", ["s"]), "unknown webhook scheme"),
        (location("/x", "standard"), "needs at least one secret"),
        (location("/x", "standard", ["not base64!"]), "not a Standard Webhooks secret"),
        (location("/x", "postal", ["s"]), "takes a key, not a secret"),
        (location("/x", "sns"), "needs a public key or certificate"),
        (location("/x", "github", ["file=/nonexistent/secrets"]), "/nonexistent/secrets"),
        (location("/x", "github", ["s"], extra="webhook_verify_replay zone=nope;"),
         'zero size shared memory zone "nope"'),
    ]
    for server, want in cases:
        rc, out = Nginx(tmp_path, server).check()
        assert rc != 0 and want in out, (server, out)
    loose = tmp_path / "loose.secrets"
    loose.write_text("secret\n")
    os.chmod(loose, 0o644)
    rc, out = Nginx(tmp_path, location("/x", "github", [f"file={loose}"])).check()
    assert rc != 0 and "chmod 600" in out, out


def test_example_configuration_checks(tmp_path):
    """conf-examples/nginx.conf, with its files made here, passes nginx -t."""
    from nginx_harness import (NGINX, ROOT, make_cert, make_ec_key, make_rsa_key,
                               module_path, sanitized, sanitizer_env)
    files = tmp_path / "webhooks"
    files.mkdir()
    for name in ("standard", "resend", "mailgun", "stripe", "github", "slack", "shopify"):
        (files / f"{name}.secrets").write_text(STD_SECRET + "\n")
        os.chmod(files / f"{name}.secrets", 0o600)
    (files / "legacy.token").write_text("tok_123\n")
    os.chmod(files / "legacy.token", 0o600)
    priv, pub = make_rsa_key()
    (files / "postal.key").write_bytes(pub)
    (files / "sendgrid.pub").write_bytes(make_ec_key()[1])
    (files / "sns").mkdir()
    (files / "sns" / "SimpleNotificationService-example.pem").write_bytes(make_cert(priv))
    (tmp_path / "tls.key").write_bytes(priv)
    (tmp_path / "tls.pem").write_bytes(make_cert(priv, "hooks.example.com"))
    conf = (ROOT / "conf-examples" / "nginx.conf").read_text()
    for old, new in [
            ("/usr/lib/nginx/modules/ngx_http_webhook_verify_module.so", str(module_path())),
            ("/etc/postseal/webhooks", str(files)),
            ("/run/nginx.pid", str(tmp_path / "nginx.pid")),
            ("/var/log/nginx", str(tmp_path)),
            ("/etc/ssl/certs/hooks.example.com.pem", str(tmp_path / "tls.pem")),
            ("/etc/ssl/private/hooks.example.com.key", str(tmp_path / "tls.key"))]:
        assert old in conf
        conf = conf.replace(old, new)
    (tmp_path / "nginx.conf").write_text(conf)
    r = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                       capture_output=True, text=True,
                       env=sanitizer_env(tmp_path) if sanitized() else None)
    assert r.returncode == 0, r.stderr
