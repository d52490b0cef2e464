"""Schemathesis over the app's own `/openapi.json`: every `/api/v1` operation, fuzzed in process.

The document is fetched from the ASGI app and every `/api/v1` operation in it is fed requests
that Hypothesis generates from its declared schemas: valid ones (positive) and ones that break
the schema (negative), with the bearer token, and valid ones without a token and with a wrong
one. Each response is checked: no 5xx, and status code, content type, headers and body as the
operation declares them. The run is derandomized, so the same code gives the same requests.

This module is the fuzzer itself: tests/fuzz/test_api_schemathesis.py runs it with a few
examples per operation in `make test`; `make bench` runs it longer and prints the figures.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import QUICK, Options

TOKEN = "fuzz-api-token"
PREFIX = "/api/v1"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
# Examples per operation for each kind of caller, in the full and the quick bench run.
FULL_EXAMPLES = 400
QUICK_EXAMPLES = 40
MAX_SHOWN = 5  # failures described in full; the rest are counted


@dataclass(frozen=True)
class Caller:
    """Who sends the requests: the headers every generated request carries. An authorized
    caller's requests reach the operation, so they are also sent invalid ones (negative)."""

    name: str
    headers: dict[str, str]
    authorized: bool


CALLERS = (
    Caller("token", {"Authorization": f"Bearer {TOKEN}"}, authorized=True),
    Caller("no token", {}, authorized=False),
    Caller("wrong token", {"Authorization": "Bearer not-the-token"}, authorized=False),
)


@dataclass
class FuzzReport:
    """What a run sent and what came back."""

    operations: list[str] = field(default_factory=list)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)  # 2xx answers, by operation
    server_errors: int = 0
    # Responses failing a check (a 5xx counts here too), by the failure's title.
    nonconforming: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # the first MAX_SHOWN, described
    nonconforming_responses: int = 0
    seconds: float = 0.0

    def record(
        self, operation: str, status: int, problems: list[str], described: Callable[[], str]
    ) -> None:
        self.requests += 1
        self.statuses[status] += 1
        if 200 <= status < 300:
            self.accepted[operation] += 1
        if status >= 500:
            self.server_errors += 1
        if problems:
            self.nonconforming_responses += 1
            self.nonconforming.update(problems)
            if len(self.failures) < MAX_SHOWN:
                self.failures.append(described())

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(self.statuses.items()))
        lines = [
            f"operations fuzzed: {len(self.operations)} ({', '.join(self.operations)})",
            f"requests: {self.requests:,} in {self.seconds:.1f} s ({statuses})",
            f"5xx responses: {self.server_errors}",
            f"responses not as declared: {self.nonconforming_responses}",
        ]
        lines += [f"  {title}: {n}" for title, n in self.nonconforming.most_common()]
        lines += [f"  e.g. {text}" for text in self.failures]
        return "\n".join(lines)


@dataclass(frozen=True)
class KnownNames:
    """Component and team ids of the loaded configuration. Valid requests that name random
    components are all refused (422, unknown component) before they reach the services, so
    positive requests name a real one most of the time (and an SLI sample's period and
    counts are made consistent as often)."""

    components: tuple[str, ...]
    teams: tuple[str, ...]

    @classmethod
    def of(cls, config_dir: Path = CONFIG_DIR) -> KnownNames:
        from launchops.config import load_config

        config = load_config(config_dir)
        return cls(
            tuple(component.id for component in config.catalog.components),
            tuple(team.id for team in config.catalog.teams),
        )

    def strategy(self, cases: Any) -> Any:
        """`cases` with each `component` and `team` field (body, batch items, query, alert
        labels) replaced by a known id, and each object made consistent, each with
        probability 3/4."""
        from hypothesis import strategies as st

        @st.composite
        def named(draw: Any) -> Any:
            case = draw(cases)

            def pick(key: str, current: Any) -> Any:
                names = self.components if key == "component" else self.teams
                if names and draw(st.integers(0, 3)):
                    return draw(st.sampled_from(names))
                return current

            def walk(node: Any) -> None:
                if isinstance(node, list):
                    for item in node:
                        walk(item)
                elif isinstance(node, dict):
                    if draw(st.integers(0, 3)):
                        _consistent(node)
                    if isinstance(node.get("labels"), dict):
                        node["labels"]["component"] = pick("component", "")
                    for key, value in node.items():
                        if key in ("component", "team") and isinstance(value, str):
                            node[key] = pick(key, value)
                        else:
                            walk(value)

            walk(case.body)
            if isinstance(case.query, dict):
                walk(case.query)
            return case

        return named()


