"""The sidecar's exceptions, and the contract's JSON error shape, built here and nowhere else."""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import JSONResponse

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

    def headers(self) -> dict[str, str] | None:
        """HTTP headers that go with the answer (`Retry-After`, `WWW-Authenticate`)."""
        return None

    def response(self) -> JSONResponse:
        return JSONResponse(self.to_body(), status_code=self.status_code, headers=self.headers())


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


class IncompleteBody(MetricsError):
    """The client went away (or was cut off by the body deadline) before its whole body arrived."""

    status_code = 400
    code = "incomplete_body"


class UnsupportedMediaType(MetricsError):
    """A request body that is not declared as JSON (a cross-site form or text/plain post, say)."""

    status_code = 415
    code = "unsupported_media_type"


class Unavailable(MetricsError):
    """The database cannot be reached; the client should retry."""

    status_code = 503
    code = "unavailable"
    retry_after = 5

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached now; raised by server.storage in place of the driver's error."""

    def __init__(self, message: str = "the database cannot be reached; retry later") -> None:
        super().__init__(message)


class Unauthorized(MetricsError):
    """No API token, or one that is not valid."""

    status_code = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": 'Bearer realm="metrics"'}


class Forbidden(MetricsError):
    """A valid API token without the scope the call needs."""

    status_code = 403
    code = "forbidden"


class RateLimited(MetricsError):
    """Too many requests (or failed authentications) for now; retry after `retry_after` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(message or f"too many requests; retry in {self.retry_after} s")

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class BackendUnavailable(MetricsError):
    """The cache / fan-out backend (Redis) cannot be reached."""

    status_code = 503
    code = "backend_unavailable"
