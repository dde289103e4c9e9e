#!/usr/bin/env bash
# Installs what the tests need on a fresh machine and runs every check and test:
# system packages (Debian's chromium for the browser tests), npm packages, lint, format, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (Debian package) for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium at /usr/bin/chromium." >&2
    echo "Install it with: sudo apt-get install -y chromium" >&2
    echo "(or set SWITCHBOARD_SKIP_BROWSER=1 to skip the browser tests)" >&2
    [ -n "${SWITCHBOARD_SKIP_BROWSER:-}" ] || exit 1
  fi
fi

npm ci --no-audit --no-fund
npm run lint
npm run format:check
npm test
