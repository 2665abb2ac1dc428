"""The providers' SDK test suites (tests/vectors/webhooks/upstream/*.json:
octokit/webhooks-methods, python-slack-sdk, shopify-api-js, sendgrid-nodejs,
mailgun-go, aws-js-sns-message-validator), each case replayed through
`postseal webhook verify` and through a real nginx with the module: the
status each gets, and $webhook_id / $webhook_key where the case names them.
Where we decide differently from upstream the case says why ("why").
Also: real AWS deliveries against a directory of pinned certificates, the
one named like the SigningCertURL's file selected.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_webhook_vectors_prov.py
"""

import base64
import json
import os
import shutil
import subprocess

import pytest

from nginx_harness import (VECTORS, Nginx, Upstream, build_dir, load_vectors,
                           location, needs_module)

UPSTREAM = VECTORS / "upstream"
SNS_SIGNED = ["Message", "MessageId", "Subject", "SubscribeURL", "Timestamp",
              "Token", "TopicArn", "Type"]  # aws-js-sns-message-validator's order


def load():
    out = []
    for path in sorted(UPSTREAM.glob("*.json")):
        src = json.loads(path.read_text())
        for i, v in enumerate(src["vectors"]):
            out.append(dict(v, scheme=src["scheme"], source=path.stem,
                            name=f"{path.stem}-{i}", repository=src["repository"],
                            commit=src["commit"], file=src["file"]))
    return out


