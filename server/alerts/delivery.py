"""Alert transitions posted to webhooks in the background, so that the snapshot loop never waits
on a receiver.

`WebhookDelivery.offer` only appends to a bounded queue per webhook (a full queue drops its
OLDEST waiting delivery, counted as `dropped`: the newest transitions say what holds now). One task
per webhook posts its queue in order; a slow or dead receiver holds up only its own queue.
Network errors, timeouts, 5xx and 429 are retried with exponential backoff and jitter up to
`DeliveryPolicy.attempts` attempts in all; any other answer is final. What happens is counted by
webhook and outcome (`delivered`, `failed`, `retried`, `dropped`) and a failure that repeats is
logged once, naming the webhook only (its URL may be its credential).

Deliveries still queued when the sidecar stops get a short grace (`drain`), then are dropped; a
process that dies loses its queue (delivery is at most once per transition, retries included).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from server.alerts.rules import Rule
from server.alerts.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhook, body_for, signature, targets
from server.errors import ConfigurationError
from server.failures import RepeatingFailures, brief

log = logging.getLogger("server.alerts.webhooks")

OUTCOMES = ("delivered", "failed", "retried", "dropped")
Outcome = Literal["delivered", "failed", "retried", "dropped"]
_USER_AGENT = "realtime-metrics-alerts/1"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard delivery tries; not environment variables (tests shorten them)."""

    queue_size: int = 256  # waiting deliveries per webhook; past it the oldest is dropped
    attempts: int = 6  # in all, the first included
    first_backoff: float = 1.0  # seconds before the first retry; doubled for each next one
    max_backoff: float = 60.0
    timeout: float = 10.0  # seconds for one attempt, from connecting to the answer's headers
    drain_timeout: float = 5.0  # at shutdown, seconds to finish what is queued

    def __post_init__(self) -> None:
        if self.queue_size < 1 or self.attempts < 1:
            raise ConfigurationError("webhook delivery needs a queue of at least 1 and at least 1 attempt")
        if not (self.first_backoff >= 0 and self.max_backoff >= self.first_backoff and self.timeout > 0):
            raise ConfigurationError("webhook delivery timings must be positive, max_backoff >= first_backoff")


