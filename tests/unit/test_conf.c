/* Unit tests for shared/conf/: the DESIGN.md example and the shipped
 * conf-examples/postseal.conf parse with every field and line right, and
 * every kind of mistake fails with one exact "file:line: reason" message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

/* DESIGN.md's example, verbatim: line numbers below refer to it. */
static const char design_conf[] =
    "[milter]\n"
    "socket = inet:8891@127.0.0.1\n"
    "mode = sign,verify                  # sign | verify | sign,verify\n"
    "internal_hosts = 127.0.0.0/8, ::1   # besides authenticated clients, "
    "who is signed for\n"
    "authserv_id = mx.example.com\n"
    "resolver = 127.0.0.1:53             # optional; default: the system "
    "resolver\n"
    "keytable = /etc/opendkim/KeyTable   # optional: OpenDKIM's files, read "
    "as they are\n"
    "signingtable = refile:/etc/opendkim/SigningTable\n"
    "\n"
    "[keys]                              # name = domain selector keyfile "
    "(algorithm from the key)\n"
    "example-rsa = example.com s2026r "
    "/etc/postseal/keys/example.com.s2026r.pem\n"
    "example-ed  = example.com s2026e "
    "/etc/postseal/keys/example.com.s2026e.pem\n"
    "\n"
    "[signing]                           # From domain (exact, or *.domain) "
    "= key names, all signed in one pass\n"
    "example.com = example-rsa, example-ed\n"
    "\n"
    "[return_path]\n"
    "domain = rp.example.com\n"
    "secret_file = /etc/postseal/retpath.secrets\n"
    "srs_domain = fwd.example.com\n"
    "srs_secret_file = /etc/postseal/srs.secrets\n"
    "events = /var/lib/postseal/bounces.jsonl\n"
    "\n"
    "[policyd]\n"
    "listen = inet:127.0.0.1:10040\n"
    "store = lmdb:/var/lib/postseal/quota # or redis://127.0.0.1:6379/0\n"
    "over_quota = DEFER_IF_PERMIT\n"
    "store_down = DUNNO\n"
    "warn_at = 80%\n"
    "\n"
    "[limits]                            # KIND[:MATCH] = MEASURE "
    "N/PERIOD, ...\n"
    "sasl_username = messages 100/1h, messages 1000/1d, recipients 5000/1d, "
    "bytes 1G/1d\n"
    "sasl_username:newsletter@app = messages 20000/1d\n"
    "sender_domain:example.com = messages 5000/1h\n"
    "client_address:192.0.2.0/24 = messages 100/1h\n"
    "exempt = sasl_username:monitor@app\n";

static ps_conf *parse_ok(const char *text)
{
    ps_conf *conf = NULL;
    ps_err err = {""};

    if (ps_conf_parse(text, strlen(text), "t.conf", &conf, &err) != 0)
        fail_msg("unexpected error: %s", err.msg);
    assert_non_null(conf);
    return conf;
}

static void expect_error(const char *text, const char *message)
{
    ps_conf *conf = (ps_conf *)&conf;
    ps_err err = {""};

    assert_int_equal(ps_conf_parse(text, strlen(text), "t.conf", &conf, &err),
                     -1);
    assert_null(conf);
    assert_string_equal(err.msg, message);
}

static void assert_str(const ps_conf_str *s, const char *value, int line)
{
    assert_non_null(s->value);
    assert_string_equal(s->value, value);
    assert_int_equal(s->line, line);
}

static void assert_limit(const ps_conf_limit *l, const char *kind,
                         const char *match, const char *value, int line)
{
    assert_string_equal(l->kind, kind);
    if (match == NULL)
        assert_null(l->match);
    else
        assert_string_equal(l->match, match);
    assert_string_equal(l->value, value);
    assert_int_equal(l->line, line);
}

static void check_design_milter(const ps_conf *c)
{
    assert_str(&c->milter.socket, "inet:8891@127.0.0.1", 2);
    assert_int_equal(c->milter.mode, PS_MODE_SIGN | PS_MODE_VERIFY);
    assert_int_equal(c->milter.mode_line, 3);
    assert_str(&c->milter.internal_hosts, "127.0.0.0/8, ::1", 4);
    assert_str(&c->milter.authserv_id, "mx.example.com", 5);
    assert_str(&c->milter.resolver, "127.0.0.1:53", 6);
    assert_str(&c->milter.keytable, "/etc/opendkim/KeyTable", 7);
    assert_str(&c->milter.signingtable, "refile:/etc/opendkim/SigningTable", 8);
}

static void check_design_keys(const ps_conf *c)
{
    const ps_conf_key *k;

    assert_int_equal(c->nkeys, 2);
    k = ps_conf_find_key(c, "example-ed");
    assert_ptr_equal(k, &c->keys[1]);
    assert_string_equal(k->domain, "example.com");
    assert_string_equal(k->selector, "s2026e");
    assert_string_equal(k->keyfile,
                        "/etc/postseal/keys/example.com.s2026e.pem");
    assert_int_equal(k->line, 12);
    assert_string_equal(c->keys[0].name, "example-rsa");
    assert_string_equal(c->keys[0].selector, "s2026r");
    assert_int_equal(c->keys[0].line, 11);
    assert_null(ps_conf_find_key(c, "example"));
    assert_int_equal(c->nsigning, 1);
    assert_string_equal(c->signing[0].pattern, "example.com");
    assert_int_equal(c->signing[0].nkeys, 2);
    assert_string_equal(c->signing[0].keys[0], "example-rsa");
    assert_string_equal(c->signing[0].keys[1], "example-ed");
    assert_int_equal(c->signing[0].line, 15);
}

