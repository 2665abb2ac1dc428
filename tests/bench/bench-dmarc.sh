#!/bin/bash
# The verify-mode benchmark (part of `make bench`): postseal-milter checking
# DKIM, SPF and DMARC of inbound mail (DMARC on and off) against Debian's
# opendkim (verifying) chained with opendmarc (SPF by itself, DMARC from
# opendkim's Authentication-Results), both real milters; CPU per 1 KB
# message, RSA-2048 signed, with the DKIM key, SPF and DMARC records served
# by a private dnsmasq; the machine's bare RSA-2048 verify cost (`openssl
# speed`) measured in the same run. Session shapes: one message per
# connection (Postfix's common case) and one persistent connection per
# client worker.
# Usage: tests/bench/bench-dmarc.sh BUILD_DIR   (a benchmark, never a test)
#
# Environment: BENCH_SCALE (multiplies the message counts; 0.2 for a quick
# look), BENCH_CONNECTIONS (client workers, default 2), BENCH_ARC_CONF
# ([milter] lines for the third postseal-milter, DMARC and ARC on; default
# "arc = yes"; set empty to leave that column out). The message carries a
# two-hop ARC chain sealed by dkimpy (keys in the bench's dnsmasq); the
# first two postseal-milters run with arc = no.
# Needs root: the peers read /etc/resolv.conf, so opendmarc runs in its own
# mount namespace (unshare) where that file names the bench's dnsmasq, on
# port 53 of 127.0.83.1; nothing outside that namespace changes.
# Per daemon values (PID_x, SOCK_x) are set and read through eval:
# shellcheck disable=SC2154
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/bench/bench-lib.sh"
bench_init "$@"
CONN=${BENCH_CONNECTIONS:-2}
ARC_CONF=${BENCH_ARC_CONF-arc = yes}
CLIENT=$B/tests/tools/milter_bench
SIGNER=$B/tests/tools/dkim_sign_file
DNS_IP=127.0.83.1
AUTHSERV=bench.example.com
PEER_IP=192.0.2.10 # the SMTP client: not internal, SPF-authorized


for f in "$B/postseal" "$B/postseal-milter" "$CLIENT" "$SIGNER"; do
    [ -x "$f" ] || { log "bench: $f not built (make $f)"; exit 2; }
done
/usr/bin/python3 -c 'import dkim' 2>/dev/null ||
    { log "bench: dkimpy (python3-dkim) not installed: it seals the ARC chain"; exit 2; }
