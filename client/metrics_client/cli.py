"""`python -m metrics_client tail | alerts` (or `metrics-client ...`): live JSON lines on stdout.

Connection news goes to stderr, so stdout stays one JSON object per line for a pipe (or, with
`tail --format csv`, a header and one CSV line per snapshot). `tail --since N` starts with the
snapshots after N that the sidecar still keeps; a reset (they are not all kept) is said on stderr.
Exit codes:
0 when the stream ends, 1 after the backoff gave up, 2 when the token was refused or a setting
is unusable, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metrics_client.lines import FORMATS, csv_header, csv_row, json_line
from metrics_client.live import ConnectionState, GaveUp, MetricsClient, Refused
from metrics_client.settings import ClientConfigurationError, ClientSettings

_COMMANDS = (
    ("tail", "print every snapshot as one JSON line (or, with --format csv, one CSV line)"),
    ("alerts", "print every alert transition (firing, resolved) as one JSON line; those firing now first"),
)


async def _print_lines(url: str, token: str | None, what: str, since: int | None = None, form: str = "json") -> int:
    def report(state: ConnectionState) -> None:
        if state.status == "retrying":
            print(f"disconnected: {state.error}; retrying in {state.retry_in:g} s", file=sys.stderr)
        elif state.status == "live":
            print(f"connected to {url}", file=sys.stderr)

    def say_reset(message: dict[str, Any]) -> None:
        print(
            f"reset: the snapshots after {message.get('since')} are not all kept ({message.get('reason')}); "
            f"oldest kept {message.get('oldest')}, going on from the current one",
            file=sys.stderr,
        )

    csv = form == "csv"
    # CSV writes money as the sidecar sent it, so numbers are decoded as Decimal there.
    client = MetricsClient(url, token=token, on_state=report, since=since, on_reset=say_reset, exact=csv)
    items = client.alerts() if what == "alerts" else client.snapshots()
    if csv:
        print(csv_header(), flush=True)
    try:
        async for item in items:
            print(csv_row(item) if csv else json_line(item), flush=True)
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except GaveUp as exc:
        print(f"giving up after {len(client.backoff)} attempts: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Subscribe to the sidecar's live metrics; one JSON object per line on stdout, "
        "connection news on stderr.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in _COMMANDS:
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "--url", help="WebSocket URL (default: METRICS_WS_URL, else ws://localhost:3000/ws/metrics)"
        )
        command.add_argument("--token", help="API token with the read scope (default: METRICS_TOKEN)")
        if name == "tail":
            command.add_argument(
                "--since",
                type=_snapshot_id,
                metavar="N",
                help="start with the snapshots after snapshotId N that the sidecar still keeps",
            )
            command.add_argument(
                "--format",
                choices=FORMATS,
                default="json",
                help="json: one object per line (default); csv: a header, then the main figures of each snapshot",
            )
    return parser


def _snapshot_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a snapshotId is an integer >= 0, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """The command; `prog` is how `--help` names it (by default as it was started)."""
    started_as = Path(sys.argv[0]).name
    default_prog = "python -m metrics_client" if started_as in ("__main__.py", "-c", "") else started_as
    args = build_parser(prog or default_prog).parse_args(argv)
    try:
        settings = ClientSettings.from_env()
    except ClientConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(
            _print_lines(
                args.url or settings.ws_url,
                args.token or settings.token,
                args.command,
                getattr(args, "since", None),
                getattr(args, "format", "json"),
            )
        )
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
