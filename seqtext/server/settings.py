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

    def __post_init__(self):
        checks.positive_ints(self, "max_body", "max_text", "max_texts", "max_length", "max_concurrency", "batch_size")
        if not isinstance(self.timeout, (int, float)) or not math.isfinite(self.timeout) or self.timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, not {self.timeout!r}")

    @property
    def default_length(self) -> int:
        """``max_length`` of a /generate request that gives none: the library's, or the cap."""
        return min(GENERATE.max_length, self.max_length)
