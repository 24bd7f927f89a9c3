"""The product as the README starts it (`./run.sh`), seen in a real browser: Debian's Chromium
driven by Playwright. Without Chromium or Playwright the test skips with the reason, except on CI
(`CI` set), where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INTERVAL = 2  # METRICS_INTERVAL: the sidecar's snapshots and the dashboard's fragment refresh
STARTUP_TIMEOUT = 90  # run.sh may have to create .venv and install requirements.txt first
# Inherited settings the product also reads from `.env`: an empty value means "unset" to
# Settings.from_env and, being in the real environment, wins over a developer's `.env`.
NEUTRAL = ("REDIS_URL", "HOST", "METRICS_TIMEZONE", "METRICS_CURRENCY", "METRICS_REDIS_PREFIX")


def _browser_problem() -> str | None:
    """None when the browser test can run, else why not."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; ./test.sh does it when run as root)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not ready():
        if process.poll() is not None:
            raise AssertionError(f"run.sh exited with {process.returncode} before {what} was up")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} was not up within {STARTUP_TIMEOUT} s")
        time.sleep(0.3)


def _answers(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop run.sh and everything it started: its process group gets SIGTERM (run.sh traps it and
    stops its children), then SIGINT, then SIGKILL for whatever is still there."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGINT, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()  # reap run.sh, so that the group empties once its children are gone
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
    process.wait(timeout=5)


@contextlib.contextmanager
def _run_sh(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`./run.sh` in its own process group, always stopped; its output is printed on failure."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["./run.sh"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    failed = False
    try:
        yield process
    except BaseException:
        failed = True
        raise
    finally:
        _stop(process)
        if failed:
            print(f"---- run.sh output ({log_path}) ----\n{log_path.read_text(errors='replace')}")


def _require_browser() -> None:
    problem = _browser_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {problem}")
        pytest.skip(problem)


def _environment(tmp_path: Path) -> tuple[dict[str, str], str, str]:
    """run.sh's environment on free ports: the sidecar alone on a new SQLite file, no demo data,
    no simulator; and the sidecar's and dashboard's URLs."""
    api_port, dashboard_port = _free_port(), _free_port()
    api_url, dashboard_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dashboard_port}"
    # run.sh derives the dashboard's REST and socket URLs from PORT (a developer's own are left out).
    env = {k: v for k, v in os.environ.items() if k not in ("METRICS_API_URL", "METRICS_WS_URL")}
    env.update(dict.fromkeys(NEUTRAL, ""))
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'e2e.db'}",
        PORT=str(api_port),
        STREAMLIT_SERVER_PORT=str(dashboard_port),
        METRICS_INTERVAL=str(INTERVAL),
    )
    return env, api_url, dashboard_url


def test_a_completed_transaction_shows_on_the_live_dashboard(tmp_path: Path) -> None:
    _require_browser()
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    env, api_url, dashboard_url = _environment(tmp_path)
    screenshot = ROOT / "test-artifacts" / "dashboard-e2e.png"
    screenshot.parent.mkdir(exist_ok=True)

    with _run_sh(env, tmp_path / "run.log") as process, httpx.Client(trust_env=False) as http:
        _wait_for("the sidecar's /health", lambda: _answers(http, f"{api_url}/health"), process)
        _wait_for("the dashboard", lambda: _answers(http, f"{dashboard_url}/_stcore/health"), process)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            try:
                page.goto(dashboard_url)
                # The revenue "Today" card comes first in the page; the active users' "Today" is a count.
                revenue_today = (
                    page.get_by_test_id("stMetric")
                    .filter(has=page.get_by_test_id("stMetricLabel").get_by_text("Today", exact=True))
                    .first.get_by_test_id("stMetricValue")
                )
                expect(page.get_by_role("heading", name="Revenue", exact=True)).to_be_visible(timeout=30_000)
                expect(revenue_today).to_have_text("$0.00", timeout=30_000)

                response = http.post(
                    f"{api_url}/api/v1/events",
                    json={
                        "type": "transaction",
                        "id": "e2e-1",
                        "userId": "u-e2e",
                        "amount": "12.34",
                        "status": "completed",
                    },
                )
                assert response.status_code == 200, response.text
                assert response.json() == {"accepted": 1, "duplicates": 0}

                # The snapshot being computed at the commit may miss the event; the next one, at most
                # one interval later, has it and is pushed at once: two intervals leave room for a slow
                # computation. The dashboard's fragment (run_every=METRICS_INTERVAL) redraws within one
                # more interval, and 3 s cover the WebSocket hops and the browser's render.
                expect(revenue_today).to_have_text("$12.34", timeout=(2 * INTERVAL + INTERVAL + 3) * 1000)
                connection = page.locator('div.connection[data-state="live"]')
                expect(connection).to_be_visible()
                expect(connection).to_contain_text("Live")
            finally:
                with contextlib.suppress(PlaywrightError):  # on a failure too: what the browser showed
                    page.screenshot(path=str(screenshot), full_page=True)
                browser.close()


