#!/bin/sh
# Runs the integration tests with Debian's python3 (the one that sees
# python3-dkim and friends), against the binaries in $POSTSEAL_BUILD.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 -m pytest -p no:cacheprovider -v tests/integration