class _Retry(Exception):
    def __init__(self, problem: str, after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.after = after


class _Refused(Exception):
    """An answer that another attempt would not change (a 4xx other than 429, a redirect)."""


class WebhookDelivery:
    def __init__(
        self,
        webhooks: Sequence[Webhook],
        policy: DeliveryPolicy,
        *,
        count: Callable[[str, Outcome], None],
        origin: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.webhooks = tuple(webhooks)
        self.policy = policy
        self._count = count
        self._origin = dict(origin or {})  # deployment and instance, in every JSON body
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._queues: dict[str, deque[bytes]] = {webhook.name: deque() for webhook in webhooks}
        self._waiting: dict[str, asyncio.Event] = {webhook.name: asyncio.Event() for webhook in webhooks}
        self._idle: dict[str, asyncio.Event] = {webhook.name: asyncio.Event() for webhook in webhooks}
        for idle in self._idle.values():
            idle.set()
        self.failures = RepeatingFailures(log, monotonic=monotonic)

    def depth(self, webhook: str) -> int:
        """Deliveries waiting for `webhook` (the one being attempted not included)."""
        return len(self._queues[webhook])

    def offer(self, alert: Mapping[str, Any], rule: Rule) -> None:
        """Queue one transition for every webhook of `rule`; never waits."""
        for webhook in targets(rule.notify, self.webhooks):
            queue = self._queues[webhook.name]
            job = f"alert webhook {webhook.name!r} queue"
            if len(queue) >= self.policy.queue_size:
                queue.popleft()
                self._count(webhook.name, "dropped")
                self.failures.failed(job, f"full ({self.policy.queue_size} waiting): the oldest deliveries are dropped")
            else:
                self.failures.recovered(job)
            queue.append(body_for(webhook, alert, self._origin))
            self._idle[webhook.name].clear()
            self._waiting[webhook.name].set()

    async def run(self) -> None:
        """Post every queue, one task per webhook, until cancelled."""
        if not self.webhooks:
            return
        timeout = httpx.Timeout(self.policy.timeout)
        limits = httpx.Limits(max_connections=len(self.webhooks) * 2, max_keepalive_connections=len(self.webhooks))
        # httpx logs each request's full URL at INFO; a webhook's is shown by its name instead.
        hide_urls = _NameWebhooks(self.webhooks)
        logging.getLogger("httpx").addFilter(hide_urls)
        try:
            async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as client:
                workers = [asyncio.create_task(self._work(client, webhook)) for webhook in self.webhooks]
                try:
                    await asyncio.gather(*workers)
                finally:
                    for worker in workers:
                        worker.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
                    self._drop_the_rest()
        finally:
            logging.getLogger("httpx").removeFilter(hide_urls)

    async def drain(self) -> None:
        """Wait, at most the policy's `drain_timeout`, until nothing is queued or being sent."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.policy.drain_timeout):
                for idle in self._idle.values():
                    await idle.wait()

    async def _work(self, client: httpx.AsyncClient, webhook: Webhook) -> None:
        queue, waiting, idle = self._queues[webhook.name], self._waiting[webhook.name], self._idle[webhook.name]
        while True:
            while not queue:
                idle.set()
                waiting.clear()
                await waiting.wait()
            try:
                await self._deliver(client, webhook, queue.popleft())
            except asyncio.CancelledError:
                self._count(webhook.name, "dropped")  # stopped half-way: neither delivered nor given up
                raise

    async def _deliver(self, client: httpx.AsyncClient, webhook: Webhook, body: bytes) -> None:
        job = f"alert webhook {webhook.name!r}"
        for attempt in range(1, self.policy.attempts + 1):
            try:
                await self._post(client, webhook, body)
            except _Retry as retry:
                self.failures.failed(job, retry.problem)
                if attempt == self.policy.attempts:
                    break
                self._count(webhook.name, "retried")
                await self._sleep(self._backoff(attempt, retry.after))
                continue
            except _Refused as refused:
                self.failures.failed(job, str(refused))
                break
            self._count(webhook.name, "delivered")
            self.failures.recovered(job)
            return
        # Counted, not logged: the failure itself is logged once, however many transitions it costs.
        self._count(webhook.name, "failed")

    async def _post(self, client: httpx.AsyncClient, webhook: Webhook, body: bytes) -> None:
        timestamp = str(int(self._clock()))
        headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT, TIMESTAMP_HEADER: timestamp}
        if webhook.secret is not None:
            headers[SIGNATURE_HEADER] = signature(webhook.secret, timestamp, body)
        try:
            # One deadline for the whole attempt: httpx's timeouts are per read, and a receiver
            # that trickles its answer would otherwise hold the queue for as long as it likes.
            async with asyncio.timeout(self.policy.timeout):
                # Streamed and never read: the answer's status is all that counts, and its body
                # could be of any size.
                async with client.stream("POST", webhook.url, content=body, headers=headers) as response:
                    status, retry_after = response.status_code, response.headers.get("retry-after")
        except TimeoutError:
            raise _Retry(f"no answer within {self.policy.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _Retry(_scrubbed(brief(exc), webhook.url)) from None
        except httpx.HTTPError as exc:  # an invalid request: another attempt would fail the same way
            raise _Refused(_scrubbed(brief(exc), webhook.url)) from None
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}", _seconds(retry_after))
        raise _Refused(f"HTTP {status} (not retried)")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential, capped, with jitter (so many instances' retries do not arrive in step);
        a 429's or 503's Retry-After is honoured up to the cap."""
        ceiling = min(self.policy.max_backoff, self.policy.first_backoff * 2 ** (attempt - 1))
        delay = self._jitter(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.policy.max_backoff))
        return delay

    def _drop_the_rest(self) -> None:
        for name, queue in self._queues.items():
            if queue:
                log.warning("alert webhook %r: %d deliveries not sent before shutdown", name, len(queue))
                for _ in range(len(queue)):
                    self._count(name, "dropped")
                queue.clear()


class _NameWebhooks(logging.Filter):
    """Replaces each webhook's URL in a log line with `<webhook NAME>`."""

    def __init__(self, webhooks: Sequence[Webhook]) -> None:
        super().__init__()
        self._names = {str(httpx.URL(webhook.url)): webhook.name for webhook in webhooks}
        self._names.update({webhook.url: webhook.name for webhook in webhooks})

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        named = message
        for url, name in self._names.items():
            named = named.replace(url, f"<webhook {name}>")
        if named != message:
            record.msg, record.args = named, None
        return True


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is ignored: backoff applies)."""
    if retry_after is None or not retry_after.strip().isdigit():
        return None
    return float(retry_after.strip())


def _scrubbed(text: str, url: str) -> str:
    """An error's text without the URL or its path and query (a Slack URL's path is its secret)."""
    text = text.replace(url, "<url>")
    with contextlib.suppress(httpx.InvalidURL):
        path = httpx.URL(url).raw_path.decode(errors="replace")
        if len(path) > 1:
            text = text.replace(path, "/…")
    return text
