"""Facts of the sidecar's protocol that both ends rely on, declared once.

The sidecar (`server/`) imports these; the client and the dashboard read them here, so none of
them needs the other's code. What is here is what the contract (CONTRACT.md, the README) fixes:
paths, WebSocket message types and close codes, the error body, the Prometheus names of
`/metrics`, and the defaults a client assumes when nothing is configured.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any, Final

# Where a client finds the sidecar when nothing says otherwise (METRICS_API_URL / METRICS_WS_URL).
DEFAULT_API_URL: Final = "http://localhost:3000"
DEFAULT_WS_URL: Final = "ws://localhost:3000/ws/metrics"
# Seconds between snapshots (METRICS_INTERVAL): the spec's 5-second cadence.
DEFAULT_INTERVAL: Final = 5.0
# The spec's reconnection delays, in seconds; after the last one a client gives up.
BACKOFF: Final[tuple[float, ...]] = (1, 2, 4, 8, 16)

# Events one ingest request may carry (more gets 413).
MAX_BATCH_EVENTS: Final = 1000

WS_PATH: Final = "/ws/metrics"
REALTIME_PATH: Final = "/api/v1/analytics/realtime-metrics"
EVENTS_PATH: Final = "/api/v1/events"
TIMESERIES_PATH: Final = "/api/v1/analytics/timeseries"
TOP_CONTENT_PATH: Final = "/api/v1/analytics/content/top"
CATEGORIES_PATH: Final = "/api/v1/analytics/content/categories"
FUNNEL_PATH: Final = "/api/v1/analytics/funnel"
USERS_PATH: Final = "/api/v1/analytics/users"
ALERTS_PATH: Final = "/api/v1/alerts"


class MessageType(StrEnum):
    """The `type` of a WebSocket message (a StrEnum: each member is its string)."""

    # sidecar -> client
    METRICS = "metrics"  # {"type": "metrics", "data": <snapshot>}, on connect and every interval
    HISTORY = "history"  # the answer to a `history` request: {"data": [<snapshots, oldest first>]}
    ALERT = "alert"  # an alert transition, to sockets that subscribed
    TOP = "top"  # the live top content and categories (5 minutes, today), each interval, to sockets that subscribed
    PONG = "pong"
    SUBSCRIBED = "subscribed"  # the acknowledgement of `subscribe`: the feeds it named, {"alerts"?, "top"?}
    ERROR = "error"  # {"type": "error", "error": <the error body's inner object>}; the socket stays open
    DELTA = "delta"  # opt-in (?deltas=1): {"snapshotId", "base", "patch": <RFC 7386 merge patch>}
    RESUMED = "resumed"  # the answer to a resume: {"since": N}, then the missed snapshots, then live
    RESET = "reset"  # what was missed is not kept (or N is ahead): {"since", "oldest", "latest", "reason"}
    # client -> sidecar
    PING = "ping"
    SUBSCRIBE = "subscribe"  # {"type": "subscribe", "alerts"?: true | false, "top"?: true | false}
    AUTH = "auth"  # the first message, when the handshake carried no token: {"token": ...}
    RESUME = "resume"  # {"type": "resume", "since": <the last snapshotId received>}


class CloseCode(IntEnum):
    """The WebSocket close codes the sidecar uses (`server/ws.py` says when each is sent)."""

    GOING_AWAY = 1001  # the sidecar is shutting down
    POLICY_VIOLATION = 1008  # the client floods messages or ping frames, or reads none of its replies
    TOO_BIG = 1009  # a frame over the size limit (64 KB)
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # the client's address holds as many sockets as it may
    STALLED = 4008  # the client stopped reading its pushes
    UNAUTHORIZED = 4401  # no valid token in time
    FORBIDDEN = 4403  # the token lacks the `read` scope, or was revoked


# Closes that mean "these credentials will not do": retrying with them cannot help.
REFUSAL_CLOSE_CODES: Final = frozenset({CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN})
REFUSAL_HTTP_STATUSES: Final = frozenset({401, 403})


class ErrorCode(StrEnum):
    """The `code` of the contract's error body, on REST answers and WebSocket `error` messages."""

    BAD_REQUEST = "bad_request"
    INVALID_JSON = "invalid_json"
    INCOMPLETE_BODY = "incomplete_body"
    VALIDATION_ERROR = "validation_error"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNAVAILABLE = "unavailable"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL_ERROR = "internal_error"
    # WebSocket only
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    """The contract's error shape: `{"error": {"code", "message", "details"?}}` (no empty details)."""
    error: dict[str, Any] = {"code": str(code), "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def parse_error_body(body: Any) -> tuple[str, str, list[Any]] | None:
    """`(code, message, details)` of an error body; None when `body` does not have that shape."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None
    details = error.get("details")
    return str(error.get("code", "")), error["message"], list(details) if isinstance(details, list) else []


class PrometheusName(StrEnum):
    """Names of the sidecar's figures on `/metrics`, as declared (a counter's samples add `_total`)."""

    WS_CONNECTIONS = "metrics_ws_connections"
    WS_CLOSES = "metrics_ws_closes"
    WS_PUSHES = "metrics_ws_pushes"
    WS_SKIPPED = "metrics_ws_skipped"
    SNAPSHOTS = "metrics_snapshots"
    SNAPSHOTS_RECEIVED = "metrics_snapshots_received"
    SNAPSHOT_COMPUTE_SECONDS = "metrics_snapshot_compute_seconds"
    LEADER = "metrics_leader"
    SNAPSHOT_AGE_SECONDS = "metrics_snapshot_age_seconds"
    SNAPSHOT_STALE = "metrics_snapshot_stale"
    INGEST_REQUESTS = "metrics_ingest_requests"
    INGEST_EVENTS = "metrics_ingest_events"
    ALERT_WEBHOOK_DELIVERIES = "metrics_alert_webhook_deliveries"
    ALERT_WEBHOOK_QUEUE = "metrics_alert_webhook_queue"
    STREAM_RESUMES = "metrics_stream_resumes"
    STREAM_REPLAYED = "metrics_stream_replayed"
    SSE_CONNECTIONS = "metrics_sse_connections"
    SSE_PUSHES = "metrics_sse_pushes"
