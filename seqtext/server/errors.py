"""The one exception the server's own code raises for a request it will not serve: an HTTP
status and a one-line message, answered as ``{"detail": message}``."""

from __future__ import annotations


class RequestError(Exception):
    """A request refused with ``status`` (4xx for the client's mistakes, 503/504 for load)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
