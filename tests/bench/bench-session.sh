#!/bin/bash
# The per-session milter benchmark (part of `make bench`): one message per
# milter connection, as Postfix opens for a transactional sender's SMTP
# session, through postseal-milter, opendkim and Rspamd (DKIM signing only),
# all on TCP loopback; CPU per message of each (all of Rspamd's processes),
# mean wall time per session, and the machine's bare RSA-2048 and Ed25519
# cost measured in the same run.
# Usage: tests/bench/bench-session.sh BUILD_DIR   (a benchmark, never a test)
#
# Environment: BENCH_SCALE (multiplies the message counts; 0.2 for a quick
# look), BENCH_CONNECTIONS (client workers of the CPU runs, default 2).
# Installs Debian's rspamd (apt-get, as root) when it is missing; its
# instance here is private: own configuration, directories and port under a
# temporary directory, /etc/rspamd is only read.
# Per algorithm and per daemon values are read through eval:
# shellcheck disable=SC2034,SC2154
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/bench/bench-lib.sh"
bench_init "$@"
CONN=${BENCH_CONNECTIONS:-2}
CLIENT=$B/tests/tools/milter_bench
FLOOR=$B/tests/tools/crypto_bench
KERNEL=$B/tests/tools/wakeup_bench

for f in "$B/postseal" "$B/postseal-milter" "$CLIENT" "$FLOOR" "$KERNEL"; do
    [ -x "$f" ] || { log "bench: $f not built (make $f)"; exit 2; }
done
command -v opendkim >/dev/null || { log "bench: opendkim not installed (make deps)"; exit 2; }
bench_install_rspamd
RSPAMD_USER=_rspamd
id "$RSPAMD_USER" >/dev/null 2>&1 || { log "bench: no user $RSPAMD_USER (Debian's rspamd creates it)"; exit 2; }

# Rspamd runs as its own user, so its copy of the keys lives in its own
# tree.
bench_workdir bench-session
RS=$(mktemp -d /tmp/postseal-bench-rspamd.XXXXXX)
cleanup() {
    stop_pids "${PIDS[@]}"
    rm -rf "$RS"
}

# Until the process tree uses no CPU for a second (Rspamd compiles its
# regular expressions after it listens), at most 120 s.
wait_idle() {
    local a b
    for _ in $(seq 1 120); do
        a=$(tree_ticks "$1")
        sleep 1
        b=$(tree_ticks "$1")
        [ $((b - a)) -le 1 ] && return 0
    done
}

# ---- keys and messages --------------------------------------------------------

"$B/postseal" keygen -d example.com -s benchr -a rsa -b 2048 -o "$W" >/dev/null
"$B/postseal" keygen -d example.com -s benche -a ed25519 -o "$W" >/dev/null
KEY_rsa=$W/example.com.benchr.pem
KEY_ed=$W/example.com.benche.pem
SEL_rsa=benchr
SEL_ed=benche
make_message "$W/m1k.eml" 1024
sed 's/^From: .*/From: Other <other@example.org>\r/' "$W/m1k.eml" >"$W/m1k-nosign.eml"

# ---- the three daemons ---------------------------------------------------------

start_postseal() {
    local alg=$1 port
    port=$(free_port)
    cat >"$W/postseal-$alg.conf" <<EOF
[milter]
socket = inet:$port@127.0.0.1
user = root
mode = sign
internal_hosts = 127.0.0.0/8

[keys]
bench = example.com $(eval echo "\$SEL_$alg \$KEY_$alg")

[signing]
example.com = bench
EOF
    "$B/postseal-milter" -f -c "$W/postseal-$alg.conf" 2>"$W/postseal-$alg.log" &
    PS_PID=$!
    PIDS+=("$PS_PID")
    PS_PORT=$port
    wait_port "$PS_PID" "$port"
}

start_opendkim() {
    local alg=$1 port
    port=$(free_port)
    opendkim_conf "$W" "$alg" "inet:$port@127.0.0.1" \
        "$(eval echo "\$SEL_$alg")" "$(eval echo "\$KEY_$alg")"
    opendkim -f -x "$W/opendkim-$alg.conf" 2>"$W/opendkim-$alg.log" &
    OD_PID=$!
    PIDS+=("$OD_PID")
    OD_PORT=$port
    wait_port "$OD_PID" "$port"
}

