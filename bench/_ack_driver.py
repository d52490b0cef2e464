"""Processes and the load driver shared by the Slack ack benchmark (bench/slack_ack.py).

Each server runs in its own process, as `launchops serve` runs the bot, so the client's and
the fake Web API's CPU is never charged to it; `cpu_seconds` reads what the server itself
spent from /proc, which is how the report gives CPU per request beside the latencies.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

REPO = Path(__file__).resolve().parent.parent
FAKE = (sys.executable, "-m", "bench._slack_fake")
START_TIMEOUT = 60.0  # migrations + config sync + imports, on a slow runner
PHASE_TIMEOUT = 300.0  # one case's requests; what is left unsent then counts as errors
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU the process's live threads have run for, in nanosecond resolution (Linux
    /proc/<pid>/task/*/schedstat; clock-tick figures are too coarse for short runs).
    0 where /proc is missing."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    """Ours plus the parent's, minus any LaunchOps/Slack/Teams settings it happens to carry."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAUNCHOPS_", "SLACK_", "Microsoft", "MICROSOFT"))
    }
    path = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    return {**inherited, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **extra}


def _tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


@contextmanager
def serving(
    argv: Sequence[str], env: Mapping[str, str], workdir: Path, name: str
) -> Iterator[Server]:
    """Run a web server on a free loopback port until the block ends."""
    port = _free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=workdir,  # no stray .env from the caller's directory
            env=_environment({**env, "LAUNCHOPS_HOST": "127.0.0.1", "LAUNCHOPS_PORT": str(port)}),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{_tail(log)}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start in {START_TIMEOUT:g} s:\n{_tail(log)}")
            time.sleep(0.1)
        yield Server(url, process.pid)
    finally:
        process.terminate()  # SIGTERM: uvicorn shuts down gracefully, the dispatcher stops
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def slack_fake_process() -> Iterator[str]:
    """The fake Web API in its own process; yields its origin (`http://127.0.0.1:PORT`)."""
    process = subprocess.Popen(
        FAKE,
        env=_environment({}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        port = int(process.stdout.readline().strip() or 0)
        if not port:
            raise RuntimeError("the Slack fake did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stdin.close()  # its signal to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


async def _drive(
    url: str,
    bodies: Sequence[bytes],
    sign: Callable[[bytes], dict[str, str]],
    concurrency: int,
) -> tuple[list[float], Counter[str], float]:
    """POST every body with `concurrency` in flight; (ack ms per answer, outcomes, wall s).

    aiohttp rather than httpx: httpx.AsyncClient spends 1-2 ms of CPU a request here, which
    made the client, not the bare endpoint, the baseline's bottleneck; aiohttp spends ~0.2.
    """
    samples: list[float] = []
    outcomes: Counter[str] = Counter()
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for body in queue:  # one shared iterator: each body is sent once
                headers = sign(body)
                started = time.perf_counter()
                try:
                    async with session.post("/slack/events", data=body, headers=headers) as answer:
                        await answer.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    outcomes[type(exc).__name__] += 1
                    continue
                samples.append((time.perf_counter() - started) * 1000)
                outcomes[str(answer.status)] += 1

        started = time.perf_counter()
        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        done, pending = await asyncio.wait(tasks, timeout=PHASE_TIMEOUT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()  # a bug in the client must not pass as a fast run
        wall = time.perf_counter() - started
    unsent = len(bodies) - sum(outcomes.values())
    if unsent:
        outcomes[f"not sent within {PHASE_TIMEOUT:g} s"] += unsent
    return samples, outcomes, wall


def drive(
    url: str,
    bodies: Sequence[bytes],
    sign: Callable[[bytes], dict[str, str]],
    concurrency: int,
) -> tuple[list[float], Counter[str], float]:
    """Send every body, signed as it leaves; (ack ms per answer, outcomes, wall seconds)."""
    return asyncio.run(_drive(url, bodies, sign, concurrency))
