"""Where the models compute: one thread per model, so that the event loop never runs a network
and no two requests run one model at once (the model objects keep per-call state; with one
thread each they need no locks). Torch releases the GIL while it computes, so the loop keeps
accepting and answering requests meanwhile.

Requests wait in their model's queue while it is busy. When it is free, its dispatcher takes
the next job and every waiting job that can share its batch (tag or classify jobs with the same
options, up to ``batch_size`` texts), so 32 clients cost a few forward passes, not 32. Streams
of generated text run a slice at a time (``take_pieces``), one job per slice, so several streams
and the other requests take turns on the model.

The ``Gate`` counts the requests in the server; one beyond ``max_concurrency`` is answered 503
at once rather than left waiting in an ever longer queue.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from seqtext.server.errors import RequestError

STREAM_SLICE = 0.03  # seconds of generation per streamed event: smooth to watch, few hops to the loop


@dataclass(eq=False)
class Job:
    """Work for a model's thread. Jobs with the same ``batch_key`` run as one call of ``run``
    with all their texts; each job then reads its own share of the results."""

    run: Callable[..., Any]
    texts: list[str] | None = None  # batchable jobs only
    batch_key: Hashable | None = None
    on_done: Callable[[], None] | None = None  # when the job has finished or been skipped
    # The dispatcher sets this to (future of the computation, offset of this job's texts in it).
    assigned: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    abandoned: bool = False  # the request gave up (timeout, client gone): skip the job if not started

    async def result(self, timeout: float) -> Any:
        """The job's result; a 504 after ``timeout`` seconds. A job that has not started by
        then is skipped; one that has cannot be interrupted, and its result is dropped."""
        try:
            value, offset = await asyncio.wait_for(self._outcome(), timeout)
        except asyncio.TimeoutError:
            self._give_up()
            raise RequestError(504, f"the request took longer than this server's limit of {timeout:g} s (--timeout)") from None
        except asyncio.CancelledError:  # the client went away
            self._give_up()
            raise
        return value if self.texts is None else value[offset : offset + len(self.texts)]

    def _give_up(self) -> None:
        """Skip the job if it has not started, and let its request out of the gate at once; a
        started computation keeps its place until it ends, since it still uses the model."""
        self.abandoned = True
        if not self.assigned.done() and self.on_done is not None:
            done, self.on_done = self.on_done, None
            done()

    async def _outcome(self) -> tuple[Any, int]:
        # Shielded: giving up on the request must not cancel the shared batch computation.
        computation, offset = await asyncio.shield(self.assigned)
        return await asyncio.shield(computation), offset


class ModelWorker:
    """A model's thread, its queue of jobs and the dispatcher that batches them."""

    def __init__(self, name: str, batch_size: int):
        self.name = name
        self.batch_size = batch_size
        self._waiting: deque[Job] = deque()
        self._wakeup: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._dispatcher: asyncio.Task | None = None

    def start(self) -> None:
        """Start the thread and the dispatcher (from the server's event loop)."""
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"seqtext-{self.name}")
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name=f"seqtext-{self.name}")

    async def stop(self) -> None:
        """Stop taking jobs, and wait for a computation still running (whose request may have
        timed out) so that nothing uses the model after the server has stopped."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
            await asyncio.get_running_loop().run_in_executor(None, partial(self._executor.shutdown, wait=True, cancel_futures=True))
            self._dispatcher = None

    def submit(self, run: Callable[..., Any], *, texts: list[str] | None = None, batch_key: Hashable | None = None,
               on_done: Callable[[], None] | None = None) -> Job:
        """Queue ``run()`` (or ``run(texts)`` returning one result per text, for a batchable job)."""
        if self._dispatcher is None:
            raise RuntimeError(f"the worker of model {self.name!r} is not running")
        job = Job(run, texts, batch_key, on_done)
        self._waiting.append(job)
        self._wakeup.set()
        return job

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._waiting:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            jobs = [job for job in self._next_batch() if not self._skipped(job)]
            if not jobs:
                continue
            if jobs[0].batch_key is None:
                computation = loop.run_in_executor(self._executor, jobs[0].run)
            else:
                texts = [text for job in jobs for text in job.texts]
                computation = loop.run_in_executor(self._executor, _as_list, jobs[0].run, texts)
            # Errors reach every request that awaits the computation; this only keeps asyncio
            # from reporting them a second time when all those requests have given up.
            computation.add_done_callback(_retrieve)
            offset = 0
            for job in jobs:
                job.assigned.set_result((computation, offset))
                offset += len(job.texts or ())
                if job.on_done is not None:
                    computation.add_done_callback(lambda _, done=job.on_done: done())
            await asyncio.wait([computation])  # one computation at a time: the rest wait and batch

    def _next_batch(self) -> list[Job]:
        first = self._waiting.popleft()
        if first.batch_key is None:
            return [first]
        batch, size = [first], len(first.texts)
        for job in list(self._waiting):
            if job.batch_key == first.batch_key and not job.abandoned and size + len(job.texts) <= self.batch_size:
                self._waiting.remove(job)
                batch.append(job)
                size += len(job.texts)
        return batch

    @staticmethod
    def _skipped(job: Job) -> bool:
        if job.abandoned:
            if job.on_done is not None:
                job.on_done()
            return True
        return False


def _as_list(run: Callable[[list[str]], Any], texts: list[str]) -> list:
    return list(run(texts))


def _retrieve(computation: asyncio.Future) -> None:
    if not computation.cancelled():
        computation.exception()


def take_pieces(pieces, budget: float = STREAM_SLICE) -> tuple[list[str], bool, Any]:
    """Run the generator ``pieces`` for about ``budget`` seconds: the pieces it gave, whether it
    has ended, and then what it returned (a ``Generation``, where the stream gives one). Runs on
    the model's thread, one slice per job."""
    taken: list[str] = []
    deadline = time.perf_counter() + budget
    while True:
        try:
            taken.append(next(pieces))
        except StopIteration as end:
            return taken, True, end.value
        if time.perf_counter() >= deadline:
            return taken, False, None


class Gate:
    """Admits at most ``limit`` requests at once (computing or queued); one more is a 503."""

    def __init__(self, limit: int):
        self.limit = limit
        self.inside = 0

    def enter(self) -> Callable[[], None]:
        """Admit one request or raise 503; returns the function that lets it out (idempotent)."""
        if self.inside >= self.limit:
            raise RequestError(503, f"the server is busy: {self.limit} requests are already in progress "
                                    "(--max-concurrency); try again shortly", {"Retry-After": "1"})
        self.inside += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.inside -= 1

        return release
