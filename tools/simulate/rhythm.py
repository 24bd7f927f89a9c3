"""When traffic comes and when payments fail: the daily and weekly rhythm, and failure episodes.

Both are pure and seeded like the traffic model they drive, and both are shared by the live
simulator and the demo history (`tools.demo`), which is what makes a seeded day and a simulated
day look alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# Relative traffic by local hour: quiet at night, a lunch bump, the evening peak.
DEMO_HOURLY = (
    0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.25, 0.45, 0.65, 0.75, 0.80, 0.85,
    0.90, 0.85, 0.80, 0.80, 0.85, 0.95, 1.10, 1.25, 1.30, 1.20, 0.90, 0.50,
)  # fmt: skip
DEMO_WEEKDAY = (0.95, 0.95, 1.00, 1.00, 1.10, 1.30, 1.25)  # Monday..Sunday: weekends are busier


@dataclass(frozen=True)
class Seasonality:
    """A weight per local hour of day and per weekday; traffic at `at` is the rate times `weight(at)`."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    hourly: tuple[float, ...] = DEMO_HOURLY
    weekday: tuple[float, ...] = DEMO_WEEKDAY

    def __post_init__(self) -> None:
        if len(self.hourly) != 24 or len(self.weekday) != 7:
            raise ValueError("a seasonality needs 24 hourly and 7 weekday weights")
        if not all(w > 0 for w in (*self.hourly, *self.weekday)):
            raise ValueError("seasonality weights must be positive")

    def weight(self, at: datetime) -> float:
        local = at.astimezone(self.zone)
        return self.hourly[local.hour] * self.weekday[local.weekday()]


@dataclass(frozen=True)
class EpisodeProfile:
    """Failure episodes: a payment provider in trouble for a few minutes, now and then."""

    gap_minutes: tuple[float, float] = (20.0, 40.0)  # from the end of one episode to the next
    length_minutes: tuple[float, float] = (3.0, 8.0)
    failure: float = 0.6  # share of the transactions created during an episode that fail

    def __post_init__(self) -> None:
        for name in ("gap_minutes", "length_minutes"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high")
        if not 0 <= self.failure <= 1:
            raise ValueError("failure must be between 0 and 1")


class EpisodeSchedule:
    """Episodes from `start` on, drawn from their own seeded stream so that how much traffic there
    is does not move them; asked in (roughly) increasing time, it keeps only the recent ones."""

    _KEEP = timedelta(hours=1)  # how far back a question may reach (an action redated into a tick)

    def __init__(self, rng: random.Random, start: datetime, profile: EpisodeProfile) -> None:
        self._rng = random.Random(rng.getrandbits(64))
        self._profile = profile
        self._episodes: list[tuple[datetime, datetime]] = []
        self._cursor = start + self._gap()

    def _gap(self) -> timedelta:
        return timedelta(minutes=self._rng.uniform(*self._profile.gap_minutes))

    def active(self, at: datetime) -> bool:
        while self._cursor <= at:
            end = self._cursor + timedelta(minutes=self._rng.uniform(*self._profile.length_minutes))
            self._episodes.append((self._cursor, end))
            self._cursor = end + self._gap()
        while self._episodes and self._episodes[0][1] < at - self._KEEP:
            self._episodes.pop(0)  # bounded: a handful of episodes fit in the kept hour
        return any(begin <= at < end for begin, end in self._episodes)

    def episodes_until(self, until: datetime) -> list[tuple[datetime, datetime]]:
        """The kept episodes that begin before `until` (for tests and summaries)."""
        self.active(until)
        return [(begin, end) for begin, end in self._episodes if begin < until]
