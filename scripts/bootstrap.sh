# Sourced by run.sh and test.sh: make .venv with Python >= 3.11 and install the pinned
# requirements into it (again only when a lock file changed).
# Usage: source scripts/bootstrap.sh requirements.txt|requirements-dev.txt

_requirements="${1:-requirements.txt}"

_find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  _python=$(_find_python) || { echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
  echo "creating .venv with $($_python --version)" >&2
  "$_python" -m venv .venv
fi

# What is installed is the lock file beside the requirements file named (requirements.lock for
# requirements.txt): every package pinned with its hashes, so a tampered or changed file is
# refused. The client package (./client) goes in editable and without dependencies: the lock has them.
_lock="${_requirements%.txt}.lock"
_stamp=".venv/.installed-$(cat "$_lock" client/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$_stamp" ]; then
  echo "installing $_lock into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$_lock"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e ./client
  touch "$_stamp"
fi