static void check_design_rest(const ps_conf *c)
{
    assert_str(&c->return_path.domain, "rp.example.com", 18);
    assert_str(&c->return_path.secret_file, "/etc/postseal/retpath.secrets",
               19);
    assert_str(&c->return_path.srs_domain, "fwd.example.com", 20);
    assert_str(&c->return_path.srs_secret_file, "/etc/postseal/srs.secrets",
               21);
    assert_str(&c->return_path.events, "/var/lib/postseal/bounces.jsonl", 22);
    assert_str(&c->policyd.listen, "inet:127.0.0.1:10040", 25);
    assert_str(&c->policyd.store, "lmdb:/var/lib/postseal/quota", 26);
    assert_str(&c->policyd.over_quota, "DEFER_IF_PERMIT", 27);
    assert_str(&c->policyd.store_down, "DUNNO", 28);
    assert_int_equal(c->policyd.warn_at, 80);
    assert_int_equal(c->policyd.warn_at_line, 29);
    assert_int_equal(c->nlimits, 5);
    assert_limit(&c->limits[0], "sasl_username", NULL,
                 "messages 100/1h, messages 1000/1d, recipients 5000/1d, "
                 "bytes 1G/1d",
                 32);
    assert_limit(&c->limits[1], "sasl_username", "newsletter@app",
                 "messages 20000/1d", 33);
    assert_limit(&c->limits[2], "sender_domain", "example.com",
                 "messages 5000/1h", 34);
    assert_limit(&c->limits[3], "client_address", "192.0.2.0/24",
                 "messages 100/1h", 35);
    assert_limit(&c->limits[4], "exempt", NULL, "sasl_username:monitor@app",
                 36);
}

static void test_design_example(void **state)
{
    ps_conf *c = parse_ok(design_conf);

    (void)state;
    assert_string_equal(c->path, "t.conf");
    check_design_milter(c);
    check_design_keys(c);
    check_design_rest(c);
    ps_conf_free(c);
}

/* Tests run from the repository root. */
static void test_shipped_example(void **state)
{
    ps_conf *c = NULL;
    ps_err err = {""};

    (void)state;
    if (ps_conf_load("conf-examples/postseal.conf", &c, &err) != 0)
        fail_msg("conf-examples/postseal.conf: %s", err.msg);
    assert_string_equal(c->path, "conf-examples/postseal.conf");
    assert_non_null(c->milter.socket.value);
    assert_null(c->milter.keytable.value); /* commented out */
    assert_int_equal(c->nkeys, 2);
    assert_int_equal(c->nsigning, 2);
    assert_string_equal(c->signing[1].pattern, "*.example.com");
    assert_string_equal(c->return_path.events.value,
                        "/var/lib/postseal/bounces.jsonl");
    assert_int_equal(c->nlimits, 5);
    ps_conf_free(c);
}

static void test_empty_gives_defaults(void **state)
{
    const char *texts[] = {"", "\n\n# only a comment\n; another\n",
                           "[milter]\n[policyd]\n"};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        ps_conf *c = parse_ok(texts[i]);
        assert_int_equal(c->milter.mode, PS_MODE_SIGN | PS_MODE_VERIFY);
        assert_int_equal(c->milter.mode_line, 0);
        assert_int_equal(c->policyd.warn_at, 80);
        assert_int_equal(c->policyd.warn_at_line, 0);
        assert_str(&c->policyd.over_quota, "DEFER_IF_PERMIT", 0);
        assert_str(&c->policyd.store_down, "DUNNO", 0);
        assert_null(c->milter.socket.value);
        assert_int_equal(c->milter.socket.line, 0);
        assert_null(c->return_path.domain.value);
        assert_int_equal(c->return_path.max_age, PS_CONF_RETPATH_MAX_AGE);
        assert_int_equal(c->return_path.discard_bounces, 0);
        assert_int_equal(c->return_path.rewrite.n, 0);
        assert_null(c->return_path.local_transports.items);
        assert_int_equal(c->nkeys + c->nsigning + c->nlimits, 0);
        assert_int_equal(c->milter.canonicalization, 0); /* relaxed/relaxed */
        assert_null(c->milter.sign_headers.items);
        assert_null(c->milter.oversign_headers.items);
        assert_int_equal(c->milter.max_verify, 5);
        assert_int_equal(c->milter.max_verify_line, 0);
        assert_int_equal(c->milter.arc_max_verify, 12);
        assert_int_equal(c->milter.signature_expire, 0);
        assert_int_equal(c->milter.dmarc, 1); /* evaluated in verify mode */
        assert_int_equal(c->milter.dmarc_enforce, 0);
        assert_int_equal(c->milter.dmarc_quarantine, PS_CONF_DMARC_HOLD);
        assert_null(c->milter.dmarc_trusted_forwarders.value);
        ps_conf_free(c);
    }
}

