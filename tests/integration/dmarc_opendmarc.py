"""Oracle for test_dmarc_oracles.py: libopendmarc (the library inside the
opendmarc milter, Debian's libopendmarc2) through ctypes, judging one
message's identifiers per input line ("FROM SPF|- [DKIM...]", each having
passed) as the milter's end-of-message step does, its DNS sent to
127.0.0.1:PORT (the library's own nameserver list). Prints
"result=R policy=P apply=A" per line, the shape dmarc_eval prints."""

import ctypes
import socket
import struct
import sys

PSL = b"/usr/share/publicsuffix/public_suffix_list.dat"
MAXPATHLEN, MAXNS = 4096, 3
PARSE_OKAY, NO_RECORD, NXDOMAIN, TMPERR = 0, 9, 10, 11
ABSENT, PASS, REJECT, QUARANTINE, NONE = 14, 15, 16, 17, 18
WORD = {ord("n"): "none", ord("q"): "quarantine", ord("r"): "reject"}


class SockaddrIn(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_ubyte * 2),
                ("addr", ctypes.c_ubyte * 4), ("zero", ctypes.c_ubyte * 8)]


class LibInit(ctypes.Structure):
    _fields_ = [("tld_type", ctypes.c_int), ("tld_source_file", ctypes.c_char * MAXPATHLEN),
                ("nscount", ctypes.c_int), ("nsaddr_list", SockaddrIn * MAXNS)]


def load(port):
    lib = ctypes.CDLL("libopendmarc.so.2")
    lib.opendmarc_policy_connect_init.restype = ctypes.c_void_p
    for name in ("store_from_domain", "query_dmarc"):
        getattr(lib, "opendmarc_policy_" + name).argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.opendmarc_policy_store_spf.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                               ctypes.c_int, ctypes.c_char_p]
    lib.opendmarc_policy_store_dkim.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    lib.opendmarc_get_policy_to_enforce.argtypes = [ctypes.c_void_p]
    for name in ("fetch_p", "fetch_sp", "fetch_pct"):
        getattr(lib, "opendmarc_policy_" + name).argtypes = [ctypes.c_void_p,
                                                             ctypes.POINTER(ctypes.c_int)]
    lib.opendmarc_policy_fetch_utilized_domain.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                           ctypes.c_size_t]
    lib.opendmarc_policy_connect_shutdown.argtypes = [ctypes.c_void_p]
    init = LibInit()
    init.tld_type = 1  # OPENDMARC_TLD_TYPE_MOZILLA: the Public Suffix List file
    init.tld_source_file = PSL
    init.nscount = 1
    ns = init.nsaddr_list[0]
    ns.family = socket.AF_INET
    ns.port[:] = list(struct.pack("!H", port))
    ns.addr[:] = [127, 0, 0, 1]
    if lib.opendmarc_policy_library_init(ctypes.byref(init)) != 0:
        sys.exit("libopendmarc: library init failed")
    return lib


def requested(lib, ctx, frm):
    p, sp = ctypes.c_int(0), ctypes.c_int(0)
    lib.opendmarc_policy_fetch_p(ctx, ctypes.byref(p))
    lib.opendmarc_policy_fetch_sp(ctx, ctypes.byref(sp))
    used = ctypes.create_string_buffer(256)
    lib.opendmarc_policy_fetch_utilized_domain(ctx, used, 256)
    sub = used.value.decode().lower() != frm.lower()
    return WORD.get(sp.value if sub and sp.value else p.value, "-")


def judge(lib, line):
    frm, spf, *dkim = line.split()
    ctx = lib.opendmarc_policy_connect_init(b"192.0.2.1", 4)
    lib.opendmarc_policy_store_from_domain(ctx, frm.encode())
    status = lib.opendmarc_policy_query_dmarc(ctx, frm.encode())
    if spf != "-":
        lib.opendmarc_policy_store_spf(ctx, spf.encode(), 1, 1, None)
    for d in dkim:
        lib.opendmarc_policy_store_dkim(ctx, d.encode(), b"s", 1, None)
    verdict = lib.opendmarc_get_policy_to_enforce(ctx)
    if status in (NO_RECORD, NXDOMAIN):
        out = "result=none policy=- apply=none"
    elif status == TMPERR:
        out = "result=temperror policy=- apply=none"
    elif status != PARSE_OKAY:
        out = "result=permerror policy=- apply=none"
    else:
        result = {PASS: "pass", ABSENT: "none"}.get(verdict, "fail")
        apply = {REJECT: "reject", QUARANTINE: "quarantine"}.get(verdict, "none")
        pct = ctypes.c_int(100)
        lib.opendmarc_policy_fetch_pct(ctx, ctypes.byref(pct))
        if not 0 < pct.value:  # the milter's step: random() % 100 < pct, roll 0
            apply = "none"
        out = f"result={result} policy={requested(lib, ctx, frm)} apply={apply}"
    lib.opendmarc_policy_connect_shutdown(ctx)
    return out


def main():
    lib = load(int(sys.argv[1]))
    for line in sys.stdin:
        if line.strip():
            print(judge(lib, line), flush=True)


if __name__ == "__main__":
    main()
