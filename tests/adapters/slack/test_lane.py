"""The Slack dispatch lane: few threads, in order, and a way round them when they are stuck."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading

from launchops.adapters.slack.lane import DispatchLane


def test_requests_run_on_the_lanes_threads_and_return_their_results() -> None:
    lane = DispatchLane(workers=2, spill_after=5)

    async def main() -> list[tuple[int, str]]:
        def work(n: int) -> tuple[int, str]:
            return n * 2, threading.current_thread().name

        return await asyncio.gather(*(lane.run(work, n) for n in range(10)))

    results = asyncio.run(main())
    assert [value for value, _ in results] == [n * 2 for n in range(10)]
    assert {name.split("_")[0] for _, name in results} == {"slack-lane"}
    assert lane.spilled == 0


def test_a_request_stuck_behind_blocked_workers_runs_in_the_shared_pool() -> None:
    """Two listeners waiting on the network hold both threads: a third request does not
    wait for them, it goes round the lane once it has waited `spill_after`."""
    lane = DispatchLane(workers=2, spill_after=0.05)
    release = threading.Event()

    async def main() -> str:
        blocked = [asyncio.ensure_future(lane.run(release.wait, 10)) for _ in range(2)]
        await asyncio.sleep(0.01)
        try:
            return await asyncio.wait_for(
                lane.run(lambda: threading.current_thread().name), timeout=5
            )
        finally:
            release.set()
            await asyncio.gather(*blocked)

    name = asyncio.run(main())
    assert not name.startswith("slack-lane")
    assert lane.spilled == 1


def test_a_failing_request_gives_its_slot_back() -> None:
    lane = DispatchLane(workers=1, spill_after=5)

    def boom() -> None:
        raise ValueError("listener failed")

    async def main() -> int:
        for _ in range(3):
            with contextlib.suppress(ValueError):
                await lane.run(boom)
        return await lane.run(lambda: 7)

    assert asyncio.run(main()) == 7
    assert lane.spilled == 0


def test_one_lane_serves_one_event_loop_after_another() -> None:
    lane = DispatchLane(workers=1, spill_after=5)
    assert asyncio.run(lane.run(lambda: 1)) == 1
    assert asyncio.run(lane.run(lambda: 2)) == 2  # a new loop: no "bound to a different loop"


def test_a_request_keeps_its_context_variables() -> None:
    """The request id bound to the request's log lines reaches the listener's lines too."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    lane = DispatchLane(workers=1, spill_after=5)

    async def main() -> str:
        request_id.set("abc123")
        return await lane.run(request_id.get)

    assert asyncio.run(main()) == "abc123"


def test_on_the_loop_requests_run_on_the_event_loops_own_thread_one_after_the_other() -> None:
    """The SQLite store's mode: no worker thread, no hand-off of the GIL per SQLite call."""
    lane = DispatchLane(on_loop=True)

    async def main() -> list[tuple[int, str]]:
        def work(n: int) -> tuple[int, str]:
            return n, threading.current_thread().name

        return await asyncio.gather(*(lane.run(work, n) for n in range(5)))

    loop_thread = threading.current_thread().name
    assert asyncio.run(main()) == [(n, loop_thread) for n in range(5)]