def _consistent(node: dict[str, Any]) -> None:
    """An SLI sample's period in order and its counts within `requests`, where the schema
    alone allows any (the API refuses the rest with 422)."""
    from datetime import datetime

    start, end = node.get("period_start"), node.get("period_end")
    if isinstance(start, str) and isinstance(end, str):
        try:
            first, second = datetime.fromisoformat(start), datetime.fromisoformat(end)
            if (first.utcoffset() is None) == (second.utcoffset() is None) and second < first:
                node["period_start"], node["period_end"] = end, start
        except ValueError:
            pass
    total = node.get("requests")
    if isinstance(total, int):
        for key in ("successes", "errors_4xx", "errors_5xx"):
            if isinstance(node.get(key), int):
                node[key] = min(node[key], total)


def label(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def checks(negative: bool) -> list[Any]:
    """The checks run on every response; negative requests must also be refused (4xx)."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    names = [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
    if negative:
        names.append("negative_data_rejection")
    return [CHECKS.get_one(name) for name in names]


def fuzz(
    app: Any,
    examples: int,
    *,
    callers: tuple[Caller, ...] = CALLERS,
    names: KnownNames | None = None,
) -> FuzzReport:
    """Fuzz every /api/v1 operation of `app` (an ASGI app whose lifespan schemathesis starts
    and keeps running: call `stop_app_lifespans` when done): `examples` requests per
    operation and generation mode with the token, a quarter of that without or with a wrong
    one (refused before the body is read, so fewer say as much)."""
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = FuzzReport()
    started = time.perf_counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(PREFIX):
            continue
        report.operations.append(label(operation))
        for caller in callers:
            count = examples if caller.authorized else max(1, examples // 4)
            modes = [GenerationMode.POSITIVE]
            if caller.authorized:
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                _fuzz_operation(operation, caller, mode, count, report, names)
    report.seconds = time.perf_counter() - started
    return report


def _fuzz_operation(
    operation: Any,
    caller: Caller,
    mode: Any,
    examples: int,
    report: FuzzReport,
    names: KnownNames | None,
) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from schemathesis import GenerationMode
    from schemathesis.core.failures import Failure, FailureGroup

    negative = mode == GenerationMode.NEGATIVE
    run_checks = checks(negative)
    cases = operation.as_strategy(generation_mode=mode, headers=caller.headers)
    if names is not None and not negative:
        cases = names.strategy(cases)

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=cases)
    def one(case: Any) -> None:
        response = case.call()
        problems: list[str] = []
        try:
            case.validate_response(response, checks=run_checks, headers=caller.headers)
        except FailureGroup as group:
            problems = [failure.title for failure in group.exceptions]
        except Failure as failure:
            problems = [failure.title]

        def described() -> str:
            body = response.text[:300].replace("\n", " ")
            return (
                f"[{caller.name}, {mode.value}] {'; '.join(problems)}: "
                f"{case.as_curl_command(headers=caller.headers)} → {response.status_code} {body}"
            )

        report.record(label(operation), response.status_code, problems, described)

    one()


def stop_app_lifespans() -> None:
    """Shut down the lifespans schemathesis started for in-process apps."""
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()


@contextmanager
def api_app(database_url: str, config_dir: Path = CONFIG_DIR) -> Iterator[Any]:
    """The real app on a migrated store loaded with `config_dir`, its scheduler and outbox
    dispatcher off (only the HTTP API is under test), the API token set to TOKEN."""
    from launchops.main import build_context, prepare_store
    from launchops.settings import Settings
    from launchops.web import create_app

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        LAUNCHOPS_DATABASE_URL=database_url,
        LAUNCHOPS_CONFIG_DIR=str(config_dir),
        LAUNCHOPS_API_TOKEN=TOKEN,
    )
    prepare_store(settings, actor="fuzz")
    ctx = build_context(settings, with_chat_adapters=False)
    try:
        yield create_app(ctx, run_dispatcher=False)
    finally:
        try:
            stop_app_lifespans()
        finally:
            ctx.close()


def _examples(options: Options) -> int:
    return QUICK_EXAMPLES if replace(options, postgres_url=None) == QUICK else FULL_EXAMPLES


def run(options: Options) -> str:
    """SQLite, then PostgreSQL when a server was given: requests, 5xx and non-conforming."""
    import structlog

    from bench.owner_lookup import postgres_database

    examples = _examples(options)
    names = KnownNames.of()
    sections = []
    # The refusals the fuzzer provokes by the thousand would each log a warning line.
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(50))
    try:
        with tempfile.TemporaryDirectory() as tmp, api_app(f"sqlite:///{tmp}/fuzz.db") as app:
            sections.append(("SQLite", fuzz(app, examples, names=names)))
        if options.postgres_url:
            with postgres_database(options.postgres_url) as url, api_app(url) as app:
                sections.append(("PostgreSQL", fuzz(app, examples, names=names)))
    finally:
        structlog.configure(**saved)
    out = []
    for backend, report in sections:
        out.append(
            f"API fuzz (schemathesis over /openapi.json, {examples} examples per operation, "
            f"caller and mode) — {backend}"
        )
        out.append(report.summary())
    return "\n".join(out)
