#!/usr/bin/env bash
# Screenshots of the real window, every tab, at 1280x800 and 1920x1080, under Xvfb.
#
#   scripts/screenshots.sh [OUT_DIR]      (default: resources/screenshots)
#
# Writes OUT_DIR/<W>x<H>-<tab>.png (one `rigctl gui --screenshot` per size, each tab
# selected in turn). The window gets the whole screen of a fresh Xvfb of that size; the
# user's settings, data and logs are not read or written (temporary XDG folders).
# Needs xvfb-run (Debian: apt-get install xvfb libxcb-cursor0 libxkbcommon-x11-0 ...).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-resources/screenshots}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
if ! command -v xvfb-run >/dev/null; then
  echo "xvfb-run is missing: apt-get install xvfb (see the comment at the top)" >&2
  exit 1
fi
mkdir -p "$out"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for size in 1280x800 1920x1080; do
  rm -f "$out/$size"-*.png
  XDG_CONFIG_HOME="$scratch/config" RIGCTL_DATA_ROOT="$scratch/data" \
    RIGCTL_LOG_DIR="$scratch/log" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" \
    QT_QPA_PLATFORM=xcb timeout 120 \
    xvfb-run -a -s "-screen 0 ${size}x24 -nolisten tcp" \
    "$python" -m rigctl gui --size "$size" --screenshot "$out/$size-{tab}.png"
  ls "$out/$size"-*.png
done
