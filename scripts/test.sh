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
tests=(test/unit/*.test.ts test/packet/*.test.ts test/e2e/*.test.ts)
# One runner invocation, one file at a time: the end-to-end files share the kernel and bpffs. The spec
# report goes to the terminal; a TAP copy gives the totals for the plain closing line.
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
status=0
node --import tsx --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" "${tests[@]}" || status=$?
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
skipped=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
