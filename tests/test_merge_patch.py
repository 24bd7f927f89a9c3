"""JSON Merge Patch: patches made on the server and applied on the client rebuild each snapshot exactly."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.merge_patch import apply_patch, create_patch, same
from server.metrics import encode

# Decoded JSON as the client decodes it (numbers with a fraction as Decimals). A few member names
# only, so that successive documents share members, as successive snapshots do.
_names = st.sampled_from(["revenue", "today", "total", "stale", "pace", "a", "b", "c"])
_money = st.decimals(min_value=-(10**6), max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
_leaves = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | _money | st.text(max_size=8)
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=5),
    max_leaves=20,
)
_documents = st.dictionaries(_names, _json, max_size=6)


def _over_the_wire(value: Any) -> Any:
    """What the client decodes from what the server encodes."""
    return json.loads(encode(value), parse_float=Decimal)


def _client_follows(documents: list[dict[str, Any]]) -> int:
    """Send the first document whole and each next as a patch where one exists (whole otherwise),
    as the server does; check that the client's copy is each document exactly. Returns the patches sent."""
    held = _over_the_wire(documents[0])
    patches = 0
    for previous, document in itertools.pairwise(documents):
        patch = create_patch(previous, document)
        if patch is None:
            held = _over_the_wire(document)
        else:
            patches += 1
            held = apply_patch(held, _over_the_wire(patch))
        assert encode(held) == encode(document)
        assert same(held, _over_the_wire(document))
    return patches


@settings(max_examples=200, deadline=None)
@given(st.lists(_documents, min_size=2, max_size=8))
def test_random_sequences_of_documents_are_rebuilt_exactly(documents: list[dict[str, Any]]) -> None:
    _client_follows(documents)


_snapshot_numbers = st.fixed_dictionaries(
    {
        "total": _money,
        "today": _money,
        "current": st.integers(0, 10_000),
        "rate": st.decimals(min_value=0, max_value=100, places=2),
        "stale": st.booleans(),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_snapshot_numbers, min_size=2, max_size=10), st.integers(1, 10**6))
def test_random_snapshot_sequences_are_patched_and_rebuilt_exactly(numbers: list[dict[str, Any]], first: int) -> None:
    snapshots = [
        {
            "revenue": {"total": n["total"], "today": n["today"]},
            "activeUsers": {"current": n["current"]},
            "content": {"conversionRate": n["rate"]},
            "snapshotId": first + i,
            "stale": n["stale"],
        }
        for i, n in enumerate(numbers)
    ]
    # Snapshots keep their shape and have no nulls: every update is a patch.
    assert _client_follows(snapshots) == len(snapshots) - 1


def test_a_patch_holds_only_what_changed() -> None:
    old = {"revenue": {"total": Decimal("10.00"), "today": Decimal("2.50")}, "snapshotId": 7, "stale": False}
    new = {"revenue": {"total": Decimal("12.50"), "today": Decimal("2.50")}, "snapshotId": 8, "stale": False}
    assert encode(create_patch(old, new)) == b'{"revenue":{"total":12.50},"snapshotId":8}'
    assert create_patch(new, new) == {}


def test_digits_count_a_change_of_written_form_is_patched() -> None:
    old = {"rate": Decimal("4.3")}
    new = {"rate": Decimal("4.30")}  # equal numbers, written differently
    assert create_patch(old, new) == {"rate": Decimal("4.30")}
    assert create_patch({"flag": 1}, {"flag": True}) == {"flag": True}


def test_a_member_that_becomes_null_has_no_patch_and_goes_whole() -> None:
    old = {"pace": {"yesterday": Decimal("1.00"), "lastWeek": Decimal("2.00")}}
    new = {"pace": {"yesterday": Decimal("1.00"), "lastWeek": None}}
    assert create_patch(old, new) is None
    assert create_patch(new, new) == {}  # a null that stays null needs nothing
    back = create_patch(new, old)  # null -> a value is an ordinary change
    assert back == {"pace": {"lastWeek": Decimal("2.00")}}
    assert same(apply_patch(new, back), old)


def test_removed_members_are_patched_with_null_and_a_changed_order_goes_whole() -> None:
    assert create_patch({"a": 1, "b": 2}, {"a": 1}) == {"b": None}
    assert apply_patch({"a": 1, "b": 2}, {"b": None}) == {"a": 1}
    assert create_patch({"a": 1, "b": 2}, {"b": 2, "a": 1}) is None


def test_apply_follows_rfc_7386_examples() -> None:
    # RFC 7386 section 3's worked example.
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["example", "sample"]}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["example"]}
    assert apply_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "phoneNumber": "+01-123-456-7890",
    }
    assert apply_patch({"a": "b"}, {"a": {"b": "c"}}) == {"a": {"b": "c"}}
    assert apply_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert target["author"] == {"givenName": "John", "familyName": "Doe"}  # the target itself is unchanged
