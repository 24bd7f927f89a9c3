"""The traffic model: seeded, pure (no clock, no I/O), so a run can be repeated and tested."""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from server.metrics import format_timestamp
from tools.simulate.rhythm import EpisodeProfile, EpisodeSchedule, Seasonality

# What a catalogue item costs, and how often items are priced so: most content is cheap.
_PRICE_POINTS = ("4.99", "9.99", "14.99", "19.99", "29.99", "49.99", "99.00", "199.00")
_PRICE_WEIGHTS = (25, 25, 15, 12, 10, 7, 4, 2)
# The catalogue is the platform's, not the run's: the same ids and prices whatever the seed, so
# simulated traffic and the seeded history (`tools.demo`) describe the same content.
_CATALOGUE_SEED = 20_261_127
_NEVER = datetime.max.replace(tzinfo=UTC)

# An event with its time and a sequence number: sorting by both keeps causes before effects.
_Timed = tuple[datetime, int, dict[str, Any]]


def user_id(number: int) -> str:
    return f"user-{number:05d}"


class ZipfChooser:
    """Picks ranks 0..size-1 with weight 1/(rank+1)**exponent: a few items get most of the picks."""

    def __init__(self, size: int, exponent: float) -> None:
        self._cumulative = list(itertools.accumulate(1.0 / (rank + 1) ** exponent for rank in range(size)))

    def pick(self, rng: random.Random) -> int:
        return bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])


class Catalogue:
    """Content ids by popularity rank (`content-0001` is the most viewed), each with a fixed price."""

    def __init__(self, size: int = 500, exponent: float = 1.1) -> None:
        rng = random.Random(_CATALOGUE_SEED)
        self.content_ids = [f"content-{rank + 1:04d}" for rank in range(size)]
        self.prices = [Decimal(p) for p in rng.choices(_PRICE_POINTS, weights=_PRICE_WEIGHTS, k=size)]
        self._popularity = ZipfChooser(size, exponent)

    def pick(self, rng: random.Random) -> int:
        return self._popularity.pick(rng)