/* The exact text for the commonest mistakes: what an admin will read. */
static void test_exact_messages(void **state)
{
    (void)state;
    expect_error("[milter]\nsocket = inet:1@h\n\nsokcet = x\n",
                 "t.conf:4: unknown key 'sokcet' in [milter]");
    expect_error("[milter]\nmode = sign\n[limts]\n",
                 "t.conf:3: unknown section '[limts]'");
    expect_error("[milter]\nmode = sign\nmode = verify\n",
                 "t.conf:3: repeated key 'mode' in [milter] (first on line 2)");
    expect_error("[milter]\nmode = sgn\n",
                 "t.conf:2: bad mode 'sgn': expected sign, verify or "
                 "sign,verify");
    expect_error("[keys]\nk1 = example.com /etc/k.pem\n",
                 "t.conf:2: key 'k1' in [keys]: needs 'domain selector "
                 "keyfile' (3 words, got 2)");
    expect_error("[keys]\nk1 = example.com s1 /k.pem\n\n[signing]\n"
                 "example.com = k1, k2\n",
                 "t.conf:5: key 'k2' for 'example.com' in [signing] is not "
                 "defined in [keys]");
    expect_error("[limits]\nsasl_user = messages 1/1h\n",
                 "t.conf:2: unknown limit kind 'sasl_user' (expected "
                 "sasl_username, sender_domain, client_address or exempt)");
    expect_error("[policyd]\nwarn_at = 101%\n",
                 "t.conf:2: bad warn_at '101%': expected a percentage from "
                 "1% to 100%");
    expect_error("[milter]\nthis line has no equals sign\n",
                 "t.conf:2: expected 'key = value', '[section]' or a comment");
}

typedef struct bad_case {
    const char *text, *message;
} bad_case;

