"""Helpers for the ngx_http_webhook_verify_module integration tests: a real
nginx (Debian's /usr/sbin/nginx) loading the built module on a loopback
port, a tiny upstream that records exactly what it receives, and signers
for every scheme written from the providers' documentation with Python's
hmac and cryptography (nobody on the team wrote them).

    with Upstream() as up, Nginx(tmp, locations, upstream=up) as ng:
        status, body, headers = ng.request("/standard", body, hdrs)
        assert up.requests[-1].body == body
"""

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import pathlib
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NGINX = "/usr/sbin/nginx"
VECTORS = ROOT / "tests" / "vectors" / "webhooks"


def build_dir():
    # Absolute: nginx reads a relative load_module path from its prefix.
    return pathlib.Path(os.environ.get("POSTSEAL_BUILD", ROOT / "build")).resolve()


def module_path():
    return build_dir() / "ngx_http_webhook_verify_module.so"


def sanitized():
    """A SANITIZE=1 build (POSTSEAL_BUILD=.../build-san): the module is
    instrumented and nginx, which is not, runs it with libasan preloaded."""
    return build_dir().name.endswith("-san")


def sanitizer_env(d):
    lib = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                         text=True).stdout.strip()
    return dict(os.environ, LD_PRELOAD=lib,
                ASAN_OPTIONS=f"detect_leaks=0:log_path={d}/asan",
                UBSAN_OPTIONS=f"print_stacktrace=1:log_path={d}/ubsan")


needs_module = pytest.mark.skipif(
    not (module_path().exists() and os.access(NGINX, os.X_OK)),
    reason="nginx or the built module missing")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def spawn(argv, log, port, env=None, cwd=None, timeout=10.0):
    """Starts argv, its stdout and stderr into the file log, and waits
    until it listens on port: the process, or None when it exited or never
    listened (then it is stopped)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out, env=env, cwd=cwd)
    if wait_port(port, proc, timeout):
        return proc
    stop_process(proc)
    return None


def stop_process(proc, timeout=10.0):
    """SIGTERM, and SIGKILL if it is still there after timeout."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- the upstream ---------------------------------------------------------

class Received:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body


class Upstream:
    """An HTTP server recording every request (method, path, headers as a
    lower-cased dict, body bytes); answers status (200 unless changed)."""

    def __init__(self):
        self.requests = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(n) if n else b""
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append(Received(self.command, self.path, hdrs, body))
                reply = b"upstream ok\n"
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_PUT = do_GET = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---- nginx ----------------------------------------------------------------

def ngx_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def location(path, scheme, secrets=(), keys=(), extra="", upstream="UPSTREAM"):
    """A location verifying scheme and proxying to the upstream, passing
    the module's variables as X-Webhook-* headers."""
    lines = [f"location = {path} {{", f"    webhook_verify {scheme};"]
    lines += [f"    webhook_verify_secret {ngx_quote(s)};" for s in secrets]
    lines += [f"    webhook_verify_key file={k};" for k in keys]
    lines += ["    " + line for line in extra.strip().splitlines()]
    lines += [
        "    proxy_set_header X-Webhook-Verified $webhook_verified;",
        "    proxy_set_header X-Webhook-Scheme $webhook_scheme;",
        "    proxy_set_header X-Webhook-Id $webhook_id;",
        "    proxy_set_header X-Webhook-Key $webhook_key;",
        f"    proxy_pass http://{upstream};",
        "}",
    ]
    return "\n".join(lines)


class Nginx:
    """nginx -p DIR -c DIR/nginx.conf -g 'daemon off;' with the module
    loaded; server is the inside of the server block (UPSTREAM stands for
    the upstream's address). port serves HTTP/1.1, h2_port h2c; workers:
    worker_processes; module: another build of the module to load."""

    def __init__(self, tmp, server, http="", upstream=None, workers=1, module=None):
        self.dir = pathlib.Path(tmp) / f"nginx-{free_port()}"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.h2_port = free_port()
        up = f"127.0.0.1:{upstream.port}" if upstream else "127.0.0.1:9"
        d = self.dir
        conf = f"""
load_module {module or module_path()};
user root;
worker_processes {workers};
error_log {d}/error.log {os.environ.get("NGX_LOG_LEVEL", "info")};
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    log_format wh '$status "$webhook_verified" "$webhook_scheme" "$webhook_id" "$webhook_key"';
    access_log {d}/access.log wh;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 64m;
    {http}
    server {{
        listen 127.0.0.1:{self.port};
        listen 127.0.0.1:{self.h2_port} http2;
        {server.replace("UPSTREAM", up)}
    }}
}}
"""
        (d / "nginx.conf").write_text(conf)
        self.proc = None

    def check(self):
        """nginx -t: (returncode, output)."""
        r = subprocess.run([NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                            "-t"], capture_output=True, text=True,
                           env=sanitizer_env(self.dir) if sanitized() else None)
        return r.returncode, r.stdout + r.stderr

    def start(self):
        env = sanitizer_env(self.dir) if sanitized() else None
        self.proc = spawn([NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                           "-g", "daemon off;"], self.dir / "stderr.log", self.port, env)
        if self.proc is None:
            out = (self.dir / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"nginx did not start: {out}{self.error_log()}")
        return self

    def stop(self):
        stop_process(self.proc)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        reports = sorted(self.dir.glob("asan.*")) + sorted(self.dir.glob("ubsan.*"))
        if reports:
            raise AssertionError("sanitizer reports:\n" + "\n".join(
                r.read_text(errors="replace") for r in reports))

    def error_log(self):
        p = self.dir / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def access_log(self):
        p = self.dir / "access.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def request(self, path, body=b"", headers=None, method="POST", chunked=False,
                timeout=30):
        """One request on a fresh connection: (status, body, headers).
        chunked: send the body with Transfer-Encoding: chunked, in pieces
        (a list of bytes gives the pieces)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if chunked:
                pieces = body if isinstance(body, list) else [
                    body[i:i + 1000] for i in range(0, len(body), 1000)]
                c.request(method, path, body=iter(pieces), headers=hdrs,
                          encode_chunked=True)
            else:
                c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()

    def raw(self, data, timeout=5):
        """Sends raw bytes and returns what came back before the server
        closed or timeout (a status line at least)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout) as s:
            s.sendall(data)
            out = b""
            try:
                while b"\r\n\r\n" not in out:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except socket.timeout:
                pass
            return out


