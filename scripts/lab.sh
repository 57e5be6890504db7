#!/usr/bin/env bash
# The README's main command: set up this machine, then build the lab and show PPv2 working end to end.
# Re-running it rebuilds the lab from scratch. `node bin/run.js lab down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
if node bin/run.js lab status --json | grep -q '"up": true'; then
  echo "[lab] a lab is already up: rebuilding it" >&2
  node bin/run.js lab down
fi
node bin/run.js lab up