/* Each value check, on a line of its own section (line 2). */
static const bad_case bad_values[] = {
    {"[milter]\nmode = sign,sign\n",
     "bad mode 'sign,sign': 'sign' named twice"},
    {"[milter]\nmode = sign,\n", "bad mode 'sign,': empty item in "
                                 "comma-separated list"},
    {"[milter]\nsocket = 8891\n",
     "bad socket '8891': expected "
     "inet:PORT@HOST, inet6:PORT@HOST, unix:PATH or local:PATH"},
    {"[milter]\nsocket = inet:0@127.0.0.1\n",
     "bad socket 'inet:0@127.0.0.1'"
     ": port must be a number from 1 to 65535"},
    {"[milter]\nsocket = inet:70000\n", "bad socket 'inet:70000': port must "
                                        "be a number from 1 to 65535"},
    {"[milter]\nsocket = inet:25@bad_host\n",
     "bad socket 'inet:25@bad_host':"
     " bad character '_' in host name"},
    {"[milter]\nsocket = unix:milter.sock\n", "bad socket 'unix:milter.sock':"
                                              " socket path must be absolute"},
    {"[milter]\ninternal_hosts = 10.0.0.0/33\n",
     "bad internal_hosts "
     "'10.0.0.0/33': prefix length in '10.0.0.0/33' must be 0 to 32"},
    /* the milter's own parser (base/cidr.c) refuses host bits: so must
     * the check */
    {"[milter]\ninternal_hosts = 10.1.2.3/8\n",
     "bad internal_hosts '10.1.2.3/8': '10.1.2.3/8' has host bits set "
     "beyond /8"},
    {"[milter]\nresolver = 127.0.0.1:+53\n",
     "bad resolver '127.0.0.1:+53': port must be a number from 1 to 65535"},
    {"[milter]\ninternal_hosts = 10.0.0.0/8, intranet\n",
     "bad "
     "internal_hosts '10.0.0.0/8, intranet': 'intranet' is not an IP address"},
    {"[milter]\nauthserv_id = mx example\n", "bad authserv_id 'mx example': "
                                             "character ' ' not allowed"},
    {"[milter]\nresolver = 127.0.0.1:99999\n",
     "bad resolver "
     "'127.0.0.1:99999': port must be a number from 1 to 65535"},
    {"[milter]\nresolver = dns.example\n",
     "bad resolver 'dns.example': "
     "expected IP, IP:PORT or [IPv6]:PORT"},
    {"[milter]\nkeytable = KeyTable\n", "bad keytable 'KeyTable': must be an "
                                        "absolute path"},
    {"[return_path]\ndomain = example\n",
     "bad domain 'example': needs at "
     "least two labels (like example.com)"},
    {"[return_path]\nsecret_file = secrets\n", "bad secret_file 'secrets': "
                                               "must be an absolute path"},
    {"[policyd]\nlisten = inet:127.0.0.1\n", "bad listen 'inet:127.0.0.1': "
                                             "expected inet:HOST:PORT"},
    {"[policyd]\nlisten = inet:127.0.0.1:\n",
     "bad listen 'inet:127.0.0.1:'"
     ": port must be a number from 1 to 65535"},
    {"[policyd]\nlisten = tcp:1.2.3.4:10040\n",
     "bad listen "
     "'tcp:1.2.3.4:10040': expected inet:HOST:PORT or unix:PATH"},
    {"[policyd]\nstore = /var/lib/quota\n",
     "bad store '/var/lib/quota': "
     "expected lmdb:PATH, redis://[USER:PASSWORD@]HOST[:PORT][/DB], "
     "unix:///PATH or redis-sentinel://HOST[:PORT],.../MASTER[/DB]"},
    {"[policyd]\nover_quota = BOUNCE\n",
     "bad over_quota 'BOUNCE': expected "
     "DEFER_IF_PERMIT, REJECT, HOLD or DEFER"},
    {"[policyd]\nstore_down = REJECT\n", "bad store_down 'REJECT': expected "
                                         "DUNNO or DEFER_IF_PERMIT"},
    {"[policyd]\nwarn_at = 80\n", "bad warn_at '80': expected a percentage "
                                  "from 1% to 100%"},
    {"[policyd]\nwarn_at = 0%\n", "bad warn_at '0%': expected a percentage "
                                  "from 1% to 100%"},
    {"[policyd]\nwarn_at = 1000%\n", "bad warn_at '1000%': expected a "
                                     "percentage from 1% to 100%"},
    {"[milter]\nsocket =\n", "empty value for 'socket' in [milter]"},
    {"[milter]\ncanonicalization = relaxed/strict\n",
     "bad canonicalization 'relaxed/strict': expected HEADER/BODY, each "
     "simple or relaxed"},
    {"[milter]\ncanonicalization = Relaxed\n",
     "bad canonicalization 'Relaxed': expected HEADER/BODY, each simple or "
     "relaxed"},
    {"[milter]\ncanonicalization = simple/\n",
     "bad canonicalization 'simple/': expected HEADER/BODY, each simple or "
     "relaxed"},
    {"[milter]\nsign_headers = To, Subject\n",
     "bad sign_headers 'To, Subject': DKIM signed-header list must name From "
     "(RFC 6376 5.4)"},
    {"[milter]\nsign_headers =\n",
     "bad sign_headers '': DKIM signed-header list must name From (RFC 6376 "
     "5.4)"},
    {"[milter]\nsign_headers = From, X Mailer\n",
     "bad sign_headers 'From, X Mailer': DKIM signed-header list: \"X "
     "Mailer\" is not a header field name (or NAME* prefix)"},
    {"[milter]\nsign_headers = From,,To\n",
     "bad sign_headers 'From,,To': empty item in comma-separated list"},
    {"[milter]\noversign_headers = From, Subject:\n",
     "bad oversign_headers 'From, Subject:': DKIM oversigned-header list: "
     "\"Subject:\" is not a header field name (or NAME* prefix)"},
    {"[milter]\noversign_headers = *\n",
     "bad oversign_headers '*': DKIM oversigned-header list: \"*\" is not a "
     "header field name (or NAME* prefix)"},
    {"[milter]\ndmarc = on\n", "bad dmarc 'on': expected yes or no"},
    {"[milter]\ndmarc_enforce = 1\n",
     "bad dmarc_enforce '1': expected yes or no"},
    {"[milter]\ndmarc_quarantine = discard\n",
     "bad dmarc_quarantine 'discard': expected hold or header"},
    {"[milter]\ndmarc_trusted_forwarders = 10.0.0.0/33\n",
     "bad dmarc_trusted_forwarders '10.0.0.0/33': prefix length in "
     "'10.0.0.0/33' must be 0 to 32"},
    {"[milter]\nmax_verify = 0\n",
     "bad max_verify '0': expected a number from 1 to 50"},
    {"[milter]\nmax_verify = 51\n",
     "bad max_verify '51': expected a number from 1 to 50"},
    {"[milter]\nmax_verify = 5x\n",
     "bad max_verify '5x': expected a number from 1 to 50"},
    {"[milter]\nmax_verify = -1\n",
     "bad max_verify '-1': expected a number from 1 to 50"},
    {"[milter]\narc_max_verify = 1\n",
     "bad arc_max_verify '1': expected a number from 2 to 100"},
    {"[milter]\narc_max_verify = 101\n",
     "bad arc_max_verify '101': expected a number from 2 to 100"},
    {"[milter]\narc_max_verify = 12k\n",
     "bad arc_max_verify '12k': expected a number from 2 to 100"},
    {"[milter]\nsignature_expire = 7w\n",
     "bad signature_expire '7w': expected seconds, or a number with s, m, h "
     "or d (0: no x=)"},
    {"[milter]\nsignature_expire = 1dd\n",
     "bad signature_expire '1dd': expected seconds, or a number with s, m, "
     "h or d (0: no x=)"},
    {"[milter]\nsignature_expire = d\n",
     "bad signature_expire 'd': expected seconds, or a number with s, m, h "
     "or d (0: no x=)"},
    {"[milter]\nsignature_expire = 3661d\n",
     "bad signature_expire '3661d': longer than 3660 days"},
    {"[milter]\nsignature_expire = 99999999999\n",
     "bad signature_expire '99999999999': expected seconds, or a number "
     "with s, m, h or d (0: no x=)"},
};

static void test_bad_values(void **state)
{
    char expect[600];

    (void)state;
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        snprintf(expect, sizeof(expect), "t.conf:2: %s", bad_values[i].message);
        expect_error(bad_values[i].text, expect);
    }
}

