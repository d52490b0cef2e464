"""`who owns X` on a large catalog, beside a primary-key read of the same store.

Owner lookup is the command people type most, and the one whose cost grows with the catalog:
an exact hit is a key read plus the RACI rows; a miss compares the query with every name in
rapidfuzz. The baseline is the least any lookup can cost here, one `session.get` in a fresh
session, so the ratios show what the service adds on top of the database rather than how
fast this machine happens to be.
"""

from __future__ import annotations

import gc
import math
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bench import Options
from launchops.config.models import Component as ComponentConfig
from launchops.config.models import OrgConfig
from launchops.domain.errors import NotFound
from launchops.services.config_sync import sync_config
from launchops.services.ownership import OwnershipService
from launchops.services.people import Viewer
from launchops.store import make_engine, upgrade_schema
from launchops.store.models import Component
from launchops.text import normalize_key

SEED = 20240607  # fixed, so two runs time the same catalog and the same queries
WARMUP = 50
AREAS = ("model", "infra", "data", "ux", "policy")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _pairs(text: str) -> dict[str, str]:
    """`"a 가 b 나"` → `{"a": "가", "b": "나"}`: each word beside its Korean, easy to review."""
    words = text.split()
    return dict(zip(words[::2], words[1::2], strict=True))


# Four letters of a subject and three of a kind make a component's short code, so those
# prefixes are distinct; every third component also answers to its Korean name.
SUBJECTS = _pairs(
    """
    answer 답변  billing 결제  search 검색  ranking 랭킹  safety 안전  embedding 임베딩
    retrieval 리트리벌  feedback 피드백  translation 번역  summary 요약  moderation 모더레이션
    identity 인증  payment 지불  catalog 카탈로그  pricing 가격  inventory 재고  shipping 배송
    checkout 체크아웃  profile 프로필  notification 알림  messaging 메시지  insights 인사이트
    reporting 리포팅  forecast 예측  fraud 사기탐지  voice 음성  vision 비전  speech 발화
    chat 채팅  onboarding 온보딩  support 지원  routing 라우팅  scoring 스코어링  labeling 라벨링
    training 학습  serving 서빙  tokenizer 토크나이저  prompt 프롬프트  guardrail 가드레일
    consent 동의  privacy 개인정보  audit 감사  ledger 원장  session 세션  ingest 수집
    archive 보관  experiment 실험  telemetry 텔레메트리  review 리뷰  schedule 일정
    """
)
KINDS = _pairs(
    """
    model 모델  index 인덱스  pipeline 파이프라인  gateway 게이트웨이  cache 캐시  service 서비스
    queue 큐  worker 워커  store 저장소  api 에이피아이  dashboard 대시보드  scheduler 스케줄러
    classifier 분류기  ranker 랭커  filter 필터  router 라우터  database 데이터베이스  bucket 버킷
    job 작업  evaluator 평가기  console 콘솔  exporter 익스포터  loader 로더  monitor 모니터
    proxy 프록시
    """
)
VARIANTS = _words("eu us kr jp v2 v3 batch realtime shadow canary edge lite")
GIVEN = _words("alice bob carol dan erin frank grace henry ivy judy kevin laura mike nina oscar")
FAMILY = _words("smith jones brown walsh osei novak rivera chen garcia muller dubois rossi")
KO_FAMILY = _pairs("kim 김 lee 이 park 박 choi 최 jung 정 kang 강 cho 조 yoon 윤 jang 장 lim 임")
KO_GIVEN = _pairs(
    "minjun 민준 seoyeon 서연 jiho 지호 hayoon 하윤 doyun 도윤 jiwoo 지우 yejun 예준 sua 수아 "
    "siwoo 시우 jia 지아 juwon 주원 eunji 은지"
)
ZONES = ("Europe/London", "America/New_York", "Europe/Dublin", "America/Los_Angeles")

T = TypeVar("T")


@dataclass(frozen=True)
class Catalog:
    """The validated config plus what the query generators need to know about it."""

    config: OrgConfig
    keys: frozenset[str]  # every normalized name, so a "typo" is never an exact hit
    viewers: tuple[Viewer, ...]


@dataclass(frozen=True)
class Case:
    """One row of the report; a single sample (the cold lookup) is its own percentile."""

    label: str
    samples_ms: tuple[float, ...]

    def percentile(self, p: int) -> float:
        if len(self.samples_ms) == 1:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=100, method="inclusive")[p - 1]


