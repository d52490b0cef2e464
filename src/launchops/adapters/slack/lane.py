"""A few worker threads for Slack requests, first come first served, with a way around them.

Every Slack request runs bolt and the listener in a worker thread (a declaration waits on the
store). In Starlette's shared pool, 16 requests in flight meant 16 threads taking turns on
the GIL and on SQLite's write lock in whatever order the scheduler woke them, which is what
the p99 was made of. So requests queue here, in order, for one of `workers` slots, each run
by a thread of the lane's own pool. (CPU per request barely moves: 4.26 vs 4.40 ms under the
ack bench; the p99 does, 96-110 vs 104-156 ms over four interleaved rounds.)

A listener may also wait on the network (opening a modal calls Slack's Web API, up to its
10 s timeout), and a handful of those must not hold every other request behind them: a
request that has waited `spill_after` seconds for a slot runs in Starlette's shared pool
instead, as every request did before.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

__all__ = ["DispatchLane"]

T = TypeVar("T")

WORKERS = 4  # 2 was no better on a 2-core box; 4 leaves room for a slow Web API call
SPILL_AFTER = 0.25  # seconds in the queue before a request takes the shared pool instead


class DispatchLane:
    def __init__(self, workers: int = WORKERS, spill_after: float = SPILL_AFTER) -> None:
        self._workers = workers
        self._spill_after = spill_after
        # Its threads end once the lane is garbage-collected (ThreadPoolExecutor's own rule).
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="slack-lane")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(workers)
        self.spilled = 0  # requests that went round the lane (for tests and the curious)

    async def run(self, func: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # an asyncio.Semaphore serves one event loop only
            self._loop, self._slots = loop, asyncio.Semaphore(self._workers)
        slots = self._slots
        try:
            async with asyncio.timeout(self._spill_after):
                await slots.acquire()
        except TimeoutError:
            self.spilled += 1
            return await run_in_threadpool(func, *args)
        try:
            # With the caller's context variables (the request id its log lines carry), as
            # Starlette's pool runs a function too.
            context = contextvars.copy_context()
            return await loop.run_in_executor(self._pool, context.run, func, *args)
        finally:
            slots.release()