static const char *const good_values[] = {
    "[milter]\nmode = verify\n",
    "[milter]\nmode = verify , sign\n",
    "[milter]\nsocket = inet:8891\n",
    "[milter]\nsocket = inet6:8891@::1\n",
    "[milter]\nsocket = unix:/run/postseal/milter.sock\n",
    "[milter]\nsocket = local:/run/postseal/milter.sock\n",
    "[milter]\ninternal_hosts = 10.0.0.0/8,192.0.2.1, 2001:db8::/32\n",
    "[milter]\nresolver = [::1]:5353\n",
    "[milter]\nresolver = ::1\n",
    "[milter]\nresolver = 192.0.2.53\n",
    "[milter]\nkeytable = file:/etc/opendkim/KeyTable\n",
    "[milter]\nsigningtable = /etc/opendkim/SigningTable\n",
    "[policyd]\nlisten = unix:/run/postseal/policyd.sock\n",
    "[policyd]\nlisten = inet:[::1]:10040\n",
    "[policyd]\nlisten = inet:localhost:10040\n",
    "[policyd]\nstore = redis://127.0.0.1:6379/0\n",
    "[policyd]\nover_quota = REJECT\nstore_down = DEFER_IF_PERMIT\n"
    "warn_at = 100%\n",
    "[milter]\ncanonicalization = relaxed/relaxed\nmax_verify = 1\n",
    "[milter]\ncanonicalization = simple/relaxed\nmax_verify = 50\n",
    "[milter]\nsign_headers = from\nsignature_expire = 0\n",
    "[milter]\narc_max_verify = 2\n",
    "[milter]\narc_max_verify = 100\n",
    "[milter]\nsignature_expire = 3660d\n",
};

static void test_good_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good_values) / sizeof(good_values[0]); i++)
        ps_conf_free(parse_ok(good_values[i]));
}

static void assert_list(const ps_conf_list *l, const char *const *want,
                        size_t n, int line)
{
    assert_non_null(l->items);
    assert_int_equal(l->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->items[i], want[i]);
    assert_null(l->items[n]);
    assert_int_equal(l->line, line);
}

static ps_conf *parse_milter_key(const char *key, const char *value)
{
    char text[128];

    snprintf(text, sizeof(text), "[milter]\n%s = %s\n", key, value);
    return parse_ok(text);
}

/* The [milter] DKIM keys: values, lines, and what a bare word means. */
static void test_milter_dkim_keys(void **state)
{
    static const char *const sign[] = {"From", "To", "Subject", "List-*"};
    static const struct {
        const char *text;
        int bits;
    } canon[] = {
        {"relaxed/relaxed", 0},
        {"simple/simple",
         PS_CONF_CANON_HEADER_SIMPLE | PS_CONF_CANON_BODY_SIMPLE},
        {"relaxed/simple", PS_CONF_CANON_BODY_SIMPLE},
        {"relaxed", PS_CONF_CANON_BODY_SIMPLE}, /* RFC 6376 3.5 */
        {"simple", PS_CONF_CANON_HEADER_SIMPLE | PS_CONF_CANON_BODY_SIMPLE},
    };
    static const struct {
        const char *text;
        int secs;
    } expire[] = {{"0", 0},     {"90", 90},   {"90s", 90},
                  {"15m", 900}, {"2h", 7200}, {"7d", 604800}};
    ps_conf *c;

    (void)state;
    c = parse_ok("[milter]\ncanonicalization = simple/relaxed\n"
                 "sign_headers = From, To,Subject , List-*\n"
                 "oversign_headers =\nmax_verify = 12\n"
                 "signature_expire = 7d\n");
    assert_int_equal(c->milter.canonicalization, PS_CONF_CANON_HEADER_SIMPLE);
    assert_int_equal(c->milter.canonicalization_line, 2);
    assert_list(&c->milter.sign_headers, sign, 4, 3);
    assert_list(&c->milter.oversign_headers, NULL, 0, 4); /* none */
    assert_int_equal(c->milter.max_verify, 12);
    assert_int_equal(c->milter.max_verify_line, 5);
    assert_int_equal(c->milter.signature_expire, 7 * 86400);
    assert_int_equal(c->milter.signature_expire_line, 6);
    ps_conf_free(c);
    for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
        c = parse_milter_key("canonicalization", canon[i].text);
        assert_int_equal(c->milter.canonicalization, canon[i].bits);
        ps_conf_free(c);
    }
    for (size_t i = 0; i < sizeof(expire) / sizeof(expire[0]); i++) {
        c = parse_milter_key("signature_expire", expire[i].text);
        assert_int_equal(c->milter.signature_expire, expire[i].secs);
        ps_conf_free(c);
    }
    expect_error("[milter]\nsign_headers = From\n\nsign_headers = From, To\n",
                 "t.conf:4: repeated key 'sign_headers' in [milter] (first "
                 "on line 2)");
    expect_error("[milter]\noversign_headers =\noversign_headers = From\n",
                 "t.conf:3: repeated key 'oversign_headers' in [milter] "
                 "(first on line 2)");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("mode = sign\n",
                 "t.conf:1: 'mode' comes before any [section]");
    expect_error("[milter]\n= sign\n", "t.conf:2: missing key before '='");
    expect_error("[milter\nmode = sign\n",
                 "t.conf:1: a section header is '[name]' alone on its line");
    expect_error("[milter] extra\n",
                 "t.conf:1: a section header is '[name]' alone on its line");
    expect_error("[ milter ]\n", "t.conf:1: unknown section '[ milter ]'");
    expect_error("[Milter]\n", "t.conf:1: unknown section '[Milter]'");
    expect_error("[milter]\nmy mode = sign\n",
                 "t.conf:2: spaces in key 'my mode'");
    /* inih's "key: value" form is not postseal.conf syntax */
    expect_error("[milter]\nmode: sign\n",
                 "t.conf:2: expected 'key = value', '[section]' or a comment");
    /* the first problem wins, whoever finds it */
    expect_error("[milter]\nbroken\nsokcet = 1\n",
                 "t.conf:2: expected 'key = value', '[section]' or a comment");
    expect_error("[milter]\nsokcet = 1\nbroken\n",
                 "t.conf:2: unknown key 'sokcet' in [milter]");
}

