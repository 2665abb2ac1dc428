"""postseal dns and postseal dns check: the printed records are valid
zone-file text (dnspython parses them) with DKIM, SPF, DMARC and the
return-path MX and SPF; served as printed by dnsmasq they check ok, and
a wrong key, a missing record or a dead resolver are reported as such."""

import os

import pytest

import zonetext

DOMAIN = "example.test"
RP = "rp.example.test"


@pytest.fixture
def keys(postseal, tmp_path):
    """An RSA and an Ed25519 key made by postseal keygen: {selector: path}."""
    made = {}
    for sel, kind in (("s2026r", "rsa"), ("s2026e", "ed25519"), ("other", "ed25519")):
        out = postseal("keygen", "--domain", DOMAIN, "--selector", sel,
                       "--algorithm", kind, "--out", tmp_path)
        assert out.returncode == 0, out.stderr
        made[sel] = tmp_path / f"{DOMAIN}.{sel}.pem"
    return made


def dns_print(postseal, *args):
    out = postseal("dns", "--domain", DOMAIN, *args)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    return out.stdout


def served(records):
    """What dnsmasq should serve for the zone lines postseal printed."""
    txt = {name: zonetext.txt_strings(records, name)
           for (name, rtype) in records if rtype == "TXT"}
    mx = {name: zonetext.mx_hosts(records, name)[0]
          for (name, rtype) in records if rtype == "MX"}
    return txt, mx


def check(postseal, server, *args):
    return postseal("dns", "check", "--domain", DOMAIN, "--resolver", server.resolver,
                    "--return-path", RP, *args)


def lines_of(out):
    return out.stdout.splitlines()


# ---- postseal dns --------------------------------------------------------------

def test_dns_prints_valid_zone_lines_for_every_record(postseal, keys):
    text = dns_print(postseal, "--selector", "s2026r", "--key", keys["s2026r"],
                     "--return-path", RP, "--mx", "mx1.example.test",
                     "--spf-include", "_spf.provider.example", "--dmarc-rua",
                     "postmaster@example.test", "--dmarc-policy", "quarantine")
    records = zonetext.parse(text)
    assert set(records) == {
        (f"s2026r._domainkey.{DOMAIN}", "TXT"), (DOMAIN, "TXT"),
        (f"_dmarc.{DOMAIN}", "TXT"), (RP, "MX"), (RP, "TXT")}
    assert zonetext.ttls(text) == {3600}
    assert zonetext.txt(records, f"s2026r._domainkey.{DOMAIN}").startswith(
        "v=DKIM1; k=rsa; p=MII")
    assert zonetext.txt(records, DOMAIN) == "v=spf1 mx include:_spf.provider.example ~all"
    assert zonetext.txt(records, f"_dmarc.{DOMAIN}") == \
        "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test"
    assert zonetext.mx_hosts(records, RP) == ["mx1.example.test"]
    assert zonetext.txt(records, RP).startswith("v=spf1 ")
    # every record comes with a comment saying what it is for
    comments = [line for line in text.splitlines() if line.startswith(";")]
    for word in ("DKIM", "SPF", "DMARC", "Return path"):
        assert any(word in c for c in comments), word


def test_dns_default_mx_and_no_return_path(postseal):
    records = zonetext.parse(dns_print(postseal, "--return-path", RP))
    assert zonetext.mx_hosts(records, RP) == [f"mail.{DOMAIN}"]
    text = dns_print(postseal)
    records = zonetext.parse(text)
    assert set(records) == {(DOMAIN, "TXT"), (f"_dmarc.{DOMAIN}", "TXT")}
    assert "No return-path domain" in text


