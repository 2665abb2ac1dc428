#!/bin/bash
# The webhook benchmark (`make bench`): ngx_http_webhook_verify_module against
# plain nginx proxying (the ceiling) and against Node's standardwebhooks
# verifying in the application, valid and forged, in one run. The cases are
# in tests/integration/test_nginx_bench.py; this installs what they need.
# Usage: tests/bench/bench-webhook.sh BUILD_DIR   (a benchmark, never part of make test)
#
# Environment: BENCH_SCALE (multiplies the number of rounds; 0.2 for a quick
# look), BENCH_ROUNDS (default 16), BENCH_SECONDS (per wrk run, default 2),
# BENCH_CONNECTIONS (default 8), BENCH_PIN (default 1: the servers under test
# on CPU 0, the upstream and wrk on CPU 1; 0 leaves placement to the
# scheduler). Results: BUILD_DIR/bench-webhook/results.txt.
set -euo pipefail

. "$(dirname "$0")/bench-lib.sh"
bench_args "$@" # B, ROOT
W=$B/bench-webhook
# Pinned, so that a run next year measures the same verifier.
NODE_PKG=standardwebhooks@1.1.1


[ -f "$B/ngx_http_webhook_verify_module.so" ] ||
    { log "bench-webhook: $B/ngx_http_webhook_verify_module.so not built (make)"; exit 2; }
bench_need_cmd wrk
command -v taskset >/dev/null || [ "${BENCH_PIN:-1}" = 0 ] ||
    { log "bench-webhook: taskset (util-linux) missing: install it or set BENCH_PIN=0"; exit 2; }
[ -x /usr/sbin/nginx ] || { log "bench-webhook: nginx not installed (make deps)"; exit 2; }
/usr/bin/python3 -c 'import pytest' 2>/dev/null ||
    { log "bench-webhook: python3-pytest not installed (make deps)"; exit 2; }

mkdir -p "$W"
rm -f "$W/results.txt"

# Node's verifier comes from the npm registry; without it the nginx cases
# still run and the results say why Node is missing.
NODE_MODULES=
export BENCH_NODE_SKIPPED=
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    BENCH_NODE_SKIPPED="node or npm not installed"
elif [ -f "$W/node_modules/standardwebhooks/package.json" ] &&
     grep -q "\"version\": \"${NODE_PKG#*@}\"" "$W/node_modules/standardwebhooks/package.json"; then
    NODE_MODULES=$W/node_modules
elif npm install --prefix "$W" --no-audit --no-fund --loglevel=error "$NODE_PKG" >"$W/npm.log" 2>&1; then
    NODE_MODULES=$W/node_modules
else
    BENCH_NODE_SKIPPED="npm install $NODE_PKG failed (registry unreachable? see $W/npm.log)"
fi
[ -z "$BENCH_NODE_SKIPPED" ] || log "bench-webhook: $BENCH_NODE_SKIPPED: the Node cases are skipped"

log "bench-webhook: rounds of 5 wrk runs (16 x BENCH_SCALE unless BENCH_ROUNDS); results in $W/results.txt"
cd "$ROOT"
POSTSEAL_BENCH=1 POSTSEAL_BUILD=$B POSTSEAL_NODE_MODULES=$NODE_MODULES BENCH_OUT=$W \
    /usr/bin/python3 -m pytest -p no:cacheprovider -q -s tests/integration/test_nginx_bench.py
