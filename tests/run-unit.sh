#!/bin/sh
# Runs every unit-test binary given, lets each print its own cmocka report,
# and ends with one summary line; exits non-zero if any binary failed.
passed=0 failed=0
for t in "$@"; do
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit test programs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