def test_dns_from_config_prints_every_key_of_the_domain(postseal, keys, tmp_path):
    conf = tmp_path / "postseal.conf"
    conf.write_text(
        "[keys]\n"
        f"rsa = {DOMAIN} s2026r {keys['s2026r']}\n"
        f"ed = {DOMAIN} s2026e {keys['s2026e']}\n"
        f"elsewhere = other.example s1 {keys['other']}\n"
        "[return_path]\n"
        f"domain = {RP}\n")
    records = zonetext.parse(dns_print(postseal, "-c", conf))
    assert (f"s2026r._domainkey.{DOMAIN}", "TXT") in records
    assert (f"s2026e._domainkey.{DOMAIN}", "TXT") in records
    assert ("s1._domainkey.other.example", "TXT") not in records
    assert (RP, "MX") in records
    # without --domain: every domain of [keys]
    out = postseal("dns", "-c", conf)
    assert out.returncode == 0, out.stderr
    records = zonetext.parse(out.stdout, origin=".")
    assert ("s1._domainkey.other.example", "TXT") in records
    assert ("_dmarc.other.example", "TXT") in records
    assert (f"_dmarc.{DOMAIN}", "TXT") in records


def test_dns_prints_every_bounce_domain(postseal, keys, tmp_path):
    conf = tmp_path / "postseal.conf"
    conf.write_text(
        "[keys]\n"
        f"rsa = {DOMAIN} s2026r {keys['s2026r']}\n"
        f"elsewhere = other.example s1 {keys['other']}\n"
        "[return_path]\n"
        f"domain = {RP}\n"
        f"secret_file = {tmp_path}/rp.secrets\n"
        f"rewrite = {DOMAIN}, other.example=bounces.other.example, "
        f"*.other.example=bounces.other.example\n")
    out = postseal("dns", "-c", conf)
    assert out.returncode == 0, out.stderr
    records = zonetext.parse(out.stdout, origin=".")
    for rp in (RP, "bounces.other.example"):
        assert (rp, "MX") in records and (rp, "TXT") in records, out.stdout
    assert out.stdout.count("bounces.other.example. ") == 2  # once each, MX and SPF


def test_dns_bad_config_names_file_and_line(postseal, tmp_path):
    conf = tmp_path / "postseal.conf"
    conf.write_text("[keys]\nrsa = example.test s1 relative/key.pem\n")
    out = postseal("dns", "-c", conf)
    assert out.returncode == 2
    assert out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith(f"postseal: {conf}:2: ")


@pytest.mark.parametrize("args,expect", [
    (["--dmarc-policy", "strict"], "DMARC policy"),
    (["--dmarc-rua", "not-an-address"], "rua"),
    (["--spf-include", "bad name"], "SPF include"),
    (["--selector", "s1"], "--key"),
    (["--return-path", "localhost"], "domain"),
    (["--mx", "-bad-.example"], "--mx"),
])
def test_dns_bad_arguments(postseal, args, expect):
    out = postseal("dns", "--domain", DOMAIN, *args)
    assert out.returncode == 2
    assert out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith("postseal: ") and expect in line


# ---- postseal dns check ----------------------------------------------------------

def test_check_records_served_as_printed_are_ok(postseal, keys, dnsmasq):
    args = ["--selector", "s2026r", "--key", keys["s2026r"]]
    records = zonetext.parse(dns_print(postseal, *args, "--return-path", RP,
                                       "--dmarc-rua", "postmaster@example.test"))
    txt, mx = served(records)
    assert len(txt[f"s2026r._domainkey.{DOMAIN}"]) == 2  # a record over 255 bytes
    server = dnsmasq(txt=txt, mx=mx)
    out = check(postseal, server, *args)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stderr == ""
    assert lines_of(out) == [
        f"ok   dkim s2026r._domainkey.{DOMAIN}",
        f"ok   spf {DOMAIN}",
        f"ok   dmarc _dmarc.{DOMAIN}",
        f"ok   mx {RP}",
        f"ok   spf {RP}",
    ]


def test_check_ed25519_key_from_config(postseal, keys, dnsmasq, tmp_path):
    conf = tmp_path / "postseal.conf"
    conf.write_text(f"[keys]\ned = {DOMAIN} s2026e {keys['s2026e']}\n"
                    f"[return_path]\ndomain = {RP}\n")
    txt, mx = served(zonetext.parse(dns_print(postseal, "-c", conf)))
    server = dnsmasq(txt=txt, mx=mx)
    out = postseal("dns", "check", "-c", conf, "--resolver", server.resolver)
    assert out.returncode == 0, out.stdout + out.stderr
    assert lines_of(out)[0] == f"ok   dkim s2026e._domainkey.{DOMAIN}"
    assert all(line.startswith("ok   ") for line in lines_of(out))
    assert len(lines_of(out)) == 5


