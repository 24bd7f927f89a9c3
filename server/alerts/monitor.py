"""Alert evaluation on each computed snapshot: read the signals, step the rules, keep and push
what changed, and hand it to the webhooks. Runs only where snapshots are computed (the instance
holding the lease), and only a transition this instance recorded in the database is pushed and
handed on: each is delivered once, however many instances run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from server.alerts.delivery import WebhookDelivery
from server.alerts.evaluate import AlertEvaluator, Transition, snapshot_values
from server.alerts.feed import AlertFeed
from server.alerts.rules import Rule
from server.alerts.silences import Silence, is_silenced
from server.fields import whole_number
from server.metrics import format_timestamp
from server.storage import alerts as store
from server.storage.models import AlertEvent

log = logging.getLogger("server.alerts")

_MILLISECOND = Decimal("0.001")


class AlertsQuery(BaseModel):
    """The query of `GET /api/v1/alerts` (the listing below)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: Annotated[int, *whole_number(1, 500), Field(description="Firings to list.")] = 50


class AlertMonitor:
    def __init__(
        self,
        rules: tuple[Rule, ...],
        engine: AsyncEngine,
        feed: AlertFeed,
        zone: ZoneInfo,
        *,
        delivery: WebhookDelivery | None = None,
        silences: Sequence[Silence] = (),
    ) -> None:
        self.rules = rules
        self._engine = engine
        self._feed = feed
        self._zone = zone
        self._delivery = delivery
        self._silences = tuple(silences)
        self._evaluator = AlertEvaluator(rules)
        self._metrics = {rule.metric for rule in rules}

    async def start(self) -> None:
        """Load the alerts firing now, so sockets that subscribe get them at once."""
        firing = await store.open_firings(self._engine)
        self._feed.prefill([self._json(event) for event in firing.values()])

    async def check(self, data: dict[str, Any], compute_seconds: float, now: datetime) -> list[dict[str, Any]]:
        """Evaluate every rule on one snapshot; returns the transitions it pushed."""
        if not self.rules:
            return []
        values = snapshot_values(data, await self._signals(data, compute_seconds, now))
        firing = await store.open_firings(self._engine)
        pushed: list[dict[str, Any]] = []
        for transition in self._evaluator.step(firing.keys(), values):
            event = await self._record(transition, firing, now, int(data["snapshotId"]))
            if event is None:
                continue  # another instance recorded it first
            alert = self._json(event, state=transition.state, value=transition.value)
            log.warning(
                "alert %s: %s (%s)%s",
                transition.state,
                transition.rule.name,
                event.message,
                " [silenced: not sent to webhooks]" if alert["silenced"] else "",
            )
            await self._feed.publish(alert)
            if self._delivery is not None and not alert["silenced"]:
                self._delivery.offer(alert, transition.rule)
            pushed.append(alert)
        return pushed

    async def _signals(
        self, data: Mapping[str, Any], compute_seconds: float | None, now: datetime
    ) -> dict[str, Decimal | None]:
        """The signals the rules name that are not snapshot paths, at `now`; `computeSeconds` and
        `revenueTodayVsLastWeek` need the snapshot's computation (None without it)."""
        signals: dict[str, Decimal | None] = {
            "computeSeconds": None if compute_seconds is None else Decimal(compute_seconds).quantize(_MILLISECOND),
        }
        if not self._metrics & {"failedShareLastHour", "failedShareLast15Minutes", "revenueTodayVsLastWeek"}:
            return signals
        async with self._engine.connect() as conn:
            if "failedShareLastHour" in self._metrics:
                signals["failedShareLastHour"] = await store.failed_share_last_hour(conn, now)
            if "failedShareLast15Minutes" in self._metrics:
                signals["failedShareLast15Minutes"] = await store.failed_share(conn, now, timedelta(minutes=15))
            if "revenueTodayVsLastWeek" in self._metrics and "revenue" in data:
                today = Decimal(data["revenue"]["today"])
                signals["revenueTodayVsLastWeek"] = await store.revenue_today_vs_last_week(conn, now, self._zone, today)
        return signals

    async def _record(
        self, transition: Transition, firing: dict[str, AlertEvent], now: datetime, snapshot_id: int
    ) -> AlertEvent | None:
        rule = transition.rule
        if transition.state == "firing":
            return await store.record_firing(
                self._engine,
                rule=rule.name,
                severity=rule.severity,
                message=rule.describe(transition.value),
                value=transition.value,
                threshold=rule.threshold,
                at=now,
                snapshot_id=snapshot_id,
            )
        return await store.record_resolution(self._engine, firing[rule.name].id, at=now, snapshot_id=snapshot_id)

    async def listing(self, limit: int, latest: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
        """`GET /api/v1/alerts`: what fires now, the latest firings, and the rules. Each alert
        firing now carries `valueNow`, its metric's value at `now`: a snapshot path from
        `latest` (the fresh snapshot this instance serves; None when it has none), a signal
        read now. Resolved alerts carry null."""
        events = await store.recent_firings(self._engine, limit)
        alerts = [{**self._json(event), "valueNow": None} for event in events]
        firing_metrics = {alert["metric"] for alert in alerts if alert["state"] == "firing"}
        if firing_metrics:
            values = snapshot_values(latest or {}, await self._signals(latest or {}, None, now))
            for alert in alerts:
                if alert["state"] == "firing":
                    alert["valueNow"] = values.get(alert["metric"])
        return {
            "firing": [alert for alert in alerts if alert["state"] == "firing"],
            "recent": alerts,
            "rules": [rule.to_json() for rule in self.rules],
        }

    def _rule(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    def _json(self, event: AlertEvent, *, state: str | None = None, value: Decimal | None = None) -> dict[str, Any]:
        # Silenced by when it fired: its firing and its resolution go to webhooks together or not at all.
        muted = is_silenced(self._silences, event.rule, event.fired_at)
        return alert_json(event, self._rule(event.rule), state=state, value=value, silenced=muted)


def alert_json(
    event: AlertEvent,
    rule: Rule | None,
    *,
    state: str | None = None,
    value: Decimal | None = None,
    silenced: bool = False,
) -> dict[str, Any]:
    """One alert as the socket and the REST listing show it; `value` is the value at this transition,
    `silenced` whether it fired in a maintenance window (and so was not sent to webhooks)."""
    return {
        "id": event.id,
        "rule": event.rule,
        "state": state or ("firing" if event.resolved_at is None else "resolved"),
        "severity": event.severity,
        "metric": rule.metric if rule is not None else None,
        "message": event.message,
        "value": value if value is not None else Decimal(event.value),
        "threshold": Decimal(event.threshold),
        "firedAt": format_timestamp(event.fired_at),
        "resolvedAt": format_timestamp(event.resolved_at) if event.resolved_at is not None else None,
        "snapshotId": event.resolved_snapshot_id if state == "resolved" else event.fired_snapshot_id,
        "silenced": silenced,
    }
