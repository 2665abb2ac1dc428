#!/bin/sh
# Runs each libFuzzer target for SECONDS on its seed corpus
# (tests/fuzz/corpus/NAME, copied so the seeds stay clean); stops at the
# first crash and keeps its reproducer in build-fuzz/.
set -eu
secs=$1; shift
for f in "$@"; do
    name=$(basename "$f"); name=${name#fuzz_}
    work=build-fuzz/corpus/$name
    mkdir -p "$work"
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
    echo "fuzz: $name for ${secs}s"
    "$f" -max_total_time="$secs" -print_final_stats=0 -artifact_prefix=build-fuzz/crash-$name- \
        "$work" 2>build-fuzz/$name.log || { tail -40 build-fuzz/$name.log; exit 1; }
    grep -E '^(#[0-9]+ +DONE|Done)' build-fuzz/$name.log | tail -1 || true
done