def test_check_other_keys_record_fails_dkim(postseal, keys, dnsmasq):
    printed = zonetext.parse(dns_print(postseal, "--selector", "s2026e", "--key",
                                       keys["other"], "--return-path", RP))
    txt, mx = served(printed)  # the record of "other", published as s2026e
    server = dnsmasq(txt=txt, mx=mx)
    out = check(postseal, server, "--selector", "s2026e", "--key", keys["s2026e"])
    assert out.returncode == 1
    assert out.stderr == ""
    assert lines_of(out)[0] == \
        f"FAIL dkim s2026e._domainkey.{DOMAIN}: p= does not match the key"
    assert all(line.startswith("ok   ") for line in lines_of(out)[1:])


def test_check_wrong_key_type_fails_dkim(postseal, keys, dnsmasq):
    txt, mx = served(zonetext.parse(dns_print(postseal, "--selector", "s2026e",
                                              "--key", keys["s2026r"])))
    server = dnsmasq(txt=txt, mx=mx)
    out = check(postseal, server, "--selector", "s2026e", "--key", keys["s2026e"])
    assert out.returncode == 1
    assert lines_of(out)[0] == \
        f"FAIL dkim s2026e._domainkey.{DOMAIN}: k=rsa but the key is ed25519"


def test_check_missing_dmarc_and_missing_dkim(postseal, keys, dnsmasq):
    txt, mx = served(zonetext.parse(dns_print(postseal, "--return-path", RP)))
    del txt[f"_dmarc.{DOMAIN}"]
    server = dnsmasq(txt=txt, mx=mx)
    out = check(postseal, server, "--selector", "s2026r", "--key", keys["s2026r"])
    assert out.returncode == 1
    assert out.stderr == ""
    assert lines_of(out) == [
        f"MISSING dkim s2026r._domainkey.{DOMAIN}: no TXT record",
        f"ok   spf {DOMAIN}",
        f"MISSING dmarc _dmarc.{DOMAIN}: no v=DMARC1 record",
        f"ok   mx {RP}",
        f"ok   spf {RP}",
    ]


def test_check_two_spf_records_and_no_mx(postseal, dnsmasq):
    server = dnsmasq(txt={DOMAIN: ["v=spf1 mx ~all", "v=spf1 a -all",
                                   "google-site-verification=abc"],
                          f"_dmarc.{DOMAIN}": "v=DMARC1; p=reject",
                          RP: "v=spf1 mx ~all"})
    out = check(postseal, server)
    assert out.returncode == 1
    assert lines_of(out) == [
        f"FAIL spf {DOMAIN}: 2 v=spf1 records: receivers treat that as a "
        "permanent error; merge them",
        f"ok   dmarc _dmarc.{DOMAIN}",
        f"MISSING mx {RP}: no MX record: bounces cannot come back",
        f"ok   spf {RP}",
    ]


def test_check_dmarc_without_valid_policy(postseal, dnsmasq):
    server = dnsmasq(txt={DOMAIN: "v=spf1 mx ~all",
                          f"_dmarc.{DOMAIN}": "v=DMARC1; p=maybe"})
    out = postseal("dns", "check", "--domain", DOMAIN, "--resolver", server.resolver)
    assert out.returncode == 1
    assert lines_of(out)[1].startswith(f"FAIL dmarc _dmarc.{DOMAIN}: p=maybe")


def test_check_resolver_not_listening(postseal, dnsmasq):
    server = dnsmasq(txt={DOMAIN: "v=spf1 mx ~all"})
    resolver = server.resolver
    server.stop()
    out = postseal("dns", "check", "--domain", DOMAIN, "--resolver", resolver, timeout=30)
    assert out.returncode == 2
    assert out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith("postseal: dns check: ") and resolver in line


@pytest.mark.parametrize("resolver", ["1.2.3", "127.0.0.1:0", "127.0.0.1:99999",
                                      "[::1", "example.test"])
