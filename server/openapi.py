"""The OpenAPI description of the REST API, served at `/openapi.json`."""

from __future__ import annotations

from typing import Any

from server.analytics.buckets import INTERVALS
from server.analytics.params import MAX_BUCKETS, METRICS, TOP_BY


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _csv_or_json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description + " With `format=csv`: the same rows as CSV, a header line first.",
        "content": {"application/json": {"schema": schema}, "text/csv": {"schema": {"type": "string"}}},
    }


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


_RANGE = [
    _query(
        "from", "Start, inclusive: ISO 8601 with an offset, or a date (local midnight in `tz`).", {"type": "string"}
    ),
    _query("to", "End, exclusive; default now.", {"type": "string"}),
    _query("tz", "IANA time zone of the calendar; default METRICS_TIMEZONE.", {"type": "string"}),
    _query("format", "`json` (default) or `csv`.", {"type": "string", "enum": ["json", "csv"]}),
]
_MONEY = {"type": "number", "multipleOf": 0.01}
_COUNT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}
_BAD_PARAMS = _error("Invalid parameters; `details` names each one.")


def _object(properties: dict[str, Any], *, extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": extra,
    }


SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array"}},
                "required": ["code", "message"],
            }
        }
    ),
    "Snapshot": _object(
        {
            "revenue": _object({"total": _MONEY, "today": _MONEY, "thisWeek": _MONEY, "thisMonth": _MONEY}),
            "activeUsers": _object({"current": _COUNT, "today": _COUNT, "peak24h": _COUNT}),
            "transactions": _object({"total": _COUNT, "pending": _COUNT, "completed": _COUNT, "failed": _COUNT}),
            "content": _object({"totalViews": _COUNT, "totalPurchases": _COUNT, "conversionRate": _MONEY}),
            "timestamp": _TIME,
            "snapshotId": {"type": "integer"},
            "stale": {"type": "boolean"},
        },
        extra=True,
    ),
    "Event": {
        "type": "object",
        "description": "`user_activity` (userId), `content_view` (contentId, userId?) or `transaction` "
        "(id, status; userId and amount for a new one). Optional on all: `at`; on activity and views: `eventId`.",
        "properties": {
            "type": {"type": "string", "enum": ["user_activity", "content_view", "transaction"]},
            "userId": {"type": "string"},
            "contentId": {"type": "string"},
            "eventId": {"type": "string"},
            "id": {"type": "string"},
            "amount": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "currency": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "completed", "failed"]},
            "at": _TIME,
        },
        "required": ["type"],
    },
    "IngestResult": _object({"accepted": _COUNT, "duplicates": _COUNT}),
    "Alert": _object(
        {
            "id": {"type": "integer"},
            "rule": {"type": "string"},
            "state": {"type": "string", "enum": ["firing", "resolved"]},
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "metric": {"type": ["string", "null"]},
            "message": {"type": "string"},
            "value": {"type": "number"},
            "threshold": {"type": "number"},
            "firedAt": _TIME,
            "resolvedAt": {"type": ["string", "null"], "format": "date-time"},
            "snapshotId": {"type": "integer"},
        }
    ),
    "Alerts": _object(
        {
            "firing": {"type": "array", "items": _ref("Alert")},
            "recent": {"type": "array", "items": _ref("Alert")},
            "rules": {"type": "array", "items": {"type": "object"}},
        }
    ),
    "Health": _object(
        {
            "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
            "database": {"type": "string", "enum": ["ok", "down"]},
            "cache": {"type": "string", "enum": ["ok", "down", "n/a"]},
        }
    ),
    "Timeseries": _object(
        {
            "metric": {"type": "string", "enum": list(METRICS)},
            "interval": {"type": "string", "enum": list(INTERVALS)},
            "tz": {"type": "string"},
            "from": _TIME,
            "to": _TIME,
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "`value`, or for metric=transactions `pending`, `completed`, `failed`, `total`.",
                    "properties": {"start": _TIME, "end": _TIME, "value": {"type": "number"}},
                    "required": ["start", "end"],
                },
            },
            "total": {"description": "The whole range: a number, or for transactions an object by status."},
        }
    ),
    "TopContent": _object(
        {
            "by": {"type": "string", "enum": list(TOP_BY)},
            "from": _TIME,
            "to": _TIME,
            "limit": _COUNT,
            "items": {
                "type": "array",
                "items": _object(
                    {
                        "contentId": {"type": "string"},
                        "views": _COUNT,
                        "purchases": _COUNT,
                        "revenue": _MONEY,
                        "conversionRate": _MONEY,
                    }
                ),
            },
        }
    ),
    "Funnel": _object(
        {
            "from": _TIME,
            "to": _TIME,
            "contentId": {"type": ["string", "null"]},
            "steps": {
                "type": "array",
                "items": _object(
                    {
                        "step": {"type": "string", "enum": ["views", "started", "completed"]},
                        "count": _COUNT,
                        "rate": _MONEY,
                    }
                ),
            },
            "overallRate": _MONEY,
        }
    ),
    "Users": _object(
        {
            "from": _TIME,
            "to": _TIME,
            "tz": {"type": "string"},
            "days": {
                "type": "array",
                "items": _object(
                    {
                        "date": {"type": "string", "format": "date"},
                        "start": _TIME,
                        "end": _TIME,
                        "active": _COUNT,
                        "new": _COUNT,
                        "returning": _COUNT,
                    }
                ),
            },
            "heatmap": {
                "type": "array",
                "items": _object(
                    {
                        "weekday": {"type": "integer", "minimum": 0, "maximum": 6},
                        "hour": {"type": "integer", "minimum": 0, "maximum": 23},
                        "activeUsers": _COUNT,
                    }
                ),
            },
        }
    ),
}

