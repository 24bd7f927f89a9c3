"""The OpenAPI description of the REST API, served at `/openapi.json`.

What a request may carry comes from the pydantic models that validate it (pydantic's JSON
Schema): the event body (`server.events`), each endpoint's query parameters
(`server.analytics.params`, `server.alerts.monitor`) and the value types they share
(`server.fields`). Two values are settings of the deployment: the one currency accepted and the
longest batch. The answers are described here: the sidecar builds them as plain dictionaries, and
`tests/test_openapi.py` and the fuzz test hold these descriptions to what it serves.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import BaseModel, TypeAdapter

from server.alerts.monitor import AlertsQuery
from server.analytics.buckets import INTERVALS
from server.analytics.params import (
    MAX_BUCKETS,
    MAX_CATEGORIES,
    MAX_MIN_VIEWS,
    METRICS,
    TOP_BY,
    CategoriesQuery,
    FunnelQuery,
    SeriesQuery,
    TopQuery,
    UsersQuery,
)
from server.events import Event, EventBatch
from server.fields import COMPONENT_KEY, TIME_ZONE_SCHEMA
from server.query import parameter_names

_REF_TEMPLATE = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF_TEMPLATE.format(model=name)}


# -- requests: from the models -------------------------------------------------------------------------


def _components_in_place(schema: Any) -> Any:
    """The schema with every `server.fields.component` marker replaced by its `$ref`."""
    if isinstance(schema, dict):
        if COMPONENT_KEY in schema:
            return _ref(schema[COMPONENT_KEY])
        return {key: _components_in_place(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_components_in_place(value) for value in schema]
    return schema


def _request_schemas(currency: str, max_events: int) -> dict[str, Any]:
    """`Event` (one of three shapes, told apart by `type`), its shapes, and `EventBatch`."""
    event = _components_in_place(TypeAdapter(Event).json_schema(ref_template=_REF_TEMPLATE))
    batch = _components_in_place(EventBatch.model_json_schema(ref_template=_REF_TEMPLATE))
    schemas: dict[str, Any] = {**event.pop("$defs"), **batch.pop("$defs")}
    # The batch's items are the union above, written out again by pydantic: name it once instead.
    assert batch["properties"]["events"]["items"] == event
    batch["properties"]["events"]["items"] = _ref("Event")
    # Enforced before validation (413, without reading the events), and a setting.
    batch["properties"]["events"]["maxItems"] = max_events
    schemas["Event"] = event
    schemas["EventBatch"] = batch
    schemas["Currency"] = {"type": "string", "const": currency, "description": "This deployment's METRICS_CURRENCY."}
    schemas["TimeZone"] = TIME_ZONE_SCHEMA
    return schemas


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A query model's fields as OpenAPI parameters. A parameter is absent or has a value, never
    null: the model's `X | None = None` is described as an optional `X`."""
    schema = _components_in_place(model.model_json_schema(by_alias=True, ref_template=_REF_TEMPLATE))
    assert "$defs" not in schema, "query values are described inline or by the components above"
    required = set(schema.get("required", []))
    parameters = []
    for name in parameter_names(model):
        value = dict(schema["properties"][name])
        value.pop("title", None)
        description = value.pop("description", "")
        if "anyOf" in value and {"type": "null"} in value["anyOf"]:
            (present,) = [option for option in value.pop("anyOf") if option != {"type": "null"}]
            value = {**present, **value}
        if value.get("default", 0) is None:
            del value["default"]
        parameters.append(
            {"name": name, "in": "query", "required": name in required, "description": description, "schema": value}
        )
    return parameters


# -- answers: described here ----------------------------------------------------------------------------

_MONEY = {"type": "number", "multipleOf": 0.01}
_COUNT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": extra,
    }


