"""How long do sync and the full report take at scale? 50,000 postmortems, 300,000 follow-ups.

Generates the postmortems as files (seeded, from the model: 40 teams, two years of incidents,
six follow-ups each with statuses, closed dates, causes and apparatus updates), then for SQLite
and for PostgreSQL (127.0.0.1:5432, database ``test``; a throwaway database is created):
  * sync time (a first full sync, then a no-op re-sync: the incremental fast path);
  * full report time: loading the signal data from the store plus every signal over a year,
    printed against the time of one bare ``SELECT`` of all follow-up rows (the floor any
    report over the store pays), measured in the same run.
The target (issue #3) is the full report in at most 3 s on either database.

    python benchmarks/signals.py [--postmortems 50000] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, select, text

from norecur.config import Config
from norecur.document import render_markdown
from norecur.metrics import build_report, load_signal_data
from norecur.model import (
    ApparatusUpdate,
    BlastRadius,
    Cause,
    ContributingFactor,
    Dates,
    EvalDelta,
    FollowUp,
    Milestones,
    Narrative,
    OnCall,
    Postmortem,
)
from norecur.store import FollowUpRow, open_store, sync

CLASSES = ["prompt", "model", "retrieval", "data", "tooling", "gateway", "upstream", "apparatus"]
KINDS = ["alert", "runbook", "escalation", "drill"]
ZONES = [timezone(timedelta(hours=h, minutes=m)) for h, m in ((0, 0), (5, 30), (-7, 0), (1, 0))]
NARRATIVE = Narrative(
    summary="A generated incident for the signals benchmark.",
    cause="The generated cause.",
    went_well="The alert fired.",
    went_wrong="The eval set missed it.",
)


def postmortem(index: int, rng: random.Random) -> Postmortem:
    zone = rng.choice(ZONES)
    start = datetime(2025, 1, 1, tzinfo=zone) + timedelta(minutes=rng.randrange(0, 2 * 365 * 1440))
    detected = start + timedelta(minutes=rng.randrange(1, 90))
    acknowledged = detected + timedelta(minutes=rng.randrange(1, 15))
    mitigated = acknowledged + timedelta(minutes=rng.randrange(5, 120))
    resolved = mitigated + timedelta(minutes=rng.randrange(5, 240))
    published = resolved.date() + timedelta(days=rng.randrange(0, 12))
    team = rng.randrange(40)
    discipline = 0.55 + 0.45 * team / 39  # some teams close on time, some do not
    follow_ups = []
    for key in "abcdef":
        due = published + timedelta(days=rng.randrange(7, 45))
        on_time = rng.random() < discipline
        status = "done" if on_time else rng.choice(["done", "open", "in-progress", "wont-do"])
        late = rng.randrange(31, 90)
        closed = (
            published + timedelta(days=rng.randrange(1, 30) if on_time else late)
            if status == "done"
            else None
        )
        kind = rng.choice(KINDS) if key == "f" else None
        follow_ups.append(
            FollowUp(
                id=key,
                action=f"Add alert on slice {index}-{key} at p95 > 800 ms",
                owner=f"owner-{rng.randrange(200)}",
                due=due,
                status=status,
                type="apparatus" if kind else rng.choice(["fix", "prevent", "detect", "eval"]),
                apparatus_kind=kind,
                closed=closed,
                reason="superseded by a platform-wide alert" if status == "wont-do" else None,
            )
        )
    return Postmortem(
        id=f"INC-B{index:06d}",
        title=f"Generated incident {index}",
        severity=rng.choice(["P1", "P2", "P3", "P4"]),
        status=rng.choices(["published", "draft", "in-review"], [8, 1, 1])[0],
        team=f"team-{team:02d}",
        services=["svc"],
        authors=["Author One"],
        on_call=[OnCall(role="primary", name="Author One")],
        dates=Dates(written=published, published=published),
        incident=Milestones(
            impact_started=start,
            detected=detected,
            acknowledged=acknowledged,
            mitigated=mitigated,
            resolved=resolved,
            closed=resolved + timedelta(minutes=30),
        ),
        cause=Cause(
            primary=rng.choice(CLASSES),
            contributing=[ContributingFactor(class_=rng.choice(CLASSES), description="generated")],
        ),
        blast_radius=BlastRadius(sessions=rng.randrange(1, 5000), duration_minutes=42),
        eval_delta=EvalDelta(gap=False, no_gap_reason="generated")
        if rng.random() < 0.3
        else EvalDelta(
            gap=True,
            missing_coverage="generated",
            cases_to_add=10,
            eval_set="evals/x.jsonl",
            validation="against the regressed version",
        ),
        follow_ups=follow_ups,
        apparatus_updates=[
            ApparatusUpdate(kind=follow_ups[-1].apparatus_kind, change="generated", follow_up="f")
        ],
        narrative=NARRATIVE,
    )


def generate(folder: Path, count: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    for index in range(count):
        (folder / f"INC-B{index:06d}.md").write_text(
            render_markdown(postmortem(index, rng)), encoding="utf-8"
        )


def measure(label: str, url: str, folder: Path) -> None:
    store = open_store(url)
    try:
        started = time.perf_counter()
        first = sync(store, folder, git_history=False)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = sync(store, folder, git_history=False)
        again_seconds = time.perf_counter() - started
        with store.engine.connect() as connection:
            started = time.perf_counter()
            rows = connection.execute(select(FollowUpRow.__table__)).all()
            floor = time.perf_counter() - started
        started = time.perf_counter()
        data = load_signal_data(store.engine)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        report = build_report(
            data,
            start=date(2025, 7, 1),
            end=date(2026, 6, 30),
            as_of=date(2026, 11, 21),
            config=Config(),
        )
        computed = time.perf_counter() - started
    finally:
        store.dispose()
    total = loaded + computed
    print(f"\n== {label}")
    print(
        f"sync, first run        {first_seconds:8.1f} s   {len(first.added) / first_seconds:8.0f} files/s  ({len(first.added)} added)"
    )
    print(f"sync, nothing changed  {again_seconds:8.1f} s   ({again.unchanged} unchanged)")
    print(f"SELECT all follow-ups  {floor:8.2f} s   ({len(rows)} rows: the floor)")
    print(
        f"full report            {total:8.2f} s   (load {loaded:.2f} s + signals {computed:.2f} s)"
        f" = {total / floor:.1f}x the bare SELECT"
    )
    closure = report["closure"]["overall"]
    print(
        f"  closure rate overall {closure['rate']}, teams flagged "
        f"{sum(t['flagged'] for t in report['closure']['teams'])} of {len(report['closure']['teams'])}"
    )
    verdict = "meets" if total <= 3 else "MISSES"
    print(f"target: full report <= 3 s: {total:.2f} s, {verdict} it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postmortems", type=int, default=50_000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="norecur-signals-"))
    database = f"norecur_bench_{os.getpid()}"
    admin = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT"
    )
    try:
        folder = work / "postmortems"
        folder.mkdir()
        started = time.perf_counter()
        generate(folder, args.postmortems)
        print(
            f"generated {args.postmortems} postmortems with {args.postmortems * 6} follow-ups "
            f"in {time.perf_counter() - started:.0f} s"
        )
        measure("SQLite", f"sqlite:///{work / 'norecur.db'}", folder)
        if not args.skip_postgres:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{database}"'))
            try:
                measure(
                    "PostgreSQL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}", folder
                )
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
