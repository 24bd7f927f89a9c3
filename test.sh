#!/usr/bin/env bash
# The test suite: installs what it needs into .venv, then runs pytest (arguments pass through).
# PostgreSQL + Redis tests run when they answer on 127.0.0.1 (TEST_DATABASE_URL, TEST_REDIS_URL);
# without them they skip with the reason, except on CI (CI set), where they fail.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh requirements-dev.txt
.venv/bin/python -m ruff check .
exec .venv/bin/python -m pytest "$@"
