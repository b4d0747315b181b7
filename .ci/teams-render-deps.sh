#!/bin/sh
# Installs what the Adaptive Card render check (tests/teams/test_render_adaptivecards.py)
# needs on a fresh Debian machine, as root: Debian's chromium, Node.js/npm if absent, and the
# pinned npm packages (adaptivecards, puppeteer-core) from tests/teams/render/package-lock.json.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=""
[ -x /usr/bin/chromium ] || need="$need chromium"
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
if [ -n "$need" ]; then
  apt-get update
  # shellcheck disable=SC2086
  apt-get install -y --no-install-recommends $need fonts-liberation ca-certificates
fi
# puppeteer-core never downloads a browser; the check drives /usr/bin/chromium.
(cd tests/teams/render && npm ci --no-audit --no-fund)
/usr/bin/chromium --version
