#!/usr/bin/env bash
# The test suite: installs what it needs into .venv, then runs pytest (arguments pass through).
# PostgreSQL + Redis tests run when they answer on 127.0.0.1 (TEST_DATABASE_URL, TEST_REDIS_URL);
# without them they skip with the reason, except on CI (CI set), where they fail. The same goes for
# the browser test and Debian's Chromium, which this script installs when it runs as root.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh requirements-dev.txt
.venv/bin/python -m ruff check .

# The browser test (tests/e2e) uses Debian's Chromium; install it where we may.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the browser test" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
      echo "could not install chromium: the browser test will skip, or fail on CI" >&2
  else
    echo "no /usr/bin/chromium (install it with apt-get as root): the browser test will skip, or fail on CI" >&2
  fi
fi

exec .venv/bin/python -m pytest "$@"
