#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser test (playwright-core drives it; no
# browser is ever downloaded). Installs it with apt-get when running as root.
set -euo pipefail
BIN="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$BIN" ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser test..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  exit 0
fi
echo "Chromium is missing at $BIN. Install it ('sudo apt-get install -y chromium') or set CHROMIUM_PATH." >&2
exit 1
