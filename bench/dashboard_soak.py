"""Dashboard soak: browser sessions on one Streamlit process, its memory and its CPU per refresh.

    .venv/bin/python -m bench.dashboard_soak          # 20 sessions, 60 s measured (~4 minutes)
    .venv/bin/python -m bench.dashboard_soak --full   # 20 sessions, 30 minutes measured

It starts the product as run.sh does, on ports of its own: demo history in a temporary SQLite
database, the sidecar (`python -m server`, METRICS_INTERVAL 5), the traffic simulator
(`python -m tools.simulate`) and the dashboard (`streamlit run app.py`). Beside it, in the same
run, a second Streamlit process serves the baseline, `bench/soak_baseline_app.py`: one Plotly
chart of constant data redrawn by a 5 s fragment.

Then, in Debian's Chromium driven by Playwright, one phase after the other:
  1. product: N sessions on the realtime page; a warm-up; the measured window;
  2. product idle: the sessions closed, the same process with zero sessions;
  3. baseline: N sessions on the baseline app; a warm-up; its measured window.
Only the Streamlit process's own CPU time counts (/proc/<pid>/stat: every thread, user and
system); the browser shares this machine's cores, so the machine's load and the browser's CPU
are printed beside. Memory is RSS, and USS (its private pages), sampled every few seconds.

CPU per refresh per session = the process's CPU seconds in the window / (N * window / 5 s); the
refreshes the browsers actually asked for (the fragment reruns their sockets sent) are counted
too, and the figure per counted refresh is printed beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
STREAMLIT = str(Path(sys.executable).with_name("streamlit"))
BASELINE_APP = "bench/soak_baseline_app.py"
INTERVAL = 5  # METRICS_INTERVAL, and the fragments' run_every
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Every session keeps its 5 s timer, as a tab in front of an analyst does.
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
]
STARTUP_TIMEOUT = 90
TARGET_GROWTH = 10.0  # % of RSS after the warm-up
TARGET_CPU_MS = 50.0  # per refresh per session
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
# Settings the product also reads from `.env`: empty means "unset" and wins over a developer's `.env`.
_NEUTRAL = ("REDIS_URL", "HOST", "METRICS_TIMEZONE", "METRICS_CURRENCY", "METRICS_REDIS_PREFIX", "METRICS_TOKENS")


# ---- /proc readers ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def uss_bytes(pid: int) -> int:
    """Pages only this process holds (Private_Clean + Private_Dirty)."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1]) * 1024
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, which user time already holds
    return total - idle, total


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
    return parents


def descendants(root: int, exclude: set[int]) -> set[int]:
    """Every process under `root`, without the subtrees of `exclude`."""
    parents = _parents()
    found: set[int] = set()
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid and c not in exclude]
        found.update(children)
        frontier.extend(children)
    return found


def _cpu_of(pids: set[int]) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            seconds[pid] = cpu_seconds(pid)
    return seconds


# ---- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a group of its own, output to `log`; always stopped (SIGTERM, then SIGKILL)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
    try:
        yield process
    finally:
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
                break


