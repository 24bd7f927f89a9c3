"""The `python -m tools.simulate` command: the wall-clock loop and its options."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from metrics_client.protocol import EVENTS_PATH
from metrics_client.settings import ClientConfigurationError, ClientSettings
from tools.simulate.sender import EventSender, SendStats
from tools.simulate.traffic import DEMO_RATE, TrafficModel, demo_profile

_WIND_DOWN_SECONDS = 2.0  # how long a stopping run keeps trying to deliver its last events


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def run_simulation(
    model: TrafficModel,
    sender: EventSender,
    *,
    batch_interval: float = 1.0,
    duration: float | None = None,
    report_every: float = 10.0,
    clock: Callable[[], datetime] = _utc_now,
    monotonic: Callable[[], float] = time.monotonic,
) -> SendStats:
    """Every `batch_interval`, send what the model produced since the last batch; until `duration`."""
    started = monotonic()
    deadline = None if duration is None else started + duration
    next_batch = started + batch_interval
    next_report = started + report_every
    try:
        while True:
            wake = next_batch if deadline is None else min(next_batch, deadline)
            await asyncio.sleep(max(0.0, wake - monotonic()))
            await sender.send(model.tick(clock()), deadline=deadline)
            moment = monotonic()
            if deadline is not None and moment >= deadline:
                break
            if moment >= next_report:
                sender.say(sender.stats.line(moment - started))
                next_report = moment + report_every
            # After a slow send, carry on from now instead of sending a burst to catch up.
            next_batch = max(next_batch + batch_interval, moment)
    finally:  # at the end of `duration` and on Ctrl-C alike; a stop should not wait long
        await sender.send(model.finish(clock()), deadline=monotonic() + _WIND_DOWN_SECONDS)
    return sender.stats


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"{name!r} is not an IANA time zone") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.simulate",
        description=(
            "Send realistic demo traffic to a running sidecar: users who come and go, content views "
            "with a skewed popularity, and purchases, some pending and settled later. Events go to "
            f"POST <url>{EVENTS_PATH} in batches; a failed batch is retried (events are idempotent)."
        ),
        epilog=(
            "A summary line goes to stderr every --report-every seconds and at the end. Ctrl-C (or SIGTERM) "
            "stops; transactions still pending then get their outcome, so that none stays pending forever."
        ),
    )
    parser.add_argument("--url", help="the sidecar's base URL (default: METRICS_API_URL, else http://localhost:3000)")
    parser.add_argument(
        "--rate",
        type=_positive,
        default=DEMO_RATE,
        help=(
            "events per second at the rhythm's weight 1 (a weekday afternoon); the local hour and weekday "
            f"scale it, as in the demo history (default: {DEMO_RATE:g}, the demo history's own)"
        ),
    )
    parser.add_argument(
        "--timezone",
        type=_zone,
        default=ZoneInfo("UTC"),
        help="the IANA zone whose hours and weekdays set the rhythm; the sidecar's METRICS_TIMEZONE (default: UTC)",
    )
    parser.add_argument("--duration", type=_positive, help="stop after this many seconds (default: run until Ctrl-C)")
    parser.add_argument(
        "--seed", type=int, help="seed of the random traffic, to repeat a run's pattern (ids still differ per run)"
    )
    parser.add_argument("--batch-interval", type=_positive, default=1.0, help="seconds between batches (default: 1)")
    parser.add_argument(
        "--report-every", type=_positive, default=10.0, help="seconds between summary lines (default: 10)"
    )
    return parser


async def _simulate(args: argparse.Namespace, url: str, stats: SendStats) -> None:
    run_id = secrets.token_hex(4)  # not from the seed: a repeated seed must not repeat ids
    profile = demo_profile(args.timezone, rate=args.rate)
    model = TrafficModel(random.Random(args.seed), _utc_now(), profile, run_id=run_id)
    # SIGTERM (how run.sh and service managers stop it) ends the run like Ctrl-C, with its wind-down.
    main_task = asyncio.current_task()
    assert main_task is not None
    with contextlib.suppress(NotImplementedError):  # no loop signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    async with httpx.AsyncClient(timeout=10.0) as client:
        sender = EventSender(client, url, stats=stats)
        sender.say(
            f"sending the demo platform's traffic ({args.rate:g} events/s at weight 1, {args.timezone.key} hours) "
            f"to {sender.events_url} every {args.batch_interval:g} s "
            f"(run {run_id}, {model.online_users} users online); Ctrl-C stops"
        )
        await run_simulation(
            model, sender, batch_interval=args.batch_interval, duration=args.duration, report_every=args.report_every
        )


def main(argv: Sequence[str] | None = None, settings: ClientSettings | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = args.url
    if url is None:
        # A client of the sidecar like any script: it reads METRICS_API_URL, never the sidecar's settings.
        try:
            url = (settings or ClientSettings.from_env()).api_url
        except ClientConfigurationError as exc:
            print(f"simulate: {exc}", file=sys.stderr)
            return 2
    if not url.startswith(("http://", "https://")):
        print(f"simulate: the sidecar's URL must start with http:// or https://, got {url!r}", file=sys.stderr)
        return 2
    started = time.monotonic()
    stats = SendStats()
    # Ctrl-C (KeyboardInterrupt) or SIGTERM (a cancelled run) is how a run without --duration ends.
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(_simulate(args, url, stats))
    print(f"simulate: done: {stats.line(time.monotonic() - started)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
