"""ngx_http_webhook_verify_module in a real nginx, the schemes whose
signature is in the body or made with a private key: Mailgun (JSON,
urlencoded and multipart forms; the token is the replay key), Postal (the
fixed test RSA key), SendGrid (ECDSA P-256), SNS (pinned certificates,
SignatureVersion 1 and 2), and Basic/Bearer; plus `postseal webhook sign`
output accepted by nginx; $webhook_id read from the body for the schemes
that carry the delivery id there (Stripe, Slack, Postal, SendGrid).

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_nginx_schemes.py
"""

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.parse

import pytest

from nginx_harness import (VECTORS, Nginx, Upstream, build_dir, flips,
                           location, mailgun_fields, mailgun_json, make_cert,
                           make_ec_key, make_rsa_key, needs_module,
                           sign_postal, sign_sendgrid, sign_slack, sign_sns,
                           sign_stripe, sns_canonical)

pytestmark = needs_module

MG_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
MG_KEY2 = "the-rotated-mailgun-signing-key"
BASIC = "hooks:correct horse battery staple"
BEARER = "tok_9f3a1c8e2b7d4a60"
STRIPE = "whsec_test_body_ids"
SLACK = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys")
    k = {}
    k["postal_priv"] = (VECTORS / "postal-test.key").read_bytes()
    k["sg_priv"], sg_pub = make_ec_key()
    (tmp / "sendgrid.pub").write_bytes(sg_pub + b"\n")
    k["sns_priv"], _ = make_rsa_key()
    (tmp / "sns.pem").write_bytes(make_cert(k["sns_priv"]))
    k["sns_priv2"], _ = make_rsa_key()
    (tmp / "sns2.pem").write_bytes(make_cert(k["sns_priv2"]))
    k["other_priv"], _ = make_rsa_key()
    k["dir"] = tmp
    return k


@pytest.fixture(scope="module")
def ng(tmp_path_factory, keys):
    tmp = tmp_path_factory.mktemp("nginx")
    d = keys["dir"]
    server = "\n".join([
        location("/mailgun", "mailgun", [MG_KEY, MG_KEY2],
                 extra="webhook_verify_replay zone=wh;"),
        location("/postal", "postal", keys=[VECTORS / "postal-test.pub"],
                 extra="webhook_verify_replay zone=wh;"),
        location("/postal-dkim", "postal", keys=[VECTORS / "postal-test.dkim"]),
        location("/sendgrid", "sendgrid", keys=[d / "sendgrid.pub"]),
        location("/sns", "sns", keys=[d / "sns.pem", d / "sns2.pem"],
                 extra="webhook_verify_replay zone=wh;"),
        location("/basic", "basic", [BASIC, "old:password"]),
        location("/bearer", "bearer", [BEARER]),
        location("/mailgun-small", "mailgun", [MG_KEY], extra="webhook_verify_max_body 2k;"),
        location("/stripe", "stripe", [STRIPE]),
        location("/slack", "slack", [SLACK]),
    ])
    with Upstream() as up, Nginx(tmp, server, http="webhook_verify_replay_zone wh:1m;",
                                 upstream=up) as n:
        n.up = up
        yield n


def now():
    return int(time.time())


def token():
    return os.urandom(25).hex()


# ---- Mailgun ------------------------------------------------------------

def test_mailgun_json(ng):
    body = mailgun_json(MG_KEY, now(), token())
    assert ng.request("/mailgun", body, {"Content-Type": "application/json"})[0] == 200
    got = ng.up.requests[-1]
    assert got.body == body
    assert got.headers["x-webhook-id"] == "CPgfbmQMTCKtHW6uIWtuVe"
    assert got.headers["x-webhook-key"] == "1"  # which key, not the token
    assert ng.request("/mailgun", body, {"Content-Type": "application/json"})[0] == 409


def test_mailgun_rotated_key_and_wrong_key(ng):
    ct = {"Content-Type": "application/json"}
    assert ng.request("/mailgun", mailgun_json(MG_KEY2, now(), token()), ct)[0] == 200
    assert ng.up.requests[-1].headers["x-webhook-key"] == "2"
    assert ng.request("/mailgun", mailgun_json("some-other-key", now(), token()), ct)[0] == 401


def test_mailgun_flipped_signed_fields(ng):
    ct = {"Content-Type": "application/json"}
    ts, tok = now(), token()
    good = mailgun_fields(MG_KEY, ts, tok)
    for field in good:
        for i in range(len(good[field])):
            bad = dict(good)
            c = bad[field][i]
            bad[field] = bad[field][:i] + ("1" if c != "1" else "2") + bad[field][i + 1:]
            body = json.dumps({"signature": bad}).encode()
            assert ng.request("/mailgun", body, ct)[0] in (400, 401), (field, i)