def status_of(raw):
    line = raw.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 else None


# ---- signers, from the providers' documentation ----------------------------

def sign_standard(secret, msg_id, ts, body, prefix="webhook"):
    """Standard Webhooks / Svix: secret 'whsec_' + base64."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(ts),
            f"{prefix}-signature": "v1," + base64.b64encode(mac).decode()}


def sign_github(secret, body, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958"):
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": "sha256=" + mac, "X-GitHub-Delivery": delivery}


def sign_stripe(secret, ts, body):
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={ts},v1={mac}"}


def sign_slack(secret, ts, body):
    mac = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": "v0=" + mac}


def sign_shopify(secret, body, webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"):
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(mac).decode(),
            "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "shop.myshopify.com",
            "X-Shopify-API-Version": "2025-01"}


def mailgun_fields(key, ts, token):
    sig = hmac.new(key.encode(), f"{ts}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": str(ts), "token": token, "signature": sig}


def mailgun_json(key, ts, token, event_id="CPgfbmQMTCKtHW6uIWtuVe"):
    return json.dumps({"signature": mailgun_fields(key, ts, token),
                       "event-data": {"event": "delivered", "id": event_id,
                                      "timestamp": ts}}).encode()


def rsa_sign(key_pem, data, digest):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    key = serialization.load_pem_private_key(key_pem, None)
    h = hashes.SHA256() if digest == "sha256" else hashes.SHA1()
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), h)).decode()


def sign_postal(key_pem, body):
    return {"X-Postal-Signature": rsa_sign(key_pem, body, "sha1"),
            "X-Postal-Signature-256": rsa_sign(key_pem, body, "sha256")}


def sign_sendgrid(key_pem, ts, body):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = serialization.load_pem_private_key(key_pem, None)
    sig = key.sign(str(ts).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Timestamp": str(ts),
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode()}


SNS_NOTIFICATION = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
SNS_CONFIRMATION = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                    "TopicArn", "Type"]


def sns_canonical(msg):
    fields = SNS_NOTIFICATION if msg["Type"] == "Notification" else SNS_CONFIRMATION
    return "".join(f"{k}\n{msg[k]}\n" for k in fields if k in msg).encode()


def sign_sns(key_pem, msg, version="2"):
    """msg with Signature and SignatureVersion filled in, as AWS does."""
    msg = dict(msg, SignatureVersion=version)
    msg["Signature"] = rsa_sign(key_pem, sns_canonical(msg),
                                "sha256" if version == "2" else "sha1")
    return msg


def make_rsa_key(bits=2048):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return priv, pub


def make_ec_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return priv, base64.b64encode(der)  # SendGrid shows the bare base64 DER key


def make_cert(priv_pem, cn="sns.us-east-1.amazonaws.com"):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    key = serialization.load_pem_private_key(priv_pem, None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def flips(data, step=1):
    """Copies of data with one byte changed, at every step-th position."""
    for i in range(0, len(data), step):
        yield i, data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


# ---- published vectors (tests/vectors/webhooks/*.txt) ---------------------

class Vector:
    """A saved request: '# key: value' lines (source, scheme, secret,
    key, expect, ...), then headers, a blank line, the body as is."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        raw = self.path.read_bytes()
        self.meta = {}
        lines = raw.split(b"\n")
        i = 0
        while i < len(lines) and lines[i].startswith(b"#"):
            k, _, v = lines[i][1:].decode().strip().partition(":")
            self.meta.setdefault(k.strip(), []).append(v.strip())
            i += 1
        head, _, self.body = b"\n".join(lines[i:]).partition(b"\n\n")
        self.headers = []
        for line in head.decode().split("\n"):
            if line:
                k, _, v = line.partition(":")
                self.headers.append((k.strip(), v.strip()))
        self.request = b"\n".join(lines[i:])

    def get(self, key, default=None):
        return self.meta.get(key, [default])[0]

    @property
    def name(self):
        return self.path.stem


def load_vectors():
    return [Vector(p) for p in sorted(VECTORS.glob("*.txt"))]


@contextlib.contextmanager
def running(tmp, server, http="", upstream=True):
    """An Upstream and an Nginx in front of it, both stopped after."""
    if upstream:
        with Upstream() as up, Nginx(tmp, server, http, up) as ng:
            yield ng, up
    else:
        with Nginx(tmp, server, http) as ng:
            yield ng, None
