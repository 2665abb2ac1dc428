#!/bin/sh
# Fails when a C file differs from `clang-format --style=file` (the tree's
# own .clang-format), naming each file; `make format` rewrites them.
set -eu
cd "$(dirname "$0")/.."
files=$(find shared milter policyd nginx-module tests -name '*.[ch]' | sort)
bad=0
for f in $files; do
    if ! clang-format --style=file "$f" | cmp -s - "$f"; then
        echo "format: $f differs from clang-format --style=file" >&2
        bad=$((bad + 1))
    fi
done
[ "$bad" -eq 0 ] || { echo "format: $bad file(s) to reformat: make format" >&2; exit 1; }
echo "format: $(echo "$files" | wc -l) C files clean"
