"""Upstream SRS vectors replayed through `postseal srs`: postsrsd's unit and
blackbox tests and Mail::SRS's t/02_guarded.t, each with its source in
tests/vectors/srs/*.json. A case we answer differently says why in its
"differs" field (postsrsd 2.x writes the base64url alphabet, we write
Mail::SRS's; both reverse either).

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_srs_vectors.py
"""

import glob
import json
import os

import pytest

VECTORS = os.path.join(os.path.dirname(__file__), "../vectors/srs")


def cases():
    for path in sorted(glob.glob(os.path.join(VECTORS, "*.json"))):
        for i, case in enumerate(json.load(open(path))):
            yield pytest.param(case, id=f"{os.path.basename(path)}:{i}")


@pytest.mark.parametrize("case", cases())
def test_upstream_vector(postseal, tmp_path, case):
    sec = tmp_path / "srs.secrets"
    sec.write_text(case["secret"] + "\n")
    sec.chmod(0o600)
    r = postseal("srs", case["op"], "--secret-file", sec, "--domain", case["domain"],
                 "--time", case["time"], case["input"])
    if case["expect"] == "refused":
        assert r.returncode != 0 and r.stdout == "", (r.stdout, case["source"])
        assert r.stderr.startswith("postseal: srs "), r.stderr
        return
    assert (r.returncode, r.stdout) == (0, case["output"] + "\n"), (r.stderr, case["source"])
    if case["expect"] == "unchanged":
        assert case["output"] == case["input"]
    if "differs" not in case and not case["upstream"].startswith(("NOTFOUND", "test@example")):
        assert case["upstream"].removeprefix("OK ") == case["output"]


def test_every_upstream_spelling_we_differ_on_still_reverses(postseal, tmp_path):
    """Our base64 hash and postsrsd 2.x's base64url one name the same address."""
    sec = tmp_path / "s"
    sec.write_text("tops3cr3t\n")
    sec.chmod(0o600)
    differ = [c for p in glob.glob(os.path.join(VECTORS, "*.json")) for c in json.load(open(p))
              if "differs" in c]
    assert differ
    for case in differ:
        for spelling in (case["output"], case["upstream"].removeprefix("OK ")):
            r = postseal("srs", "reverse", "--secret-file", sec, "--domain", case["domain"],
                         "--time", case["time"], spelling)
            assert (r.returncode, r.stdout) == (0, case["input"] + "\n"), r.stderr
