"""The request-body limit, as ASGI middleware: the body is counted while it is read, so a
client that sends more than ``--max-body`` bytes (with a Content-Length that says so, a false
one, or none: chunked transfer) is answered 413 as soon as the limit is passed, and the server
never holds more than the limit in memory. The body read here is handed to the app as one
message, so nothing after this reads the socket for it again."""

from __future__ import annotations

import json

from starlette.datastructures import Headers


class BodyLimit:
    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send)  # refused before a byte of it is read
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, handed = b"".join(chunks), False

        async def replay():
            nonlocal handed
            if handed:
                return await receive()  # after the body: the disconnect that streaming responses wait for
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send) -> None:
        detail = f"the request body is larger than this server's limit of {self.max_body:,} bytes (--max-body)"
        payload = json.dumps({"detail": detail}).encode()
        # The unread rest of the body makes the connection unusable: the client must reconnect.
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
