#!/usr/bin/env bash
# Set up (if needed) and launch rigctl on the simulated rig.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh app
exec .venv/bin/rigctl gui "$@"
