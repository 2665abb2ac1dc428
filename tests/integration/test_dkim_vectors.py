"""Mail::DKIM's verifier corpus (t/corpus, keys from t/FAKE_DNS.dat, expected
results from t/verifier.t), dkimpy's previously signed message and the
messages of libopendkim's verify tests (libopendkim/tests/t-test*.c,
rebuilt by tests/vectors/dkim/libopendkim/import.py) replayed through a real Postfix and
postseal-milter in verify mode, the keys served by a DNS server on loopback
that also answers SERVFAIL and times out where the corpus says so. Each
message's dkim= results must be those recorded in
tests/vectors/dkim/mail-dkim.json, dkimpy.json and libopendkim.json; a recorded
answer either matches upstream's (pass, fail, none, or a
permerror/neutral/temperror for "invalid") or
says in "differs" why we decide otherwise (DomainKeys, drafts, RSA under
1024 bits and rsa-sha1 per RFC 8301, see tests/vectors/dkim/README.md).

Run: POSTSEAL_BUILD=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_dkim_vectors.py
"""

import json
import os
import re

import pytest

import mailstack as ms
from fakedns import FakeDns, mail_dkim_table
from test_milter_verify import MILTER, deliver, our_authres
from test_milter_verify_results import Stack

VECTORS = os.path.join(os.path.dirname(__file__), "../vectors/dkim")
CORPUS = os.path.join(VECTORS, "mail-dkim")
DOCS = {name: json.load(open(os.path.join(VECTORS, name + ".json")))
        for name in ("mail-dkim", "dkimpy", "libopendkim")}
CASES = [dict(case, set=name) for name, doc in DOCS.items() for case in doc["cases"]]
UPSTREAM = {"pass": {"pass"}, "fail": {"fail"}, "invalid": {"permerror", "neutral", "temperror"},
            "none": {"none"}}

pytestmark = pytest.mark.skipif(not os.access(MILTER, os.X_OK), reason="postseal-milter not built")


class VectorStack(Stack):
    def __init__(self, tmp):
        table = mail_dkim_table(os.path.join(CORPUS, "FAKE_DNS.dat"))
        for name in ("dkimpy", "libopendkim"):
            table.update(DOCS[name]["dns"])
        self.fake = FakeDns(table)
        super().__init__(tmp, resolver=self.fake.resolver)

    def close(self):
        try:
            super().close()
        finally:
            self.fake.close()


@pytest.fixture(scope="module")
def stack():
    with ms.running(VectorStack, "postseal-dkimvec-") as s:
        yield s


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["set"] + "/" + c["file"])
def test_upstream_message(stack, case):
    ours = [[r, rs] for r, rs in case["ours"]]
    if "differs" not in case:
        assert any(r in UPSTREAM[case["upstream"]] for r, _ in ours), case
    msg = open(os.path.join(VECTORS, case["set"], case["file"]), "rb").read()
    ar = our_authres(deliver(stack, msg))
    got = [[r, rs] for r, _, rs in
           re.findall(r'dkim=(\w+)(?: \(([^)]*)\))?(?: reason="([^"]*)")?', ar)]
    assert got == ours, (case["file"], ar)


def test_every_difference_is_explained():
    for case in CASES:
        ours = {r for r, _ in case["ours"]}
        assert bool(ours & UPSTREAM[case["upstream"]]) != ("differs" in case), case["file"]
