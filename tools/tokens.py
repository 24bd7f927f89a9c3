"""`python -m tools.tokens new --name NAME --scopes read[,ingest,admin]`: make an API token."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from server.auth import SCOPES, digest, new_token


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.tokens", description="Make an API token.")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="print a new token and the configuration line that admits it")
    new.add_argument("--name", required=True, help="who uses it (unique), e.g. dashboard")
    new.add_argument("--scopes", required=True, help=f"comma-separated: {', '.join(SCOPES)}")
    args = parser.parse_args(argv)
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    name = args.name.strip()
    if unknown or not scopes or not name or any(c in name for c in ":,") or not name.isprintable():
        parser.error(f"scopes must be among {', '.join(SCOPES)}; a name is printable, without ':' or ','")
    token = new_token()
    hashed = digest(token)
    print(f"token (give it to the client; it is shown once): {token}")
    print(f"METRICS_TOKENS entry: {name}:{'+'.join(scopes)}:{hashed}")
    # A JSON string is a TOML basic string too: quotes and backslashes in the name come out escaped.
    quoted = ", ".join(json.dumps(scope) for scope in scopes)
    print(f"METRICS_TOKENS_FILE entry:\n[[token]]\nname = {_toml_string(name)}\nscopes = [{quoted}]")
    print(f"sha256 = {_toml_string(hashed)}")
    return 0


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main())
