"""Upstream test cases of Standard Webhooks, Svix and Stripe
(tests/vectors/webhooks/std-*.json, each vector naming its repository,
commit, file and test) replayed through `postseal webhook verify` (at the
vector's time and tolerance) and through a real nginx with
ngx_http_webhook_verify_module (tolerance off: a vector refused only for
its time says what it gets then, expect_tolerance_off). Then the
asymmetric mode (v1a, whpk_ keys) both ways, with keys made here.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration/test_webhook_vectors_std.py
"""

import base64
import json
import os
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from nginx_harness import (VECTORS, Nginx, Upstream, build_dir, location, module_path,
                           needs_module, sanitized, sanitizer_env)


def load():
    out = []
    for path in sorted(VECTORS.glob("std-*.json")):
        for i, v in enumerate(json.loads(path.read_text())["vectors"]):
            v["name"] = f"{path.stem}-{i:03d}"
            out.append(v)
    return out


VECTOR_LIST = load()
CLI = build_dir() / "postseal"
needs_cli = pytest.mark.skipif(not os.access(CLI, os.X_OK), reason="postseal not built")


def vid(v):
    return f"{v['name']}:{v['repository'].split('/')[1]}:{v['test'][:60]}"


def request_bytes(headers, body):
    lines = [f"{k}: {val}" for k, val in headers]
    return ("POST /hook HTTP/1.1\r\n" + "".join(x + "\r\n" for x in lines) + "\r\n").encode() + body


def secret_file(tmp_path, secrets, name="s.secrets"):
    f = tmp_path / name
    f.write_text("".join(s + "\n" for s in secrets))
    os.chmod(f, 0o600)
    return str(f)


def cli_verify(tmp_path, scheme, secrets, headers, body, now=None, tolerance=None):
    args = [str(CLI), "webhook", "verify", "--scheme", scheme,
            "--secret-file", secret_file(tmp_path, secrets)]
    if now is not None:
        args += ["--now", str(now)]
    if tolerance is not None:
        args += ["--tolerance", str(tolerance)]
    return subprocess.run(args, input=request_bytes(headers, body), capture_output=True,
                          timeout=30)


def test_every_source_is_there_and_attributed():
    repos = {v["repository"] for v in VECTOR_LIST}
    assert {"standard-webhooks/standard-webhooks", "svix/svix-webhooks", "stripe/stripe-python",
            "stripe/stripe-node", "stripe/stripe-go"} <= repos
    files = {v["file"] for v in VECTOR_LIST if v["repository"] == "standard-webhooks/standard-webhooks"}
    assert len(files) >= 7  # python, javascript, go, csharp, java, php, ruby
    for v in VECTOR_LIST:
        assert len(v["commit"]) == 40 and v["file"] and v["test"], v["name"]
        assert v["expect"] in ("ok", "400", "401"), v["name"]
        assert v["upstream"] in ("valid", "invalid"), v["name"]
        # a different answer from upstream's is stated, with its reason
        if (v["expect"] == "ok") != (v["upstream"] == "valid"):
            assert v.get("why"), v["name"]
    assert sum(v["expect"] == "ok" for v in VECTOR_LIST) >= 40
    assert sum(v["expect"] != "ok" for v in VECTOR_LIST) >= 40


@needs_cli
@pytest.mark.parametrize("v", VECTOR_LIST, ids=vid)
def test_vector_through_the_cli(tmp_path, v):
    r = cli_verify(tmp_path, v["scheme"], v["secrets"], v["headers"], v["body"].encode(),
                   now=v["now"], tolerance=v.get("tolerance"))
    if v["expect"] == "ok":
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(b"verified: scheme=" + v["scheme"].encode())
    else:
        assert r.returncode == 1, r.stderr
        assert f"refused ({v['expect']})".encode() in r.stderr