_TITLE = {"type": "string", "description": "The catalogue's title, else the content id."}
_CATEGORY = {"type": ["string", "null"], "description": "The catalogue's category; null when unknown."}
_BY_STATUS = _object({"pending": _COUNT, "completed": _COUNT, "failed": _COUNT, "total": _COUNT})

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "description": "Each problem: by index and field for events, by field for parameters.",
                        "items": {
                            "anyOf": [
                                _object({"index": _COUNT, "field": {"type": "string"}, "message": {"type": "string"}}),
                                _object({"field": {"type": "string"}, "message": {"type": "string"}}),
                            ]
                        },
                    },
                },
                optional=("details",),
            )
        }
    ),
    "Snapshot": _object(
        {
            "revenue": _object({"total": _MONEY, "today": _MONEY, "thisWeek": _MONEY, "thisMonth": _MONEY}),
            "activeUsers": _object({"current": _COUNT, "today": _COUNT, "peak24h": _COUNT}),
            "transactions": _BY_STATUS,
            "content": _object({"totalViews": _COUNT, "totalPurchases": _COUNT, "conversionRate": _MONEY}),
            "timestamp": _TIME,
            "snapshotId": {"type": "integer", "description": "Increases with every computed snapshot."},
            "stale": {"type": "boolean", "description": "These numbers may no longer be current."},
            "pace": {
                **_object(
                    {
                        "revenue": _object({"yesterday": _MONEY, "lastWeek": _MONEY}),
                        "activeUsers": _object({"yesterday": _COUNT, "lastWeek": _COUNT}),
                    }
                ),
                "description": (
                    "revenue.today and activeUsers.today for the local day one day (yesterday) and seven days"
                    " (lastWeek) earlier, from its local midnight up to the same local wall-clock time (where that"
                    " time did not exist that day, up to the instant the clocks jumped; where it occurred twice, up"
                    " to its first occurrence)."
                ),
            },
        },
        extra=True,  # the contract allows fields beyond the spec's
    ),
    "IngestResult": _object(
        {
            "accepted": {**_COUNT, "description": "Events that changed something."},
            "duplicates": {**_COUNT, "description": "Repeats that changed nothing."},
        }
    ),
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
            "silenced": {
                "type": "boolean",
                "description": "It fired in a maintenance window of its rule: shown, but not sent to webhooks.",
            },
            "valueNow": {
                "type": ["number", "null"],
                "description": (
                    "In the REST listing only: the metric's value at this answer while the alert fires (a "
                    "snapshot path from the fresh snapshot served, a signal read now); null when resolved "
                    "or not known (no fresh snapshot, `computeSeconds`)."
                ),
            },
        },
        optional=("valueNow",),
    ),
    "Rule": {
        **_object(
            {
                "name": {"type": "string"},
                "metric": {"type": "string"},
                "above": {"type": "number"},
                "below": {"type": "number"},
                "clear": {"type": "number"},
                "for": {"type": "integer", "minimum": 1},
                "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            },
            optional=("above", "below"),
        ),
        "oneOf": [{"required": ["above"]}, {"required": ["below"]}],
    },
    "Alerts": _object(
        {
            "firing": {"type": "array", "items": _ref("Alert")},
            "recent": {"type": "array", "items": _ref("Alert")},
            "rules": {"type": "array", "items": _ref("Rule")},
        }
    ),
    "Health": _object(
        {
            "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
            "database": {"type": "string", "enum": ["ok", "down"]},
            "cache": {"type": "string", "enum": ["ok", "down", "n/a"]},
            "reason": {"type": "string", "description": "Why the status is not ok."},
        },
        optional=("reason",),
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
                    "description": "`value`, or for metric=transactions `pending`, `completed`, `failed`, `total`.",
                    "anyOf": [
                        _object({"start": _TIME, "end": _TIME, "value": {"type": "number"}}),
                        _object(
                            {
                                "start": _TIME,
                                "end": _TIME,
                                "pending": _COUNT,
                                "completed": _COUNT,
                                "failed": _COUNT,
                                "total": _COUNT,
                            }
                        ),
                    ],
                },
            },
            "total": {
                "description": "The whole range: a number, or for transactions the counts by status.",
                "anyOf": [{"type": "number"}, _BY_STATUS],
            },
        }
    ),
    "TopContent": _object(
        {
            "by": {"type": "string", "enum": list(TOP_BY)},
            "from": _TIME,
            "to": _TIME,
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "minViews": {"type": "integer", "minimum": 0, "maximum": MAX_MIN_VIEWS},
            "items": {
                "type": "array",
                "items": _object(
                    {
                        "contentId": {"type": "string"},
                        "title": _TITLE,
                        "category": _CATEGORY,
                        "views": _COUNT,
                        "purchases": _COUNT,
                        "revenue": _MONEY,
                        "conversionRate": _MONEY,
                    }
                ),
            },
        }
    ),
    "ContentCategories": _object(
        {
            "by": {"type": "string", "enum": list(TOP_BY)},
            "from": _TIME,
            "to": _TIME,
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_CATEGORIES},
            "items": {
                "type": "array",
                "items": _object(
                    {
                        "category": {
                            "type": ["string", "null"],
                            "description": "null: content the catalogue gives no category (uncategorised).",
                        },
                        "contents": {**_COUNT, "description": "Content items of the category seen or bought."},
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
            "title": {
                "type": ["string", "null"],
                "description": "The chosen content's title in the catalogue, else its id; null for all content.",
            },
            "category": {"type": ["string", "null"], "description": "The chosen content's category, if known."},
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


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _csv_or_json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description + " With `format=csv`: the same rows as CSV, a header line first.",
        "content": {"application/json": {"schema": schema}, "text/csv": {"schema": {"type": "string"}}},
    }


_BAD_PARAMETERS = _error(
    "Invalid parameters, each named in `details`: a value the parameter's schema refuses, a parameter given"
    " more than once, or what no parameter schema can say (see the operation's description)."
)
_DATABASE_DOWN = _error("The database cannot be reached; see Retry-After.")
_RANGE_RULE = "Beyond each parameter's schema, `to` must come after `from` once defaults are filled in (else 422)."


def _paths() -> dict[str, Any]:
    return {
        "/health": {
            "get": {
                "summary": "State of the sidecar and its dependencies",
                "responses": {
                    "200": _json(_ref("Health"), "Up (ok or degraded)."),
                    "503": _json(_ref("Health"), "Down: the database cannot be reached."),
                },
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
                "parameters": _query_parameters(AlertsQuery),
                "responses": {
                    "200": _json(_ref("Alerts"), "The alerts."),
                    "422": _BAD_PARAMETERS,
                    "503": _DATABASE_DOWN,
                },
            }
        },
        "/api/v1/events": {
            "post": {
                "summary": "Ingest one event or a batch (all or nothing)",
                "description": "Beyond the body's schema: an event's `at` more than 5 minutes after the server's"
                " clock is refused (422). What only the stored transactions can tell is a conflict (409): an"
                " event for an `id` never created that lacks `userId` or `amount`, a status move from completed"
                " or failed, a repeated field that differs. Repeating the current status is a duplicate.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"oneOf": [_ref("Event"), _ref("EventBatch")]}}},
                },
                "responses": {
                    "200": _json(_ref("IngestResult"), "Stored durably."),
                    "400": _error("Not JSON (NaN and Infinity included)."),
                    "409": _error("The events contradict the stored transactions; `details` lists each."),
                    "413": _error("More events than a batch may hold, or a body over the size limit."),
                    "415": _error("The body is not declared as `application/json`."),
                    "422": _error("Invalid events; `details` lists every problem by index and field."),
                    "503": _DATABASE_DOWN,
                },
            }
        },
        "/api/v1/analytics/timeseries": {
            "get": {
                "summary": "A metric per bucket of the local calendar",
                "description": f"{_RANGE_RULE} The range may hold at most {MAX_BUCKETS} buckets of the"
                " interval (else 422 naming `interval`).",
                "parameters": _query_parameters(SeriesQuery),
                "responses": {
                    "200": _csv_or_json(_ref("Timeseries"), "Every bucket, empty ones as zero."),
                    "422": _BAD_PARAMETERS,
                    "503": _DATABASE_DOWN,
                },
            }
        },
        "/api/v1/analytics/content/top": {
            "get": {
                "summary": "Content ranked by views, purchases, revenue or conversion",
                "description": _RANGE_RULE,
                "parameters": _query_parameters(TopQuery),
                "responses": {
                    "200": _csv_or_json(_ref("TopContent"), "The ranking."),
                    "422": _BAD_PARAMETERS,
                    "503": _DATABASE_DOWN,
                },
            }
        },
        "/api/v1/analytics/content/categories": {
            "get": {
                "summary": "Views, purchases, revenue and conversion per content category (from the catalogue)",
                "description": f"{_RANGE_RULE} Content without a category in the catalogue is grouped as"
                " `category: null`.",
                "parameters": _query_parameters(CategoriesQuery),
                "responses": {
                    "200": _csv_or_json(_ref("ContentCategories"), "The categories, ranked."),
                    "422": _BAD_PARAMETERS,
                    "503": _DATABASE_DOWN,
                },
            }
        },
        "/api/v1/analytics/funnel": {
            "get": {
                "summary": "Views, transactions started, completed; with step rates",
                "description": _RANGE_RULE,
                "parameters": _query_parameters(FunnelQuery),
                "responses": {
                    "200": _csv_or_json(_ref("Funnel"), "The funnel."),
                    "422": _BAD_PARAMETERS,
                    "503": _DATABASE_DOWN,
                },
            }
        },
        "/api/v1/analytics/users": {
            "get": {
                "summary": "New vs returning users per local day, and a weekday x hour heatmap",
                "description": f"{_RANGE_RULE} The range may span at most a year of local days (else 422"
                " naming `from`).",
                "parameters": _query_parameters(UsersQuery),
                "responses": {
                    "200": _csv_or_json(_ref("Users"), "Days and heatmap."),
                    "422": _BAD_PARAMETERS,
                    "503": _DATABASE_DOWN,
                },
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


def openapi_document(currency: str = "USD", max_events: int = 1000) -> dict[str, Any]:
    """The description of a deployment that accepts `currency` and batches of up to `max_events`."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Realtime metrics sidecar",
            "version": "1.0.0",
            "description": "Live platform metrics over REST; the WebSocket `/ws/metrics` is described in the README.",
        },
        "paths": _guarded(_paths()),
        "components": {
            "schemas": {**_request_schemas(currency, max_events), **RESPONSE_SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token."}},
        },
    }


@functools.lru_cache(maxsize=8)  # one entry per deployment's settings: a process has one (tests a few)
def openapi_json(currency: str, max_events: int) -> bytes:
    """The document as served: built and encoded once per deployment."""
    return json.dumps(openapi_document(currency, max_events), separators=(",", ":")).encode()
