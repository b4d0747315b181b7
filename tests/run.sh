#!/usr/bin/env bash
# The whole test suite on a fresh machine: system packages the tests need (as root, only
# when missing), a virtualenv with the project and its test extras, then pytest.
# Usage: bash tests/run.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "tests/run.sh: missing system packages ($*); install them or run as root" >&2
    return 0
  fi
  [ -n "${_apt_updated:-}" ] || { apt-get update -qq >/dev/null; _apt_updated=1; }
  apt-get install -y -qq "$@" >/dev/null
}

pg_answers() {
  python3 - "$@" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(); s.settimeout(2)
sys.exit(0 if s.connect_ex(("127.0.0.1", 5432)) == 0 else 1)
PY
}

# PostgreSQL: the tests use the server at 127.0.0.1:5432 when one answers, else they start a
# throwaway cluster from Debian's postgresql package (as the postgres user).
if ! pg_answers && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "tests/run.sh: no PostgreSQL at 127.0.0.1:5432; installing Debian's postgresql package" >&2
  apt_install postgresql
fi

# Adaptive Card rendering (Teams) runs the official renderer in headless Chromium.
# Not root and something missing: the script says so in one line and the render test skips.
if [ -f .ci/teams-render-deps.sh ]; then
  bash .ci/teams-render-deps.sh >/dev/null || \
    echo "tests/run.sh: Adaptive Card render dependencies could not be installed; the render test will skip" >&2
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q -e ".[test]"
.venv/bin/python -c "import bot, adapters, graph" # fail early if the install did not work

.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
