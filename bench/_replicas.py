"""`launchops serve` replicas as child processes the load benchmark can SIGKILL and restart.

The idea of tests/e2e/process.py's ServeProcess (bench must not import tests): one process per
replica on its own loopback port, all on one database; `kill()` is SIGKILL (no shutdown hook
runs, like a crash), `restart()` starts it again on the same port. The environment is built
as bench/_ack_driver.py builds a server's, so no setting of the caller's leaks in.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from bench._ack_driver import START_TIMEOUT, _environment, _free_port, _tail

SERVE = ("-c", "from launchops.cli import app; app()", "serve")


class Replica:
    """One `launchops serve`; `url` stays the same across restarts."""

    def __init__(self, python: str, env: Mapping[str, str], workdir: Path, name: str) -> None:
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.starts = 0
        self._argv = (python, *SERVE)
        self._env = _environment(
            {**env, "LAUNCHOPS_HOST": "127.0.0.1", "LAUNCHOPS_PORT": str(self.port)}
        )
        self._workdir = workdir
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> Replica:
        """Start the process and wait until `/readyz` answers 200 (store reachable)."""
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._argv,
            cwd=self._workdir,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{_tail(self.log_path)}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} was not ready in {timeout:g} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, like a crash."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)
        self._close_log()

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _start_together(replicas: Sequence[Replica]) -> None:
    errors: list[BaseException] = []

    def start(replica: Replica) -> None:
        try:
            replica.start()
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@contextmanager
def replicas(
    python: str, env: Mapping[str, str], workdir: Path, count: int, prefix: str
) -> Iterator[list[Replica]]:
    """`count` replicas on one database: the first alone (it migrates the schema and loads
    the configuration), then the others at once. All are stopped when the block ends."""
    found = [Replica(python, env, workdir, f"{prefix}-{i}") for i in range(count)]
    try:
        found[0].start()
        _start_together(found[1:])
        yield found
    finally:
        for replica in found:
            replica.stop()


class Killer:
    """SIGKILLs one replica every `every` seconds, in turn, and restarts it at once."""

    def __init__(self, targets: Sequence[Replica], every: float) -> None:
        self._targets = list(targets)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replica-killer", daemon=True)
        self.kills: list[tuple[str, float, float]] = []  # (name, killed at, ready after s)
        self.errors: list[str] = []

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=START_TIMEOUT + 20)

    def _run(self) -> None:
        """On a fixed clock: the kills stay `every` seconds apart however long a restart takes
        (a restart slower than that delays the next kill until it is done)."""
        turn = 0
        due = time.monotonic() + self._every
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            victim = self._targets[turn % len(self._targets)]
            turn += 1
            due += self._every
            killed = time.monotonic()
            victim.kill()
            try:
                victim.start()
            except RuntimeError as exc:
                self.errors.append(f"{victim.name}: {exc}")
                continue
            self.kills.append((victim.name, killed, time.monotonic() - killed))