PATHS: dict[str, Any] = {
    "/health": {
        "get": {
            "summary": "State of the sidecar and its dependencies",
            "responses": {"200": _json(_ref("Health"), "Up (ok or degraded)."), "503": _json(_ref("Health"), "Down.")},
        }
    },
    "/api/v1/analytics/realtime-metrics": {
        "get": {
            "summary": "The latest metrics snapshot",
            "responses": {"200": _json(_ref("Snapshot"), "The snapshot."), "503": _error("No snapshot yet.")},
        }
    },
    "/api/v1/alerts": {
        "get": {
            "summary": "Alerts firing now, the latest firings (newest first) and the rules",
            "parameters": [
                _query("limit", "Firings to list (default 50)", {"type": "integer", "minimum": 1, "maximum": 500})
            ],
            "responses": {"200": _json(_ref("Alerts"), "The alerts."), "422": _BAD_PARAMS},
        }
    },
    "/api/v1/events": {
        "post": {
            "summary": "Ingest one event or a batch of up to 1,000 (all or nothing)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                _ref("Event"),
                                {
                                    "type": "object",
                                    "properties": {
                                        "events": {"type": "array", "items": _ref("Event"), "maxItems": 1000}
                                    },
                                    "required": ["events"],
                                },
                            ]
                        }
                    }
                },
            },
            "responses": {
                "200": _json(_ref("IngestResult"), "Stored durably."),
                "400": _error("Not JSON."),
                "409": _error("An impossible status move, or a repeated field that differs."),
                "413": _error("More than 1,000 events, or a body over 4 MB."),
                "422": _error("Invalid events; `details` lists each by index and field."),
                "503": _error("The database cannot be reached; see Retry-After."),
            },
        }
    },
    "/api/v1/analytics/timeseries": {
        "get": {
            "summary": "A metric per bucket of the local calendar",
            "parameters": [
                _query("metric", "What to count.", {"type": "string", "enum": list(METRICS)}, required=True),
                _query("interval", "Bucket size; default day.", {"type": "string", "enum": list(INTERVALS)}),
                *_RANGE,
            ],
            "responses": {
                "200": _csv_or_json(_ref("Timeseries"), f"Every bucket, empty ones as zero (at most {MAX_BUCKETS})."),
                "422": _BAD_PARAMS,
                "503": _error("The database cannot be reached."),
            },
        }
    },
    "/api/v1/analytics/content/top": {
        "get": {
            "summary": "Content ranked by views, purchases, revenue or conversion",
            "parameters": [
                _query("by", "Ranking; default views.", {"type": "string", "enum": list(TOP_BY)}),
                _query("limit", "How many, 1 to 100; default 10.", {"type": "integer", "minimum": 1, "maximum": 100}),
                *_RANGE,
            ],
            "responses": {"200": _csv_or_json(_ref("TopContent"), "The ranking."), "422": _BAD_PARAMS},
        }
    },
    "/api/v1/analytics/funnel": {
        "get": {
            "summary": "Views, transactions started, completed; with step rates",
            "parameters": [_query("contentId", "One content only.", {"type": "string"}), *_RANGE],
            "responses": {"200": _csv_or_json(_ref("Funnel"), "The funnel."), "422": _BAD_PARAMS},
        }
    },
    "/api/v1/analytics/users": {
        "get": {
            "summary": "New vs returning users per local day, and a weekday x hour heatmap",
            "parameters": [
                _query(
                    "part", "For CSV: `days` (default) or `heatmap`.", {"type": "string", "enum": ["days", "heatmap"]}
                ),
                *_RANGE,
            ],
            "responses": {"200": _csv_or_json(_ref("Users"), "Days and heatmap."), "422": _BAD_PARAMS},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus text about the sidecar itself",
            "responses": {"200": {"description": "Prometheus exposition format.", "content": {"text/plain": {}}}},
        }
    },
}


_PUBLIC_PATHS = frozenset({"/health"})
_REFUSALS = {
    "401": _error("No valid API token (when tokens are configured); see WWW-Authenticate."),
    "403": _error("The token lacks the scope this operation needs."),
    "429": _error("Over the rate for this token or address; see Retry-After."),
}


def _guarded(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation but the public ones: a bearer token (when configured), and its refusals."""
    guarded: dict[str, Any] = {}
    for path, operations in paths.items():
        guarded[path] = {}
        for method, operation in operations.items():
            if path not in _PUBLIC_PATHS:
                # `{}` too: a sidecar without tokens (on loopback) asks for none.
                operation = {**operation, "security": [{"bearer": []}, {}]}
                operation["responses"] = {**operation["responses"], **_REFUSALS}
            guarded[path][method] = operation
    return guarded


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Realtime metrics sidecar",
            "version": "1.0.0",
            "description": "Live platform metrics over REST; the WebSocket `/ws/metrics` is described in the README.",
        },
        "paths": _guarded(PATHS),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token."}},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
