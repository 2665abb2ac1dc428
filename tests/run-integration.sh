#!/bin/sh
# Runs the integration tests with Debian's python3 (the one that sees
# python3-dkim and friends), against the binaries in $POSTSEAL_BUILD.
# A test stuck past --timeout fails with its stack (pytest-timeout) instead
# of holding the run until CI's own limit; the longest takes ~2 minutes.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 -m pytest -p no:cacheprovider -v --timeout=900 tests/integration