for c in opendkim opendmarc dnsmasq unshare openssl; do
    command -v "$c" >/dev/null || { log "bench: $c not installed (make deps)"; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { log "bench: needs root (unshare, port 53 on $DNS_IP)"; exit 2; }

bench_workdir bench-dmarc

# ---- the signed message and the DNS that vouches for it -----------------------

"$B/postseal" keygen -d example.com -s benchr -a rsa -b 2048 -o "$W" >"$W/dkim.zone"
make_message "$W/m1k.eml" 1024
"$SIGNER" --key "$W/example.com.benchr.pem" --domain example.com --selector benchr \
    <"$W/m1k.eml" >"$W/signed.eml"
# zone_txt ZONEFILE NAME: the record's strings, as dnsmasq takes them
# (s1,s2: base64 has no commas).
zone_txt() {
    sed -n "s/^${2//./\\.}\\. [0-9]* IN TXT \"\\(.*\\)\"\$/\\1/p" "$1" | sed 's/" "/,/g'
}
DKIM_TXT=$(zone_txt "$W/dkim.zone" benchr._domainkey.example.com)

# Two ARC hops on the signed message, as a list and then a forwarder would
# add them (each with its own Authentication-Results), sealed by dkimpy:
# DKIM still verifies (sealing only adds fields on top), and so does the
# chain, with a key per hop.
"$B/postseal" keygen -d lists.example.net -s arc1 -a rsa -b 2048 -o "$W" >"$W/arc1.zone"
"$B/postseal" keygen -d fwd.example.org -s arc2 -a rsa -b 2048 -o "$W" >"$W/arc2.zone"
ARC1_TXT=$(zone_txt "$W/arc1.zone" arc1._domainkey.lists.example.net)
ARC2_TXT=$(zone_txt "$W/arc2.zone" arc2._domainkey.fwd.example.org)
/usr/bin/python3 - "$W" <<'EOPY'
import sys
import dkim
w = sys.argv[1]
msg = open(f"{w}/signed.eml", "rb").read()
hops = [(b"arc1", b"lists.example.net", "lists.example.net.arc1.pem",
         b"dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com; "
         b"dmarc=pass header.from=example.com"),
        (b"arc2", b"fwd.example.org", "fwd.example.org.arc2.pem", b"arc=pass")]
for sel, dom, pem, res in hops:
    msg = b"Authentication-Results: " + dom + b"; " + res + b"\r\n" + msg
    arc = dkim.ARC(msg)
    hdrs = arc.sign(sel, dom, open(f"{w}/{pem}", "rb").read(), dom,
                    include_headers=arc.default_sign_headers())
    assert hdrs, "dkimpy did not seal"
    msg = b"".join(hdrs) + msg
open(f"{w}/arc.eml", "wb").write(msg)
EOPY

dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
    --listen-address="$DNS_IP" --port=53 --log-facility=- --user=root --pid-file= \
    --conf-file=/dev/null --local=/#/ \
    --txt-record="benchr._domainkey.example.com,$DKIM_TXT" \
    --txt-record="arc1._domainkey.lists.example.net,$ARC1_TXT" \
    --txt-record="arc2._domainkey.fwd.example.org,$ARC2_TXT" \
    --txt-record="example.com,v=spf1 ip4:$PEER_IP -all" \
    --txt-record="bench.example.com,v=spf1 ip4:$PEER_IP -all" \
    --txt-record="_dmarc.example.com,v=DMARC1; p=reject; rua=mailto:dmarc@example.com" \
    2>"$W/dnsmasq.log" &
PIDS+=("$!")
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/$DNS_IP/53") 2>/dev/null && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || { log "bench: dnsmasq did not start: $W/dnsmasq.log"; exit 1; }
    sleep 0.1
done
echo "nameserver $DNS_IP" >"$W/resolv.conf"

# ---- the daemons --------------------------------------------------------------

# start_ours NAME DMARC(yes|no) [EXTRA LINE]: a verify-mode postseal-milter
# on a unix socket; sets PID_NAME and SOCK_NAME.
start_ours() {
    local name=$1 sock=$W/$1.sock
    cat >"$W/$name.conf" <<EOF
[milter]
socket = unix:$sock
user = root
mode = verify
internal_hosts = 127.0.0.0/8
authserv_id = $AUTHSERV
resolver = $DNS_IP:53
dmarc = $2
${3:-}
EOF
    "$B/postseal-milter" -f -c "$W/$name.conf" 2>"$W/$name.log" &
    PIDS+=("$!")
    eval "PID_$name=$! SOCK_$name=$sock"
    wait_socket "$!" "$sock"
}

start_opendkim() {
    cat >"$W/opendkim.conf" <<EOC
Syslog                  no
Background              no
Mode                    v
Socket                  local:$W/opendkim.sock
AuthservID              $AUTHSERV
Nameservers             $DNS_IP
EOC
    opendkim -f -x "$W/opendkim.conf" 2>"$W/opendkim.log" &
    PIDS+=("$!")
    PID_odkim=$! SOCK_odkim=$W/opendkim.sock
    wait_socket "$PID_odkim" "$SOCK_odkim"
}

# opendmarc has no resolver setting: its own mount namespace gets a
# resolv.conf naming the bench's dnsmasq (for its SPF and DMARC lookups).
start_opendmarc() {
    cat >"$W/opendmarc.conf" <<EOC
Syslog                  false
Socket                  local:$W/opendmarc.sock
AuthservID              $AUTHSERV
TrustedAuthservIDs      $AUTHSERV
SPFSelfValidate         true
SPFIgnoreResults        true
RejectFailures          false
PublicSuffixList        /usr/share/publicsuffix/public_suffix_list.dat
EOC
    # shellcheck disable=SC2016 # expanded by that sh, from its arguments
    unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && exec opendmarc -f -c "$2"' \
        sh "$W/resolv.conf" "$W/opendmarc.conf" 2>"$W/opendmarc.log" &
    PIDS+=("$!")
    PID_odmarc=$! SOCK_odmarc=$W/opendmarc.sock
    wait_socket "$PID_odmarc" "$SOCK_odmarc"
}

# ---- runs ---------------------------------------------------------------------

# client SOCK MSG N PERCONN TEXT [more milter_bench options]: every message
# must come back with one Authentication-Results field holding TEXT.
client() {
    local sock=$1 msg=$2 n=$3 perconn=$4 text=$5
    shift 5
    "$CLIENT" --socket "$sock" --message "$msg" --messages "$n" --connections "$CONN" \
        --per-conn "$perconn" --client "$PEER_IP" --no-auth --expect 1 \
        --count Authentication-Results --count-text "$text" "$@"
}

# run_cpu WHO MSG N PERCONN TEXT OUTFILE: appends the CPU ticks of WHO.
run_cpu() {
    local who=$1 pid sock c0 c1 line
    pid=$(eval echo "\$PID_$who")
    sock=$(eval echo "\$SOCK_$who")
    c0=$(tree_ticks "$pid")
    if ! line=$(client "$sock" "$2" "$3" "$4" "$5"); then
        log "bench: $who: $line (log: $W/*.log)"
        exit 1
    fi
    c1=$(tree_ticks "$pid")
    echo $((c1 - c0)) >>"$6"
}

us_per_msg() { awk -v hz="$HZ" -v n="$2" '{ t += $1 } END { printf "%.0f", t / hz * 1e6 / n }' "$1"; }

start_ours dmarc_off no "arc = no"
start_ours dmarc_on yes "arc = no"
OURS="dmarc_off dmarc_on"
if [ -n "$ARC_CONF" ]; then
    start_ours dmarc_arc yes "$ARC_CONF"
    OURS="$OURS dmarc_arc"
fi
start_opendkim
start_opendmarc

# opendkim's verdict on the message, then the message as Postfix hands it
# to the next milter: with that field on top.
rm -f "$W/odkim-ar.txt"
client "$SOCK_odkim" "$W/arc.eml" 1 1 "dkim=pass" --save-added "$W/odkim-ar.txt" >/dev/null ||
    { log "bench: opendkim does not verify the message: $W/opendkim.log"; exit 1; }
cat "$W/odkim-ar.txt" "$W/arc.eml" >"$W/chained.eml"

# Warm-up, which also proves each one sees what it should; the fields
# each added to one message are shown with the results.
for who in $OURS; do
    client "$(eval echo "\$SOCK_$who")" "$W/arc.eml" 100 1 "dkim=pass" \
        --save-added "$W/$who-ar.txt" >/dev/null
done
client "$SOCK_dmarc_on" "$W/arc.eml" 20 1 "dmarc=pass" >/dev/null
if [ -n "$ARC_CONF" ]; then
    client "$SOCK_dmarc_arc" "$W/arc.eml" 20 1 "dmarc=pass" >/dev/null
    client "$SOCK_dmarc_arc" "$W/arc.eml" 20 1 "arc=pass" >/dev/null ||
        { log "bench: the ARC chain does not pass: $W/dmarc_arc.log"; exit 1; }
fi
client "$SOCK_odkim" "$W/arc.eml" 100 1 "dkim=pass" >/dev/null
client "$SOCK_odmarc" "$W/chained.eml" 100 1 "dmarc=pass" --save-added "$W/odmarc-ar.txt" >/dev/null

ROWS=()
# shape LABEL PERCONN N: three rounds alternating every milter and the
# floor, so drift in the machine's load hits all alike.
shape() {
    local label=$1 perconn=$2 n=$3 third who text row
    third=$(( (n + 2) / 3 ))
    log "bench: verify, $label: 3 rounds of $third messages each, $CONN connections"
    : >"$W/floor-$perconn"
    for who in $OURS odkim odmarc; do : >"$W/cpu-$perconn-$who"; done
    for _ in 1 2 3; do
        for who in $OURS; do
            case $who in
            dmarc_off) text="dkim=pass" ;;
            dmarc_arc) text="arc=pass" ;;
            *) text="dmarc=pass" ;;
            esac
            run_cpu "$who" "$W/arc.eml" "$third" "$perconn" "$text" "$W/cpu-$perconn-$who"
        done
        run_cpu odkim "$W/arc.eml" "$third" "$perconn" "dkim=pass" "$W/cpu-$perconn-odkim"
        run_cpu odmarc "$W/chained.eml" "$third" "$perconn" "dmarc=pass" "$W/cpu-$perconn-odmarc"
        rsa2048_verify_us >>"$W/floor-$perconn"
    done
    row="$label|$(awk '{ t += $1 } END { printf "%.1f", t / NR }' "$W/floor-$perconn")"
    for who in $OURS odkim odmarc; do
        row="$row|$(us_per_msg "$W/cpu-$perconn-$who" $((3 * third)))"
    done
    ROWS+=("$row")
}