def test_mailgun_timestamps(ng):
    ct = {"Content-Type": "application/json"}
    assert ng.request("/mailgun", mailgun_json(MG_KEY, now() - 400, token()), ct)[0] == 401
    assert ng.request("/mailgun", mailgun_json(MG_KEY, now() + 400, token()), ct)[0] == 401


def test_mailgun_forms(ng):
    fields = mailgun_fields(MG_KEY, now(), token())
    body = urllib.parse.urlencode(dict(fields, recipient="a@example.com")).encode()
    assert ng.request("/mailgun", body,
                      {"Content-Type": "application/x-www-form-urlencoded"})[0] == 200
    assert ng.up.requests[-1].body == body
    fields = mailgun_fields(MG_KEY, now(), token())
    b = "----postseal7MA4YWxkTrZu0gW"
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             for k, v in dict(fields, subject="hi").items()]
    parts.insert(1, f'--{b}\r\nContent-Disposition: form-data; name="attachment-1"; '
                    f'filename="name=token"\r\nContent-Type: application/octet-stream\r\n\r\n'
                    + "x" * 300 + "\r\n")
    body = ("".join(parts) + f"--{b}--\r\n").encode()
    ct = {"Content-Type": f"multipart/form-data; boundary={b}"}
    assert ng.request("/mailgun", body, ct)[0] == 200
    assert ng.up.requests[-1].body == body
    assert ng.request("/mailgun", body, ct)[0] == 409


def test_mailgun_ambiguous_or_garbled_bodies(ng):
    ct = {"Content-Type": "application/json"}
    f = mailgun_fields(MG_KEY, now(), token())
    sig = json.dumps(f)
    twice = f'{{"signature": {sig}, "signature": {sig}}}'.encode()
    assert ng.request("/mailgun", twice, ct)[0] == 400
    assert ng.request("/mailgun", b'{"signature": {"timestamp": ', ct)[0] == 400
    assert ng.request("/mailgun", b'{"event-data": {}}', ct)[0] == 401
    form = urllib.parse.urlencode(f).encode() + b"&token=" + f["token"].encode()
    assert ng.request("/mailgun", form,
                      {"Content-Type": "application/x-www-form-urlencoded"})[0] == 400
    assert ng.request("/mailgun", b"<xml/>", {"Content-Type": "text/xml"})[0] == 400


def test_mailgun_body_limit(ng):
    body = mailgun_json(MG_KEY, now(), token())[:-1] + b', "pad": "' + b"p" * 3000 + b'"}'
    assert ng.request("/mailgun-small", body, {"Content-Type": "application/json"})[0] == 413
    assert ng.request("/mailgun-small", body, {"Content-Type": "application/json"},
                      chunked=True)[0] == 413


# ---- Postal, SendGrid -------------------------------------------------------

def test_postal_fixed_key(ng, keys):
    body = json.dumps({"event": "MessageDelivered", "uuid": os.urandom(8).hex(),
                       "timestamp": time.time()}).encode()
    hdrs = sign_postal(keys["postal_priv"], body)
    assert ng.request("/postal", body, hdrs)[0] == 200
    assert ng.up.requests[-1].body == body
    assert ng.request("/postal", body, hdrs)[0] == 409
    assert ng.request("/postal-dkim", body, hdrs)[0] == 200
    only1 = {"X-Postal-Signature": hdrs["X-Postal-Signature"]}
    assert ng.request("/postal-dkim", body, only1)[0] == 200
    for _, bad in flips(body, step=9):
        assert ng.request("/postal-dkim", bad, hdrs)[0] == 401
    assert ng.request("/postal-dkim", body, sign_postal(keys["other_priv"], body))[0] == 401
    assert ng.request("/postal-dkim", body, {})[0] == 401
    assert ng.request("/postal-dkim", body, {"X-Postal-Signature-256": "%%%"})[0] == 400


def test_sendgrid(ng, keys):
    body = json.dumps([{"email": "a@example.com", "event": "delivered",
                        "sg_event_id": os.urandom(6).hex()}]).encode() + b"\r\n"
    hdrs = sign_sendgrid(keys["sg_priv"], now(), body)
    assert ng.request("/sendgrid", body, hdrs)[0] == 200
    assert ng.up.requests[-1].body == body
    for _, bad in flips(body, step=11):
        assert ng.request("/sendgrid", bad, hdrs)[0] == 401
    ts = int(hdrs["X-Twilio-Email-Event-Webhook-Timestamp"])
    moved = dict(hdrs, **{"X-Twilio-Email-Event-Webhook-Timestamp": str(ts + 1)})
    assert ng.request("/sendgrid", body, moved)[0] == 401
    assert ng.request("/sendgrid", body, sign_sendgrid(keys["sg_priv"], now() - 600, body))[0] == 401
    assert ng.request("/sendgrid", body, sign_sendgrid(keys["sg_priv"], now() + 600, body))[0] == 401


