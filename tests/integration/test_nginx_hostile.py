"""ngx_http_webhook_verify_module against hostile clients and the nginx
features it meets, in Debian's nginx: subrequests (auth_request, SSI
include virtual, mirror) never reach a verifying location unsigned; a full
replay zone refuses (503 + Retry-After) or evicts as configured, and says
so in a few log lines, not one a request; $webhook_key names the secret
that matched and never carries signature bytes.

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_nginx_hostile.py
"""

import base64
import hashlib
import hmac
import os
import re
import time

import pytest

from nginx_harness import (Upstream, Nginx, location, needs_module, sign_github,
                           sign_standard)

pytestmark = needs_module

GH_SECRET = "It's a Secret to Everybody"
GH_SECRET2 = "the rotated github secret"
STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STD_SECRET2 = "whsec_" + base64.b64encode(b"the second secret, after rotation").decode()
BODY = b'{"action":"opened","number":1}'
ZONE_FULL = re.compile(r'replay zone "(\w+)" full: (\d+) deliveries refused with 503 '
                       r'\(full=refuse\), (\d+) unexpired entries forgotten')


def fresh_body():
    return b'{"delivery":"' + os.urandom(8).hex().encode() + b'"}'


def std(body, secret=STD_SECRET, ts=None):
    return sign_standard(secret, "msg_" + os.urandom(8).hex(),
                         int(time.time()) if ts is None else ts, body)


