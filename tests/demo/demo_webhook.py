#!/usr/bin/python3
"""Step 6 of `make demo`: signed webhooks checked by nginx.

    /usr/bin/python3 tests/demo/demo_webhook.py BUILD_DIR WORK_DIR

Debian's nginx loads the built ngx_http_webhook_verify_module on a
loopback port in front of a small upstream (tests/integration/
nginx_harness.py runs both); a Standard Webhooks request signed with the
secret reaches the upstream, a forged one is refused 401 and a replay of
the valid one 409. Everything started is stopped at exit, on failure or
interruption too. Exit status 0 when every request got what it should,
1 otherwise; the step is skipped (exit 0) when the module is not built.
"""

import os
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from demo_common import DemoFailed, say, show_cmd, stop_on_signals  # noqa: E402


def signed(postseal, secrets, msg_id, body):
    """The headers `postseal webhook sign` prints, as a dict (what the
    provider would send; any Standard Webhooks library gives the same)."""
    argv = [postseal, "webhook", "sign", "--scheme", "standard", "--secret-file", secrets,
            "--id", msg_id]
    show_cmd(argv + ["<", "body.json"])
    r = subprocess.run(argv, input=body, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise DemoFailed(f"postseal webhook sign exited {r.returncode}: {r.stderr.decode()}")
    say(r.stdout.decode().rstrip())
    return dict(line.split(": ", 1) for line in r.stdout.decode().splitlines())


def expect(ng, what, body, headers, status):
    got, _, _ = ng.request("/hooks/resend", body, headers)
    say(f"  {what}: HTTP {got}")
    if got != status:
        raise DemoFailed(f"{what}: expected HTTP {status}, got {got}\n{ng.error_log()[-2000:]}")


def step6(build, work):
    os.environ["POSTSEAL_BUILD"] = build
    import nginx_harness as nh  # reads POSTSEAL_BUILD for the module's path

    say("\n==== 6. Signed webhooks, checked by nginx before the application (webhook module)")
    if not (nh.module_path().exists() and os.access(nh.NGINX, os.X_OK)):
        say(f"SKIPPED: {nh.module_path()} or {nh.NGINX} is missing.")
        return
    secrets = os.path.join(work, "resend.secrets")
    say("The secret, as the provider shows it (one per line: a second line rotates):")
    say(f'$ (umask 077; echo "whsec_$(openssl rand -base64 24)" > {secrets})')
    fd = os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("whsec_" + subprocess.run(["openssl", "rand", "-base64", "24"], check=True,
                                          capture_output=True, text=True).stdout)
    lines = [
        "# load the module (the Debian package links this from /etc/nginx/modules-enabled)",
        f"load_module {nh.module_path()};",
        "http {",
        "    webhook_verify_replay_zone hooks:1m;",
        "    server {",
        "        location = /hooks/resend {",
        "            webhook_verify standard;",
        f"            webhook_verify_secret file={secrets};",
        "            webhook_verify_tolerance 5m;",
        "            webhook_verify_replay zone=hooks;",
        "            proxy_set_header X-Webhook-Id $webhook_id;",
        "            proxy_pass http://127.0.0.1:APP_PORT;   # your application",
        "        }",
        "        # the module's counters for Prometheus (a loopback-only server in production)",
        "        location = /metrics { webhook_verify_status; allow 127.0.0.1; deny all; }",
        "    }",
        "}",
    ]
    say("The lines an admin adds to nginx.conf (conf-examples/nginx.conf has every provider):")
    say("\n".join("    " + line for line in lines))

    location = nh.location("/hooks/resend", "standard",
                           extra=f"webhook_verify_secret file={secrets};\n"
                                 "webhook_verify_tolerance 5m;\n"
                                 "webhook_verify_replay zone=hooks;")
    location += ("\nlocation = /metrics { webhook_verify_status; allow 127.0.0.1; "
                 "deny all; }\n")
    http = "webhook_verify_replay_zone hooks:1m;"
    with nh.Upstream() as up:
        ng = nh.Nginx(work, location, http, up)
        rc, out = ng.check()
        show_cmd([nh.NGINX, "-p", ng.dir, "-c", ng.dir / "nginx.conf", "-t"])
        say(out.strip())
        if rc != 0:
            raise DemoFailed("nginx -t failed")
        with ng:
            say(f"\nnginx on 127.0.0.1:{ng.port} in front of an application on "
                f"127.0.0.1:{up.port}. The provider signs each delivery:")
            body = b'{"type":"email.bounced","data":{"to":["carol@example.net"]}}'
            msg_id = f"msg_demo{int(time.time())}"
            hdrs = signed(os.path.join(build, "postseal"), secrets, msg_id, body)
            say("")
            expect(ng, "signed delivery", body, hdrs, 200)
            got = up.requests[-1] if up.requests else None
            if got is None or got.body != body or got.headers.get("x-webhook-id") != msg_id:
                raise DemoFailed("the upstream did not get the verified body and id")
            say(f"    the application got the body as signed, X-Webhook-Id: {msg_id}")
            forged = body.replace(b"bounced", b"delivered")
            expect(ng, "same headers, body changed (forged)", forged, hdrs, 401)
            expect(ng, "the signed delivery sent again (replay)", body, hdrs, 409)
            if len(up.requests) != 1:
                raise DemoFailed(f"{len(up.requests)} requests reached the application, not 1")
            say("  only the first reached the application; nginx logged why (the first")
            say("  refusal in a second at error, the rest of that second at info):")
            for line in ng.error_log().splitlines():
                if "webhook" in line and ("refus" in line or "replay" in line
                                          or "signature" in line):
                    say("    " + line[line.find("webhook_verify:"):][:150])
            show_status(ng)


def show_status(ng):
    """What Prometheus scrapes from the module after the three requests."""
    import metrics_scrape as mx
    url = f"http://127.0.0.1:{ng.port}/metrics"
    show_cmd(["curl", "-s", url])
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    mx.promtool_check(text)
    lines = [line for line in text.splitlines()
             if line.startswith("postseal_webhook_") and not line.endswith(" 0")]
    say("\n".join("    " + line for line in lines))
    want = ('outcome="verified"', 'outcome="unauthorized"', 'outcome="replayed"')
    for w in want:
        if not any(w in line and line.endswith(" 1") for line in lines):
            raise DemoFailed(f"the status location does not count one {w}:\n{text}")


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} BUILD_DIR WORK_DIR", file=sys.stderr)
        return 2
    stop_on_signals()
    try:
        step6(os.path.abspath(argv[1]), os.path.abspath(argv[2]))
    except (DemoFailed, RuntimeError, OSError) as e:
        say(f"\ndemo FAILED: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
