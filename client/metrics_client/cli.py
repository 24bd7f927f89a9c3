"""`python -m metrics_client tail | alerts` (or `metrics-client ...`): live JSON lines on stdout.

Connection news goes to stderr, so stdout stays one JSON object per line for a pipe. Exit codes:
0 when the stream ends, 1 after the backoff gave up, 2 when the token was refused or a setting
is unusable, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from metrics_client.live import ConnectionState, GaveUp, MetricsClient, Refused
from metrics_client.settings import ClientConfigurationError, ClientSettings

_COMMANDS = (
    ("tail", "print every snapshot as one JSON line"),
    ("alerts", "print every alert transition (firing, resolved) as one JSON line; those firing now first"),
)


async def _print_lines(url: str, token: str | None, what: str) -> int:
    def report(state: ConnectionState) -> None:
        if state.status == "retrying":
            print(f"disconnected: {state.error}; retrying in {state.retry_in:g} s", file=sys.stderr)
        elif state.status == "live":
            print(f"connected to {url}", file=sys.stderr)

    client = MetricsClient(url, token=token, on_state=report)
    items = client.alerts() if what == "alerts" else client.snapshots()
    try:
        async for item in items:
            print(json.dumps(item, separators=(",", ":")), flush=True)
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
    return parser


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
        return asyncio.run(_print_lines(args.url or settings.ws_url, args.token or settings.token, args.command))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
