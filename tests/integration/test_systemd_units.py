"""The shipped systemd units (conf-examples/systemd/*.service), scored by
`systemd-analyze security --offline=true`: every unit's exposure stays at
or below 1.5, and each one runs as the service user, waits for sd_notify
readiness and checks the config before a reload."""

import glob
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNITS = sorted(glob.glob(os.path.join(ROOT, "conf-examples", "systemd", "*.service")))
MAX_EXPOSURE = 1.5

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze absent (package systemd)")


def test_units_are_shipped():
    names = {os.path.basename(u) for u in UNITS}
    assert {"postseal-milter.service", "postseal-policyd.service"} <= names, names


@pytest.mark.parametrize("unit", UNITS, ids=os.path.basename)
def test_exposure_at_most_1_5(unit):
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= MAX_EXPOSURE, r.stdout


@pytest.mark.parametrize("unit", UNITS, ids=os.path.basename)
def test_notify_user_and_checked_reload(unit):
    text = open(unit).read()
    daemon = os.path.basename(unit).removesuffix(".service")
    assert re.search(r"^Type=notify$", text, re.M)
    assert re.search(r"^User=postseal$", text, re.M)
    reloads = re.findall(r"^ExecReload=(.*)$", text, re.M)
    assert reloads and reloads[0].endswith(f"{daemon} -n -c /etc/postseal/postseal.conf")
    assert reloads[-1] == "/bin/kill -HUP $MAINPID"