# ---- SNS ----------------------------------------------------------------------

def sns_message(kind="Notification", **extra):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".123Z"
    m = {"Type": kind, "MessageId": os.urandom(8).hex(),
         "TopicArn": "arn:aws:sns:us-east-1:123456789012:postal-events",
         "Message": json.dumps({"notificationType": "Bounce", "mail": {"id": "x\u00e9\n"}}),
         "Timestamp": ts,
         "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"}
    if kind != "Notification":
        m["Token"] = os.urandom(16).hex()
        m["SubscribeURL"] = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
    m.update(extra)
    return m


def sns_send(ng, msg, header_type=None):
    hdrs = {"Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": header_type or msg["Type"]}
    return ng.request("/sns", json.dumps(msg).encode(), hdrs)[0]


def test_sns_versions_types_and_certificate_rotation(ng, keys):
    for version in ("1", "2"):
        for kind in ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"):
            msg = sign_sns(keys["sns_priv"], sns_message(kind), version)
            assert sns_send(ng, msg) == 200, (version, kind)
            assert json.loads(ng.up.requests[-1].body) == msg
            assert ng.up.requests[-1].headers["x-webhook-id"] == msg["MessageId"]
    msg = sign_sns(keys["sns_priv"], sns_message(Subject="Amazon SES Email Event"))
    assert sns_send(ng, msg) == 200
    assert sns_send(ng, msg) == 409
    assert sns_send(ng, sign_sns(keys["sns_priv2"], sns_message())) == 200
    assert sns_send(ng, sign_sns(keys["other_priv"], sns_message())) == 401


def test_sns_tampering(ng, keys):
    msg = sign_sns(keys["sns_priv"], sns_message(Subject="s"))
    for field in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn"):
        bad = dict(msg, **{field: msg[field][:-2] + "Zz"})
        assert sns_send(ng, bad) in (400, 401), field
    assert sns_send(ng, {k: v for k, v in msg.items() if k != "Subject"}) == 401
    assert sns_send(ng, dict(msg, SignatureVersion="3")) == 400
    assert sns_send(ng, dict(msg, Type="SubscriptionConfirmation")) == 400
    assert sns_send(ng, msg, header_type="SubscriptionConfirmation") == 400
    old = sns_message(Timestamp="2022-07-28T21:23:58.317Z")
    assert sns_send(ng, sign_sns(keys["sns_priv"], old)) == 401
    body = json.dumps(msg).encode()
    twice = body[:-1] + b', "Message": "other"}'
    assert ng.request("/sns", twice, {"Content-Type": "text/plain"})[0] == 400


# ---- Basic, Bearer -------------------------------------------------------------

def basic(cred):
    return {"Authorization": "Basic " + base64.b64encode(cred.encode()).decode()}


def test_basic_and_bearer(ng):
    assert ng.request("/basic", b"{}", basic(BASIC))[0] == 200
    assert ng.up.requests[-1].headers["x-webhook-id"] == "hooks"
    assert ng.request("/basic", b"{}", basic("old:password"))[0] == 200
    assert ng.request("/basic", b"{}", basic(BASIC + "x"))[0] == 401
    assert ng.request("/basic", b"{}", basic("hooks:"))[0] == 401
    assert ng.request("/basic", b"{}", {})[0] == 401
    assert ng.request("/basic", b"{}", {"Authorization": "Basic %%%"})[0] == 400
    assert ng.request("/basic", b"{}", {"Authorization": "Bearer " + BEARER})[0] == 401
    assert ng.request("/bearer", b"{}", {"Authorization": "Bearer " + BEARER})[0] == 200
    assert ng.request("/bearer", b"{}", {"Authorization": "bearer " + BEARER})[0] == 200
    assert ng.request("/bearer", b"{}", {"Authorization": "Bearer " + BEARER[:-1]})[0] == 401
    assert ng.request("/bearer", b"{}", basic(BASIC))[0] == 401
    log = ng.error_log()
    assert BEARER not in log and "battery" not in log


# ---- the CLI's signatures go through nginx ---------------------------------------

def cli():
    p = build_dir() / "postseal"
    if not os.access(p, os.X_OK) or subprocess.run(
            [str(p), "webhook", "--help"], capture_output=True).returncode != 0:
        pytest.skip("postseal webhook not built or not dispatched")
    return str(p)


