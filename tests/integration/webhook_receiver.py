"""A webhook receiver for the tests: an HTTPS server on loopback with a
certificate from a test CA made by openssl, recording every POST (path,
headers, body) and answering 200, or 503 while `down`, after `delay`
seconds. Signatures are checked by the tests, independently of postseal:
Python's hmac for Standard Webhooks, python3-cryptography for Postal."""

import base64
import hashlib
import hmac
import http.server
import os
import secrets
import ssl
import subprocess
import threading
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def make_ca(tmp):
    """A CA and a server certificate for 127.0.0.1: (ca, cert, key) paths."""
    ca_key, ca = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.pem")
    key, csr, cert = (os.path.join(tmp, n) for n in ("srv.key", "srv.csr", "srv.pem"))
    ext = os.path.join(tmp, "srv.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=postseal test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


def make_whsec(tmp, name="app.whsec"):
    """A fresh Standard Webhooks secret in a 0600 file: (secret, path)."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    return secret, path


class Receiver:
    def __init__(self, cert, key):
        self.hits = []          # (path, headers dict lower-case, body, answered status)
        self.down = False
        self.delay = 0.0
        self.busy = 0           # requests being answered right now
        self.busy_at = {}       # path -> requests being answered there now
        self.max_busy = {}      # path -> the most ever answered at once
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.busy += 1
                    now = outer.busy_at[self.path] = outer.busy_at.get(self.path, 0) + 1
                    outer.max_busy[self.path] = max(outer.max_busy.get(self.path, 0), now)
                time.sleep(outer.delay)
                status = 503 if outer.down else 200
                with outer.lock:
                    outer.busy -= 1
                    outer.busy_at[self.path] -= 1
                    outer.hits.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                                       body, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def delivered(self, path):
        """The bodies answered 200 at path, by webhook id (standard) or uuid."""
        with self.lock:
            return [(h, b) for p, h, b, s in self.hits if p == path and s == 200]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def verify_standard(secret, headers, body):
    """Standard Webhooks, by its specification: HMAC-SHA256 over
    id.timestamp.body under the base64 part of whsec_..."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers["webhook-signature"].split(" ")]
    return any(hmac.compare_digest(want, s) for s in sigs)


def verify_postal(public_pem, headers, body):
    """Postal: RSA PKCS#1 v1.5 over the body, SHA-1 and SHA-256."""
    key = serialization.load_pem_public_key(public_pem)
    for name, md in (("x-postal-signature", hashes.SHA1()),
                     ("x-postal-signature-256", hashes.SHA256())):
        key.verify(base64.b64decode(headers[name]), body, padding.PKCS1v15(), md)
    return True
