"""The route list and its small endpoints; errors become the contract's JSON error shape."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from metrics_client.protocol import error_body
from server.alerts.monitor import AlertsQuery
from server.analytics import endpoints as analytics
from server.errors import (
    DatabaseUnavailable,
    IncompleteBody,
    MetricsError,
    PayloadTooLarge,
    Unavailable,
    UnsupportedMediaType,
)
from server.events import parse_json
from server.hub import SnapshotHub
from server.metrics import encode
from server.observability import SidecarMetrics
from server.openapi import openapi_json
from server.query import parse_query
from server.service import MetricsService
from server.sse import STREAM_PATH, event_stream
from server.storage import db
from server.ws import metrics_socket

log = logging.getLogger("server.routes")

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


async def health(request: Request) -> Response:
    """ok; degraded (with the reasons) while Redis is away or the numbers served are stale; down (503)
    while the database cannot be reached."""
    service: MetricsService = request.state.service
    hub: SnapshotHub = request.state.hub
    reasons: list[str] = []
    database = "ok"
    try:
        await db.ping(service.engine)
    except DatabaseUnavailable:
        database = "down"
        reasons.append("the database cannot be reached")
    cache = "n/a"
    if service.backend.name != "memory":
        try:
            async with asyncio.timeout(2.0):
                await service.backend.ping()
        except Exception:
            cache = "down"
            reasons.append("Redis does not answer; snapshots are relayed through the database")
        else:
            # Commands answering is not enough: pub/sub must still carry the snapshots.
            if hub.relaying(service.settings.pubsub_silence):
                cache = "ok"
            else:
                cache = "down"
                reasons.append("Redis carries no snapshots; they are relayed through the database")
    stale = hub.stale_reason()
    if stale is not None:
        reasons.append(f"the numbers served are stale: {stale}")
    if database != "ok":
        status, code = "down", 503
    elif reasons:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body: dict[str, Any] = {"status": status, "database": database, "cache": cache}
    if reasons:
        body["reason"] = "; ".join(reasons)
    return JSONResponse(body, status_code=code, headers={"Cache-Control": "no-store"})


async def realtime_metrics(request: Request) -> Response:
    hub: SnapshotHub = request.state.hub
    current = hub.current()
    if current is None:
        raise Unavailable("no snapshot has been computed yet")
    return Response(current.encoded, media_type="application/json", headers={"Cache-Control": "no-store"})


async def alerts(request: Request) -> Response:
    service: MetricsService = request.state.service
    query = parse_query(AlertsQuery, request.query_params)
    assert service.alerts is not None
    hub: SnapshotHub = request.state.hub
    # A snapshot's numbers count as "now" only while fresh: a stale one's are left out.
    fresh = hub.latest if hub.latest is not None and hub.stale_reason() is None else None
    listing = await service.alerts.listing(query.limit, fresh.data if fresh else None, service.now())
    return Response(encode(listing), media_type="application/json", headers={"Cache-Control": "no-store"})


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # A client's doing, not a fault: nothing is stored, and the answer goes nowhere.
        raise IncompleteBody("the connection closed before the whole body arrived; nothing was stored") from None
    return b"".join(chunks)


def _require_json(request: Request) -> None:
    """Events come as `application/json`. Any web page may post `text/plain`, a form or multipart
    to any address without asking first; only JSON needs the CORS preflight this sidecar refuses
    to other origins, so no page can write events into a sidecar on its visitor's machine."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(
            f"send events as application/json (Content-Type: application/json), not {media_type or 'no type'}"
        )


async def ingest_events(request: Request) -> Response:
    service: MetricsService = request.state.service
    observability: SidecarMetrics = request.state.observability
    try:
        _require_json(request)
        body = await _read_body(request, service.settings.max_body_bytes)
        result = await service.ingest(parse_json(body))
    except MetricsError as exc:
        observability.ingest_requests.labels(exc.code).inc()
        raise
    observability.ingest_requests.labels("ok").inc()
    observability.ingest_events.labels("accepted").inc(result.accepted)
    observability.ingest_events.labels("duplicate").inc(result.duplicates)
    return JSONResponse({"accepted": result.accepted, "duplicates": result.duplicates})


async def openapi_schema(request: Request) -> Response:
    settings = request.state.service.settings
    return Response(openapi_json(settings.currency, settings.max_batch_events), media_type="application/json")


async def prometheus_metrics(request: Request) -> Response:
    observability: SidecarMetrics = request.state.observability
    return Response(observability.render(), media_type=observability.content_type)


async def metrics_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MetricsError)
    return exc.response()


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = error_body(_HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return MetricsError("an unexpected error occurred; it has been logged").response()


routes: list[BaseRoute] = [
    Route("/health", health, methods=["GET"]),
    Route("/api/v1/analytics/realtime-metrics", realtime_metrics, methods=["GET"]),
    Route("/api/v1/analytics/timeseries", analytics.timeseries, methods=["GET"]),
    Route("/api/v1/analytics/content/top", analytics.top_content, methods=["GET"]),
    Route("/api/v1/analytics/content/categories", analytics.categories, methods=["GET"]),
    Route("/api/v1/analytics/funnel", analytics.funnel, methods=["GET"]),
    Route("/api/v1/analytics/users", analytics.users, methods=["GET"]),
    Route("/api/v1/events", ingest_events, methods=["POST"]),
    Route("/api/v1/alerts", alerts, methods=["GET"]),
    Route("/metrics", prometheus_metrics, methods=["GET"]),
    Route(STREAM_PATH, event_stream, methods=["GET"]),
    Route("/openapi.json", openapi_schema, methods=["GET"]),
    WebSocketRoute("/ws/metrics", metrics_socket),
]

exception_handlers = {
    MetricsError: metrics_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