def test_cli_sign_is_accepted_by_nginx(ng, tmp_path, keys):
    exe = cli()
    sec = tmp_path / "mg.secrets"
    sec.write_text(MG_KEY + "\n")
    os.chmod(sec, 0o600)
    out = subprocess.run([exe, "webhook", "sign", "--scheme", "mailgun", "--secret-file",
                          str(sec)], input=b"", capture_output=True, check=True).stdout
    body = out.strip()
    assert ng.request("/mailgun", body, {"Content-Type": "application/json"})[0] == 200
    priv = tmp_path / "postal.key"
    shutil.copy(VECTORS / "postal-test.key", priv)
    os.chmod(priv, 0o600)
    body = b'{"event":"MessageSent","uuid":"' + os.urandom(6).hex().encode() + b'"}'
    out = subprocess.run([exe, "webhook", "sign", "--scheme", "postal", "--key-file",
                          str(priv)], input=body, capture_output=True, check=True).stdout
    hdrs = dict(line.split(": ", 1) for line in out.decode().splitlines())
    assert ng.request("/postal", body, hdrs)[0] == 200
    sgkey = tmp_path / "sg.key"
    sgkey.write_bytes(keys["sg_priv"])
    os.chmod(sgkey, 0o600)
    out = subprocess.run([exe, "webhook", "sign", "--scheme", "sendgrid", "--key-file",
                          str(sgkey)], input=body, capture_output=True, check=True).stdout
    hdrs = dict(line.split(": ", 1) for line in out.decode().splitlines())
    assert ng.request("/sendgrid", body, hdrs)[0] == 200
    # SNS: the CLI gives the whole message; checked with cryptography too.
    snskey = tmp_path / "sns.key"
    snskey.write_bytes(keys["sns_priv"])
    os.chmod(snskey, 0o600)
    msg = {k: v for k, v in sns_message(Subject="Amazon SES Email Event").items()
           if k not in ("Signature", "SignatureVersion", "SigningCertURL", "MessageId",
                        "Timestamp")}
    out = subprocess.run([exe, "webhook", "sign", "--scheme", "sns", "--key-file", str(snskey),
                          "--cert-url", "https://sns.us-east-1.amazonaws.com/x.pem"],
                         input=json.dumps(msg).encode(), capture_output=True,
                         check=True).stdout
    signed = json.loads(out)
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    serialization.load_pem_private_key(keys["sns_priv"], None).public_key().verify(
        base64.b64decode(signed["Signature"]), sns_canonical(signed), padding.PKCS1v15(),
        hashes.SHA256())
    assert sns_send(ng, signed) == 200


# ---- $webhook_id from the body ---------------------------------------------------

def test_webhook_id_read_from_the_body(ng, keys):
    """Stripe's event id, Slack's event_id, Postal's uuid and SendGrid's
    sg_event_id (of the first event of a batch) reach the upstream and the
    log as $webhook_id, whatever chunks the body arrives in; the nested
    ids of the same name are not taken."""
    filler = "x" * 5000  # the id after it: past the first chunk
    stripe = json.dumps({"object": "event", "data": {"object": {"id": "pi_3MtwBw"}},
                         "pad": filler, "id": "evt_1NG8Du2eZvKYlo2C"}).encode()
    slack = json.dumps({"type": "event_callback", "event": {"event_id": "inner"},
                        "pad": filler, "event_id": "Ev08MFMKH6"}).encode()
    postal = json.dumps({"event": "MessageSent", "timestamp": time.time(),
                         "payload": {"message": {"id": 7}, "pad": filler},
                         "uuid": "5c9d2e1a-7f3b-4e8a-9d6c-1b2a3c4d5e6f"}).encode()
    sendgrid = json.dumps([{"event": "open", "pad": filler, "sg_event_id": "sg-first"},
                           {"event": "click", "sg_event_id": "sg-second"}]).encode()
    cases = [("/stripe", stripe, sign_stripe(STRIPE, now(), stripe), "evt_1NG8Du2eZvKYlo2C"),
             ("/slack", slack, sign_slack(SLACK, now(), slack), "Ev08MFMKH6"),
             ("/postal-dkim", postal, sign_postal(keys["postal_priv"], postal),
              "5c9d2e1a-7f3b-4e8a-9d6c-1b2a3c4d5e6f"),
             ("/sendgrid", sendgrid, sign_sendgrid(keys["sg_priv"], now(), sendgrid),
              "sg-first")]
    for path, body, hdrs, want in cases:
        for chunked in (False, [body[i:i + 7] for i in range(0, len(body), 7)]):
            status = ng.request(path, chunked or body, hdrs, chunked=bool(chunked))[0]
            assert status == 200, (path, status)
            assert ng.up.requests[-1].headers.get("x-webhook-id") == want, path
    log = ng.access_log()
    for _, _, _, want in cases:
        assert f'"{want}"' in log, (want, log[-2000:])