CASES = load()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Files every case needs: secrets, keys, and for SNS a fresh
    self-signed certificate (as upstream's test makes one) that signs."""
    d = tmp_path_factory.mktemp("prov")
    key = d / "sns.key"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", str(key))
    pins = d / "pins"
    pins.mkdir()
    openssl("req", "-x509", "-new", "-key", str(key), "-subj", "/CN=sns-test",
            "-days", "2", "-out", str(pins / "cert.pem"))
    for v in CASES:
        prepare(d, key, pins, v)
    return d


def prepare(d, key, pins, v):
    """Fills v["request_headers"], v["body_bytes"] and the config paths."""
    if v["scheme"] == "sns":
        msg = dict(v["message"])
        if v.get("sign") is not None:
            if v["cert_url"]:
                msg["SigningCertURL"] = v["cert_url"]
            canon = "".join(f"{k}\n{msg[k]}\n" for k in SNS_SIGNED if k in msg)
            if v["sign"] == "key":
                sig = openssl("dgst", "-" + v.get("md", "sha1"), "-sign", str(key),
                              data=canon.encode())
            else:
                sig = v["sign"].encode()
            msg["Signature"] = base64.b64encode(sig).decode()
        v["body_bytes"] = json.dumps(msg, ensure_ascii=False).encode()
        v["request_headers"] = [("Content-Type", "text/plain; charset=UTF-8")]
        v["keys"] = [str(pins)]
        return
    v["body_bytes"] = v["body"].encode()
    v["request_headers"] = [tuple(h) for h in v["headers"]]
    v["keys"] = []
    if "key_text" in v:
        f = d / f"{v['name']}.pub"
        f.write_text(v["key_text"] + "\n")
        v["keys"] = [str(f)]


def test_every_source_is_here_with_its_origin():
    assert {v["source"] for v in CASES} == {
        "octokit-webhooks-methods", "python-slack-sdk", "shopify-api-js",
        "sendgrid-nodejs", "mailgun-go", "aws-js-sns-message-validator"}
    for v in CASES:
        assert v["repository"].startswith("https://github.com/"), v["name"]
        assert len(v["commit"]) == 40 and v["file"] and v["test"], v["name"]
        assert v["expect"] in ("ok", "400", "401"), v["name"]
        assert v["upstream"] in ("valid", "invalid"), v["name"]
        # a different answer from upstream's is stated, with its reason
        if (v["expect"] == "ok") != (v["upstream"] == "valid"):
            assert v.get("why"), v["name"]


def cli():
    return str(build_dir() / "postseal")


def raw_request(v):
    head = "".join(f"{k}: {val}\r\n" for k, val in v["request_headers"])
    return b"POST /hook HTTP/1.1\r\n" + head.encode() + b"\r\n" + v["body_bytes"]


@pytest.mark.parametrize("v", CASES, ids=lambda v: v["name"])
def test_case_through_the_cli(work, v):
    args = [cli(), "webhook", "verify", "--scheme", v["scheme"]]
    if v.get("secrets"):
        f = work / f"{v['name']}.secrets"
        f.write_text("".join(s + "\n" for s in v["secrets"]))
        os.chmod(f, 0o600)
        args += ["--secret-file", str(f)]
    for k in v["keys"]:
        args += ["--key-file", k]
    if v.get("now") != "clock":
        args += ["--now", str(v["now"])] if v.get("now") else ["--tolerance", "off"]
    r = subprocess.run(args, input=raw_request(v), capture_output=True, timeout=30)
    if v["expect"] == "ok":
        assert r.returncode == 0, (v["test"], r.stderr)
        out = r.stdout.decode()
        if "id" in v:
            assert f" id={v['id'] or '-'} " in out, out
        if "key" in v:
            assert f" key={v['key']}" in out, out
    else:
        assert r.returncode == 1, (v["test"], r.stdout, r.stderr)
        assert f"refused ({v['expect']})".encode() in r.stderr, (v["test"], r.stderr)
        if "reason" in v:
            assert v["reason"].encode() in r.stderr, r.stderr


@pytest.fixture(scope="module")
def ng(work, tmp_path_factory):
    locs = []
    for v in CASES:
        extra = "" if v.get("now") == "clock" else "webhook_verify_tolerance off;"
        locs.append(location(f"/p/{v['name']}", v["scheme"], v.get("secrets") or [],
                             v["keys"], extra=extra))
    with Upstream() as up, Nginx(tmp_path_factory.mktemp("ng"), "\n".join(locs),
                                 upstream=up) as n:
        n.up = up
        yield n


@needs_module
@pytest.mark.parametrize("v", CASES, ids=lambda v: v["name"])
def test_case_through_nginx(ng, v):
    n = len(ng.up.requests)
    status, _, _ = ng.request(f"/p/{v['name']}", v["body_bytes"],
                              dict(v["request_headers"]))
    if v["expect"] == "ok":
        assert status == 200, v["test"]
        got = ng.up.requests[-1]
        assert got.body == v["body_bytes"]
        assert got.headers["x-webhook-verified"] == "1"
        if "id" in v:
            assert got.headers.get("x-webhook-id", "") == v["id"]
        if "key" in v:
            assert got.headers["x-webhook-key"] == str(v["key"])
    else:
        assert status == int(v["expect"]), v["test"]
        assert len(ng.up.requests) == n


# ---- real AWS deliveries, certificates pinned by file name ---------------

AWS_NAME = "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"


@pytest.fixture(scope="module")
def sns_dirs(tmp_path_factory, work):
    """good: AWS's certificate under the name its URL gives, beside an
    unrelated one (a rotation's new file); decoy: the unrelated one under
    that name, AWS's under another (the name selects; no fallback then)."""
    d = tmp_path_factory.mktemp("snspins")
    good, decoy = d / "good", d / "decoy"
    good.mkdir()
    decoy.mkdir()
    other = work / "pins" / "cert.pem"
    shutil.copy(VECTORS / "sns-aws-2021.pem", good / AWS_NAME)
    shutil.copy(other, good / "SimpleNotificationService-0000.pem")
    shutil.copy(other, decoy / AWS_NAME)
    shutil.copy(VECTORS / "sns-aws-2021.pem", decoy / "SimpleNotificationService-0000.pem")
    return good, decoy


SNS_VECTORS = [v for v in load_vectors() if v.get("scheme") == "sns"]


@needs_module
def test_aws_deliveries_with_a_directory_of_pins(sns_dirs, tmp_path):
    good, decoy = sns_dirs
    locs = [location("/good", "sns", keys=[str(good)], extra="webhook_verify_tolerance off;"),
            location("/decoy", "sns", keys=[str(decoy)], extra="webhook_verify_tolerance off;")]
    with Upstream() as up, Nginx(tmp_path, "\n".join(locs), upstream=up) as n:
        for v in SNS_VECTORS:
            hdrs = {k: val for k, val in v.headers if k.lower() != "content-length"}
            want = 200 if v.get("expect") == "ok" else int(v.get("expect"))
            assert n.request("/good", v.body, hdrs)[0] == want, v.name
            if want == 200:
                # the pin is the second file in name order: selected by name
                assert up.requests[-1].headers["x-webhook-key"] == "2"
                assert n.request("/decoy", v.body, hdrs)[0] == 401, v.name


def test_cli_pins_by_name_and_refuses_a_foreign_url(sns_dirs):
    good, decoy = sns_dirs
    for v in SNS_VECTORS:
        base = [cli(), "webhook", "verify", "--scheme", "sns", "--now", v.get("now")]
        r = subprocess.run(base + ["--key-file", str(good)], input=v.request,
                           capture_output=True, timeout=30)
        if v.get("expect") != "ok":
            assert r.returncode == 1
            continue
        assert r.returncode == 0 and b" key=2" in r.stdout, r.stderr
        r = subprocess.run(base + ["--key-file", str(decoy)], input=v.request,
                           capture_output=True, timeout=30)
        assert r.returncode == 1 and AWS_NAME.encode() in r.stderr, r.stderr
        moved = v.request.replace(b"https://sns.us-east-2.amazonaws.com/",
                                  b"https://sns.us-east-2.amazonaws.com.example/")
        r = subprocess.run(base + ["--key-file", str(good)], input=moved,
                           capture_output=True, timeout=30)
        assert r.returncode == 1 and b"refused (400)" in r.stderr
        assert b"SigningCertURL" in r.stderr