static void test_comments_and_whitespace(void **state)
{
    ps_conf *c;

    (void)state;
    c = parse_ok("# top\n"
                 "  [milter]   # indented header\n"
                 "\tsocket = inet:8891@127.0.0.1\t# tab before the comment\n"
                 "    mode = sign ; semicolon comment\n"
                 "[return_path]\n"
                 "events = /var/log/a#b;c\n");
    assert_str(&c->milter.socket, "inet:8891@127.0.0.1", 3);
    /* an indented line is a new entry, never a continuation */
    assert_int_equal(c->milter.mode, PS_MODE_SIGN);
    assert_int_equal(c->milter.mode_line, 4);
    assert_str(&c->return_path.events, "/var/log/a#b;c", 6);
    ps_conf_free(c);
}

static void test_crlf_and_bom(void **state)
{
    ps_conf *c;

    (void)state;
    c = parse_ok("\xef\xbb\xbf[milter]\r\nmode = verify\r\n\r\n[policyd]\r\n"
                 "warn_at = 95%\r\n");
    assert_int_equal(c->milter.mode, PS_MODE_VERIFY);
    assert_int_equal(c->milter.mode_line, 2);
    assert_int_equal(c->policyd.warn_at, 95);
    assert_int_equal(c->policyd.warn_at_line, 5);
    ps_conf_free(c);
}

static void test_keys_section(void **state)
{
    (void)state;
    expect_error("[keys]\nk = example.com s1 /k.pem extra\n",
                 "t.conf:2: key 'k' in [keys]: needs 'domain selector "
                 "keyfile' (3 words, got 4)");
    expect_error("[keys]\nk = example s1 /k.pem\n",
                 "t.conf:2: key 'k' in [keys]: bad domain 'example': needs at "
                 "least two labels (like example.com)");
    expect_error("[keys]\nk = example.com s_1 /k.pem\n",
                 "t.conf:2: key 'k' in [keys]: bad selector 's_1': character "
                 "'_' at offset 1 is not allowed (letters, digits, '-' and "
                 "'.' only)");
    expect_error("[keys]\nk = example.com s1 k.pem\n",
                 "t.conf:2: key 'k' in [keys]: bad keyfile 'k.pem': must be "
                 "an absolute path");
    expect_error(
        "[keys]\nk = example.com s1 /a.pem\nk = example.com s2 /b.pem\n",
        "t.conf:3: repeated key 'k' in [keys] (first on line 2)");
    expect_error("[keys]\nk/1 = example.com s1 /a.pem\n",
                 "t.conf:2: bad key name 'k/1': use 1 to 64 letters, digits, "
                 "'.', '_' or '-'");
}

static void test_signing_section(void **state)
{
    ps_conf *c;

    (void)state;
    /* keys may be defined after the rules that use them */
    c = parse_ok("[signing]\n*.example.org = a,b\nexample.org = b\n[keys]\n"
                 "a = example.org s1 /a.pem\nb = example.org s2 /b.pem\n");
    assert_int_equal(c->nsigning, 2);
    assert_string_equal(c->signing[0].pattern, "*.example.org");
    assert_int_equal(c->signing[0].nkeys, 2);
    assert_string_equal(c->signing[0].keys[1], "b");
    assert_int_equal(c->signing[1].line, 3);
    ps_conf_free(c);
    expect_error("[signing]\nexample.org = a, a\n",
                 "t.conf:2: key 'a' named twice for 'example.org'");
    expect_error("[signing]\nexample.org = a\nEXAMPLE.org = b\n",
                 "t.conf:3: repeated key 'EXAMPLE.org' in [signing] (first on "
                 "line 2)");
    expect_error("[signing]\nexample.org = a,,b\n",
                 "t.conf:2: empty item in comma-separated list");
    expect_error("[signing]\n*example.org = a\n",
                 "t.conf:2: [signing]: bad pattern '*example.org' (expected "
                 "example.com or *.example.com): character '*' at offset 0 is "
                 "not allowed (letters, digits, '-' and '.' only)");
}

