"""`python -m bench [--quick] [--postgres URL]`: run every benchmark module, print each report."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import pkgutil
import sys
import time
from collections.abc import Callable

import bench
from bench import QUICK, Options


def benchmark_modules() -> list[str]:
    """Every public module of the package, so a new benchmark runs by merely being added."""
    return sorted(
        info.name for info in pkgutil.iter_modules(bench.__path__) if not info.name.startswith("_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smaller run: {QUICK.components:,} components, {QUICK.lookups:,} lookups per "
        f"case, {QUICK.ack_requests:,} slash commands, a P0 to {QUICK.responders} responders, "
        f"a digest over {QUICK.digest_week:,} failure cases without the million-case history",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("LAUNCHOPS_BENCH_POSTGRES_URL"),
        help="also run on PostgreSQL (default: $LAUNCHOPS_BENCH_POSTGRES_URL); a throwaway "
        "database is created on that server and dropped afterwards",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Options()
    options = dataclasses.replace(sizes, postgres_url=args.postgres or None)
    for name in benchmark_modules():
        run: Callable[[Options], str] = importlib.import_module(f"bench.{name}").run
        started = time.perf_counter()
        print(f"running {name} …", file=sys.stderr, flush=True)
        report = run(options)
        print(report)
        print(f"({name} took {time.perf_counter() - started:.1f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
