#!/usr/bin/env bash
# Runs `cargo test` with the given arguments, shows its output, and ends with one line that
# totals every test binary's "test result:" line: "tests: N passed, N failed".
# Exits with cargo's status.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ {
	for (i = 1; i <= NF; i++) {
		if ($(i) ~ /^passed;?$/) p += $(i - 1)
		if ($(i) ~ /^failed;?$/) f += $(i - 1)
	}
} END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
