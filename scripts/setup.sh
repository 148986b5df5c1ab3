#!/usr/bin/env bash
# Set up everything rigctl needs on a Debian/Ubuntu machine; safe to run again.
#   scripts/setup.sh [app|test]
# - installs the Debian libraries Qt needs that are missing (with sudo when not root),
# - creates .venv (Python >= 3.11) and installs rigctl with its test tools into it,
#   re-installing only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-test}"

say() { printf 'setup: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- Debian libraries
# Qt's offscreen platform (tests) needs GL, GLib, fontconfig, D-Bus and xkbcommon; a real
# window (the app, screenshots under Xvfb) also needs the xcb libraries.
debs=(libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0)
if [ "$purpose" = app ]; then
  debs+=(libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
         libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xfixes0)
fi
if [ "$purpose" = test ] && [ -n "${RIGCTL_XVFB:-}" ]; then
  debs+=(xvfb libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
         libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xfixes0)
fi
py="${PYTHON:-python3}"
if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then debs+=(python3-venv); fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for d in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'ok installed' || missing+=("$d")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- Python environment
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "rigctl needs Python 3.11 or newer; $("$py" --version 2>&1) found (set PYTHON=...)"
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$py" -m venv .venv
fi
stamp=.venv/.rigctl-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c 'import rigctl' 2>/dev/null; then
  say "installing rigctl and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
