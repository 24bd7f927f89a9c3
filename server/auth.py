"""API tokens with scopes: kept as SHA-256 hashes, compared in constant time.

Tokens come from `METRICS_TOKENS` (`name:scope+scope:sha256hex`, comma-separated) or from the
TOML file named by `METRICS_TOKENS_FILE` (`[[token]]` tables with `name`, `scopes`, `sha256`).
`python -m tools.tokens new --name NAME --scopes read` makes one and prints both forms.

Scopes: `read` (metrics, history, the socket), `ingest` (events), `metrics` (the Prometheus
figures of `/metrics`, for a scraper), `admin` (everything).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from server.errors import ConfigurationError

SCOPES = ("read", "ingest", "metrics", "admin")
_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class Token:
    name: str
    scopes: frozenset[str]
    sha256: str  # hex digest of the token; the token itself is never stored

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "mt_" + secrets.token_urlsafe(32)


def _entry(name: str, scopes: list[str], sha256: str, where: str) -> Token:
    unknown = sorted(set(scopes) - set(SCOPES))
    if not name or unknown or not scopes:
        raise ConfigurationError(f"{where}: a token needs a name and scopes from {', '.join(SCOPES)} (got {scopes})")
    sha256 = sha256.lower()
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ConfigurationError(f"{where}: token {name!r} needs the 64-hex-digit SHA-256 of the token, not the token")
    return Token(name, frozenset(scopes), sha256)


def parse_tokens(inline: str | None, file: str | None) -> tuple[Token, ...]:
    tokens: list[Token] = []
    for raw in (inline or "").split(","):
        if raw.strip():
            parts = raw.strip().split(":")
            if len(parts) != 3:
                raise ConfigurationError("METRICS_TOKENS entries are name:scope+scope:sha256")
            tokens.append(_entry(parts[0], parts[1].split("+"), parts[2], "METRICS_TOKENS"))
    if file:
        try:
            document = tomllib.loads(Path(file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"METRICS_TOKENS_FILE {file}: {exc}") from exc
        for table in document.get("token", []):
            tokens.append(
                _entry(str(table.get("name", "")), list(table.get("scopes", [])), str(table.get("sha256", "")), file)
            )
    names = [t.name for t in tokens]
    if len(set(names)) != len(names):
        raise ConfigurationError("token names must be unique")
    return tuple(tokens)


def authenticate(tokens: tuple[Token, ...], presented: str) -> Token | None:
    """The token whose hash matches, comparing against every entry (no early exit)."""
    candidate = digest(presented)
    found = None
    for token in tokens:
        if hmac.compare_digest(candidate, token.sha256):
            found = token
    return found
