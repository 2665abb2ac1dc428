# Shell functions the benchmark scripts share (sourced, not run): loopback
# ports for the servers they start, waiting for those to listen, CPU of
# process trees, and the machine's bare crypto cost.

log() { printf '%s\n' "$*" >&2; }

# bench_args "$@": the one argument of every bench script, BUILD_DIR:
# sets B (that directory, absolute) and ROOT (the source tree), or exits 2
# with the usage line.
# shellcheck disable=SC2034 # B and ROOT are the caller's
bench_args() {
    if [ $# -ne 1 ]; then
        echo "usage: $0 BUILD_DIR" >&2
        exit 2
    fi
    B=$(cd "$1" && pwd)
    ROOT=$(cd "$(dirname "$0")/../.." && pwd)
}

# bench_init "$@": bench_args, and the start every milter benchmark
# shares: SCALE (BENCH_SCALE, default 1) and HZ (clock ticks per second of
# /proc's CPU times).
# shellcheck disable=SC2034 # SCALE and HZ are for the sourcing script
bench_init() {
    bench_args "$@"
    SCALE=${BENCH_SCALE:-1}
    HZ=$(getconf CLK_TCK)
}

# bench_workdir NAME: W=$B/NAME, emptied and private (opendkim refuses a
# key or configuration below a directory others can write to); PIDS, the
# servers started, are stopped at exit by cleanup (a script that has more
# to clean up defines its own cleanup after this).
# shellcheck disable=SC2034 # W and PIDS are for the sourcing script
bench_workdir() {
    W=$B/$1
    rm -rf "$W"
    mkdir -p "$W"
    chmod 700 "$W"
    PIDS=()
    cleanup() { stop_pids "${PIDS[@]}"; }
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

# scaled N: N times $SCALE (BENCH_SCALE), whole, at least $SCALE_MIN
# (default 20).
scaled() {
    awk -v n="$1" -v s="$SCALE" -v m="${SCALE_MIN:-20}" \
        'BEGIN { v = int(n * s); print (v < m ? m : v) }'
}

# tree_ticks PID: CPU ticks (utime+stime) of a process and of its children
# (Rspamd: main, proxy with self_scan, hs_helper).
tree_ticks() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# rsa2048_verify_us: microseconds per RSA-2048 verification on this
# machine now, from `openssl speed` (one second of each operation).
rsa2048_verify_us() {
    openssl speed -seconds 1 rsa2048 2>/dev/null |
        awk '$1 == "rsa" && $2 == "2048" { printf "%.1f\n", 1e6 / $NF }'

}

# bench_need_built FILE...: exits 2, naming the first FILE that is not
# an executable (not built).
bench_need_built() {
    local f
    for f in "$@"; do
        [ -x "$f" ] || { log "$(basename "$0" .sh): $f not built (make $f)"; exit 2; }
    done
}

# bench_need_cmd CMD: exits 2 unless CMD is installed (make deps does).
bench_need_cmd() {
    command -v "$1" >/dev/null ||
        { log "$(basename "$0" .sh): $1 not installed (make deps)"; exit 2; }
}

# A loopback port nobody listens on (ports are only probed, so a race with
# another process is possible but harmless: the server would fail to start).
# Below the kernel's ephemeral range (32768 up), where a busy client's own
# connections would make bind() fail on a port nobody listens on.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# wait_port PID PORT: 0 once PORT accepts, 1 (and a log line) if PID died
# or 15 s passed; the caller defines log().
wait_port() {
    local pid=$1 port=$2
    for _ in $(seq 1 150); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "$(basename "$0"): server $pid did not listen on $port"
    return 1
}

# wait_socket PID PATH: the same for a unix-domain socket (the file exists
# and is a socket; the servers create it only once they listen).
wait_socket() {
    local pid=$1 path=$2
    for _ in $(seq 1 150); do
        [ -S "$path" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "$(basename "$0"): server $pid did not listen on $path"
    return 1
}

# make_message FILE BYTES: a plain submission of about BYTES: a folded
# Subject, text lines of 64 bytes with CRLF.
make_message() {
    local out=$1 bytes=$2
    {
        printf 'From: Bench Sender <bench@example.com>\r\n'
        printf 'To: Recipient <rcpt@example.net>\r\n'
        printf 'Subject: a benchmark message of %s bytes,\r\n\tfolded once\r\n' "$bytes"
        printf 'Date: Mon, 05 Jan 2026 10:00:00 +0000\r\n'
        printf 'Message-ID: <bench-%s@example.com>\r\n' "$bytes"
        printf 'MIME-Version: 1.0\r\n'
        printf 'Content-Type: text/plain; charset=utf-8\r\n'
        printf 'X-Mailer: milter_bench\r\n'
        printf '\r\n'
        awk -v n=$((bytes / 64)) 'BEGIN {
            for (i = 0; i < n; i++)
                printf "%06d The quick brown fox jumps over the lazy dog 0123456789 ab\r\n", i }'
    } >"$out"
}

# opendkim_conf DIR ALG SOCKET SELECTOR KEY: DIR/opendkim-ALG.conf (with its
# KeyTable and SigningTable) signing example.com relaxed/relaxed with KEY;
# SOCKET in postseal spelling (unix:PATH or inet:PORT@HOST).
opendkim_conf() {
    local dir=$1 alg=$2 sock=$3 sel=$4 key=$5
    cat >"$dir/opendkim-$alg.conf" <<EOC
Syslog                  no
Background              no
Mode                    s
Canonicalization        relaxed/relaxed
Socket                  ${sock/#unix:/local:}
InternalHosts           127.0.0.1
KeyTable                refile:$dir/KeyTable-$alg
SigningTable            refile:$dir/SigningTable-$alg
SignatureAlgorithm      $([ "$alg" = ed ] && echo ed25519-sha256 || echo rsa-sha256)
EOC
    echo "bench example.com:$sel:$key" >"$dir/KeyTable-$alg"
    echo "*@example.com bench" >"$dir/SigningTable-$alg"
}

# Debian's rspamd, a peer of the per-session benchmark only (no test needs
# it, so tests/deps.sh does not list it): installed here when missing,
# without starting its system service (policy-rc.d, as tests/deps.sh).
bench_install_rspamd() {
    command -v rspamd >/dev/null && return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "bench: rspamd is not installed; run as root or: apt-get install rspamd"
        exit 2
    fi
    log "bench: installing Debian's rspamd (benchmark peer)"
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rspamd >&2 ||
        { apt-get update -q >&2 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rspamd >&2; }
    [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

# stop_pids PID...: TERM, up to 10 s to drain (opendkim and Rspamd take a
# moment), then KILL: no server of a benchmark is left behind.
stop_pids() {
    local p alive
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 1 20); do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.5
    done
    for p in "$@"; do kill -9 "$p" 2>/dev/null || true; done
}

# scrape_metrics PORT COUNTFILE [COMMAND PREFIX, e.g. taskset -c 1]: GET
# /metrics on 127.0.0.1:PORT once a second, as Prometheus would, until
# killed; COUNTFILE holds the number of good scrapes (a run with metrics on
# reports it, to show it was scraped). Run it with &: it execs, so $! is
# the scraper itself.
scrape_metrics() {
    exec "${@:3}" /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
port, out, n = sys.argv[1], sys.argv[2], 0
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            r.read()
            n += r.status == 200
    except OSError:
        pass
    with open(out, "w") as f:
        f.write(f"{n}\n")
    time.sleep(1)
PY
}
