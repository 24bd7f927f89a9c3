"""`python -m tools.simulate`: realistic demo traffic, sent to a running sidecar over HTTP.

Two halves, so that each can be tested without the other: `TrafficModel` is pure and seeded (a
`random.Random` and successive `now`s in, contract events out; no clock, no I/O), and
`EventSender` posts batches through any `httpx.AsyncClient`, retrying only what the contract
says is safe to retry. `run_simulation` ties them to the wall clock.
"""

from tools.simulate.cli import main, run_simulation
from tools.simulate.rhythm import EpisodeProfile, EpisodeSchedule, Seasonality
from tools.simulate.sender import EventSender, SendStats
from tools.simulate.traffic import (
    DEMO_RATE,
    Catalogue,
    TrafficModel,
    TrafficProfile,
    ZipfChooser,
    demo_profile,
    user_id,
)

__all__ = [
    "DEMO_RATE",
    "Catalogue",
    "EpisodeProfile",
    "EpisodeSchedule",
    "EventSender",
    "Seasonality",
    "SendStats",
    "TrafficModel",
    "TrafficProfile",
    "ZipfChooser",
    "demo_profile",
    "main",
    "run_simulation",
    "user_id",
]
