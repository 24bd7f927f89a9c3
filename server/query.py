"""Query strings read through the pydantic model that declares them: every problem listed (422),
a parameter given more than once refused rather than silently taking one of its values.

Parameters the model does not declare are ignored, as they are by most HTTP APIs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import QueryParams

from server.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def parameter_names(model: type[BaseModel]) -> list[str]:
    """The names on the wire (aliases such as `from`), in declaration order."""
    return [field.alias or name for name, field in model.model_fields.items()]


def parse_query(model: type[M], query: QueryParams) -> M:
    names = parameter_names(model)
    counts = Counter(key for key, _ in query.multi_items() if key in names)
    problems: dict[str, str] = {name: "given more than once" for name in names if counts[name] > 1}
    values = {name: query[name] for name in names if counts[name] == 1}
    try:
        parsed = model.model_validate(values)
    except PydanticValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0])
            if name not in problems:  # a repeated parameter is reported as such, not as missing
                problems[name] = _message(model, name, error)
    else:
        if not problems:
            return parsed
    details = [{"field": name, "message": problems[name]} for name in names if name in problems]
    count = len(details)
    raise ValidationFailed(f"{count} invalid parameter{'s' if count > 1 else ''}", details)


def _choices(model: type[BaseModel], name: str) -> tuple[str, ...]:
    for field_name, field in model.model_fields.items():
        if (field.alias or field_name) == name:
            annotation: Any = field.annotation
            if get_origin(annotation) is Literal:
                return get_args(annotation)
    return ()


def _message(model: type[BaseModel], name: str, error: Any) -> str:
    choices = _choices(model, name)
    if error["type"] == "missing":
        return f"is required: one of {', '.join(choices)}" if choices else "is required"
    if error["type"] == "literal_error":
        return f"must be one of: {', '.join(choices)}"
    return str(error["msg"]).removeprefix("Value error, ")
