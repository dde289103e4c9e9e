#!/usr/bin/env bash
# Installs what the tests need on a fresh machine and runs every check and test:
# system packages (Debian's chromium for the browser tests, redis-server for the Redis engine's
# tests, which start their own on free ports), npm packages, lint, format, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/redis-server ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing redis-server (Debian package) for the Redis engine tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "The Redis engine tests need Debian's redis-server at /usr/bin/redis-server." >&2
    echo "Install it with: sudo apt-get install -y redis-server" >&2
    exit 1
  fi
fi

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