def build_catalog(components: int, seed: int = SEED) -> Catalog:
    """~300 people in 50 teams and `components` components, checked by the real config models.

    Built in code rather than as YAML: the loader's line bookkeeping is not what is measured,
    and `OrgConfig.model_validate` still rejects anything `make run` would.
    """
    rng = random.Random(seed)
    people: list[dict[str, Any]] = [
        {"id": f"{g}.{f}", "name": f"{g.title()} {f.title()}", "timezone": rng.choice(ZONES)}
        for g in GIVEN
        for f in FAMILY
    ]
    people += [
        {
            "id": f"{g}.{f}",
            "name": KO_FAMILY[f] + KO_GIVEN[g],
            "timezone": "Asia/Seoul",
            "locale": "ko",
        }
        for g in KO_GIVEN
        for f in KO_FAMILY
    ]
    for number, person in enumerate(people):
        person |= {"slack": f"U{number:06d}", "teams": f"29:{number:06d}"}
    ids = [p["id"] for p in people]
    rng.shuffle(ids)
    size = len(ids) // len(SUBJECTS)
    teams = [
        {
            "id": f"{subject}-team",
            "name": f"{subject.title()} team",
            "channel": {"slack": f"C{number:06d}"},
            "members": ids[number * size : (number + 1) * size],
            "oncall": ids[number * size : number * size + 2],
        }
        for number, subject in enumerate(SUBJECTS)
    ]
    team_ids = [t["id"] for t in teams]
    combos = [(s, k, v) for s in SUBJECTS for k in KINDS for v in VARIANTS]
    if components > len(combos):
        raise ValueError(f"at most {len(combos):,} distinct components can be generated")
    rng.shuffle(combos)
    taken: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for number, (subject, kind, variant) in enumerate(combos[:components]):
        ident = f"{subject}-{kind}-{variant}"
        shown = variant.upper() if len(variant) == 2 else variant
        name = f"{subject.title()} {kind} {shown}"
        aliases = [f"{subject[:4]}{kind[:3]}-{variant}", f"{variant} {subject} {kind}"]
        if number % 3 == 0:
            aliases.append(f"{SUBJECTS[subject]} {KINDS[kind]} {shown}")
        for text in (ident, name, *aliases):
            owner = taken.setdefault(normalize_key(text), ident)
            if owner != ident:  # config sync would hit the primary key of `componentkey`
                raise ValueError(f"'{text}' of {ident} already names {owner}")
        responsible = rng.choice(team_ids) if rng.random() < 0.9 else rng.choice(ids)
        rows.append(
            {
                "id": ident,
                "name": name,
                "aliases": aliases,
                "area": AREAS[number % len(AREAS)],
                "classification": rng.choices(
                    ("internal", "public", "confidential", "pii"), weights=(60, 25, 10, 5)
                )[0],
                "runbook": f"https://wiki.example/runbooks/{ident}",
                "description": f"{name}: part of the {subject} product.",
                "raci": {
                    "responsible": responsible,
                    "accountable": rng.choice(ids),
                    "consulted": rng.sample(team_ids, rng.randint(0, 2)),
                    "informed": rng.sample(team_ids, rng.randint(0, 2)),
                },
            }
        )
    config = OrgConfig.model_validate(
        {"catalog": {"people": people, "teams": teams, "components": rows}, "policy": {}}
    )
    teams_of: dict[str, set[str]] = {}
    for team in config.catalog.teams:
        for member in team.members:
            teams_of.setdefault(member, set()).add(team.id)
    viewers = tuple(
        Viewer(p.id, p.name, p.locale, frozenset(teams_of.get(p.id, ())))
        for p in config.catalog.people
    )
    return Catalog(config, frozenset(taken), viewers)


def exact_queries(catalog: Catalog, count: int, rng: random.Random) -> list[str]:
    """Ids, names and aliases the way people type them: any case, stray spaces, dashes."""
    styles: tuple[Callable[[str], str], ...] = (
        str,
        str.lower,
        str.upper,
        str.title,
        lambda t: f"  {t} ",
        lambda t: t.replace(" ", "  "),
        lambda t: t.replace("-", " "),
        lambda t: t.replace(" ", "-"),
    )
    components = catalog.config.catalog.components
    out = []
    for _ in range(count):
        component = rng.choice(components)
        text = rng.choice([component.id, component.name, *component.aliases])
        out.append(rng.choice(styles)(text))
    return out


def typo_queries(catalog: Catalog, count: int, rng: random.Random) -> list[str]:
    """Real names with one slip (swap, drop, double or wrong letter) that match no name."""
    components: Sequence[ComponentConfig] = catalog.config.catalog.components
    out: list[str] = []
    while len(out) < count:
        name = rng.choice(components).name
        i = rng.randrange(len(name) - 1)
        typo = rng.choice(
            (
                name[:i] + name[i + 1] + name[i] + name[i + 2 :],
                name[:i] + name[i + 1 :],
                name[:i] + name[i] + name[i:],
                name[:i] + rng.choice("aeiourstn") + name[i + 1 :],
            )
        )
        if normalize_key(typo) not in catalog.keys:
            out.append(typo)
    return out


