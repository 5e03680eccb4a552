"""load_signal_data reads the store into the same rows (and the same report) as the models give."""

from __future__ import annotations

import dataclasses
import os
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from metrics_support import fu, pm
from sqlalchemy.orm import Session

from norecur.config import Config
from norecur.document import read_postmortem
from norecur.metrics import FollowUpRecord, SignalData, build_report, load_signal_data
from norecur.store import (
    ApparatusUpdateRow,
    Base,
    ContributingFactorRow,
    FollowUpRow,
    FollowUpStatusChange,
    IncidentRow,
    PostmortemRow,
    Team,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "postmortems"
POSTGRES_URL = os.environ.get(
    "NORECUR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HISTORY = {
    ("INC-L2", "a"): [
        ("open", datetime(2026, 4, 1, 9, 0, tzinfo=UTC)),
        ("done", datetime(2026, 5, 1, 20, 0, tzinfo=UTC)),
        ("done", datetime(2026, 5, 3, 20, 0, tzinfo=UTC)),
    ],
    ("INC-L2", "b"): [("wont-do", datetime(2026, 4, 20, 23, 0, tzinfo=UTC))],
    ("INC-2026-0512", "a"): [("done", datetime(2026, 6, 1, 12, 0, tzinfo=UTC))],
}


def postmortems():
    items = [read_postmortem(path).postmortem for path in sorted(EXAMPLES.glob("*.md"))]
    items += [
        # Listed first so its database ids come before those of earlier incident ids.
        pm(
            "INC-L9",
            team=None,
            severity=None,
            status="draft",
            resolved="2026-06-01T10:00:00",
            contributing=(None, "data"),
        ),
        pm(
            "INC-L2",
            team="alpha",
            timezone="Asia/Kolkata",
            published="2026-04-01",
            impact_started="2026-03-31T23:00:00",
            resolved="2026-04-01T01:00:00",
            primary="model",
            eval_gap=True,
            follow_ups=(
                fu("a", "done", type="eval"),
                fu("b", "wont-do", reason="obsolete", type="apparatus", apparatus_kind="runbook"),
                fu("c", "open", due="2026-04-15"),
                fu(None, "done", closed="2026-04-02"),
            ),
            apparatus=({"kind": "runbook", "follow_up": "b", "change": "x"}, {"change": "no kind"}),
        ),
    ]
    return list(reversed(items))


def store(connection, items, history):
    """Insert ``items`` as the store's sync would, straight into the tables."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    teams: dict[str, int] = {}
    for pm_ in items:
        team_id = None
        if pm_.team:
            if pm_.team not in teams:
                teams[pm_.team] = connection.execute(
                    sa.insert(Team).values(name=pm_.team).returning(Team.id)
                ).scalar_one()
            team_id = teams[pm_.team]
        m = pm_.incident
        times = {}
        for name in (
            "impact_started",
            "detected",
            "acknowledged",
            "mitigated",
            "resolved",
            "closed",
        ):
            value = getattr(m, name)
            times[name] = m.aware(value).astimezone(UTC) if value is not None else None
        incident_pk = connection.execute(
            sa.insert(IncidentRow)
            .values(
                incident_id=pm_.id,
                team_id=team_id,
                title=pm_.title,
                severity=pm_.severity,
                timezone=m.timezone,
                resolved_local_date=m.local_date("resolved"),
                source="file",
                **times,
            )
            .returning(IncidentRow.id)
        ).scalar_one()
        cause = pm_.cause
        postmortem_pk = connection.execute(
            sa.insert(PostmortemRow)
            .values(
                incident_fk=incident_pk,
                path=f"{pm_.id}.md",
                status=pm_.status.value if pm_.status else None,
                published=pm_.dates.published,
                primary_cause=cause.primary.value if cause and cause.primary else None,
                subcategory=cause.subcategory if cause else None,
                eval_gap=pm_.eval_delta.gap if pm_.eval_delta else None,
                indexed_at=now,
            )
            .returning(PostmortemRow.id)
        ).scalar_one()
        # Reversed positions in insertion order: the loader must order by position.
        for position, factor in reversed(list(enumerate(cause.contributing if cause else ()))):
            connection.execute(
                sa.insert(ContributingFactorRow).values(
                    postmortem_fk=postmortem_pk,
                    position=position,
                    cause_class=factor.class_.value if factor.class_ else None,
                )
            )
        for position, item in reversed(list(enumerate(pm_.follow_ups))):
            follow_up_pk = connection.execute(
                sa.insert(FollowUpRow)
                .values(
                    postmortem_fk=postmortem_pk,
                    position=position,
                    key=item.id,
                    action=item.action,
                    owner=item.owner,
                    due=item.due,
                    status=item.status.value if item.status else None,
                    type=item.type.value if item.type else None,
                    apparatus_kind=item.apparatus_kind.value if item.apparatus_kind else None,
                    closed=item.closed,
                    reason=item.reason,
                )
                .returning(FollowUpRow.id)
            ).scalar_one()
            for status, when in history.get((pm_.id, item.id), ()):
                connection.execute(
                    sa.insert(FollowUpStatusChange).values(
                        follow_up_fk=follow_up_pk, status=status, changed_at=when, source="git:test"
                    )
                )
        for position, update in enumerate(pm_.apparatus_updates):
            connection.execute(
                sa.insert(ApparatusUpdateRow).values(
                    postmortem_fk=postmortem_pk,
                    position=position,
                    kind=update.kind.value if update.kind else None,
                    change=update.change,
                    follow_up_key=update.follow_up,
                )
            )
    # An incident opened through the API, with no postmortem yet.
    connection.execute(
        sa.insert(IncidentRow).values(
            incident_id="INC-API-1",
            team_id=teams["alpha"],
            severity="P1",
            timezone="Europe/Berlin",
            detected=datetime(2026, 5, 4, 8, 0, tzinfo=UTC),
            resolved=datetime(2026, 5, 4, 9, 0, tzinfo=UTC),
            resolved_local_date=date(2026, 5, 4),
            source="api",
        )
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    schema = f"metrics_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    engine = admin.execution_options(schema_translate_map={None: schema})
    try:
        Base.metadata.create_all(engine)
        yield engine
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_store_and_models_give_the_same_rows_and_report(engine):
    items = postmortems()
    with engine.begin() as connection:
        store(connection, items, HISTORY)
    loaded = load_signal_data(engine)
    built = SignalData.from_postmortems(items, history=HISTORY)
    api = [i for i in loaded.incidents if i.incident_id == "INC-API-1"]
    assert len(api) == 1
    assert api[0].resolved == datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    loaded_files = SignalData(
        tuple(i for i in loaded.incidents if i.incident_id != "INC-API-1"),
        loaded.postmortems,
        loaded.follow_ups,
        loaded.apparatus_updates,
    )
    assert loaded_files == built
    window = {"start": date(2026, 1, 1), "end": date(2026, 12, 31), "as_of": date(2026, 12, 31)}
    config = Config(holiday_country="IN")
    # The API incident is the only difference between the two reports: take it out again.
    assert build_report(loaded_files, **window, config=config) == build_report(
        built, **window, config=config
    )
    whole = build_report(loaded, **window, config=config)
    assert "INC-API-1" in [b["incident_id"] for b in whole["slo"]["breaches"]]
    assert whole["mttx"]["missing"]["mttd"].count("INC-API-1") == 1


def test_history_dates_and_order(engine):
    items = postmortems()
    with engine.begin() as connection:
        store(connection, items, HISTORY)
    with Session(engine) as session:
        loaded = load_signal_data(session)
    assert [i.incident_id for i in loaded.incidents] == sorted(
        i.incident_id for i in loaded.incidents
    )
    follow_ups = {(f.incident_id, f.key): f for f in loaded.follow_ups}
    # 20:00 UTC on 1 May is 01:30 on 2 May in Kolkata; the earliest closing change counts.
    assert follow_ups[("INC-L2", "a")].history_closed == date(2026, 5, 2)
    assert follow_ups[("INC-L2", "b")].history_closed == date(2026, 4, 21)
    assert follow_ups[("INC-L2", "c")].history_closed is None
    assert [f.key for f in loaded.follow_ups if f.incident_id == "INC-L2"] == ["a", "b", "c", None]
    (l9,) = [p for p in loaded.postmortems if p.incident_id == "INC-L9"]
    assert l9.contributing == (None, "data")
    with engine.connect() as connection:
        assert load_signal_data(connection) == loaded
    record = loaded.follow_ups[0]
    assert type(record) is FollowUpRecord
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = "done"  # type: ignore[misc]
    assert hash(record) == hash(dataclasses.replace(record))


def test_empty_store(engine):
    assert load_signal_data(engine) == SignalData()