@pytest.fixture(scope="module")
def ng(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx-hostile")
    server = "\n".join([
        location("/hook", "github", [GH_SECRET]),
        # auth_request pointing at a verifying location
        """location = /app {
            auth_request /check;
            proxy_pass http://UPSTREAM;
        }""",
        location("/check", "github", [GH_SECRET]),
        # an SSI page including a verifying location
        """location = /page {
            ssi on;
            default_type text/html;
            return 200 'before <!--# include virtual="/hook" --> after';
        }""",
        # mirror: a verifying location mirrored to one that is not (the
        # composition the man page recommends) and to one that is
        location("/mirrored", "github", [GH_SECRET], extra="""
            mirror /copy;
            mirror /copy-verifying;"""),
        """location = /copy {
            internal;
            webhook_verify off;
            proxy_pass http://UPSTREAM/copy;
        }""",
        location("/copy-verifying", "github", [GH_SECRET]),
        # replay zones of the smallest size nginx allows, one per answer
        location("/refuse", "github", [GH_SECRET], extra="webhook_verify_replay zone=tiny1;"),
        location("/evict", "github", [GH_SECRET],
                 extra="webhook_verify_replay zone=tiny2 full=evict;"),
        location("/refuse-std", "standard", [STD_SECRET], extra="""
            webhook_verify_tolerance 60s;
            webhook_verify_replay zone=tiny3;"""),
        # which secret matched
        location("/rotated-gh", "github", [GH_SECRET, GH_SECRET2]),
        location("/rotated-std", "standard", [STD_SECRET, STD_SECRET2],
                 extra="webhook_verify_replay zone=wh;"),
    ])
    http = ("webhook_verify_replay_zone tiny1:32k;\n"
            "    webhook_verify_replay_zone tiny2:32k;\n"
            "    webhook_verify_replay_zone tiny3:32k;\n"
            "    webhook_verify_replay_zone wh:1m;")
    with Upstream() as up, Nginx(tmp, server, http=http, upstream=up) as n:
        n.up = up
        yield n


def test_configuration_checks(ng):
    rc, out = ng.check()
    assert rc == 0, out


# ---- subrequests -----------------------------------------------------------

def test_auth_request_to_a_verifying_location_lets_nothing_through(ng):
    seen = len(ng.up.requests)
    status, body, _ = ng.request("/app", BODY, {})  # unsigned
    assert status == 500, body
    # signed for the main request's body, it is still a subrequest
    assert ng.request("/app", BODY, sign_github(GH_SECRET, BODY))[0] == 500
    assert len(ng.up.requests) == seen  # neither the check nor the app saw it
    assert 'refused a subrequest to "/check"' in ng.error_log()


def test_ssi_include_virtual_is_refused(ng):
    seen = len(ng.up.requests)
    status, body, _ = ng.request("/page", method="GET")
    assert status == 200  # the page itself; the include is what is refused
    assert body.startswith(b"before ") and body.rstrip().endswith(b" after"), body
    assert b"upstream ok" not in body
    assert len(ng.up.requests) == seen
    assert 'refused a subrequest to "/hook"' in ng.error_log()


def test_mirror_copies_only_to_a_location_that_does_not_verify(ng):
    body = fresh_body()
    assert ng.request("/mirrored", body, sign_github(GH_SECRET, body))[0] == 200
    deadline = time.monotonic() + 30  # mirror requests finish on their own
    while time.monotonic() < deadline and not [
            r for r in ng.up.requests if r.path == "/copy" and r.body == body]:
        time.sleep(0.05)
    paths = [r.path for r in ng.up.requests if r.body == body]
    assert sorted(paths) == ["/copy", "/mirrored"], paths
    assert 'refused a subrequest to "/copy-verifying"' in ng.error_log()
    # an unsigned one is refused before any mirror is made
    seen = len(ng.up.requests)
    assert ng.request("/mirrored", body, {})[0] == 401
    time.sleep(0.2)
    assert len(ng.up.requests) == seen


def test_a_normal_signed_request_still_passes(ng):
    body = fresh_body()
    assert ng.request("/hook", body, sign_github(GH_SECRET, body))[0] == 200
    assert ng.up.requests[-1].body == body
    assert ng.request("/hook", body, {})[0] == 401


# ---- a full replay zone ------------------------------------------------------

def fill(ng, path, limit=3000):
    """Fresh deliveries to path until the first non-200 (or limit): the
    bodies accepted, and the answer that ended it."""
    accepted = []
    for _ in range(limit):
        body = fresh_body()
        hdrs = sign_github(GH_SECRET, body)
        status, _, headers = ng.request(path, body, hdrs)
        if status != 200:
            return accepted, (status, headers, body, hdrs)
        accepted.append((body, hdrs))
    return accepted, None


def zone_lines(ng, zone):
    return [m for m in ZONE_FULL.finditer(ng.error_log()) if m.group(1) == zone]


def test_full_zone_refuses_with_503_and_accepts_no_replay(ng):
    accepted, end = fill(ng, "/refuse")
    assert end is not None, "a 32k zone never filled"
    status, headers, body, hdrs = end
    assert status == 503
    assert 1 <= int(headers["retry-after"]) <= 301  # the oldest entry's time left
    assert 50 < len(accepted) < 3000
    seen = len(ng.up.requests)
    # still full: new deliveries wait, the one refused included
    for _ in range(20):
        b = fresh_body()
        assert ng.request("/refuse", b, sign_github(GH_SECRET, b))[0] == 503
    assert ng.request("/refuse", body, hdrs)[0] == 503
    # every delivery accepted is still remembered: each replay is refused
    for b, h in accepted:
        assert ng.request("/refuse", b, h)[0] == 409
    assert len(ng.up.requests) == seen
    # 22 refusals or more, a line a minute at most (the test may straddle one)
    lines = zone_lines(ng, "tiny1")
    assert 1 <= len(lines) <= 2, lines
    assert int(lines[0].group(2)) >= 1 and int(lines[0].group(3)) == 0
    assert ng.error_log().count("tiny1") <= 2
    assert ng.error_log().count("full=refuse") <= 2  # no line per request


def test_full_zone_frees_expired_entries_behind_a_longer_lived_one(ng):
    """The oldest entry (signed 50 s ahead, tolerance 60 s: it lives 110 s)
    does not keep the expired ones behind it from making room. Margins of
    20 s and more on every side of the clocks."""
    first = fresh_body()
    assert ng.request("/refuse-std", first, std(first, ts=int(time.time()) + 50))[0] == 200
    end = None
    for _ in range(3000):  # each lives 20 s: signed 40 s ago
        b = fresh_body()
        status = ng.request("/refuse-std", b, std(b, ts=int(time.time()) - 40))[0]
        if status != 200:
            end = status
            break
    assert end == 503
    filled = time.time()
    time.sleep(max(0.0, filled + 24 - time.time()))  # every filler expired
    b = fresh_body()
    assert ng.request("/refuse-std", b, std(b))[0] == 200


def test_full_zone_with_evict_keeps_accepting(ng):
    accepted, end = fill(ng, "/evict", limit=600)
    assert end is None, end[:2]  # never refused
    # the newest is remembered, the oldest was forgotten: its replay passes
    # (what full=evict trades for availability, and why it is not the default)
    newest_body, newest_hdrs = accepted[-1]
    assert ng.request("/evict", newest_body, newest_hdrs)[0] == 409
    oldest_body, oldest_hdrs = accepted[0]
    assert ng.request("/evict", oldest_body, oldest_hdrs)[0] == 200
    lines = zone_lines(ng, "tiny2")
    assert 1 <= len(lines) <= 2, lines
    assert int(lines[0].group(2)) == 0 and int(lines[0].group(3)) >= 1
    assert ng.error_log().count("tiny2") <= 2  # not one line per eviction


def test_bad_full_option_is_refused(tmp_path):
    server = location("/x", "github", ["s"], extra="webhook_verify_replay zone=z full=maybe;")
    rc, out = Nginx(tmp_path, server, http="webhook_verify_replay_zone z:32k;").check()
    assert rc != 0 and "full=refuse or full=evict" in out, out


# ---- $webhook_key ------------------------------------------------------------

def signature_texts(hdrs):
    """Every spelling of the signature bytes a log could leak."""
    out = []
    for v in (v for k, v in hdrs.items() if "signature" in k.lower()):
        for part in re.split(r"[ ,=]", v):
            if len(part) >= 16:
                out.append(part)
                try:
                    raw = base64.b64decode(part + "=" * (-len(part) % 4))
                    out += [raw.hex(), base64.b64encode(raw).decode()]
                except ValueError:
                    pass
    return out


def test_webhook_key_names_the_secret_never_the_signature(ng):
    body = fresh_body()
    h1 = sign_github(GH_SECRET, body)
    assert ng.request("/rotated-gh", body, h1)[0] == 200
    assert ng.up.requests[-1].headers["x-webhook-key"] == "1"
    body2 = fresh_body()
    h2 = sign_github(GH_SECRET2, body2)
    assert ng.request("/rotated-gh", body2, h2)[0] == 200
    assert ng.up.requests[-1].headers["x-webhook-key"] == "2"
    body3 = fresh_body()
    h3 = std(body3, STD_SECRET2)
    assert ng.request("/rotated-std", body3, h3)[0] == 200
    assert ng.up.requests[-1].headers["x-webhook-key"] == "2"
    # the replay key under the first secret is not leaked either
    first_mac = hmac.new(base64.b64decode(STD_SECRET[6:]),
                         f"{h3['webhook-id']}.{h3['webhook-timestamp']}.".encode() + body3,
                         hashlib.sha256).digest()
    leaks = signature_texts(h1) + signature_texts(h2) + signature_texts(h3) + [
        first_mac.hex(), base64.b64encode(first_mac).decode()]
    ng.request("/rotated-gh", body, {})  # a refusal is logged too
    logs = ng.access_log() + ng.error_log()
    for text in leaks:
        assert text not in logs
    lines = [ln for ln in ng.access_log().splitlines() if '"github"' in ln and ln.startswith("200")]
    assert lines and all(ln.endswith(('"1"', '"2"')) for ln in lines), lines
