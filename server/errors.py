"""The sidecar's exceptions; `server.routes` turns each into the contract's JSON error shape."""

from __future__ import annotations

from typing import Any

from metrics_client.protocol import error_body


class MetricsError(Exception):
    """Base of every error the sidecar raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class ConfigurationError(MetricsError):
    """The environment asks for something the sidecar cannot run with."""


class InvalidJSON(MetricsError):
    """The request body is not valid JSON."""

    status_code = 400
    code = "invalid_json"


class ValidationFailed(MetricsError):
    """One or more events break the contract; `details` lists each problem by index and field."""

    status_code = 422
    code = "validation_error"


class Conflict(MetricsError):
    """An event contradicts what is stored (impossible status move, differing repeated field)."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(MetricsError):
    """More events, or more bytes, than one request may carry."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(MetricsError):
    """A request body that is not declared as JSON (a cross-site form or text/plain post, say)."""

    status_code = 415
    code = "unsupported_media_type"


class Unavailable(MetricsError):
    """The database cannot be reached; the client should retry."""

    status_code = 503
    code = "unavailable"
    retry_after = 5


class BackendUnavailable(MetricsError):
    """The cache / fan-out backend (Redis) cannot be reached."""

    status_code = 503
    code = "backend_unavailable"
