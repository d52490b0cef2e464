"""Where a Slack request runs: on the event loop itself (SQLite), or on a few worker threads,
first come first served, with a way around them (PostgreSQL).

On SQLite there is one process and one writer at a time (the process's write lock,
store/db.py), and every call into SQLite lets go of the GIL: a declaration's dozen of them
on a worker thread meant a dozen hand-offs to the event loop's thread and as many waits to
get it back. Run one after the other on the loop, as bolt's own AsyncApp runs its
listeners, a P3 declaration took 2.25 ms of CPU instead of 3.56 and the p99 ack under 16
in flight went from 3.6x bare bolt's to 2.9x (bench/slack_ack.py, interleaved, same run).
That is safe because no listener waits on the network before it answers (views.open and
every answer Slack does not show in the ack go after it: after_ack.py). What can still hold
the loop: the store itself, another process's write (a CLI command) for at most the busy
timeout; and bolt's one `auth.test`, made at the first request a process serves.

On PostgreSQL a request waits on round trips to a server that may be slow or far, and
replicas share the load: there every request runs on the lane's threads. In Starlette's
shared pool, 16 requests in flight meant 16 threads taking turns on the GIL in whatever
order the scheduler woke them, which is what the p99 was made of. So requests queue here, in
order, for one of `workers` slots. A request that has waited `spill_after` seconds for a
slot runs in Starlette's shared pool instead, as every request did before.
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
    def __init__(
        self, workers: int = WORKERS, spill_after: float = SPILL_AFTER, *, on_loop: bool = False
    ) -> None:
        self.on_loop = on_loop  # run every request on the event loop (the SQLite store)
        self._workers = workers
        self._spill_after = spill_after
        # Its threads end once the lane is garbage-collected (ThreadPoolExecutor's own rule).
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="slack-lane")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(workers)
        self.spilled = 0  # requests that went round the lane (for tests and the curious)

    async def run(self, func: Callable[..., T], *args: object) -> T:
        if self.on_loop:
            return func(*args)
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