static void test_return_path_section(void **state)
{
    ps_conf *c;

    (void)state;
    c = parse_ok("[return_path]\ndomain = rp.example.com\n"
                 "secret_file = /s\nrewrite = example.com, *.example.org, "
                 "example.net=rp.example.net\n"
                 "max_age = 14\ndiscard_bounces = yes\n"
                 "local_transports = local, dovecot\n");
    assert_int_equal(c->return_path.rewrite.n, 3);
    assert_string_equal(c->return_path.rewrite.items[1], "*.example.org");
    {
        char pattern[PS_CONF_PATTERN_MAX];
        const char *bounce;
        assert_int_equal(ps_conf_rewrite_item(c->return_path.rewrite.items[2],
                                              pattern, sizeof(pattern),
                                              &bounce),
                         0);
        assert_string_equal(pattern, "example.net");
        assert_string_equal(bounce, "rp.example.net");
        assert_int_equal(ps_conf_rewrite_item("a.example", pattern,
                                              sizeof(pattern), &bounce),
                         0);
        assert_null(bounce);
    }
    assert_int_equal(c->return_path.rewrite.line, 4);
    assert_int_equal(c->return_path.max_age, 14);
    assert_int_equal(c->return_path.discard_bounces, 1);
    assert_int_equal(c->return_path.local_transports.n, 2);
    assert_string_equal(c->return_path.local_transports.items[1], "dovecot");
    ps_conf_free(c);
    expect_error("[return_path]\nrewrite = example.com\n",
                 "t.conf:2: rewrite in [return_path] needs secret_file, and "
                 "domain for a pattern without its own =BOUNCE-DOMAIN");
    expect_error("[return_path]\ndomain = rp.example.com\n"
                 "rewrite = example.com\n",
                 "t.conf:3: rewrite in [return_path] needs secret_file, and "
                 "domain for a pattern without its own =BOUNCE-DOMAIN");
    expect_error("[return_path]\nsecret_file = /s\n"
                 "rewrite = a.example=rp.a.example, b.example\n",
                 "t.conf:3: rewrite in [return_path] needs secret_file, and "
                 "domain for a pattern without its own =BOUNCE-DOMAIN");
    c = parse_ok("[return_path]\nsecret_file = /s\n"
                 "rewrite = a.example=rp.a.example\n");
    ps_conf_free(c);
    expect_error("[return_path]\nrewrite = a.example=rp_a\n",
                 "t.conf:2: bad rewrite 'a.example=rp_a': bad bounce domain "
                 "'rp_a' for 'a.example': character '_' at offset 2 is not "
                 "allowed (letters, digits, '-' and '.' only)");
    expect_error("[return_path]\nrewrite = example.com, *example.org\n",
                 "t.conf:2: bad rewrite 'example.com, *example.org': bad "
                 "pattern '*example.org' (expected example.com or "
                 "*.example.com): character '*' at offset 0 is not allowed "
                 "(letters, digits, '-' and '.' only)");
    expect_error("[return_path]\nmax_age = 0\n",
                 "t.conf:2: bad max_age '0': expected a number of days from 1 "
                 "to 365");
    expect_error("[return_path]\nmax_age = 7d\n",
                 "t.conf:2: bad max_age '7d': expected a number of days from "
                 "1 to 365");
    expect_error("[return_path]\ndiscard_bounces = true\n",
                 "t.conf:2: bad discard_bounces 'true': expected yes or no");
    expect_error("[return_path]\nlocal_transports = local, a/b\n",
                 "t.conf:2: bad local_transports 'local, a/b': character '/' "
                 "not allowed");
}

static void test_content_filters(void **state)
{
    ps_conf *c;
    ps_conf_filter f[2];
    ps_err err = {""};

    (void)state;
    c = parse_ok("[events]\ncontent_filters = 127.0.0.1:10024, [::1]:10024\n");
    assert_int_equal(c->events.content_filters.n, 2);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(ps_conf_filter_parse(
                             c->events.content_filters.items[i], &f[i], &err),
                         0);
    assert_true(ps_conf_filter_match(f, 2, "127.0.0.1", 10024));
    assert_true(ps_conf_filter_match(f, 2, "::1", 10024));
    assert_true(ps_conf_filter_match(f, 2, "0:0::1", 10024));
    assert_false(ps_conf_filter_match(f, 2, "127.0.0.1", 10025));
    assert_false(ps_conf_filter_match(f, 2, "127.0.0.2", 10024));
    assert_false(ps_conf_filter_match(f, 2, "localhost", 10024));
    ps_conf_free(c);
    expect_error("[events]\ncontent_filters = localhost:10024\n",
                 "t.conf:2: bad content_filters 'localhost:10024': "
                 "'localhost' is not an IP address");
    expect_error("[events]\ncontent_filters = 127.0.0.1\n",
                 "t.conf:2: bad content_filters '127.0.0.1': expected "
                 "ADDR:PORT or [IPv6]:PORT");
    expect_error("[events]\ncontent_filters = ::1:10024\n",
                 "t.conf:2: bad content_filters '::1:10024': expected "
                 "ADDR:PORT or [IPv6]:PORT");
    expect_error("[events]\ncontent_filters = 127.0.0.1:70000\n",
                 "t.conf:2: bad content_filters '127.0.0.1:70000': port must "
                 "be 1..65535");
}

static void test_limits_section(void **state)
{
    ps_conf *c;

    (void)state;
    c = parse_ok("[limits]\nclient_address:2001:db8::/32 = messages 5/1m\n"
                 "exempt = client_address:192.0.2.1, sender_domain:a.example\n"
                 "exempt = sasl_username:x\n"
                 "sender_domain = messages 10/1h\n");
    assert_int_equal(c->nlimits, 4);
    assert_limit(&c->limits[0], "client_address", "2001:db8::/32",
                 "messages 5/1m", 2);
    assert_limit(&c->limits[1], "exempt", NULL,
                 "client_address:192.0.2.1, sender_domain:a.example", 3);
    assert_limit(&c->limits[2], "exempt", NULL, "sasl_username:x", 4);
    assert_limit(&c->limits[3], "sender_domain", NULL, "messages 10/1h", 5);
    ps_conf_free(c);
    expect_error("[limits]\nsasl_username = a\nsasl_username = b\n",
                 "t.conf:3: repeated key 'sasl_username' in [limits] (first "
                 "on line 2)");
    expect_error("[limits]\nsasl_username:u = a\nsasl_username:u = b\n",
                 "t.conf:3: repeated key 'sasl_username:u' in [limits] (first "
                 "on line 2)");
    expect_error("[limits]\nsasl_username: = a\n",
                 "t.conf:2: 'sasl_username:' must be followed by 1 to 255 "
                 "bytes");
    expect_error("[limits]\nexempt = sasl_username\n",
                 "t.conf:2: exempt 'sasl_username' needs KIND:MATCH");
    expect_error("[limits]\nexempt = quota:x\n",
                 "t.conf:2: unknown limit kind 'quota' (expected "
                 "sasl_username, sender_domain, client_address or exempt)");
    expect_error("[limits]\nexempt:x = sasl_username:y\n",
                 "t.conf:2: 'exempt' takes no ':MATCH' (write exempt = "
                 "KIND:MATCH, ...)");
}

