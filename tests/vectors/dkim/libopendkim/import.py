"""Rebuilds libopendkim's straight-line verify tests as messages: reads
t-testdata.h and each t-testNN.c from an OpenDKIM checkout (git object
store), replays its dkim_header/dkim_body calls into a message file and
records what the test asserts in ../libopendkim.json (keeping the "ours"
and "differs" already recorded there). Run to import:
  python3 import.py OPENDKIM-CHECKOUT ../libopendkim.json
"""

import re
import subprocess
import sys

STR = r'"(?:[^"\\]|\\.)*"'
RUNTIME = "DKIM-Signature: (t= and x= from the clock)"
ESC = {"r": "\r", "n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def show(repo, path):
    return subprocess.run(["git", "-C", repo, "show", "HEAD:" + path], check=True,
                          capture_output=True, text=True).stdout


def cstring(expr, defs):
    """A C string expression: literals and #defined names, concatenated."""
    out = ""
    for tok in re.findall(STR + r"|[A-Za-z_][A-Za-z0-9_]*", expr):
        if tok.startswith('"'):
            out += re.sub(r"\\(.)", lambda m: ESC[m.group(1)], tok[1:-1])
        else:
            out += defs[tok]
    return out


def defines(text, defs):
    for name, expr in re.findall(r"^#define\s+(\w+)\s+((?:.*\\\n)*.*)$", text, re.M):
        expr = expr.replace("\\\n", " ")
        try:
            defs[name] = cstring(expr, defs)
        except KeyError:
            pass
    return defs


def replay(text, defs):
    """(message bytes, first failing status asserted, or dkim_eom's) of a
    straight-line test."""
    defs = dict(defs, DKIM_SIGNHEADER="DKIM-Signature")
    main = text[text.index("main(int argc"):]
    main = re.sub(r"^#.*$", "", main, flags=re.M)
    # comments go (some tests comment calls out); one-line ones stay as labels
    main = re.sub(r"/\*(.*?)\*/", lambda m: "" if "\n" in m.group(1) or '"' in m.group(1)
                  else f'LABEL("{m.group(1).strip()}");', main, flags=re.S)
    if "dkim_sign(" in main:
        raise ValueError("signs with libopendkim itself: no fixed signature to replay")
    if "dkim_verify(" not in main:
        raise ValueError("no verification: a library utility test")
    if main.count("dkim_verify(") > 1:
        raise ValueError("verifies more than once in one test: API sequencing")
    if re.search(r"\b(for|while)\s*\(", main):
        raise ValueError("feeds the message in a loop: the chunking API")
    vars_, heads, body, status, stmt_prev, sigs, syntax, raw, eom = {}, [], "", None, "", [], set(), "", None
    labels, label = [], ""
    for stmt in re.findall(r"(?:[^;\"]|" + STR + r")*;", main):
        last, stmt = stmt_prev, stmt.strip()
        stmt_prev = stmt
        m = re.search(r'LABEL\("(.*)"\)', stmt)
        if m:
            label = m.group(1)
            continue
        if "dkim_eoh(" in stmt:
            label = ""
        m = re.search(r"snprintf\((\w+), sizeof \w+, (" + STR + r"),\s*(.*)\);", stmt, re.S)
        if m:
            args = [cstring(a, defs) for a in m.group(3).split(",")]
            vars_[m.group(1)] = cstring(m.group(2), defs).replace("%s", "{}").format(*args)
            continue
        if re.search(r"snprintf\(\w+ \+ \w+,", stmt):  # a header built at run time
            vars_["hdr"] = RUNTIME
            continue
        m = re.search(r"dkim_(header|body)\(dkim, (\w+), (?:strlen\((\w+)\)|(\d+))\)", stmt)
        if m:
            data = vars_[m.group(2)] if m.group(2) in vars_ else defs[m.group(2)]
            if m.group(3) and m.group(3) in defs and len(defs[m.group(3)]) < len(data):
                data = data[:len(defs[m.group(3)])]
            if m.group(1) == "header":
                if data.startswith("DKIM-Signature:") or data is RUNTIME:
                    sigs.append(len(heads))
                    labels.append(label)
                heads.append(data)
            else:
                body += data
            continue
        m = re.search(r"strlc(py|at)\((\w+), (.*), [\w ]+\)", stmt)
        if m:
            text_ = cstring(m.group(3), dict(defs, **{k: v for k, v in vars_.items() if v}))
            vars_[m.group(2)] = (vars_.get(m.group(2), "") if m.group(1) == "at" else "") + text_
            continue
        m = re.search(r"dkim_chunk\(dkim, (\w+), (?:strlen\((\w+)\)|\w+)\)", stmt)
        if m and m.group(1) != "NULL":
            raw += vars_[m.group(1)] if m.group(1) in vars_ else defs[m.group(1)]
            continue
        m = re.search(r"assert\(status == (DKIM_STAT_\w+)\)", stmt)
        if m and m.group(1) == "DKIM_STAT_SYNTAX" and "dkim_header(" in last and sigs \
                and sigs[-1] == len(heads) - 1:
            syntax.add(len(sigs) - 1)
        if m and (m.group(1) != "DKIM_STAT_OK" or "dkim_eom(" in last):
            status = status or m.group(1)  # the first failure a call returns
            if "dkim_eom(" in last:
                eom = m.group(1)
    if raw:
        if "DKIM_LIBFLAGS_FIXCRLF" in main:
            raw = re.sub(r"(?<!\r)\n", "\r\n", raw)
        if eom is None:
            raise ValueError("dkim_chunk without dkim_eom")
        return [("", "", raw.encode("latin-1"), eom)]  # chunk tests misuse the API first
    errors = sigerrors(main, len(sigs), syntax)
    if len(sigs) > 1 and errors:
        return [(f"-sig{k + 1}", labels[k], message([h for j, h in enumerate(heads)
                                          if j not in sigs or j == sigs[k]], body), e)
                for k, e in enumerate(errors) if e and heads[sigs[k]] is not RUNTIME]
    if RUNTIME in heads:
        raise ValueError("builds its signature from the clock at run time")
    return [("", "", message(heads, body), status)]


def message(heads, body):
    return ("".join(h + "\r\n" for h in heads) + "\r\n" + body).encode("latin-1")


def sigerrors(main, nheaders, syntax):
    """Per signature header: DKIM_STAT_SYNTAX if dkim_header refused it,
    else the DKIM_SIGERROR_* the test asserts for it in dkim_getsiglist's
    order (which holds the refused ones only with BADSIGHANDLES), or None."""
    asserted = {}
    for i, e in re.findall(r"dkim_sig_geterror\(sigs\[(\d+)\]\) == (DKIM_SIGERROR_\w+)", main):
        asserted.setdefault(int(i), e)
    if not asserted:
        return []
    kept = "DKIM_LIBFLAGS_BADSIGHANDLES" in main
    out, n = [], 0
    for k in range(nheaders):
        if k in syntax:
            out.append(asserted.get(k) if kept else "DKIM_STAT_SYNTAX")
            n += kept
        else:
            out.append(asserted.get(n))
            n += 1
    return out


# Verify tests whose outcome rests on something a message over SMTP cannot
# carry: a library option or callback, a clock, or a call sequence of the API.
SKIP = {
    "41": "signature decomposition callbacks (dkim_set_prescreen etc.): tests the API, the message is t-test21's",
    "45": "signature selection by a prescreen callback: the outcome is the callback's choice",
    "46": "signature reordering by a prescreen callback: the outcome is the callback's choice",
    "59": "DKIM_OPTS_TMPDIR pointing at a missing directory: a local resource failure",
    "72": "signs, then verifies its own signature at a fixed time (DKIM_OPTS_FIXEDTIME)",
    "75": "Date: value extraction API; no dkim_eom result asserted",
    "102": "DKIM_OPTS_MUSTBESIGNED: a local policy list the milter does not have",
    "107": "asserts only the parsed body canonicalization, no verification result",
    "117": "utility functions at a fixed clock (DKIM_OPTS_FIXEDTIME, SIGNATURETTL)",
    "119": "DKIM_LIBFLAGS_EOHCHECK: a library option that fails at end of header",
    "135": "dkim_chunk API misuse (a leading CRLF chunk); no message to send",
    "143": "DKIM_QUERYINFO routines; no verification result asserted",
}

UPSTREAM = {"DKIM_STAT_OK": "pass", "DKIM_STAT_BADSIG": "fail", "DKIM_SIGERROR_BADSIG": "fail",
            "DKIM_STAT_NOSIG": "none"}


def DNS(defs):
    """The key file t-setup.c writes: selector._domainkey.domain record."""
    keys = {"SELECTOR": "PUBLICKEY", "SELECTOR2": "PUBLICKEY2", "SELECTORBADV": "PUBLICKEYBADV",
            "SELECTOR256": "PUBLICKEY256", "SELECTORBADH": "PUBLICKEYBADH",
            "SELECTORNOK": "PUBLICKEYNOK", "SELECTORBADK": "PUBLICKEYBADK",
            "SELECTOREMPTYP": "PUBLICKEYEMPTYP", "SELECTORNOP": "PUBLICKEYNOP",
            "SELECTORCORRUPTP": "PUBLICKEYCORRUPTP"}
    table = {f"{defs[s]}._domainkey.{defs['DOMAIN']}": defs[k] for s, k in keys.items()}
    table[f"{defs['SELECTOR']}._domainkey.{defs['DOMAIN2']}"] = defs["PUBLICKEYNOS"]
    return table


def upstream(status):
    return UPSTREAM.get(status, "invalid")


if __name__ == "__main__":
    import hashlib
    import json
    import os
    repo, out = sys.argv[1], sys.argv[2]
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    try:
        old = {c["file"]: c for c in json.load(open(out))["cases"]}
    except FileNotFoundError:
        old = {}
    names = subprocess.run(["git", "-C", repo, "ls-tree", "--name-only", "HEAD", "libopendkim/tests/"],
                           check=True, capture_output=True, text=True).stdout.split()
    tests = sorted((re.search(r"t-test(\d+)\.c$", p).group(1) for p in names
                    if re.search(r"t-test\d+\.c$", p)), key=int)
    defs = defines(show(repo, "libopendkim/tests/t-testdata.h"), {"CRLF": "\r\n"})
    cases, seen, skipped = [], {}, {}
    for n in tests:
        text = show(repo, f"libopendkim/tests/t-test{n}.c")
        desc = re.search(r'printf\("\*\*\* (.*?)\\n', text).group(1).replace('\\"', '"')
        if n in SKIP:
            skipped[f"t-test{n}.c"] = SKIP[n]
            continue
        try:
            found = replay(text, defines(text, dict(defs)))
        except (ValueError, KeyError) as e:
            skipped[f"t-test{n}.c"] = str(e).strip("'")
            continue
        for suffix, label, msg, status in found:
            name = f"t-test{n}{suffix}.eml"
            digest = hashlib.sha256(msg).hexdigest()
            if digest in seen:
                skipped[name.replace(".eml", ".c" if not suffix else "")] = f"the same message as {seen[digest]}"
                continue
            seen[digest] = name
            open(os.path.join(os.path.dirname(out), "libopendkim", name), "wb").write(msg)
            case = {"file": name, "test": f"t-test{n}.c", "name": desc + (f": {label}" if label else ""),
                    "libopendkim": status, "upstream": upstream(status)}
            case.update({k: v for k, v in old.get(name, {}).items() if k in ("ours", "differs")})
            cases.append(case)
    doc = {"source": {"repository": "https://github.com/trusteddomainproject/OpenDKIM",
                      "commit": commit,
                      "file": "libopendkim/tests/t-test*.c (messages: t-testdata.h; keys: t-setup.c)"},
           "dns": DNS(defs),
           "note": "upstream: the status the test asserts (dkim_eom's, or the first failure a call "
                   "returns, or dkim_sig_geterror() of that signature): DKIM_STAT_OK pass, BADSIG fail, "
                   "NOSIG none, anything else invalid; ours: one [result, reason] per signature",
           "skipped": skipped, "cases": cases}
    json.dump(doc, open(out, "w"), indent=1)
    open(out, "a").write("\n")