def wait_until_up(what: str, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(trust_env=False) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if http.get(url, timeout=2).status_code == 200:
                    return
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not come up; its output:\n{log.read_text(errors='replace')}")
            time.sleep(0.3)


# ---- measuring -------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # monotonic seconds
    cpu: float  # CPU seconds since the process started
    rss: int
    uss: int


@dataclass
class Window:
    """What one measured window saw of one Streamlit process."""

    seconds: float
    samples: list[Sample]
    machine_busy: float  # share of all cores busy, 0..1
    browser_cores: float  # the browser's CPU, in cores
    refreshes: int = 0  # fragment reruns the sessions' sockets asked for
    live_sessions: int | None = None

    @property
    def cpu(self) -> float:
        return self.samples[-1].cpu - self.samples[0].cpu

    def growth(self, attribute: str) -> float:
        first, last = getattr(self.samples[0], attribute), getattr(self.samples[-1], attribute)
        return (last - first) / first * 100

    def peak(self, attribute: str) -> int:
        return max(getattr(s, attribute) for s in self.samples)


@dataclass
class Sessions:
    """Browser sessions on one URL, each in a context of its own, counting the reruns they ask for."""

    browser: Any
    url: str
    contexts: list[Any] = field(default_factory=list)
    pages: list[Any] = field(default_factory=list)
    sent: int = 0

    def open(self, count: int) -> None:
        for _ in range(count):
            context = self.browser.new_context(viewport={"width": 1400, "height": 1600})
            page = context.new_page()
            page.on("websocket", self._watch)
            self.contexts.append(context)
            self.pages.append(page)
            page.goto(self.url, wait_until="commit")
            # One after the other, as analysts arrive: on a busy machine 20 pages loading at once
            # take minutes. A session counts once it has drawn its charts.
            page.get_by_test_id("stPlotlyChart").last.wait_for(timeout=2 * STARTUP_TIMEOUT * 1000)

    def _watch(self, websocket: Any) -> None:
        if "/_stcore/stream" in websocket.url:
            websocket.on("framesent", self._count)

    def _count(self, _payload: Any) -> None:
        self.sent += 1

    def pause(self, seconds: float) -> None:
        """Sleep while Playwright delivers the sessions' events."""
        if self.pages:
            self.pages[0].wait_for_timeout(seconds * 1000)
        else:
            time.sleep(seconds)

    def live(self) -> int:
        return sum(page.locator('div.connection[data-state="live"]').count() > 0 for page in self.pages)

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()
        self.pages.clear()


def measure(
    pid: int,
    seconds: float,
    *,
    every: float,
    pause: Callable[[float], None],
    exclude: set[int],
    progress: Callable[[float, Sample], None] | None = None,
) -> Window:
    """Sample one process every `every` seconds for `seconds`; machine and browser load beside it."""

    def sample() -> Sample:
        return Sample(time.monotonic(), cpu_seconds(pid), rss_bytes(pid), uss_bytes(pid))

    browser = descendants(os.getpid(), exclude)
    browser_before = _cpu_of(browser)
    busy_before, total_before = machine_ticks()
    samples = [sample()]
    end = samples[0].at + seconds
    while (now := time.monotonic()) < end:
        pause(min(every, end - now))
        samples.append(sample())
        if progress is not None:
            progress(samples[-1].at - samples[0].at, samples[-1])
    busy_after, total_after = machine_ticks()
    browser_after = _cpu_of(browser)
    elapsed = samples[-1].at - samples[0].at
    browser_cpu = sum(browser_after[p] - browser_before[p] for p in browser_after if p in browser_before)
    return Window(
        seconds=elapsed,
        samples=samples,
        machine_busy=(busy_after - busy_before) / max(1, total_after - total_before),
        browser_cores=browser_cpu / elapsed,
    )


@contextlib.contextmanager
def profiled(pid: int, seconds: float, out: Path | None) -> Iterator[set[int]]:
    """py-spy sampling `pid` (what holds the GIL) for `seconds`, as collapsed stacks."""
    if out is None:
        yield set()
        return
    spy = str(Path(sys.executable).with_name("py-spy"))
    args = [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "50", "-f", "raw", "-o", str(out), "--gil"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield {process.pid}
    finally:
        process.wait(timeout=seconds + 60)
        print(f"  profile: {out}", flush=True)


def soak(
    sessions: Sessions,
    pid: int,
    count: int,
    warmup: float,
    window: float,
    exclude: set[int],
    profile: Path | None = None,
) -> Window:
    opened = time.monotonic()
    sessions.open(count)
    print(f"  {count} sessions drawn in {time.monotonic() - opened:.0f} s; warm-up {warmup:.0f} s", flush=True)
    sessions.pause(warmup)
    print(f"  measuring {window:.0f} s", flush=True)
    sent_before = sessions.sent
    next_report = [300.0]

    def progress(elapsed: float, sample: Sample) -> None:
        if elapsed >= next_report[0]:
            print(
                f"    {elapsed / 60:4.0f} min: RSS {sample.rss / 2**20:.1f} MB, USS {sample.uss / 2**20:.1f} MB",
                flush=True,
            )
            next_report[0] += 300.0

    with profiled(pid, window, profile) as spy:
        result = measure(pid, window, every=5.0, pause=sessions.pause, exclude=exclude | spy, progress=progress)
    result.refreshes = sessions.sent - sent_before
    result.live_sessions = sessions.live()
    sessions.close()
    return result


# ---- the run ---------------------------------------------------------------------------------


def per_refresh_ms(window: Window, sessions: int, idle_rate: float = 0.0) -> tuple[float, float]:
    """(nominal, counted): ms of CPU per refresh per session, after subtracting `idle_rate` s/s."""
    cpu = window.cpu - idle_rate * window.seconds
    nominal = sessions * window.seconds / INTERVAL
    return cpu / nominal * 1000, cpu / max(1, window.refreshes) * 1000


def report(product: Window, idle: Window, baseline: Window, sessions: int) -> None:
    idle_rate = idle.cpu / idle.seconds
    mb = 2**20
    p_nominal, p_counted = per_refresh_ms(product, sessions)
    b_nominal, b_counted = per_refresh_ms(baseline, sessions)
    p_net, _ = per_refresh_ms(product, sessions, idle_rate)
    expected = sessions * product.seconds / INTERVAL
    rows = [
        ("measured window", f"{product.seconds:.0f} s", f"{baseline.seconds:.0f} s"),
        ("Streamlit CPU in the window", f"{product.cpu:.2f} s", f"{baseline.cpu:.2f} s"),
        (
            "refreshes asked (nominal)",
            f"{product.refreshes} ({expected:.0f})",
            f"{baseline.refreshes} ({sessions * baseline.seconds / INTERVAL:.0f})",
        ),
        ("CPU per refresh per session", f"{p_nominal:.1f} ms", f"{b_nominal:.1f} ms"),
        ("  per counted refresh", f"{p_counted:.1f} ms", f"{b_counted:.1f} ms"),
        (
            "Streamlit CPU share of a core",
            f"{product.cpu / product.seconds:.1%}",
            f"{baseline.cpu / baseline.seconds:.1%}",
        ),
        ("RSS after warm-up", f"{product.samples[0].rss / mb:.1f} MB", f"{baseline.samples[0].rss / mb:.1f} MB"),
        (
            "RSS at the end (peak)",
            *(f"{w.samples[-1].rss / mb:.1f} MB ({w.peak('rss') / mb:.1f})" for w in (product, baseline)),
        ),
        ("RSS growth", f"{product.growth('rss'):+.1f} %", f"{baseline.growth('rss'):+.1f} %"),
        (
            "USS after warm-up -> end",
            *(f"{w.samples[0].uss / mb:.1f} -> {w.samples[-1].uss / mb:.1f} MB" for w in (product, baseline)),
        ),
        ("USS growth", f"{product.growth('uss'):+.1f} %", f"{baseline.growth('uss'):+.1f} %"),
        ("machine busy (2 cores = 100 %)", f"{product.machine_busy:.0%}", f"{baseline.machine_busy:.0%}"),
        ("browser CPU", f"{product.browser_cores:.2f} cores", f"{baseline.browser_cores:.2f} cores"),
    ]
    print(f"\n{sessions} sessions, refresh every {INTERVAL} s")
    print(f"{'':<34}{'product (realtime page)':>26}{'baseline (one chart)':>24}")
    for label, left, right in rows:
        print(f"{label:<34}{left:>26}{right:>24}")
    print(f"\nratio of CPU per refresh, product / baseline: {p_nominal / b_nominal:.2f}x")
    print(
        f"product idle (0 sessions, {idle.seconds:.0f} s): {idle_rate * 1000:.1f} ms of CPU per second; "
        f"net of it, {p_net:.1f} ms per refresh per session"
    )
    print(f"product sessions live at the end: {product.live_sessions} of {sessions}")
    growth = product.growth("rss")
    verdict = {True: "met", False: "MISSED"}
    print(
        f"target: RSS growth < {TARGET_GROWTH:.0f} %: {verdict[growth < TARGET_GROWTH]} ({growth:+.1f} %); "
        f"CPU per refresh per session <= {TARGET_CPU_MS:.0f} ms: {verdict[p_nominal <= TARGET_CPU_MS]} "
        f"({p_nominal:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="a 30-minute measured window (the issue's size)")
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions per app (default 20)")
    parser.add_argument(
        "--warmup", type=float, help="seconds before measuring (default 30; 60 with --full; 15 at most on the baseline)"
    )
    parser.add_argument("--window", type=float, help="measured seconds on the product (default 60; 1800 with --full)")
    parser.add_argument(
        "--baseline-window", type=float, help="measured seconds on the baseline (default 30; 120 with --full)"
    )
    parser.add_argument("--idle", type=float, default=10.0, help="measured seconds with zero sessions (default 10)")
    parser.add_argument("--profile", type=Path, help="py-spy the product's window into this file (collapsed stacks)")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else (60.0 if args.full else 30.0)
    window = args.window if args.window is not None else (1800.0 if args.full else 60.0)
    baseline_window = args.baseline_window if args.baseline_window is not None else (120.0 if args.full else 30.0)
    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="dashboard-soak-") as tmp:
        work = Path(tmp)
        api_port, product_port, baseline_port = free_port(), free_port(), free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("METRICS_", "STREAMLIT_"))}
        env.update(dict.fromkeys(_NEUTRAL, ""))
        env.update(
            DATABASE_URL=f"sqlite:///{work / 'soak.db'}",
            HOST="127.0.0.1",
            PORT=str(api_port),
            METRICS_INTERVAL=str(INTERVAL),
            METRICS_API_URL=api_url,
            METRICS_WS_URL=f"ws://127.0.0.1:{api_port}/ws/metrics",
        )
        subprocess.run(
            [PYTHON, "-m", "tools.demo", "--yes-write-demo-data", "--seed", "5"], cwd=ROOT, env=env, check=True
        )
        with contextlib.ExitStack() as stack:
            sidecar = stack.enter_context(started([PYTHON, "-m", "server"], env, work / "sidecar.log"))
            wait_until_up("the sidecar", f"{api_url}/health", sidecar, work / "sidecar.log")
            simulator = stack.enter_context(
                started([PYTHON, "-m", "tools.simulate", "--url", api_url, "--seed", "5"], env, work / "simulate.log")
            )
            apps = {}
            for name, script, port in (("product", "app.py", product_port), ("baseline", BASELINE_APP, baseline_port)):
                log = work / f"{name}.log"
                app_env = {**env, "STREAMLIT_SERVER_PORT": str(port)}
                apps[name] = stack.enter_context(started([STREAMLIT, "run", script], app_env, log))
                wait_until_up(f"the {name} Streamlit", f"http://127.0.0.1:{port}/_stcore/health", apps[name], log)
            servers = {sidecar.pid, simulator.pid, apps["product"].pid, apps["baseline"].pid}
            print(
                f"sidecar {api_url}, product :{product_port} (pid {apps['product'].pid}), "
                f"baseline :{baseline_port} (pid {apps['baseline'].pid})",
                flush=True,
            )

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                print(f"product: the realtime page, {args.sessions} sessions", flush=True)
                product_sessions = Sessions(browser, f"http://127.0.0.1:{product_port}/")
                product = soak(
                    product_sessions, apps["product"].pid, args.sessions, warmup, window, servers, args.profile
                )
                print(f"product idle: zero sessions, {args.idle:.0f} s", flush=True)
                time.sleep(INTERVAL)
                idle = measure(apps["product"].pid, args.idle, every=5.0, pause=time.sleep, exclude=servers)
                print(f"baseline: {BASELINE_APP}, {args.sessions} sessions", flush=True)
                baseline_sessions = Sessions(browser, f"http://127.0.0.1:{baseline_port}/")
                baseline = soak(
                    baseline_sessions, apps["baseline"].pid, args.sessions, min(warmup, 15.0), baseline_window, servers
                )
                browser.close()
        report(product, idle, baseline, args.sessions)


if __name__ == "__main__":
    main()
