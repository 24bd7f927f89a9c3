#!/usr/bin/env bash
# The test suite: installs what it needs into .venv, checks lint, format and types, then runs
# pytest (arguments pass through).
# PostgreSQL + Redis tests run when they answer on 127.0.0.1 (TEST_DATABASE_URL, TEST_REDIS_URL);
# without them they skip with the reason, except on CI (CI set), where they fail. The same goes for
# the browser, proxy and pooler tests and Debian's chromium, nginx and pgbouncer, which this script
# installs when it runs as root.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh requirements-dev.txt
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy  # strict, on server/, the client, tools/ and dashboard/ (pyproject.toml)

# The browser test uses Debian's Chromium, the proxy and pooler tests Debian's nginx and PgBouncer
# (tests that need them skip with the reason, or fail on CI); install them where we may.
missing=()
for binary in /usr/bin/chromium:chromium /usr/sbin/nginx:nginx /usr/sbin/pgbouncer:pgbouncer; do
  [ -x "${binary%%:*}" ] || missing+=("${binary##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} for the browser, proxy and pooler tests" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
      echo "could not install ${missing[*]}: the tests that need them will skip, or fail on CI" >&2
  else
    echo "missing ${missing[*]} (install with apt-get as root): the tests that need them will skip, or fail on CI" >&2
  fi
fi

exec .venv/bin/python -m pytest "$@"
