"""The dashboard's pages, run by Streamlit's AppTest with the sidecar client replaced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.client import SidecarClient, SidecarUnavailable

PAGES = Path(__file__).parents[1] / "pages"
SNAPSHOT: dict[str, Any] = {"snapshotId": 7, "timestamp": "2026-11-27T10:00:00.000Z", "revenue": {"total": 1.5}}


def test_the_realtime_page_shows_the_current_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SidecarClient, "realtime_metrics", lambda self: SNAPSHOT)
    page = AppTest.from_file(str(PAGES / "realtime.py")).run()
    assert not page.exception
    assert page.caption[0].value == "Snapshot 7 at 2026-11-27T10:00:00.000Z"


def test_the_realtime_page_says_when_the_sidecar_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(self: SidecarClient) -> dict[str, Any]:
        raise SidecarUnavailable("connection refused")

    monkeypatch.setattr(SidecarClient, "realtime_metrics", down)
    page = AppTest.from_file(str(PAGES / "realtime.py")).run()
    assert not page.exception
    assert page.error[0].value == "The sidecar at http://localhost:3000 cannot be reached: connection refused"
