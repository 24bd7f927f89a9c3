"""The realtime-metrics client: live snapshots and alerts over the WebSocket, REST answers.

    from metrics_client import MetricsClient

    async for snapshot in MetricsClient("ws://localhost:3000/ws/metrics").snapshots():
        print(snapshot["revenue"]["today"])

Reconnects resume where the last snapshot left off (`?since=`); `deltas=True` asks for merge
patches and applies them; `iter_snapshots()` is the same without asyncio.

`python -m metrics_client tail` prints snapshots as JSON lines, `... alerts` alert transitions.
It depends on websockets, httpx and python-dotenv only, never on the sidecar's code.
"""

from metrics_client.live import ConnectionState, GaveUp, MetricsClient, Refused, clock_offset
from metrics_client.rest import ApiClient, ApiError
from metrics_client.resume import apply_patch
from metrics_client.settings import ClientConfigurationError, ClientSettings

__all__ = [
    "ApiClient",
    "ApiError",
    "ClientConfigurationError",
    "ClientSettings",
    "ConnectionState",
    "GaveUp",
    "MetricsClient",
    "Refused",
    "apply_patch",
    "clock_offset",
]
