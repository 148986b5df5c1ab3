#!/usr/bin/env bash
# Set up (if needed) and launch rigctl on the simulated rig.
set -euo pipefail
cd "$(dirname "$0")/.."
# Without a display Qt aborts with a misleading "libxcb-cursor0 is needed"; say what is wrong.
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] \
   && [ "${QT_QPA_PLATFORM:-}" != offscreen ] && [ "${QT_QPA_PLATFORM:-}" != minimal ]; then
  echo "no display: run under a desktop session or xvfb-run" >&2
  exit 1
fi
scripts/setup.sh app
exec .venv/bin/rigctl gui "$@"
