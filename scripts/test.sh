#!/usr/bin/env bash
# The test command (README): set up, then lint, type-check, and run the unit, packet and end-to-end suites.
# Packet tests (the datapath under BPF_PROG_TEST_RUN, seconds) and end-to-end tests need root; under
# CI=true a missing prerequisite fails them instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
npm run --silent lint
npx tsc -p tsconfig.test.json

shopt -s nullglob
taps=()
trap 'rm -f "${taps[@]}"' EXIT
status=0

# run CONCURRENCY FILE...: one runner invocation; the spec report goes to the terminal, a TAP copy gives
# the totals for the plain closing line.
run() {
  local concurrency=$1 tap
  shift
  tap=$(mktemp)
  taps+=("$tap")
  node --import tsx --test --test-concurrency="$concurrency" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "$@" || status=1
}

# Unit tests are pure (no kernel, no namespaces): their files run side by side, one per core.
run "$(nproc)" test/unit/*.test.ts
# Packet and end-to-end files share the kernel and bpffs: one file at a time.
run 1 test/packet/*.test.ts test/e2e/*.test.ts

# The last top-level "# pass N" of each run's TAP, added up.
total() {
  local tap n=0
  for tap in "${taps[@]}"; do n=$((n + $(sed -n "s/^# $1 \([0-9]*\)\$/\1/p" "$tap" | tail -n 1 | grep . || echo 0))); done
  echo "$n"
}
echo "$(total pass) passed, $(total fail) failed, $(total skipped) skipped"
exit "$status"
