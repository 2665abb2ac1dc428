"""Reading what `postseal dns` and `postseal keygen` print with dnspython's
zone-file parser, an independent judge of the syntax: if it parses, a zone
loader accepts it as pasted."""

import dns.rdatatype
import dns.zone


def parse(text, origin="example.test."):
    """The zone lines of text as {(name, "TXT"|"MX"): [rdata, ...]}, names
    absolute without the trailing dot. Raises on any syntax error."""
    zone = dns.zone.from_text(text, origin=origin, relativize=False,
                              check_origin=False)
    records = {}
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            key = (name.to_text(omit_final_dot=True), dns.rdatatype.to_text(rdataset.rdtype))
            records.setdefault(key, []).extend(rdataset)
    return records


def txt_strings(records, name):
    """The character-strings of the one TXT record at name, as str."""
    [rdata] = records[(name, "TXT")]
    return tuple(s.decode() for s in rdata.strings)


def txt(records, name):
    """The one TXT record at name with its strings joined, as a verifier
    reads it."""
    return "".join(txt_strings(records, name))


def mx_hosts(records, name):
    return [r.exchange.to_text(omit_final_dot=True) for r in records[(name, "MX")]]


def ttls(text, origin="example.test."):
    zone = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
    return {rds.ttl for node in zone.nodes.values() for rds in node.rdatasets}
