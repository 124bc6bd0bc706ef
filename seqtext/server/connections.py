"""uvicorn's HTTP protocol with one more timer: a connection must send a whole request head
(request line and headers) within ``--timeout`` seconds of opening, or of its last answer, or
it is closed. uvicorn closes idle connections only after an answer (``timeout_keep_alive``),
so a client that connects and sends nothing, or half a head, would hold its place under
``limit_concurrency`` for ever. The body has its own limit (``limits.BodyLimit``)."""

from __future__ import annotations

import asyncio


def with_head_timeout(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's protocol class (h11, or httptools where installed) with the head timer."""
    # Deferred: uvicorn is the optional serve extra.
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class HeadTimeoutProtocol(AutoHTTPProtocol):
        head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:  # a whole head arrived
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request's head, if any, within the time too

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self.head_timer = self.loop.call_later(seconds, self._head_late)

        def _disarm(self) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def _head_late(self) -> None:
            self.head_timer = None
            if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
                self.transport.close()

    return HeadTimeoutProtocol