# Rspamd 3.4 as a pure DKIM signer: one rspamd_proxy worker in milter mode
# scanning in process (self_scan), settings that enable only DKIM_SIGNED
# for loopback clients, dkim_signing with the same key (Ed25519 as Rspamd
# reads it: the base64 of the 32-byte seed). Its stock modules are read
# from /etc/rspamd ($CONFDIR); everything it writes is under $RS/$alg.
start_rspamd() {
    local alg=$1 port d=$RS/$1 key
    port=$(free_port)
    mkdir -p "$d/local/local.d" "$d/db" "$d/run" "$d/log"
    if [ "$alg" = ed ]; then
        key=$d/key.b64
        openssl pkey -in "$KEY_ed" -outform DER | tail -c 32 | base64 -w0 >"$key"
    else
        key=$d/key.pem
        cp "$KEY_rsa" "$key"
    fi
    chmod 600 "$key"
    sed -e "s|@PORT@|$port|" "$ROOT/tests/bench/rspamd/rspamd.conf" >"$d/rspamd.conf"
    cp "$ROOT/tests/bench/rspamd/settings.conf" "$d/local/local.d/settings.conf"
    sed -e "s|@SELECTOR@|$(eval echo "\$SEL_$alg")|" -e "s|@KEY@|$key|" \
        "$ROOT/tests/bench/rspamd/dkim_signing.conf" >"$d/local/local.d/dkim_signing.conf"
    chown -R "$RSPAMD_USER:" "$RS"
    chmod 755 "$RS"
    rspamd -f -u "$RSPAMD_USER" -g "$(id -gn "$RSPAMD_USER")" -c "$d/rspamd.conf" \
        --var="LOCAL_CONFDIR=$d/local" --var="DBDIR=$d/db" --var="RUNDIR=$d/run" \
        --var="LOGDIR=$d/log" >"$d/stdout.log" 2>&1 &
    RS_PID=$!
    PIDS+=("$RS_PID")
    RS_PORT=$port
    # Loading its modules takes Rspamd seconds to a minute on a busy machine.
    for _ in $(seq 1 240); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$RS_PID" 2>/dev/null || { log "bench: rspamd died: $d/log/rspamd.log"; exit 1; }
        sleep 0.5
    done
}

# warm_up PORT: 200 sessions that must all be signed. Rspamd may answer
# its first messages with a temporary failure while it is still
# initialising after it listens: up to a minute of retries.
warm_up() {
    local line
    for _ in $(seq 1 30); do
        line=$("$CLIENT" --port "$1" --message "$W/m1k.eml" --messages 200 \
               --connections "$CONN" --per-conn 1 2>&1) && return 0
        sleep 2
    done
    log "bench: no signing at port $1 after warm-up: $line"
    exit 1
}

# ---- runs ---------------------------------------------------------------------

# run_cpu PID PORT MSG N EXPECT FROM OUTFILE: one message per connection;
# appends the CPU ticks the PID's process tree spent.
run_cpu() {
    local pid=$1 port=$2 msg=$3 n=$4 expect=$5 from=$6 out=$7 c0 c1 line
    c0=$(tree_ticks "$pid")
    if ! line=$("$CLIENT" --port "$port" --message "$msg" --messages "$n" \
                --connections "$CONN" --per-conn 1 --expect "$expect" --from "$from"); then
        log "bench: milter $pid at $port: $line"
        exit 1
    fi
    c1=$(tree_ticks "$pid")
    echo $((c1 - c0)) >>"$out"
}

# run_latency PORT MSG N OUTFILE: one client, sessions one after another;
# appends the run's seconds.
run_latency() {
    local line
    line=$("$CLIENT" --port "$1" --message "$2" --messages "$3" --connections 1 --per-conn 1)
    sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line" >>"$4"
}

us_per_msg() { awk -v hz="$HZ" -v n="$2" '{ t += $1 } END { printf "%.0f", t / hz * 1e6 / n }' "$1"; }
ms_per_msg() { awk -v n="$2" '{ t += $1 } END { printf "%.2f", t * 1000 / n }' "$1"; }

