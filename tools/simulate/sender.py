"""Sending events to the sidecar: batches, idempotent retries with backoff, counts."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from metrics_client.protocol import EVENTS_PATH, MAX_BATCH_EVENTS

# Gateways and an unreachable database: the batch was not stored, and it is idempotent to resend.
_RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


@dataclass
class SendStats:
    """What the sidecar answered, summed over a run."""

    sent: int = 0  # events of batches the sidecar answered 200
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0  # events of batches refused with a 4xx: dropped, since resending cannot help
    unsent: int = 0  # events still undelivered when the run ended
    retries: int = 0

    def line(self, elapsed: float) -> str:
        per_second = self.sent / elapsed if elapsed > 0 else 0.0
        text = f"{self.sent} events sent ({per_second:.1f}/s), {self.accepted} accepted, {self.duplicates} duplicates"
        for name in ("rejected", "unsent", "retries"):
            if value := getattr(self, name):
                text += f", {value} {name}"
        return text


class EventSender:
    """Posts batches of events to the sidecar, resending a batch until it is stored.

    Resending is safe because every batch is idempotent (`eventId`s, transaction ids), so a network
    error or a 503 is retried with exponential backoff, honouring `Retry-After`. A 4xx means the
    batch itself is wrong: it is reported and dropped, and the run goes on.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        log: TextIO | None = None,
        stats: SendStats | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        first_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.stats = stats if stats is not None else SendStats()
        self.events_url = url.rstrip("/") + EVENTS_PATH
        self._client = client
        self._log = log
        self._sleep = sleep
        self._monotonic = monotonic
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff

    def say(self, message: str) -> None:
        print(f"simulate: {message}", file=self._log or sys.stderr, flush=True)

    async def send(self, events: Sequence[dict[str, Any]], *, deadline: float | None = None) -> None:
        """Deliver `events` in batches the contract allows; give up retrying at `deadline` (monotonic)."""
        for start in range(0, len(events), MAX_BATCH_EVENTS):
            await self._send_batch(events[start : start + MAX_BATCH_EVENTS], deadline)

    async def _send_batch(self, batch: Sequence[dict[str, Any]], deadline: float | None) -> None:
        body = json.dumps({"events": list(batch)}).encode()  # the same bytes on every attempt
        backoff = self._first_backoff
        while True:
            retry_after = 0.0
            try:
                response = await self._client.post(
                    self.events_url, content=body, headers={"content-type": "application/json"}
                )
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__} ({exc})" if str(exc) else type(exc).__name__
            else:
                if response.status_code == 200:
                    self._count(batch, response)
                    return
                if response.status_code not in _RETRYABLE_STATUS:
                    self.stats.rejected += len(batch)
                    self.say(f"the sidecar refused {len(batch)} events ({_describe(response)}); dropped them")
                    return
                problem = _describe(response)
                retry_after = _retry_after(response)
            wait = min(max(backoff, retry_after), self._max_backoff)
            if deadline is not None and self._monotonic() + wait > deadline:
                self.stats.unsent += len(batch)
                self.say(f"{problem}; the run ends before a retry, {len(batch)} events not delivered")
                return
            self.say(f"{problem}; sending the same {len(batch)} events again in {wait:.1f} s")
            self.stats.retries += 1
            await self._sleep(wait)
            backoff = min(backoff * 2, self._max_backoff)

    def _count(self, batch: Sequence[dict[str, Any]], response: httpx.Response) -> None:
        self.stats.sent += len(batch)
        try:
            answer = response.json()
            self.stats.accepted += int(answer["accepted"])
            self.stats.duplicates += int(answer["duplicates"])
        except (ValueError, KeyError, TypeError):
            self.say(f"200 without the contract's counts from {self.events_url}: is this the sidecar?")


def _describe(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"HTTP {response.status_code} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else 0.0


# -- running ---------------------------------------------------------------------------------