@dataclass(frozen=True)
class TrafficProfile:
    """The knobs of the simulated platform; the defaults read like a small, healthy one."""

    rate: float = 20.0  # events per second, all kinds together, where the seasonality's weight is 1
    anonymous_share: float = 0.1  # share of the rate that is views by visitors who are not signed in
    view_share: float = 0.8  # share of a signed-in user's actions that are views (the rest: activity)
    action_gap: float = 10.0  # mean seconds between one user's actions; sets how many users are online
    mean_session: float = 240.0  # seconds a user stays
    conversion: float = 0.04  # share of all views that become a transaction
    direct_failure: float = 0.02  # share of transactions created already failed (card declined)
    pending_share: float = 0.2  # share of transactions created pending, settled later
    pending_failure: float = 0.15  # share of the pending ones that end failed
    settle_delay: tuple[float, float] = (2.0, 60.0)  # seconds from pending to its outcome
    max_users: int = 2000  # users online at once, at most
    max_pending: int = 500  # transactions waiting for their outcome, at most
    max_step: float = 30.0  # longest stretch one tick covers; a longer gap (an outage) is skipped
    catalogue_size: int = 500
    seasonality: Seasonality | None = None  # None: the same rate around the clock
    episodes: EpisodeProfile | None = None  # None: failures at the steady shares above, never in bursts

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be positive, got {self.rate!r}")
        for name in ("anonymous_share", "view_share", "conversion", "direct_failure", "pending_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.anonymous_share == 1 or self.view_share == 0:
            raise ValueError("signed-in users must view something, or no view can convert")
        if not 0 < self.settle_delay[0] <= self.settle_delay[1]:
            raise ValueError("settle_delay must be (low, high) with 0 < low <= high")
        if not (self.action_gap > 0 and self.mean_session > 0):
            raise ValueError("action_gap and mean_session must be positive")
        if self.max_users < 1 or self.max_pending < 0 or not self.max_step > 0:
            raise ValueError("max_users must be at least 1, max_pending at least 0, max_step positive")


# The demo platform: small enough that 120 days of it seed SQLite in seconds, busy enough that
# the dashboard moves. `rate` is events/s where the rhythm's weight is 1 (a weekday mid-afternoon).
DEMO_RATE = 0.035


def demo_profile(zone: ZoneInfo, rate: float = DEMO_RATE) -> TrafficProfile:
    """The profile both the demo history and the quick start's simulator run, in the sidecar's zone."""
    return TrafficProfile(
        rate=rate,
        action_gap=60.0,
        mean_session=900.0,
        conversion=0.08,
        direct_failure=0.005,  # with 20 % pending of which 2.5 % fail: 1 % of payments fail outside episodes
        pending_failure=0.025,
        seasonality=Seasonality(zone),
        episodes=EpisodeProfile(),
    )


def _signed_in_rates(profile: TrafficProfile) -> tuple[float, float]:
    """(actions per second of signed-in users, users online) for the whole to send `rate` events/s.

    Besides users' actions and anonymous views, logins, purchases and settlements are events too;
    the actions are what is left of the rate once those are counted, so `--rate` means what it says.
    """
    anonymous = profile.rate * profile.anonymous_share
    per_view = profile.conversion * (1 + profile.pending_share)  # purchase and settlement events per view
    left = profile.rate - anonymous * (1 + per_view)
    # logins per action: one per session of `mean_session / action_gap` actions
    actions = left / (1 + profile.action_gap / profile.mean_session + per_view * profile.view_share)
    online = actions * profile.action_gap  # a mean: a small platform may have fewer than one online
    if online > profile.max_users:  # fewer, busier users: fewer logins
        online = profile.max_users
        actions = (left - online / profile.mean_session) / (1 + per_view * profile.view_share)
    if actions <= 0:
        raise ValueError(f"a rate of {profile.rate:g} events/s is too low for this profile")
    return actions, online


class TrafficModel:
    """Users who arrive, browse, buy and leave: the events of a platform of about `profile.rate`/s.

    Pure and seeded: `tick(now)` returns the events of the time since the previous tick, each with
    its own `at`, in time order. The same seed and the same `now`s give the same events; only
    `run_id` (in transaction ids and `eventId`s) tells two runs apart, so a second run against the
    same database adds traffic instead of colliding with the first. Everything kept is capped.
    """

    def __init__(
        self, rng: random.Random, start: datetime, profile: TrafficProfile | None = None, run_id: str = "sim"
    ) -> None:
        self._rng = rng
        self._profile = profile = profile or TrafficProfile()
        self._run_id = run_id
        self._clock = start
        self._catalogue = Catalogue(profile.catalogue_size)
        self._anonymous_rate = profile.rate * profile.anonymous_share
        actions, online = _signed_in_rates(profile)
        self._gap = online / actions  # per-user gap that makes `online` users send `actions` per second
        self._arrival_rate = online / profile.mean_session  # Little's law: keeps about `online` online
        views = actions * profile.view_share + self._anonymous_rate
        # Only signed-in users buy, so their views convert more often for `conversion` to hold overall.
        self._buy_chance = min(1.0, profile.conversion * views / (actions * profile.view_share))
        self._population = max(1000, round(20 * online))  # returning users: the same ids come back
        self._sessions: dict[str, datetime] = {}  # user -> when the session ends
        self._actions: list[tuple[datetime, int, str]] = []  # heap: each online user's next action
        self._pending: list[tuple[datetime, int, str, str]] = []  # heap: (due, seq, id, outcome)
        self._seq = itertools.count()
        self._transactions = itertools.count(1)
        self._seasonality = profile.seasonality
        self._episodes = None if profile.episodes is None else EpisodeSchedule(rng, start, profile.episodes)
        self._next_arrival = self._after(start, self._arrival_rate)
        self._next_anonymous = self._after(start, self._anonymous_rate)
        # Start warm: a full platform at once, not a ramp over minutes.
        for _ in range(round(online * self._weight(start))):
            self._arrive(start, login=None)

    @property
    def online_users(self) -> int:
        return len(self._sessions)

    @property
    def pending_transactions(self) -> int:
        return len(self._pending)

    def tick(self, now: datetime) -> list[dict[str, Any]]:
        """The events in `(previous now, now]` (at most `max_step` of it), sorted by `at`."""
        if now <= self._clock:
            return []
        since = max(self._clock, now - timedelta(seconds=self._profile.max_step))
        self._clock = now
        out: list[_Timed] = []
        self._run_arrivals(since, now, out)
        self._run_users(since, now, out)
        self._run_anonymous(since, now, out)
        self._run_settlements(since, now, out)
        out.sort(key=lambda item: (item[0], item[1]))
        return [event for _, _, event in out]

    def finish(self, now: datetime) -> list[dict[str, Any]]:
        """The last events of a run: those up to `now`, then the outcome of every transaction still
        pending, at `now`, so that a stopped run leaves nothing pending forever on the dashboard."""
        events = self.tick(now)
        at = max(now, self._clock)
        while self._pending:
            _, _, transaction_id, outcome = heapq.heappop(self._pending)
            events.append(self._settlement(transaction_id, outcome, at)[2])
        return events

    # -- processes ---------------------------------------------------------------------------

    def _weight(self, at: datetime) -> float:
        return 1.0 if self._seasonality is None else self._seasonality.weight(at)

    def _in_episode(self, at: datetime) -> bool:
        return self._episodes is not None and self._episodes.active(at)

    def _after(self, moment: datetime, rate: float) -> datetime:
        """The next event of a Poisson process of `rate` per second at weight 1, drawn at the weight
        of `moment` (the weights change by the hour, gaps are seconds to minutes); never, for 0."""
        rate *= self._weight(moment)
        return moment + timedelta(seconds=self._rng.expovariate(rate)) if rate > 0 else _NEVER

    def _run_arrivals(self, since: datetime, now: datetime, out: list[_Timed]) -> None:
        if self._next_arrival < since:  # time skipped by an outage: nobody arrived in it
            self._next_arrival = self._after(since, self._arrival_rate)
        while self._next_arrival <= now:
            self._arrive(self._next_arrival, login=out)
            self._next_arrival = self._after(self._next_arrival, self._arrival_rate)

    def _arrive(self, at: datetime, login: list[_Timed] | None) -> None:
        if len(self._sessions) >= self._profile.max_users:
            return
        for _ in range(10):
            user = user_id(self._rng.randrange(self._population))
            if user not in self._sessions:
                break
        else:
            return
        length = min(1800.0, 30.0 + self._rng.expovariate(1.0 / max(1.0, self._profile.mean_session - 30.0)))
        self._sessions[user] = at + timedelta(seconds=length)
        first_action = at + timedelta(seconds=self._rng.expovariate(1.0 / self._gap))
        heapq.heappush(self._actions, (first_action, next(self._seq), user))
        if login is not None:
            login.append(self._activity(user, at))

    def _run_users(self, since: datetime, now: datetime, out: list[_Timed]) -> None:
        while self._actions and self._actions[0][0] <= now:
            at, _, user = heapq.heappop(self._actions)
            if at < since:  # an action due during a skipped outage happens now instead
                at = since + (now - since) * self._rng.random()
            if at > self._sessions[user]:
                del self._sessions[user]
                continue
            self._act(user, at, out)
            next_at = at + timedelta(seconds=self._rng.expovariate(1.0 / self._gap))
            heapq.heappush(self._actions, (next_at, next(self._seq), user))

    def _act(self, user: str, at: datetime, out: list[_Timed]) -> None:
        if self._rng.random() >= self._profile.view_share:
            out.append(self._activity(user, at))
            return
        item = self._catalogue.pick(self._rng)
        out.append(self._view(self._catalogue.content_ids[item], user, at))
        if self._rng.random() < self._buy_chance:
            out.append(self._purchase(user, item, at))

    def _run_anonymous(self, since: datetime, now: datetime, out: list[_Timed]) -> None:
        if self._next_anonymous < since:
            self._next_anonymous = self._after(since, self._anonymous_rate)
        while self._next_anonymous <= now:
            item = self._catalogue.pick(self._rng)
            out.append(self._view(self._catalogue.content_ids[item], None, self._next_anonymous))
            self._next_anonymous = self._after(self._next_anonymous, self._anonymous_rate)

    def _run_settlements(self, since: datetime, now: datetime, out: list[_Timed]) -> None:
        while self._pending and self._pending[0][0] <= now:
            due, _, transaction_id, outcome = heapq.heappop(self._pending)
            out.append(self._settlement(transaction_id, outcome, max(due, since)))

    # -- events ------------------------------------------------------------------------------

    def _event_id(self) -> tuple[int, str]:
        seq = next(self._seq)
        return seq, f"sim-{self._run_id}-{seq}"

    def _activity(self, user: str, at: datetime) -> _Timed:
        seq, event_id = self._event_id()
        return at, seq, {"type": "user_activity", "userId": user, "at": format_timestamp(at), "eventId": event_id}

    def _view(self, content_id: str, user: str | None, at: datetime) -> _Timed:
        seq, event_id = self._event_id()
        event: dict[str, Any] = {"type": "content_view", "contentId": content_id}
        if user is not None:
            event["userId"] = user
        event.update(at=format_timestamp(at), eventId=event_id)
        return at, seq, event

    def _settlement(self, transaction_id: str, outcome: str, at: datetime) -> _Timed:
        # A status change names only the transaction: the contract needs nothing else.
        event = {"type": "transaction", "id": transaction_id, "status": outcome, "at": format_timestamp(at)}
        return at, next(self._seq), event

    def _purchase(self, user: str, item: int, at: datetime) -> _Timed:
        profile = self._profile
        transaction_id = f"sim-{self._run_id}-t-{next(self._transactions):06d}"
        roll = self._rng.random()
        direct_failure, pending_failure = profile.direct_failure, profile.pending_failure
        if profile.episodes is not None and self._in_episode(at):
            # The provider declines most payments, at once or when they settle: `failure` of all of them.
            direct_failure = profile.episodes.failure * (1 - profile.pending_share)
            pending_failure = profile.episodes.failure
        if roll < direct_failure:
            status = "failed"
        elif roll < direct_failure + profile.pending_share and len(self._pending) < profile.max_pending:
            status = "pending"
            outcome = "failed" if self._rng.random() < pending_failure else "completed"
            due = at + timedelta(seconds=self._rng.uniform(*profile.settle_delay))
            heapq.heappush(self._pending, (due, next(self._seq), transaction_id, outcome))
        else:
            status = "completed"  # also when `max_pending` are waiting: memory stays bounded
        # No `currency`: the sidecar applies its own, so the simulator works for any deployment.
        event = {
            "type": "transaction",
            "id": transaction_id,
            "userId": user,
            "contentId": self._catalogue.content_ids[item],
            "amount": str(self._catalogue.prices[item]),
            "status": status,
            "at": format_timestamp(at),
        }
        return at, next(self._seq), event