ROWS=()
# scenario ALG: postseal-milter, opendkim and Rspamd, each warmed up and
# idle, then three rounds alternating the three and the floor.
scenario() {
    local alg=$1 n lat half who floor
    n=$(scaled 2000)
    lat=$(scaled 300)
    start_postseal "$alg"
    start_opendkim "$alg"
    start_rspamd "$alg"
    for who in PS OD RS; do
        warm_up "$(eval echo "\$${who}_PORT")"
        wait_idle "$(eval echo "\$${who}_PID")"
    done
    half=$(( (n + 2) / 3 ))
    log "bench: $alg 1 KB, one message per connection: 3 rounds of $half messages each, $CONN connections"
    : >"$W/floor-$alg"
    for who in PS OD RS; do : >"$W/cpu-$alg-$who"; : >"$W/lat-$alg-$who"; done
    for _ in 1 2 3; do
        for who in PS OD RS; do
            run_cpu "$(eval echo "\$${who}_PID")" "$(eval echo "\$${who}_PORT")" \
                "$W/m1k.eml" "$half" 1 bench@example.com "$W/cpu-$alg-$who"
            run_latency "$(eval echo "\$${who}_PORT")" "$W/m1k.eml" "$(( (lat + 2) / 3 ))" \
                "$W/lat-$alg-$who"
        done
        "$FLOOR" "$(eval echo "\$KEY_$alg")" --message "$W/m1k.eml" --messages "$(scaled 1500)" \
            --threads "$CONN" |
            sed -n 's/.*cpu_us_per_msg=\([0-9.]*\).*/\1/p' >>"$W/floor-$alg"
    done
    floor=$(awk '{ t += $1 } END { printf "%.1f", t / NR }' "$W/floor-$alg")
    eval "FLOOR_$alg=$floor"
    ROWS+=("$alg|$floor|$(for who in PS OD RS; do
        printf '%s,%s ' "$(us_per_msg "$W/cpu-$alg-$who" $((3 * half)))" \
            "$(ms_per_msg "$W/lat-$alg-$who" $((3 * ((lat + 2) / 3))))"; done)")
    if [ "$alg" = ed ]; then
        log "bench: postseal-milter not signing, one message per connection"
        : >"$W/cpu-nosign"
        for _ in 1 2 3; do
            run_cpu "$PS_PID" "$PS_PORT" "$W/m1k-nosign.eml" "$half" 0 other@example.org \
                "$W/cpu-nosign"
        done
        NOSIGN=$(us_per_msg "$W/cpu-nosign" $((3 * half)))
    fi
    kill "$PS_PID" "$OD_PID" "$RS_PID" 2>/dev/null || true
    wait "$PS_PID" "$OD_PID" "$RS_PID" 2>/dev/null || true
}

START=$(date +%s)
scenario rsa
scenario ed

verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {
    ok = dir == ">=" ? v >= t : v <= t; printf "%s", ok ? "met" : "MISSED" }'; }

{
echo
echo "One message per milter connection (TCP loopback), 1 KB, $CONN client connections,"
echo "$(nproc) CPUs; opendkim $(opendkim -V 2>&1 | sed -n '1s/.*v//p'), $(rspamd --version 2>/dev/null | sed -n '1s/.*version //p' | sed 's/^/Rspamd /') (DKIM signing only)"
echo "(CPU = utime+stime per message of the milter's processes; wall = mean ms per"
echo " session with one client sending sessions one after another)"
echo "bare crypto on this machine, this run, $CONN threads signing at once as the milter does for"
echo "  $CONN client connections: RSA-2048 ${FLOOR_rsa} us, Ed25519 ${FLOOR_ed} us per 1 KB message"
"$KERNEL" --rounds 3000 --gap-us 0 | awk -F'[= ]' '{
    printf "bare kernel cost, this run (wakeup_bench, no milter code, back to back): a request %s us,\n", $2
    printf "  a connection accepted, answered once and closed %s us, %s us handed to a worker thread\n", $4, $6 }'
echo
printf '%-4s | %9s %9s %9s | %7s %7s %7s | %8s %-21s | %7s %-6s\n' alg "ours us" "odkim us" \
    "rspamd us" "ours ms" "odkim" "rspamd" "floor us" "ours vs floor" "rsp/us" target
for r in "${ROWS[@]}"; do
    IFS='|' read -r alg floor cols <<<"$r"
    read -r ps od rs <<<"$cols"
    ps_cpu=${ps%,*} od_cpu=${od%,*} rs_cpu=${rs%,*}
    if [ "$alg" = rsa ]; then
        fr=$(awk -v a="$ps_cpu" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
        vs="${fr}x $(verdict "$fr" 1.3 "<=")(<=1.3x)"
    else
        fr=$(awk -v a="$ps_cpu" -v b="$floor" 'BEGIN { printf "%.0f", a - b }')
        vs="+${fr} $(verdict "$fr" 100 "<=")(<=+100)"
    fi
    rr=$(awk -v a="$rs_cpu" -v b="$ps_cpu" 'BEGIN { printf "%.2f", a / b }')
    printf '%-4s | %9s %9s %9s | %7s %7s %7s | %8s %-21s | %7s %-6s\n' "$alg" "$ps_cpu" \
        "$od_cpu" "$rs_cpu" "${ps#*,}" "${od#*,}" "${rs#*,}" "$floor" "$vs" "${rr}x" \
        "$(verdict "$rr" 1.5 ">=")"
done
echo
echo "rsp/us: Rspamd's CPU per message / ours (target >= 1.5x)."
echo "postseal-milter not signing (From without a signing rule), one message per"
echo "  connection: $NOSIGN us per session (target <= 100): $(verdict "$NOSIGN" 100 "<=")"
echo
echo "total $(( $(date +%s) - START )) s; files in $W"
} | tee "$W/results.txt"