static void test_bad_bytes(void **state)
{
    static const char nul[] = "[milter]\nmode = si\0gn\n";
    ps_conf *c = NULL;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_conf_parse(nul, sizeof(nul) - 1, "t.conf", &c, &err),
                     -1);
    assert_null(c);
    assert_string_equal(err.msg, "t.conf:2: control character 0x00 in line");
    expect_error("[milter]\n\nmode = sign\x1b[2J\n",
                 "t.conf:3: control character 0x1b in line");
}

static char *repeat_line(const char *head, const char *line, size_t times)
{
    size_t hl = strlen(head), ll = strlen(line);
    char *buf = malloc(hl + ll * times + 1), *p;

    assert_non_null(buf);
    memcpy(buf, head, hl);
    p = buf + hl;
    for (size_t i = 0; i < times; i++, p += ll)
        memcpy(p, line, ll);
    *p = '\0';
    return buf;
}

static void test_size_limits(void **state)
{
    char *text, *value;
    ps_conf *c = NULL;
    ps_err err = {""};

    (void)state;
    value = repeat_line("[limits]\nsasl_username = ", "x", 4097);
    text = repeat_line(value, "\n", 1);
    expect_error(text, "t.conf:2: value of 'sasl_username' longer than 4096 "
                       "bytes");
    free(text);
    free(value);
    /* a value of exactly 4096 bytes is fine, and not cut in two */
    value = repeat_line("[limits]\nsasl_username = ", "y", 4096);
    c = parse_ok(value);
    assert_int_equal(strlen(c->limits[0].value), 4096);
    ps_conf_free(c);
    free(value);
    text = repeat_line("[limits]\n", "#", 5000);
    expect_error(text, "t.conf:2: line longer than 4416 bytes");
    free(text);
    text = repeat_line("[limits]\n", "exempt = sasl_username:a\n", 10001);
    expect_error(text, "t.conf:10002: more than 10000 entries");
    free(text);
    text = repeat_line("", "\n", 1024 * 1024 + 1);
    assert_int_equal(ps_conf_parse(text, strlen(text), "big.conf", &c, &err),
                     -1);
    assert_string_equal(err.msg, "big.conf: larger than 1048576 bytes");
    free(text);
}

static void test_load_errors(void **state)
{
    ps_conf *c = (ps_conf *)&c;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_conf_load("/nonexistent/postseal.conf", &c, &err), -1);
    assert_null(c);
    assert_string_equal(err.msg, "/nonexistent/postseal.conf: cannot open: "
                                 "No such file or directory");
    assert_int_equal(ps_conf_load("conf-examples", &c, &err), -1);
    assert_string_equal(err.msg, "conf-examples: not a regular file");
}

/* A file on disk reports errors under its own path. */
static void test_load_names_file(void **state)
{
    char path[] = "/tmp/ps_conf_XXXXXX", expect[256];
    ps_conf *c = NULL;
    ps_err err = {""};
    FILE *fp;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    fputs("[policyd]\nwarn_at = 80%\nstore = x\n", fp);
    fclose(fp);
    assert_int_equal(ps_conf_load(path, &c, &err), -1);
    snprintf(expect, sizeof(expect),
             "%s:3: bad store 'x': expected "
             "lmdb:PATH, redis://[USER:PASSWORD@]HOST[:PORT][/DB], "
             "unix:///PATH or redis-sentinel://HOST[:PORT],.../MASTER[/DB]",
             path);
    assert_string_equal(err.msg, expect);
    unlink(path);
}

static void test_null_name_and_free(void **state)
{
    ps_conf *c = NULL;
    ps_err err = {""};

    (void)state;
    assert_int_equal(ps_conf_parse("[x]\n", 4, NULL, &c, &err), -1);
    assert_string_equal(err.msg, "postseal.conf:1: unknown section '[x]'");
    ps_conf_free(NULL);
    assert_null(ps_conf_find_key(NULL, "k"));
    /* no text at all is an empty file */
    assert_int_equal(ps_conf_parse(NULL, 0, "n.conf", &c, &err), 0);
    assert_int_equal(c->policyd.warn_at, 80);
    ps_conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_shipped_example),
        cmocka_unit_test(test_empty_gives_defaults),
        cmocka_unit_test(test_exact_messages),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_milter_dkim_keys),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_comments_and_whitespace),
        cmocka_unit_test(test_crlf_and_bom),
        cmocka_unit_test(test_keys_section),
        cmocka_unit_test(test_signing_section),
        cmocka_unit_test(test_return_path_section),
        cmocka_unit_test(test_content_filters),
        cmocka_unit_test(test_limits_section),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_names_file),
        cmocka_unit_test(test_null_name_and_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
