"""JSON Merge Patch (RFC 7386), made and applied so that a patched snapshot is the new one exactly.

Pure functions over decoded JSON (dicts, lists, str, int, bool, None, and Decimal for numbers
with a fraction, as `json.loads(..., parse_float=Decimal)` gives them).

"Exactly" means that `encode(apply_patch(old, create_patch(old, new)))` is byte for byte
`encode(new)`: `12.50` stays `12.50` (not `12.5`), `1` is not `true`, and members keep their order.
Some changes have no merge patch that does that, and `create_patch` answers None for them, so the
caller sends the whole document instead:
- a member whose new value is `null`: in a merge patch `null` means "remove the member";
- members whose order changes in a way that applying a patch cannot reproduce (kept members keep
  their place, new members go last in the patch's order);
- a document that is not a JSON object.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# Applying a patch is the client's job; the sidecar uses the same function to check its patches.
from metrics_client.resume import apply_patch

__all__ = ["apply_patch", "create_patch", "same"]

JSONObject = dict[str, Any]


class _Unrepresentable(Exception):
    """The change has no merge patch that reproduces the new document exactly."""


def create_patch(old: JSONObject, new: JSONObject) -> JSONObject | None:
    """The merge patch that turns `old` into `new`, or None when no patch reproduces `new` exactly.

    An empty patch (`{}`) means the two are the same.
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None
    try:
        return _diff(old, new)
    except _Unrepresentable:
        return None


def same(a: Any, b: Any) -> bool:
    """Whether two decoded JSON values encode to the same text (type, digits and order included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal):
        return str(a) == str(b)  # Decimal("12.5") == Decimal("12.50"), but they are written differently
    return bool(a == b)


def _diff(old: JSONObject, new: JSONObject) -> JSONObject:
    patch: JSONObject = {}
    for name in old:
        if name not in new:
            patch[name] = None
    for name, value in new.items():
        if value is None:
            if name in old and old[name] is None:
                continue
            raise _Unrepresentable(f"{name!r} becomes null")
        if name in old and same(old[name], value):
            continue
        if isinstance(value, dict):
            before = old.get(name)
            # A patch object merges into an object that is there; into anything else it builds one
            # from nothing, so it must then hold every member of `value`.
            patch[name] = _diff(before if isinstance(before, dict) else {}, value)
        else:
            patch[name] = value
    # Applying keeps the members that stay where they were and appends new ones in patch order.
    kept = [name for name in old if name in new]
    added = [name for name in patch if name not in old and patch[name] is not None]
    if kept + added != list(new):
        raise _Unrepresentable("the members change order")
    return patch
