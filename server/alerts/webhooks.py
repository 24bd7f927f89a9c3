"""Webhooks that alert transitions are posted to: what `[[webhooks]]` in the rules file may say,
the bodies sent, and their signature.

[[webhooks]]
name = "ops"                          # unique; letters, digits, '-' and '_'; the only name logged
kind = "json"                         # "json" (the body below) or "slack" (an incoming webhook)
url = "https://hooks.example.com/metrics"   # or url_env = "VARIABLE" holding it (a Slack URL is a secret)
secret_env = "ALERT_WEBHOOK_SECRET"   # the variable holding the signing secret; required for "json"

Signature: with the secret's UTF-8 bytes as key, HMAC-SHA256 over
`<X-Metrics-Timestamp value> "." <the exact body bytes>`, sent as
`X-Metrics-Signature: sha256=<lowercase hex>`. The timestamp is Unix seconds at the attempt (a
retry is signed anew), so a receiver can refuse old or replayed requests; `id` in the body is the
same on every attempt of one transition, so it can drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from server.errors import ConfigurationError
from server.metrics import encode

Kind = Literal["json", "slack"]
KINDS: tuple[Kind, ...] = ("json", "slack")
SIGNATURE_HEADER = "X-Metrics-Signature"
TIMESTAMP_HEADER = "X-Metrics-Timestamp"
MIN_SECRET_LENGTH = 16  # characters: a short secret can be guessed offline from one signed body

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_KEYS = {"name", "kind", "url", "url_env", "secret_env"}


@dataclass(frozen=True)
class Webhook:
    name: str
    kind: Kind
    # Never logged nor shown: a Slack URL is itself the credential.
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)


def parse_webhooks(entries: Any, environ: Mapping[str, str], source: str) -> tuple[Webhook, ...]:
    """`[[webhooks]]` tables; URLs and secrets named by `*_env` are read from `environ`."""
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: 'webhooks' must be an array of tables ([[webhooks]])")
    webhooks: list[Webhook] = []
    for index, entry in enumerate(entries):
        where = f"{source}: webhook #{index + 1}"
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{where} must be a table")
        webhooks.append(_parse_webhook(entry, environ, where))
    names = [webhook.name for webhook in webhooks]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ConfigurationError(f"{source}: webhook names must be unique, repeated: {duplicated}")
    return tuple(webhooks)


def _parse_webhook(entry: Mapping[str, Any], environ: Mapping[str, str], where: str) -> Webhook:
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"{where}: 'name' must be 1-64 letters, digits, '-' or '_'")
    where = f"{where} ({name})"
    kind = entry.get("kind", "json")
    if kind not in KINDS:
        raise ConfigurationError(f"{where}: 'kind' must be one of {', '.join(KINDS)}; got {kind!r}")
    if ("url" in entry) == ("url_env" in entry):
        raise ConfigurationError(f"{where}: give exactly one of 'url' or 'url_env'")
    if "url" in entry:
        url, what = entry["url"], "'url'"
        if not isinstance(url, str):
            raise ConfigurationError(f"{where}: 'url' must be text")
    else:
        variable = _variable(entry["url_env"], f"{where}: 'url_env'")
        url, what = _from_environment(variable, environ, f"{where}: 'url_env'"), f"the URL in {variable}"
    # The URL itself never goes into the message: it may be the credential.
    check_url(url, f"{where}: {what}")
    secret: str | None = None
    if "secret_env" in entry:
        variable = _variable(entry["secret_env"], f"{where}: 'secret_env'")
        secret = _from_environment(variable, environ, f"{where}: 'secret_env'")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"{where}: the secret in {variable} must be at least {MIN_SECRET_LENGTH} characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)"
            )
    elif kind == "json":
        raise ConfigurationError(
            f"{where}: a json webhook needs 'secret_env', the environment variable holding its signing secret"
        )
    return Webhook(name, kind, url, secret)


def check_url(url: str, what: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)  # what will post to it must take it too
    except (ValueError, httpx.InvalidURL):
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an http:// or https:// URL with a host name")
    if parts.username is not None or parts.password is not None or parts.fragment or port == 0:
        raise ConfigurationError(f"{what} must not carry a user, a password, a fragment or port 0")


def _variable(raw: Any, what: str) -> str:
    if not isinstance(raw, str) or not _ENV_NAME.match(raw):
        raise ConfigurationError(f"{what} must name an environment variable (letters, digits, '_'); got {raw!r}")
    return raw


def _from_environment(variable: str, environ: Mapping[str, str], what: str) -> str:
    value = environ.get(variable, "").strip()
    if not value:
        raise ConfigurationError(f"{what}: the environment variable {variable} is not set (or empty)")
    return value


def targets(notify: Sequence[str] | None, webhooks: Sequence[Webhook]) -> list[Webhook]:
    """The webhooks a rule's transitions go to: those it names, or every one when it names none."""
    if notify is None:
        return list(webhooks)
    return [webhook for webhook in webhooks if webhook.name in notify]


def json_body(alert: Mapping[str, Any], origin: Mapping[str, str]) -> bytes:
    """The generic webhook's body: one transition, numbers exact (JSON numbers, never floats' noise)."""
    state = alert["state"]
    return encode(
        {
            "id": f"{alert['id']}-{state}",
            "alertId": alert["id"],
            "rule": alert["rule"],
            "severity": alert["severity"],
            "state": state,
            "metric": alert["metric"],
            "message": alert["message"],
            "value": alert["value"],
            "threshold": alert["threshold"],
            "at": alert["resolvedAt"] if state == "resolved" else alert["firedAt"],
            "firedAt": alert["firedAt"],
            "snapshotId": alert["snapshotId"],
            **origin,
        }
    )


def slack_body(alert: Mapping[str, Any]) -> bytes:
    """A Slack incoming webhook's `{"text": ...}`: one line saying what changed."""
    resolved = alert["state"] == "resolved"
    headline = ":white_check_mark: *Resolved*" if resolved else f":rotating_light: *Firing* ({alert['severity']})"
    at = alert["resolvedAt"] if resolved else alert["firedAt"]
    text = (
        f"{headline} `{alert['rule']}`: {_slack_escape(str(alert['message']))} "
        f"(value {_plain(alert['value'])}, threshold {_plain(alert['threshold'])}, "
        f"at {at}, snapshot {alert['snapshotId']})"
    )
    return encode({"text": text})


def body_for(webhook: Webhook, alert: Mapping[str, Any], origin: Mapping[str, str]) -> bytes:
    return slack_body(alert) if webhook.kind == "slack" else json_body(alert, origin)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 keyed by the secret over `timestamp` "." `body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _slack_escape(text: str) -> str:
    """Slack reads `&`, `<` and `>` as markup (links, mentions); a message shows them as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(value: Any) -> str:
    return format(value.normalize(), "f") if hasattr(value, "normalize") else str(value)
