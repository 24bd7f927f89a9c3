"""The README is executable: every shell and Python example in it runs, as printed, against a sidecar
on a test port, and prints what the README says it prints.

How the README states it (the conventions this test reads):
- Every ```bash and ```python block is an example that runs, unless the line just before it is
  `<!-- not run: <why> -->` (it starts the whole product, needs a production host, ...).
- What an example prints is written under it: lines starting with `# ` after a shell command, or
  the block (```json or ```text) that follows it directly. Without either, the example must
  succeed (exit 0) and print something.
- `<!-- runs until stopped -->` before an example: it never ends by itself (a subscription); the
  test stops it once it has printed as many lines as the README shows.
- `<!-- with: name -->` before an example: the sidecar first gets the data set `name` (below), so
  that the numbers the README prints are the numbers it answers.
- In what is printed, `...` or `…` stands for anything (several values, or part of a string),
  and `<name>` for one value that changes from run to run (an id, a time, a token).

Addresses in the examples (`127.0.0.1:3000`, `localhost:3000`) are rewritten to the test's port.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from tests.support.live import serve, wait_until

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
RUNNABLE = {"bash", "python"}
EXAMPLE_TIMEOUT = 30.0
UNTIL_STOPPED_TIMEOUT = 15.0


@dataclass
class Example:
    line: int  # where its block starts in README.md (1-based)
    lang: str
    code: str
    expected: list[str] = field(default_factory=list)  # printed lines, as the README shows them
    not_run: str | None = None
    until_stopped: bool = False
    data: str | None = None

    @property
    def name(self) -> str:
        first = next((line for line in self.code.splitlines() if line.strip() and not line.startswith("#")), "")
        return f"README.md:{self.line} {first[:60]}"


_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
_MARK = re.compile(r"<!--\s*(not run|runs until stopped|with)\s*:?\s*(.*?)\s*-->")


def examples() -> list[Example]:
    text = README.read_text()
    blocks = [(m.start(), m.end(), m.group(1), m.group(2)) for m in _FENCE.finditer(text)]
    found: list[Example] = []
    for index, (start, end, lang, body) in enumerate(blocks):
        if lang not in RUNNABLE:
            continue
        before = text[blocks[index - 1][1] if index else 0 : start]
        marks = dict(
            (kind, value) for kind, value in _MARK.findall(before.strip().splitlines()[-1] if before.strip() else "")
        )
        example = Example(text.count("\n", 0, start) + 1, lang, body)
        example.not_run = marks.get("not run")
        example.until_stopped = "runs until stopped" in marks
        example.data = marks.get("with")
        example.code, example.expected = _split_output(lang, body)
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if following is not None and following[2] in ("json", "text") and not text[end : following[0]].strip():
            example.expected = following[3].rstrip("\n").splitlines()
        found.append(example)
    return found


def _split_output(lang: str, body: str) -> tuple[str, list[str]]:
    """The code, and the output lines written as `# ` comment lines after it (at the end of a block)."""
    lines = body.rstrip("\n").splitlines()
    output: list[str] = []
    while lines and lines[-1].startswith("# "):
        output.insert(0, lines.pop()[2:])
    return "\n".join(lines) + "\n", output


# -- what is printed, compared -----------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\.\.\.|…|<[A-Za-z_][\w ]*>|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[^\s"]')


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _placeholder(token: str) -> bool:
    return token.startswith("<") and token.endswith(">") and len(token) > 2


def _same(expected: str, actual: str) -> bool:
    if expected.startswith('"') and actual.startswith('"'):
        pattern = re.escape(expected).replace(re.escape("..."), ".*").replace(re.escape("…"), ".*")
        pattern = re.sub(r"<[A-Za-z_][\w ]*>", ".+", pattern.replace(r"\<", "<").replace(r"\>", ">"))
        return re.fullmatch(pattern, actual, re.S) is not None
    try:
        return Decimal(expected) == Decimal(actual)
    except InvalidOperation:
        return expected == actual


def matches(expected: list[str], actual: str) -> bool:
    """Whether `actual` (what the example printed) is what the README shows, token by token:
    whitespace does not count, numbers compare by value, `...` stands for any run of tokens."""
    want, got = _tokens("\n".join(expected)), _tokens(actual)

    def match(i: int, j: int) -> bool:
        while i < len(want):
            if want[i] in ("...", "…"):
                return any(match(i + 1, k) for k in range(j, len(got) + 1))
            if _placeholder(want[i]):  # one value that changes from run to run: some tokens, not none
                return any(match(i + 1, k) for k in range(j + 1, len(got) + 1))
            if j >= len(got) or not _same(want[i], got[j]):
                return False
            i, j = i + 1, j + 1
        return j == len(got)

    return match(0, 0)


# -- the data sets an example may ask for ------------------------------------------------------


def _berlin_november(base: str) -> None:
    """Sales on the first three days of November 2026, Berlin time: 1204.50, 1300.00, 1366.70."""
    sales = [("2026-11-01T10:00:00+01:00", "1204.50"), ("2026-11-02T10:00:00+01:00", "1300.00")]
    sales.append(("2026-11-03T23:30:00+01:00", "1366.70"))
    events = [
        {"type": "transaction", "id": f"nov-{n}", "userId": "u-1", "amount": amount, "status": "completed", "at": at}
        for n, (at, amount) in enumerate(sales)
    ]
    assert httpx.post(f"{base}/api/v1/events", json={"events": events}).status_code == 200


def _a_sale(base: str) -> None:
    """One completed sale of 12.50 by u-1, now, and a snapshot that counts it."""
    event = {"type": "transaction", "id": "t-readme", "userId": "u-1", "amount": "12.50", "status": "completed"}
    assert httpx.post(f"{base}/api/v1/events", json=event).status_code == 200
    wait_until(
        lambda: httpx.get(f"{base}/api/v1/analytics/realtime-metrics").json()["revenue"]["today"] == 12.5,
        10,
        "a snapshot counts the sale",
    )


DATA: dict[str, Callable[[str], None]] = {"berlin-november": _berlin_november, "a-sale": _a_sale}


# -- running them ------------------------------------------------------------------------------


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[str]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'readme.db'}", interval=0.5, embedded=False)
    with serve(settings) as address:
        yield address


def _run(example: Example, address: str, scratch: Path) -> tuple[int | None, str]:
    code = example.code.replace("127.0.0.1:3000", address).replace("localhost:3000", address)
    command = ["bash", "-eo", "pipefail", "-c", code] if example.lang == "bash" else [sys.executable, "-c", code]
    env = {
        **os.environ,
        # This checkout's `client/` stays first (tests/__init__.py put it in PYTHONPATH), so the
        # examples run the client of this checkout, not the one a shared virtualenv points at.
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "METRICS_WS_URL": f"ws://{address}/ws/metrics",
        "METRICS_API_URL": f"http://{address}",
        # An example that opens a database of its own (the Python API) gets a scratch one.
        "DATABASE_URL": f"sqlite:///{scratch / 'example.db'}",
        "REDIS_URL": "",
    }
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    if not example.until_stopped:
        try:
            out, err = process.communicate(timeout=EXAMPLE_TIMEOUT)
        finally:
            _stop(process)
        assert process.returncode == 0, f"{example.name} failed ({process.returncode}):\n{err}"
        return process.returncode, out
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for _ in range(max(1, len(example.expected))):
            lines.append(process.stdout.readline().rstrip("\n"))
    finally:
        _stop(process)
    return None, "\n".join(lines)


def _stop(process: subprocess.Popen[str]) -> None:
    """End the example and whatever it started (its own process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.parametrize("example", [e for e in examples() if e.not_run is None], ids=lambda e: e.name)
def test_the_readme_example_prints_what_the_readme_says(example: Example, sidecar: str, tmp_path: Path) -> None:
    if example.data is not None:
        DATA[example.data](f"http://{sidecar}")
    _, printed = _run(example, sidecar, tmp_path)
    if example.expected:
        assert matches(example.expected, printed), (
            f"{example.name} printed:\n{printed}\nthe README says:\n" + "\n".join(example.expected)
        )
    else:
        assert printed.strip(), f"{example.name} printed nothing"


def test_every_example_that_is_not_run_says_why() -> None:
    for example in examples():
        if example.not_run is not None:
            assert len(example.not_run) > 10, f"{example.name}: say why it is not run"


def test_the_comparison_reads_the_readme_the_way_a_person_would() -> None:
    assert matches(['{"accepted": 4, "duplicates": 0}'], '{"accepted":4,"duplicates":0}\n')
    assert not matches(['{"accepted": 4, "duplicates": 0}'], '{"accepted":3,"duplicates":0}')
    assert matches(
        ['{"points": [{"value": 1204.50}, ...], "total": 3871.20}'],
        '{"points":[{"value":1204.5},{"value":1}],"total":3871.2}',
    )
    assert matches(
        ["token (give it to the client; it is shown once): mt_..."],
        "token (give it to the client; it is shown once): mt_Abc-9",
    )
    assert matches(["<snapshotId> 12.5 1"], "7 12.5 1")
    assert not matches(["<snapshotId> 12.5 1"], "7 12.5 2")
    assert matches(["METRICS_TOKENS entry: dashboard:read:<sha256>"], "METRICS_TOKENS entry: dashboard:read:2d71a6")