def _timed(call: Callable[[T], object], inputs: Sequence[T], warmup: int) -> tuple[float, ...]:
    """Milliseconds per call, after `warmup` untimed calls (connections, statement caches)."""
    for item in inputs[:warmup]:
        call(item)
    gc.collect()  # start each case with the same heap, so one case's garbage is not another's
    samples = []
    for item in inputs[warmup:]:
        started = time.perf_counter()
        call(item)
        samples.append((time.perf_counter() - started) * 1000)
    return tuple(samples)


def measure(url: str, catalog: Catalog, options: Options) -> tuple[list[Case], list[str]]:
    """Load the catalog into a migrated, empty database at `url` and time the lookups."""
    rng = random.Random(SEED)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        sync_config(engine, catalog.config, source="bench", actor="bench")
        synced_s = time.perf_counter() - started
        service = OwnershipService(engine)
        ids = [c.id for c in catalog.config.catalog.components]
        suggested: list[int] = []

        def get_by_key(ident: str) -> None:
            with Session(engine) as session:
                session.get(Component, ident)

        def exact(query: str) -> None:
            service.who_owns(query, rng.choice(catalog.viewers), shared=False)

        def typo(query: str) -> None:
            try:
                service.who_owns(query, rng.choice(catalog.viewers), shared=False)
            except NotFound as missed:
                suggested.append(len(missed.params["suggestions"]))
                return
            raise AssertionError(f"typo {query!r} was found")

        total = WARMUP + options.lookups
        baseline = _timed(get_by_key, [rng.choice(ids) for _ in range(total)], WARMUP)
        hits = _timed(exact, exact_queries(catalog, total, rng), WARMUP)
        typos = typo_queries(catalog, 1 + WARMUP + options.fuzzy_lookups, rng)
        cold = _timed(typo, typos[:1], 0)  # the first one builds the in-memory key list
        warm = _timed(typo, typos[1:], WARMUP)
        with_suggestions = sum(1 for n in suggested[-options.fuzzy_lookups :] if n)
    finally:
        engine.dispose()
    cases = [
        Case("baseline: get by primary key", baseline),
        Case("who owns (exact)", hits),
        Case("who owns (typo → suggestions)", warm),
        Case("first fuzzy lookup (cold)", cold),
    ]
    notes = [
        f"config sync took {synced_s:.1f} s; "
        f"{with_suggestions:,} of {options.fuzzy_lookups:,} typos got suggestions"
    ]
    return cases, notes


def sig3(value: float) -> str:
    """Three significant digits, kept as fixed-point so columns of milliseconds line up."""
    if value <= 0 or not math.isfinite(value):
        return f"{value:.3g}"
    decimals = 2 - math.floor(math.log10(value))
    return f"{round(value, decimals):.{max(decimals, 0)}f}"


def render(title: str, cases: list[Case], notes: list[str]) -> str:
    base = cases[0]
    width = max(len(c.label) for c in cases)
    lines = [
        title,
        f"{'case':<{width}} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'p50×base':>9} {'p99×base':>9}",
    ]
    for case in cases:
        p50 = sig3(case.percentile(50))
        ratio50 = sig3(case.percentile(50) / base.percentile(50))
        if len(case.samples_ms) == 1:  # a single event has no spread
            p95 = p99 = ratio99 = "—"
        else:
            p95, p99 = sig3(case.percentile(95)), sig3(case.percentile(99))
            ratio99 = sig3(case.percentile(99) / base.percentile(99))
        lines.append(
            f"{case.label:<{width}} {len(case.samples_ms):>6,} {p50:>8} {p95:>8} {p99:>8}"
            f" {ratio50:>9} {ratio99:>9}"
        )
    lines += notes
    return "\n".join(lines)


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A throwaway database on the server (as tests/conftest.py makes), dropped even on error."""
    admin = make_url(admin_url)
    if admin.drivername == "postgresql":  # psycopg 3 is what the project installs
        admin = admin.set(drivername="postgresql+psycopg")
    name = f"lo_bench_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def run(options: Options) -> str:
    """The SQLite report, then the PostgreSQL one when a server was given."""
    started = time.perf_counter()
    catalog = build_catalog(options.components)
    built_s = time.perf_counter() - started
    sizes = (
        f"{options.components:,} components ({len(catalog.keys):,} names), "
        f"{len(catalog.config.catalog.teams)} teams, {len(catalog.viewers)} people"
    )
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start"
    reports = []
    with tempfile.TemporaryDirectory(prefix="launchops-bench-") as directory:
        url = f"sqlite:///{directory}/bench.db"
        upgrade_schema(url)
        cases, notes = measure(url, catalog, options)
        notes.append(f"catalog built in {built_s:.1f} s; {load}")
        reports.append(render(f"owner lookup — {sizes}, SQLite", cases, notes))
    if options.postgres_url:
        with postgres_database(options.postgres_url) as url:
            upgrade_schema(url)
            cases, notes = measure(url, catalog, options)
            reports.append(render(f"owner lookup — {sizes}, PostgreSQL", cases, notes))
    return "\n\n".join(reports)