def test_a_first_deep_link_gets_the_apps_navigation_and_the_live_alerts(tmp_path: Path) -> None:
    """Right after a start, a first visit straight to /alerts: Streamlit would serve pages/alerts.py
    under its file-name navigation ("app", "alerts", ...); the app's own must show instead."""
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    rules = tmp_path / "alerts.toml"
    rules.write_text(
        '[[rules]]\nname = "pending-pile"\nmetric = "transactions.pending"\nabove = -1\nseverity = "critical"\n'
        'message = "{value} transactions pending"\n'
    )
    env, api_url, dashboard_url = _environment(tmp_path)
    env["METRICS_ALERTS_FILE"] = str(rules)
    with _run_sh(env, tmp_path / "run.log") as process, httpx.Client(trust_env=False) as http:
        _wait_for("the sidecar's /health", lambda: _answers(http, f"{api_url}/health"), process)
        _wait_for("the dashboard", lambda: _answers(http, f"{dashboard_url}/_stcore/health"), process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{dashboard_url}/alerts")
                expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible(timeout=30_000)
                alert = page.get_by_test_id("stAlertContentError")
                # The value now where the page has the live snapshot, else the message as fired.
                now_or_fired = re.compile(r"pending-pile · (Transactions · pending: now 0 |0 transactions pending)")
                expect(alert).to_contain_text(now_or_fired, timeout=30_000)
                navigation = page.get_by_test_id("stSidebarNav").get_by_role("link")
                expect(navigation).to_contain_text(["Realtime", "History", "Behaviour", "Alerts"])
            finally:
                browser.close()


class FakeSidecar:
    """A WebSocket server that speaks the sidecar's protocol and pushes whatever numbers the test
    wants (here: numbers computed minutes ago, as a broken sidecar would once have sent them)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.age = 0.0  # how old the pushed numbers are, in seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._next_id = 1

    def start(self) -> None:
        ready = threading.Event()

        async def run() -> None:
            from websockets.asyncio.server import serve

            self._stop = asyncio.Event()
            async with serve(self._client, "127.0.0.1", self.port):
                ready.set()
                await self._stop.wait()

        self._thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
        self._thread.start()
        assert ready.wait(10), "the fake sidecar did not start"

    def stop(self) -> None:
        if self._thread is not None and self._stop is not None:
            loop = self._loop
            assert loop is not None
            loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)
            self._thread = None

    async def _client(self, ws: Any) -> None:
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            while True:
                await ws.send(json.dumps({"type": "metrics", "data": self._snapshot()}))
                await asyncio.sleep(INTERVAL)

    def _snapshot(self) -> dict[str, Any]:
        moment = datetime.now(UTC) - timedelta(seconds=self.age)
        self._next_id += 1
        return {
            "revenue": {"total": 1000.00, "today": 100.00, "thisWeek": 500.00, "thisMonth": 900.00},
            "activeUsers": {"current": 4, "today": 40, "peak24h": 9},
            "transactions": {"total": 10, "pending": 1, "completed": 8, "failed": 1},
            "content": {"totalViews": 100, "totalPurchases": 8, "conversionRate": 8.00},
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "snapshotId": self._next_id,
            "stale": False,
        }


def test_old_numbers_show_stale_not_live_and_the_dashboard_recovers_by_itself_after_giving_up(tmp_path: Path) -> None:
    """A sidecar hands over numbers computed four minutes ago (marked fresh): the page says Stale, not
    Live. The sidecar goes away long enough for the backoff to give up; when it is back, the page is
    live again with nobody clicking anything."""
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    sidecar_port, dashboard_port = _free_port(), _free_port()
    sidecar = FakeSidecar(sidecar_port)
    sidecar.age = 240
    sidecar.start()
    env = {k: v for k, v in os.environ.items()}
    env.update(dict.fromkeys(NEUTRAL, ""))
    env.update(
        METRICS_WS_URL=f"ws://127.0.0.1:{sidecar_port}/ws/metrics",
        METRICS_API_URL=f"http://127.0.0.1:{sidecar_port}",
        METRICS_INTERVAL=str(INTERVAL),
        METRICS_DASHBOARD_BACKOFF="0.2,0.2,0.2,0.2,0.2",
        METRICS_DASHBOARD_RETRY_EVERY="3",
    )
    dashboard_url = f"http://127.0.0.1:{dashboard_port}"
    command = [str(ROOT / ".venv/bin/streamlit"), "run", "app.py", "--server.port", str(dashboard_port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log_path = tmp_path / "streamlit.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    screenshot = ROOT / "test-artifacts" / "dashboard-stale.png"
    screenshot.parent.mkdir(exist_ok=True)
    try:
        with httpx.Client(trust_env=False) as http:
            _wait_for("the dashboard", lambda: _answers(http, f"{dashboard_url}/_stcore/health"), process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1200})
                page.goto(dashboard_url)
                # About four minutes: the skew measured from the handshake's Date header is whole seconds.
                about_four_minutes = r"(3 min 5\d s|4 min( [0-9] s)?) ago"
                indicator = page.locator("div.connection")
                expect(indicator).to_contain_text(re.compile("Stale · updated " + about_four_minutes), timeout=30_000)
                expect(indicator).to_have_attribute("data-state", "down")
                expect(page.get_by_text(re.compile("Stale: computed " + about_four_minutes))).to_be_visible()
                page.screenshot(path=str(screenshot), full_page=True)

                sidecar.stop()  # away for longer than the whole backoff
                expect(page.get_by_test_id("stAlertContentError")).to_contain_text(
                    "Trying again on its own every 3 s", timeout=30_000
                )
                expect(page.get_by_role("button", name="Reconnect")).to_be_visible()

                sidecar.age = 0
                sidecar.start()
                live = page.locator('div.connection[data-state="live"]')
                expect(live).to_contain_text("Live · updated", timeout=30_000)
                expect(page.get_by_role("button", name="Reconnect")).to_have_count(0)
            finally:
                browser.close()
    except BaseException:
        print(f"---- streamlit output ----\n{log_path.read_text(errors='replace')}")
        raise
    finally:
        sidecar.stop()
        process.terminate()
        process.wait(timeout=15)


def test_a_history_link_reproduces_its_view_and_the_tv_view_has_no_navigation(tmp_path: Path) -> None:
    """`?embed=true` shows the page alone; a choice made on the page goes into the URL, and opening
    that URL again shows the same view."""
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    env, api_url, dashboard_url = _environment(tmp_path)
    screenshot = ROOT / "test-artifacts" / "dashboard-history-tv.png"
    screenshot.parent.mkdir(exist_ok=True)
    with _run_sh(env, tmp_path / "run.log") as process, httpx.Client(trust_env=False) as http:
        _wait_for("the sidecar's /health", lambda: _answers(http, f"{api_url}/health"), process)
        _wait_for("the dashboard", lambda: _answers(http, f"{dashboard_url}/_stcore/health"), process)
        sale = {"type": "transaction", "id": "e2e-h", "userId": "u-h", "amount": "12.34", "status": "completed"}
        view = {"type": "content_view", "contentId": "c-h", "userId": "u-h"}
        for event in (sale, view):
            assert http.post(f"{api_url}/api/v1/events", json=event).status_code == 200
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1200})
                page.goto(f"{dashboard_url}/history?embed=true&interval=week")
                expect(page.get_by_role("heading", name="History", exact=True)).to_be_visible(timeout=30_000)
                expect(page.get_by_text(re.compile(r"This period: .* · \d weeks"))).to_be_visible(timeout=30_000)
                expect(page.get_by_text("$12.34", exact=True)).to_be_visible()
                expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
                page.screenshot(path=str(screenshot), full_page=True)

                metric = page.get_by_test_id("stSelectbox").filter(has_text="Metric")
                metric.get_by_role("combobox").click()
                page.get_by_role("option", name="Views", exact=True).click()
                expect(page).to_have_url(re.compile(r"[?&]metric=Views(&|$)"), timeout=15_000)
                assert "interval=week" in page.url and "embed=true" in page.url
                expect(page.get_by_text("Views, this period so far", exact=True)).to_be_visible(timeout=30_000)

                again = browser.new_page(viewport={"width": 1400, "height": 1200})
                again.goto(page.url)
                expect(again.get_by_text("Views, this period so far", exact=True)).to_be_visible(timeout=30_000)
                expect(again.get_by_text(re.compile(r"This period: .* · \d weeks"))).to_be_visible()
            finally:
                browser.close()
