"""Pushes written straight to a connection's transport, skipping the ASGI send path.

A server-to-client WebSocket frame is not masked, so the bytes of one push are the same for
every client: the hub builds them once per snapshot and each healthy socket costs one
`transport.write`. This reaches into uvicorn's connection object, so it is used only with the
implementation it was written against (uvicorn's websockets-sansio, see `uvicorn_config`); on any
other server (Starlette's TestClient, another protocol class) `DirectWriter.of` answers None and
pushes go through ASGI as before.
"""

from __future__ import annotations

import struct
from typing import Any

from starlette.websockets import WebSocket

# A client with more than this waiting in its transport's write buffer is behind: the direct
# path leaves it to the socket's sender (newest snapshot wins, closed with 4008 if it stalls).
MAX_BACKLOG = 16 * 1024


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented, uncompressed text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class DirectWriter:
    """Writes ready-made frames to one accepted connection while it is open and keeping up."""

    __slots__ = ("_connection", "_transport")

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._transport = connection.transport

    @classmethod
    def of(cls, websocket: WebSocket) -> DirectWriter | None:
        """The writer for `websocket`'s uvicorn connection, or None where it cannot be reached.

        uvicorn hands the app its connection's bound `receive`; no middleware of ours wraps it.
        """
        try:
            from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
        except ImportError:  # pragma: no cover - uvicorn without websockets
            return None
        connection = getattr(getattr(websocket, "_receive", None), "__self__", None)
        if not isinstance(connection, WebSocketsSansIOProtocol) or not connection.handshake_complete:
            return None
        if connection.config.ws_per_message_deflate:
            return None  # frames must then go through the negotiated extension
        return cls(connection)

    def write(self, frame: bytes) -> bool:
        """Write `frame`; False (nothing written) when the connection is closing or behind."""
        connection = self._connection
        transport = self._transport
        if (
            connection.close_sent
            or connection.disconnected
            or transport.is_closing()
            or transport.get_write_buffer_size() > MAX_BACKLOG
        ):
            return False
        transport.write(frame)
        return True