@pytest.fixture(scope="module")
def ng(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stdvectors")
    server = "\n".join(location(f"/v/{v['name']}", v["scheme"], v["secrets"],
                                extra="webhook_verify_tolerance off;") for v in VECTOR_LIST)
    with Upstream() as up, Nginx(tmp, server, upstream=up) as n:
        n.up = up
        yield n


@needs_module
@pytest.mark.parametrize("v", VECTOR_LIST, ids=vid)
def test_vector_through_nginx(ng, v):
    want = v.get("expect_tolerance_off", v["expect"])
    n = len(ng.up.requests)
    status, _, _ = ng.request(f"/v/{v['name']}", v["body"].encode(), dict(v["headers"]))
    if want == "ok":
        assert status == 200
        assert ng.up.requests[-1].body == v["body"].encode()
    else:
        assert status == int(want)
        assert len(ng.up.requests) == n


# ---- the asymmetric mode: keys made here, signed as the spec says --------

BODY = b'{"type":"contact.created","data":{"id":"c_1"}}'
HMAC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def new_key():
    k = Ed25519PrivateKey.generate()
    raw = k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return k, "whpk_" + base64.b64encode(raw).decode()


def v1a(key, msg_id, ts, body=BODY):
    return "v1a," + base64.b64encode(key.sign(f"{msg_id}.{ts}.".encode() + body)).decode()


def v1(secret, msg_id, ts, body=BODY):
    import hashlib
    import hmac
    raw = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(raw, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def std_headers(sig, ts="1700000000", msg_id="msg_1"):
    return [("webhook-id", msg_id), ("webhook-timestamp", ts), ("webhook-signature", sig)]


K1, PK1 = new_key()
K2, PK2 = new_key()
# (name, configured secrets, signature header, timestamp, expect, reason part)
ASYM = [
    ("v1a-only", [PK1], v1a(K1, "msg_1", "1700000000"), "1700000000", "ok", None),
    ("v1a-second-key", [PK2, PK1], v1a(K1, "msg_1", "1700000000"), "1700000000", "ok", "key=2"),
    ("v1a-wrong-key", [PK2], v1a(K1, "msg_1", "1700000000"), "1700000000", "401", "does not match"),
    ("v1-with-only-whpk", [PK1], v1(HMAC_SECRET, "msg_1", "1700000000"), "1700000000", "401",
     "only v1 (HMAC) signatures and only whpk_"),
    ("v1a-with-only-whsec", [HMAC_SECRET], v1a(K1, "msg_1", "1700000000"), "1700000000", "401",
     "no whpk_ public key"),
    ("rotation-both-v1a", [HMAC_SECRET, PK1], v1a(K1, "msg_1", "1700000000"), "1700000000", "ok", "key=2"),
    ("rotation-both-v1", [HMAC_SECRET, PK1], v1(HMAC_SECRET, "msg_1", "1700000000"), "1700000000", "ok",
     "key=1"),
    ("garbled-then-v1a", [PK1], "v1a,bm90IGEgc2ln v1,@@@ " + v1a(K1, "msg_1", "1700000000"),
     "1700000000", "ok", None),
    ("fractional-ts", [PK1], v1a(K1, "msg_1", "1700000000.123456"), "1700000000.123456", "ok", None),
    ("fractional-ts-v1", [HMAC_SECRET], v1(HMAC_SECRET, "msg_1", "1700000000.5"), "1700000000.5", "ok",
     None),
    # as the Python and Svix libraries verify it: over the whole seconds
    ("fractional-ts-integer-signed", [HMAC_SECRET], v1(HMAC_SECRET, "msg_1", "1700000000"),
     "1700000000.5", "ok", None),
    ("fractional-ts-integer-signed-v1a", [PK1], v1a(K1, "msg_1", "1700000000"),
     "1700000000.5", "ok", None),
    ("fractional-ts-other-second", [HMAC_SECRET], v1(HMAC_SECRET, "msg_1", "1700000001"),
     "1700000000.5", "401", "does not match"),
    ("unpadded-secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr"],
     v1("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr==", "msg_1", "1700000000"), "1700000000", "ok", None),
]


@needs_cli
@pytest.mark.parametrize("case", ASYM, ids=lambda c: c[0])
def test_asymmetric_through_the_cli(tmp_path, case):
    _, secrets, sig, ts, expect, part = case
    r = cli_verify(tmp_path, "standard", secrets, std_headers(sig, ts), BODY, now=1700000100)
    if expect == "ok":
        assert r.returncode == 0, r.stderr
        assert part is None or part.encode() in r.stdout, r.stdout
    else:
        assert r.returncode == 1 and f"refused ({expect})".encode() in r.stderr, r.stderr
        assert part.encode() in r.stderr, r.stderr


@needs_cli
def test_cli_refuses_a_malformed_whpk_key(tmp_path):
    for bad in ("whpk_", "whpk_AAAA", "whpk_" + "A" * 60):
        r = cli_verify(tmp_path, "standard", [bad], std_headers("v1,x"), BODY)
        assert r.returncode == 2 and b"Ed25519 public key" in r.stderr, r.stderr


@needs_module
def test_asymmetric_through_nginx(tmp_path):
    locs = [location(f"/a/{c[0]}", "standard", c[1], extra="webhook_verify_tolerance off;")
            for c in ASYM]
    locs.append(location("/svix", "svix", [PK1], extra="webhook_verify_tolerance off;"))
    with Upstream() as up, Nginx(tmp_path, "\n".join(locs), upstream=up) as n:
        for name, _, sig, ts, expect, part in ASYM:
            status, _, _ = n.request(f"/a/{name}", BODY, dict(std_headers(sig, ts)))
            assert status == (200 if expect == "ok" else int(expect)), name
            if expect == "ok" and part and part.startswith("key="):
                assert up.requests[-1].headers["x-webhook-key"] == part[4:], name
        svix = [("svix-id", "msg_1"), ("svix-timestamp", "1700000000"),
                ("svix-signature", v1a(K1, "msg_1", "1700000000"))]
        status, _, _ = n.request("/svix", BODY, dict(svix))
        assert status == 200


@needs_module
def test_nginx_refuses_a_malformed_whpk_key_at_start(tmp_path):
    server = location("/bad", "standard", ["whpk_AAAA"], upstream="127.0.0.1:9")
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"load_module {module_path()};\nerror_log stderr;\npid {tmp_path}/pid;\n"
                    f"events {{}}\nhttp {{ server {{ listen 127.0.0.1:9; {server} }} }}\n")
    r = subprocess.run(["/usr/sbin/nginx", "-t", "-p", str(tmp_path), "-c", str(conf)],
                       capture_output=True, timeout=30,
                       env=sanitizer_env(tmp_path) if sanitized() else None)
    assert r.returncode != 0
    assert b"Ed25519 public key" in r.stderr, r.stderr
