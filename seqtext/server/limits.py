"""The request-body limit, as ASGI middleware: the body is counted while it is read, so a
client that sends more than ``--max-body`` bytes (with a Content-Length that says so, a false
one, or none: chunked transfer) is answered 413 as soon as the limit is passed, and the server
never holds more than the limit in memory. The body read here is handed to the app as one
message, so nothing after this reads the socket for it again.

The whole body must arrive within ``--timeout`` seconds: a client that sends its headers and
part of a body, then nothing, is answered 408 and its connection closed, instead of holding a
connection (and a place under uvicorn's ``limit_concurrency``) for as long as it likes."""

from __future__ import annotations

import asyncio
import json

from starlette.datastructures import Headers

TOO_LARGE = object()  # what _read gives for a body past max_body


class BodyLimit:
    def __init__(self, app, max_body: int, timeout: float):
        self.app = app
        self.max_body = max_body
        self.timeout = timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send)  # refused before a byte of it is read
            return
        try:
            body = await asyncio.wait_for(self._read(receive), self.timeout)
        except asyncio.TimeoutError:
            await _refuse(send, 408, f"the request body did not arrive within this server's limit of {self.timeout:g} s (--timeout)")
            return
        if body is TOO_LARGE:
            await self._too_large(send)
        if not isinstance(body, bytes):  # the client left, or sent too much
            return
        handed = False

        async def replay():
            nonlocal handed
            if handed:
                return await receive()  # after the body: the disconnect that streaming responses wait for
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive) -> bytes | object | None:
        """The whole body; None when the client disconnects, TOO_LARGE past ``max_body``."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return TOO_LARGE
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _too_large(self, send) -> None:
        await _refuse(send, 413, f"the request body is larger than this server's limit of {self.max_body:,} bytes (--max-body)")


async def _refuse(send, status: int, detail: str) -> None:
    """``{"detail": ...}`` with ``status``, closing the connection: the unread rest of the body
    makes it unusable, and the client must reconnect."""
    payload = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})
