"""Refusals reach nginx's default error_log level, and a flood of them
does not flood the log: each worker writes at most one line a second at
level error (the level nginx uses when error_log names none), with the
scheme, the status and the reason; the others go out at info and are
counted on the next error line, so at level info every refusal still has
exactly one line."""

import re
import time

from nginx_harness import Nginx, location, needs_module, sign_standard

pytestmark = needs_module

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"type":"email.bounced"}'
LINE = re.compile(r"^.*webhook_verify: standard: 401: signature does not match.*$", re.M)


def forged():
    return sign_standard(SECRET, "msg_forged", int(time.time()), BODY + b"x")


def nginx(tmp, monkeypatch, level):
    monkeypatch.setenv("NGX_LOG_LEVEL", level)  # "": error_log names no level
    return Nginx(tmp, location("/hook", "standard", [SECRET]))


def flood(ng, n):
    start = time.monotonic()
    for _ in range(n):
        assert ng.request("/hook", BODY, forged())[0] == 401
    return time.monotonic() - start


def test_refusal_visible_at_the_default_level(tmp_path, monkeypatch):
    with nginx(tmp_path, monkeypatch, "") as ng:
        assert ng.request("/hook", BODY, forged())[0] == 401
        lines = LINE.findall(ng.error_log())
    assert len(lines) == 1, lines
    assert "[error]" in lines[0] and 'id "msg_forged"' in lines[0], lines


def test_flood_gives_a_bounded_number_of_lines(tmp_path, monkeypatch):
    n = 300
    with nginx(tmp_path, monkeypatch, "") as ng:
        elapsed = flood(ng, n)
        lines = LINE.findall(ng.error_log())
    # one line a second at most (one worker): the seconds the flood
    # touched, whatever the machine's speed
    assert 1 <= len(lines) <= int(elapsed) + 2, (len(lines), elapsed)
    assert len(lines) < n


def test_at_info_every_refusal_has_one_line_and_is_counted(tmp_path, monkeypatch):
    n = 50
    with nginx(tmp_path, monkeypatch, "info") as ng:
        flood(ng, n)
        time.sleep(1.1)  # a new second: the next line is at error again
        assert ng.request("/hook", BODY, forged())[0] == 401
        lines = LINE.findall(ng.error_log())
    assert len(lines) == n + 1, len(lines)
    errors = [l for l in lines if "[error]" in l]
    infos = [l for l in lines if "[info]" in l]
    assert len(errors) + len(infos) == n + 1
    counted = sum(int(m) for l in errors for m in re.findall(r"and (\d+) more since", l))
    assert counted == len(infos), (counted, len(infos), errors)
