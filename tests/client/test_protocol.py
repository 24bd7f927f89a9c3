"""The protocol module and the sidecar agree: what the sidecar serves is declared there, and only that."""

from __future__ import annotations

from pathlib import Path

from metrics_client.protocol import CloseCode, ErrorCode, PrometheusName, error_body, parse_error_body
from server import errors
from server.observability import CLOSE_REASONS, SidecarMetrics
from server.ws import _CLOSE_REASONS

README = Path(__file__).resolve().parents[2] / "README.md"


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def test_the_figures_on_metrics_are_exactly_the_declared_names() -> None:
    served = {family.name for family in SidecarMetrics().registry.collect()}
    assert served == {str(name) for name in PrometheusName}


def test_the_readme_documents_every_declared_figure() -> None:
    readme = README.read_text()
    assert [name for name in PrometheusName if f"`{name}" not in readme] == []


def test_every_error_the_sidecar_raises_has_a_declared_code() -> None:
    codes = {cls.code for cls in (errors.MetricsError, *_subclasses(errors.MetricsError))}
    assert codes - {str(code) for code in ErrorCode} == set()


def test_every_close_code_the_sidecar_counts_has_a_declared_reason() -> None:
    assert set(_CLOSE_REASONS) <= set(CloseCode)
    assert set(_CLOSE_REASONS.values()) <= set(CLOSE_REASONS)


def test_an_error_body_reads_back_and_leaves_out_empty_details() -> None:
    assert error_body(ErrorCode.CONFLICT, "no") == {"error": {"code": "conflict", "message": "no"}}
    body = error_body(ErrorCode.VALIDATION_ERROR, "bad", [{"index": 0}])
    assert parse_error_body(body) == ("validation_error", "bad", [{"index": 0}])
    assert parse_error_body({"error": "text"}) is None
    assert parse_error_body([]) is None