START=$(date +%s)
shape "one message per connection" 1 "$(scaled 3000)"
shape "persistent connections" 0 "$(scaled 3000)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

{
echo
echo "Verify mode, 1 KB message RSA-2048 signed, then ARC-sealed by two hops (dkimpy,"
echo "RSA-2048, one key per hop); DKIM keys, SPF and DMARC (p=reject) in a private dnsmasq;"
echo "unix sockets, $CONN client connections, $(nproc) CPUs, one run;"
echo "opendkim $(opendkim -V 2>&1 | sed -n '1s/.*v//p') (Mode v) then opendmarc $(opendmarc -V 2>&1 | sed -n '1s/.*v//p')"
echo "(SPF itself, DKIM from opendkim's Authentication-Results), their CPU summed; no ARC"
echo "there: OpenARC is not packaged in Debian 12."
echo "(CPU = utime+stime per message of the milter's processes, us)"
echo
printf '%-27s | %7s %7s %7s | %7s %7s %7s | %9s %9s %9s | %8s %9s\n' shape "ours" "ours" "ours" \
    odkim odmarc chain "chain/" "on/off" "arc/on" "rsa2048" "ours on/"
printf '%-27s | %7s %7s %7s | %7s %7s %7s | %9s %9s %9s | %8s %9s\n' "" "dmarc" "dmarc" \
    "$([ -n "$ARC_CONF" ] && echo "dmarc" || echo "-")" "" "" sum "ours on" "" "" "verify" "verify"
printf '%-27s | %7s %7s %7s | %7s %7s %7s | %9s %9s %9s | %8s %9s\n' "" off on "+arc" "" "" "" "" "" "" "us" ""
for r in "${ROWS[@]}"; do
    IFS='|' read -r label floor off on rest <<<"$r"
    if [ -n "$ARC_CONF" ]; then
        IFS='|' read -r arc od om <<<"$rest"
        arcratio="$(ratio "$arc" "$on")x"
    else
        arc="-" arcratio="-"
        IFS='|' read -r od om <<<"$rest"
    fi
    chain=$((od + om))
    printf '%-27s | %7s %7s %7s | %7s %7s %7s | %8sx %8sx %9s | %8s %8sx\n' "$label" "$off" "$on" \
        "$arc" "$od" "$om" "$chain" "$(ratio "$chain" "$on")" "$(ratio "$on" "$off")" \
        "$arcratio" "$floor" "$(ratio "$on" "$floor")"
done
echo
echo "ours dmarc off/on: arc = no (DKIM and SPF; then DMARC); +arc: DMARC and [milter] $ARC_CONF"
echo "  (the two-hop chain validated: 2 ARC-Seals and 2 AMSs checked, 2 more key lookups)."
echo "chain/ours on: (opendkim + opendmarc) CPU per message / postseal-milter with DMARC."
echo "on/off: postseal-milter with DMARC / without: what DMARC adds; arc/on: with ARC / without."
echo "rsa2048 verify: openssl speed's cost of one RSA-2048 verification, measured in each"
echo "  round beside the milters (mean); ours on/verify: the whole verify-mode message"
echo "  (milter protocol, DKIM, SPF, DMARC and their DNS queries) in units of it."
echo "Load average at the end (the machine is shared): $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "What each added to one message:"
for f in $OURS odkim odmarc; do
    printf '  %-9s %s\n' "$f:" "$(tr -d '\r' <"$W/$f-ar.txt" | tr '\n\t' '  ' | tr -s ' ')"
done
echo
echo "total $(( $(date +%s) - START )) s; files in $W"
} | tee "$W/results.txt"