def test_check_bad_resolver(postseal, resolver):
    out = postseal("dns", "check", "--domain", DOMAIN, "--resolver", resolver)
    assert out.returncode == 2
    [line] = out.stderr.splitlines()
    assert line.startswith("postseal: ") and "resolver" in line


def test_check_ipv6_resolver(postseal, dnsmasq):
    if not os.path.exists("/proc/net/if_inet6"):
        pytest.skip("no IPv6")
    records = {DOMAIN: "v=spf1 mx ~all", f"_dmarc.{DOMAIN}": "v=DMARC1; p=none"}
    server = dnsmasq(txt=records, ipv6=True)
    out = postseal("dns", "check", "--domain", DOMAIN, "--resolver", f"[::1]:{server.port}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert lines_of(out) == [f"ok   spf {DOMAIN}", f"ok   dmarc _dmarc.{DOMAIN}"]
    # a server that listens on 127.0.0.1 only must not answer on ::1: the
    # address given is the one asked
    other = dnsmasq(txt=records)
    out = postseal("dns", "check", "--domain", DOMAIN, "--resolver", f"[::1]:{other.port}")
    assert out.returncode == 2
    assert f"[::1]:{other.port}" in out.stderr


# ---- the SRS domain --------------------------------------------------------------

SRS = "fwd.example.test"


def srs_conf(tmp_path, keys, srs=SRS):
    conf = tmp_path / "srs.conf"
    conf.write_text(f"[keys]\ned = {DOMAIN} s2026e {keys['s2026e']}\n"
                    f"[return_path]\ndomain = {RP}\nsrs_domain = {srs}\n"
                    f"srs_secret_file = {tmp_path}/srs.secrets\n")
    return conf


def test_dns_prints_srs_domain_mx_and_spf(postseal, keys, tmp_path):
    """Forwarded mail leaves with MAIL FROM:<SRS0=...@fwd.example.test>:
    its bounces need an MX and receivers check its SPF."""
    text = postseal("dns", "-c", srs_conf(tmp_path, keys), "--mx", "mx1.example.test")
    assert text.returncode == 0, text.stderr
    records = zonetext.parse(text.stdout)
    assert zonetext.mx_hosts(records, SRS) == ["mx1.example.test"]
    assert zonetext.txt(records, SRS) == "v=spf1 mx ~all"
    assert zonetext.mx_hosts(records, RP) == ["mx1.example.test"]
    assert f"; SRS domain {SRS}: mail postseal-milter forwards" in text.stdout
    # without a config file, by option
    records = zonetext.parse(dns_print(postseal, "--srs-domain", SRS))
    assert zonetext.mx_hosts(records, SRS) == [f"mail.{DOMAIN}"]
    # the same domain as the return path: printed once
    text = postseal("dns", "-c", srs_conf(tmp_path, keys, srs=RP))
    assert text.returncode == 0, text.stderr
    assert text.stdout.count(f"{RP}. 3600 IN MX") == 1
    assert f"SRS domain {RP} is a return-path domain above" in text.stdout


def test_check_srs_domain_published_and_missing(postseal, keys, dnsmasq, tmp_path):
    conf = srs_conf(tmp_path, keys)
    txt, mx = served(zonetext.parse(postseal("dns", "-c", conf).stdout))
    assert SRS in txt and SRS in mx
    server = dnsmasq(txt=txt, mx=mx)
    out = postseal("dns", "check", "-c", conf, "--resolver", server.resolver)
    assert out.returncode == 0, out.stdout + out.stderr
    assert lines_of(out)[-2:] == [f"ok   mx {SRS}", f"ok   spf {SRS}"]
    del txt[SRS], mx[SRS]
    server.stop()
    server = dnsmasq(txt=txt, mx=mx)
    out = postseal("dns", "check", "-c", conf, "--resolver", server.resolver)
    assert out.returncode == 1, out.stdout + out.stderr
    assert lines_of(out)[-2] == f"MISSING mx {SRS}: no MX record: bounces cannot come back"
    assert lines_of(out)[-1].startswith(f"MISSING spf {SRS}")
    assert all(line.startswith("ok   ") for line in lines_of(out)[:-2])
