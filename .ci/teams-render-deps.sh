#!/bin/sh
# Installs what the Adaptive Card render check (tests/teams/test_render_adaptivecards.py)
# needs on a fresh Debian machine, as root: Debian's chromium, Node.js/npm if absent, and the
# pinned npm packages (adaptivecards, puppeteer-core) from tests/teams/render/package-lock.json.
# Not root and something missing: one line, exit 0, and the render test skips (under CI=true
# it fails instead, so CI never passes without it).
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
chromium="${CLEARANCE_CHROMIUM:-/usr/bin/chromium}"
need=""
[ -x "$chromium" ] || need="$need chromium"
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "teams-render-deps:$need missing and not root; skipping the Adaptive Card render test" >&2
    exit 0
  fi
  apt-get update
  # shellcheck disable=SC2086
  apt-get install -y --no-install-recommends $need fonts-liberation ca-certificates
fi
# puppeteer-core never downloads a browser; the check drives /usr/bin/chromium.
(cd tests/teams/render && npm ci --no-audit --no-fund)
"$chromium" --version
