"""`create_app(settings)`: the Starlette sidecar, served as `uvicorn_config` says by `python -m server`.

With the bare uvicorn command (`uvicorn server.app:create_app --factory`) add `--no-proxy-headers`:
uvicorn's default believes X-Forwarded-For from 127.0.0.1 before the app sees the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from metrics_client.protocol import CloseCode
from server import shutdown
from server.access import AccessMiddleware, AuthFailures
from server.alerts.delivery import WebhookDelivery
from server.alerts.feed import AlertFeed
from server.alerts.monitor import AlertMonitor
from server.backends import create_backend
from server.client_address import ClientAddressMiddleware
from server.deltas import DeltaCache
from server.http_protocol import bounded_h11
from server.hub import SnapshotHub
from server.leadership import Leadership
from server.limits import AddressCounter, RateLimiter
from server.live_top import TopFeed
from server.logs import install_log_filters
from server.observability import SidecarMetrics
from server.replay import Replayer
from server.routes import exception_handlers, routes
from server.service import MetricsService
from server.settings import Settings
from server.snapshot_loop import SnapshotLoop, utc_now
from server.storage import snapshot_log
from server.storage.db import create_engine
from server.storage.migrate import upgrade_to_head
from server.token_registry import TokenRegistry, install_reload_on_sighup
from server.ws import TokenSockets
from server.ws_protocol import ping_limited

log = logging.getLogger("server.app")

SHUTDOWN_STEP_SECONDS = 5.0  # each step of the shutdown after the snapshot loop and the webhooks
SOCKETS_AUTHENTICATING_PER_ADDRESS = 8  # sockets of one address still waiting for their first-message token


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now) -> Starlette:
    """The sidecar; `clock` is what "now" means to it (tests pass a fixed one)."""
    settings = settings or Settings.from_env()
    tokens = TokenRegistry(settings.tokens, settings.tokens_file)
    auth_failures = AuthFailures()
    token_sockets = TokenSockets()
    tokens.on_revoked(token_sockets.revoke)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        engine = create_engine(settings.database_url)
        backend = create_backend(settings.redis_url)
        tasks: list[asyncio.Task[None]] = []
        loop: SnapshotLoop | None = None
        leadership: Leadership | None = None
        hub: SnapshotHub | None = None
        delivery: WebhookDelivery | None = None
        try:
            await upgrade_to_head(engine)
            # Every Redis key and channel carries this database's id: a deployment that starts on a
            # fresh database never serves what another one left in a shared Redis.
            deployment = await snapshot_log.deployment_id(engine)
            prefix = f"{settings.redis_prefix}{deployment}:"
            await backend.connect()
            observability = SidecarMetrics()
            hub = SnapshotHub(
                backend,
                prefix,
                settings.history_size,
                settings.cache_ttl,
                interval=settings.interval,
                ring_size=settings.replay_ring,
                on_pushes=observability.pushes.inc,  # direct writes, counted once per snapshot
                on_received=observability.received,
                clock=clock,
            )
            alert_feed = AlertFeed(backend, prefix)
            top_feed = TopFeed(engine, settings.zone, settings.interval, clock)
            leadership = Leadership(engine, settings.interval)
            delivery = WebhookDelivery(
                settings.alert_webhooks,
                settings.webhook_delivery,
                count=observability.webhook_outcome,
                origin={"deployment": deployment, "instance": leadership.holder},
            )
            observability.watch_webhooks(delivery)
            alerts = AlertMonitor(
                settings.alert_rules,
                engine,
                alert_feed,
                settings.zone,
                delivery=delivery,
                silences=settings.alert_silences,
            )
            loop = SnapshotLoop(
                settings, engine, hub, leadership, observability=observability, alerts=alerts, clock=clock
            )
            observability.watch(hub, leadership)
            service = MetricsService(settings, engine, backend, hub, clock, observability, alerts)
            await loop.start()
            install_reload_on_sighup(tokens)
            tasks = [
                asyncio.create_task(loop.run()),  # first: a stop waits for it (below)
                asyncio.create_task(tokens.watch()),
                asyncio.create_task(hub.listen(settings.pubsub_silence if backend.name != "memory" else None)),
                asyncio.create_task(hub.watch()),
                asyncio.create_task(alert_feed.listen()),
                asyncio.create_task(top_feed.run()),
                asyncio.create_task(delivery.run()),
            ]
            log.info("sidecar ready: database %s, cache %s", engine.url.get_backend_name(), backend.name)
            app.state.hub = hub  # for SidecarServer: it says goodbye to sockets before uvicorn stops
            app.state.snapshots = loop
            yield {
                "settings": settings,
                "service": service,
                "snapshots": loop,
                "hub": hub,
                "alerts": alert_feed,
                "top": top_feed,
                "observability": observability,
                "replayer": Replayer(hub, engine, observability, settings.replay_limit),
                "deltas": DeltaCache(),
                "sockets_by_address": AddressCounter(settings.sockets_per_address),
                # Event streams have a cap of their own, as large as the sockets' one.
                "streams_by_address": AddressCounter(settings.sockets_per_address),
                "sockets_authenticating": AddressCounter(SOCKETS_AUTHENTICATING_PER_ADDRESS),
                "tokens": tokens,
                "auth_failures": auth_failures,
                "token_sockets": token_sockets,
            }
        finally:
            # Every step is bounded (server/shutdown.py): one that waits on a database or Redis that
            # does not answer is cut short with a log line, and the next steps still run.
            if loop is not None:
                loop.stop()
                if tasks:
                    # The snapshot in progress, if any, may finish first: its task is only cancelled
                    # (between statements or not) once this deadline passes.
                    await shutdown.bounded("the snapshot loop", tasks[0], settings.interval + 10)
            if delivery is not None and tasks:
                # The last transitions, briefly: a receiver may be down.
                drain_seconds = settings.webhook_delivery.drain_timeout + 1
                await shutdown.bounded("webhook delivery", delivery.drain(), drain_seconds)
            if leadership is not None:
                await shutdown.bounded("releasing the snapshot lease", leadership.release(), SHUTDOWN_STEP_SECONDS)
            await shutdown.cancel_all("the background tasks", tasks, SHUTDOWN_STEP_SECONDS)
            if hub is not None:
                await shutdown.bounded("the cache sender", hub.close(), SHUTDOWN_STEP_SECONDS)
            await shutdown.bounded("closing the cache backend", backend.disconnect(), SHUTDOWN_STEP_SECONDS)
            await shutdown.bounded("closing the database connections", engine.dispose(), SHUTDOWN_STEP_SECONDS)

    install_log_filters()
    middleware = [
        # Outermost: everything after it, the rate limiter and the socket cap included, sees the
        # client a trusted proxy names rather than the proxy.
        Middleware(ClientAddressMiddleware, trusted=settings.trusted_proxies),
        # Only the host names it is configured for: a page that rebinds its own name to this
        # address (DNS rebinding) is answered 400 before any route runs.
        Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.hosts_allowed), www_redirect=False),
        # Browsers may call the REST API only from the same exact origins that may open the socket.
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        ),
        Middleware(
            AccessMiddleware,
            registry=tokens,
            limiter=RateLimiter(settings.requests_per_second, burst=max(1.0, settings.requests_per_second)),
            failures=auth_failures,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=exception_handlers, lifespan=lifespan)


def uvicorn_config(settings: Settings, app: Starlette, **overrides: Any) -> uvicorn.Config:
    """How the sidecar is served: bounds on every connection before any token is checked (header
    size, deadlines for headers and body, a connection limit), the frame limit, keepalive pings
    that drop dead peers, a graceful stop."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        # h11 caps a request's line and headers; server/http_protocol.py adds deadlines for them
        # and for the body (uvicorn's httptools parser has neither).
        "http": bounded_h11(
            settings.header_timeout, settings.body_timeout, settings.connections_per_address, settings.trusted_proxies
        ),
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "limit_concurrency": settings.max_connections_allowed,
        "timeout_keep_alive": 5,
        # uvicorn's websockets-sansio (server/wire.py writes pushes through it directly), with ping
        # frames counted against the socket's message budget (server/ws_protocol.py).
        "ws": ping_limited(settings.socket_messages_per_minute),
        "ws_max_size": settings.max_frame_bytes,  # larger frames are closed with 1009 before buffering
        "ws_ping_interval": 20.0,  # a peer that does not answer a ping within 20 s is dropped
        "ws_ping_timeout": 20.0,
        "ws_per_message_deflate": False,  # compression costs memory per socket; snapshots are ~0.4 KB
        "timeout_graceful_shutdown": 10,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default; server.client_address
        # believes it only from METRICS_TRUSTED_PROXIES.
        "proxy_headers": False,
        "log_config": None,
        "access_log": settings.access_log,
        **overrides,
    }
    return uvicorn.Config(app, **options)


class SidecarServer(uvicorn.Server):
    """uvicorn's server, closing every socket with 1001 (going away) before it stops.

    uvicorn itself would close open sockets with 1012 (service restart) as it shuts down.
    """

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        hub: SnapshotHub | None = getattr(self.app.state, "hub", None)
        if hub is not None and hub.clients:
            hub.close_all(CloseCode.GOING_AWAY)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.wait_until_empty(), timeout=2.0)
        await super().shutdown(sockets)
