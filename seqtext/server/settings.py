"""The server's limits, as one dataclass: the defaults ``seqtext serve`` shows and the checks
that refuse nonsense before a socket is opened. Free of FastAPI and torch, so that the command
line can show these defaults without importing either."""

from __future__ import annotations

import math
from dataclasses import dataclass

from seqtext import checks
from seqtext.configs import GENERATE
from seqtext.errors import ConfigError

MAX_SAMPLES = 16  # samples one /generate request may ask for (each costs a stream of max_length steps)


@dataclass
class ServeSettings:
    max_body: int = 1 << 20  # bytes of one request body; beyond it 413, counted while reading
    max_text: int = 100_000  # characters of one text (or seed); beyond it 413
    max_texts: int = 1000  # texts (or token lists) in one request; beyond it 413, so one request cannot hold a model for long
    max_length: int = 1000  # most tokens one /generate request may ask for; beyond it 422
    max_concurrency: int = 64  # requests in the server at once, computing or queued; beyond it 503
    timeout: float = 30.0  # seconds one request may take; beyond it 504
    batch_size: int = 64  # texts a model tags or classifies together, from one request or several
    # Open connections, idle or not (uvicorn's limit_concurrency): past it, new requests get 503.
    # None: 4 * max_concurrency + 16, room for browsers' idle keep-alive connections.
    max_connections: int | None = None

    def __post_init__(self):
        checks.positive_ints(self, "max_body", "max_text", "max_texts", "max_length", "max_concurrency", "batch_size", "max_connections")
        if not isinstance(self.timeout, (int, float)) or not math.isfinite(self.timeout) or self.timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, not {self.timeout!r}")

    @property
    def default_length(self) -> int:
        """``max_length`` of a /generate request that gives none: the library's, or the cap."""
        return min(GENERATE.max_length, self.max_length)

    @property
    def connection_limit(self) -> int:
        """Open connections the server keeps at once (``max_connections``, or its default)."""
        return self.max_connections if self.max_connections is not None else 4 * self.max_concurrency + 16

    @property
    def keep_alive(self) -> float:
        """Seconds an idle connection stays open after an answer: uvicorn's 5, or less under a
        shorter ``timeout``."""
        return min(5.0, self.timeout)

    def uvicorn_options(self) -> dict:
        """What uvicorn must enforce: idle connections closed after ``keep_alive`` seconds and
        at most ``connection_limit`` connections. The request head's timeout is the protocol's
        (``connections.with_head_timeout``), the body's the app's (``limits.BodyLimit``)."""
        return {"timeout_keep_alive": self.keep_alive, "limit_concurrency": self.connection_limit}
