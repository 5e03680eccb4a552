"""Sync: the example postmortems in, exact rows out; idempotence, edits, deletions, failures."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from store_support import LATER, NOW, check_consistent, count, dump, edit, history, rows

from norecur.errors import NorecurError, StoreError
from norecur.store import (
    FollowUpRow,
    IncidentRow,
    PostmortemRow,
    Store,
    sync,
)

WORKED = "INC-2026-0512.md"
ALL_EXAMPLES = [
    "INC-2026-0217.md",
    "INC-2026-0324.md",
    "INC-2026-0512.md",
    "INC-2026-0609.md",
    "INC-2026-0714.md",
    "INC-2026-0819.md",
]


def test_examples_give_exact_counts(store: Store, examples: Path):
    report = sync(store, examples, now=NOW)
    assert report.added == ALL_EXAMPLES
    assert (report.updated, report.deleted, report.unchanged, report.errors) == ([], [], 0, [])
    assert report.git_history is False  # a temporary folder is not a git work tree
    counts = {
        table: count(store, table)
        for table in (
            "teams",
            "incidents",
            "postmortems",
            "follow_ups",
            "contributing_factors",
            "apparatus_updates",
            "follow_up_status_history",
            "source_files",
        )
    }
    assert counts == {
        "teams": 6,
        "incidents": 6,
        "postmortems": 6,
        "follow_ups": 30,
        "contributing_factors": 13,
        "apparatus_updates": 11,
        # one entry per follow-up: 24 done with a closed date, 6 others seen by this sync
        "follow_up_status_history": 30,
        "source_files": 6,
    }
    assert report.history_added == 30
    sources = rows(store, "SELECT source, count(*) FROM follow_up_status_history GROUP BY source")
    assert sorted(sources) == [("file:closed", 24), ("sync", 6)]
    assert rows(store, "SELECT name FROM teams ORDER BY name") == [
        ("agent-platform",),
        ("claims-assistant",),
        ("gateway",),
        ("ml-platform",),
        ("policy-assistant",),
        ("search-platform",),
    ]
    check_consistent(store, examples)


def test_worked_example_rows(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    with store.session() as session:
        incident = session.scalars(
            select(IncidentRow).where(IncidentRow.incident_id == "INC-2026-0512")
        ).one()
        assert incident.team is not None
        assert incident.team.name == "policy-assistant"
        assert (incident.title, incident.severity, incident.timezone, incident.source) == (
            "Prompt deploy regressed policy_comparison answers for 42 minutes",
            "P2",
            "Asia/Kolkata",
            "file",
        )
        # 18:11 +05:30 is 12:41 UTC, and so on.
        assert [
            incident.impact_started,
            incident.detected,
            incident.acknowledged,
            incident.mitigated,
            incident.resolved,
            incident.closed,
        ] == [
            datetime(2026, 5, 12, hour, minute, tzinfo=UTC)
            for hour, minute in ((12, 41), (13, 12), (13, 13), (13, 18), (13, 23), (13, 40))
        ]
        assert incident.resolved_local_date == date(2026, 5, 12)
        pm = incident.postmortem
        assert pm is not None
        assert (pm.path, pm.status, pm.written, pm.published) == (
            WORKED,
            "published",
            date(2026, 5, 14),
            date(2026, 5, 15),
        )
        assert (pm.primary_cause, pm.subcategory) == ("prompt", None)
        assert (pm.sessions, pm.users, pm.tenants, pm.requests) == (38, None, 14, None)
        assert (pm.duration_minutes, pm.sla_breach, pm.eval_gap, pm.eval_cases_to_add) == (
            42.0,
            False,
            True,
            30,
        )
        assert pm.indexed_at == NOW
        assert len(pm.content_hash or "") == 64
        assert [(c.position, c.cause_class) for c in pm.contributing] == [
            (0, "data"),
            (1, "apparatus"),
        ]
        assert [(a.position, a.kind, a.follow_up_key) for a in pm.apparatus_updates] == [
            (0, "alert", "c"),
            (1, "drill", "d"),
        ]
        assert [
            (f.position, f.key, f.owner, f.due, f.status, f.type, f.apparatus_kind, f.ticket)
            for f in pm.follow_ups
        ] == [
            (0, "a", "Arjun Rao", date(2026, 5, 19), "in-progress", "eval", None, "PA-1187"),
            (1, "b", "Arjun Rao", date(2026, 5, 21), "open", "eval", None, "PA-1188"),
            (2, "c", "Priya Iyer", date(2026, 5, 26), "open", "apparatus", "alert", "PA-1189"),
            (3, "d", "drill lead", date(2026, 6, 15), "open", "apparatus", "drill", "PA-1190"),
        ]
    assert history(store, WORKED) == [
        ("a", "in-progress", NOW, "sync"),
        ("b", "open", NOW, "sync"),
        ("c", "open", NOW, "sync"),
        ("d", "open", NOW, "sync"),
    ]
    # A done follow-up with a closed date: 00:00 of that date in the incident's zone, as UTC.
    # INC-2026-0324 is in America/New_York (EDT, UTC-4, in March after the switch).
    first = history(store, "INC-2026-0324.md")[0]
    assert first == ("a", "done", datetime(2026, 3, 24, 4, 0, tzinfo=UTC), "file:closed")


def test_second_run_changes_nothing(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    before = dump(store)
    report = sync(store, examples, now=LATER)
    assert (report.added, report.updated, report.deleted, report.errors) == ([], [], [], [])
    assert (report.unchanged, report.history_added) == (6, 0)
    assert dump(store) == before


def test_touched_file_is_hashed_not_reparsed(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    target = examples / WORKED
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    before = dump(store)
    report = sync(store, examples, now=LATER)
    assert (report.added, report.updated, report.unchanged, report.history_added) == ([], [], 6, 0)
    after = dump(store)
    assert {name: table for name, table in after.items() if name != "source_files"} == {
        name: table for name, table in before.items() if name != "source_files"
    }
    (mtime,) = rows(store, "SELECT mtime_ns FROM source_files WHERE path = :p", p=WORKED)[0]
    assert mtime == stat.st_mtime_ns + 5_000_000_000
    assert dump(store) == after == dump(store)
    assert sync(store, examples, now=LATER).unchanged == 6


def test_status_edit_adds_one_history_row(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    ids_before = rows(store, "SELECT id, key FROM follow_ups ORDER BY id")
    edit(
        examples / WORKED,
        "    status: open\n    type: eval",
        "    status: in-progress\n    type: eval",
    )
    report = sync(store, examples, now=LATER)
    assert (report.updated, report.unchanged, report.history_added) == ([WORKED], 5, 1)
    assert history(store, WORKED) == [
        ("a", "in-progress", NOW, "sync"),
        ("b", "open", NOW, "sync"),
        ("b", "in-progress", LATER, "sync"),
        ("c", "open", NOW, "sync"),
        ("d", "open", NOW, "sync"),
    ]
    # The follow-ups were updated in place: same ids, so their history stays attached.
    assert rows(store, "SELECT id, key FROM follow_ups ORDER BY id") == ids_before
    before = dump(store)
    assert sync(store, examples, now=LATER).history_added == 0
    assert dump(store) == before


def test_closing_a_follow_up_records_its_closed_date(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    edit(
        examples / WORKED,
        "    status: open\n    type: apparatus\n    apparatus_kind: alert",
        "    status: done\n    type: apparatus\n    apparatus_kind: alert\n    closed: 2026-11-24",
    )
    sync(store, examples, now=LATER)
    assert history(store, WORKED)[2:4] == [
        ("c", "open", NOW, "sync"),
        # 2026-11-24 00:00 in Asia/Kolkata (+05:30)
        ("c", "done", datetime(2026, 11, 23, 18, 30, tzinfo=UTC), "file:closed"),
    ]
    # A closed date before the last recorded change cannot go first: the sync time is used.
    edit(
        examples / WORKED,
        "    status: open\n    type: eval",
        "    status: done\n    type: eval\n    closed: 2026-05-20",
    )
    sync(store, examples, now=LATER)
    assert ("b", "done", LATER, "sync") in history(store, WORKED)


def test_reordered_and_removed_follow_ups_keep_their_rows(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    target = examples / WORKED
    text = target.read_text(encoding="utf-8")
    start = text.index("  - id: a\n")
    middle = text.index("  - id: b\n")
    end = text.index("  - id: c\n")
    # Swap a and b, drop nothing yet.
    target.write_text(text[:start] + text[middle:end] + text[start:middle] + text[end:])
    ids = dict(
        rows(
            store,
            "SELECT f.key, f.id FROM follow_ups f JOIN postmortems p ON p.id = f.postmortem_fk WHERE p.path = :p",
            p=WORKED,
        )
    )
    report = sync(store, examples, now=LATER)
    assert (report.updated, report.history_added) == ([WORKED], 0)
    moved = rows(
        store,
        "SELECT f.position, f.key, f.id FROM follow_ups f JOIN postmortems p "
        "ON p.id = f.postmortem_fk WHERE p.path = :p ORDER BY f.position",
        p=WORKED,
    )
    assert moved == [(0, "b", ids["b"]), (1, "a", ids["a"]), (2, "c", ids["c"]), (3, "d", ids["d"])]
    # Now remove d: its row and its history go.
    text = target.read_text(encoding="utf-8")
    cut = text.index("  - id: d\n")
    target.write_text(text[:cut] + text[text.index("apparatus_updates:") :])
    sync(store, examples, now=LATER)
    assert [key for key, *_ in history(store, WORKED)] == ["b", "a", "c"]
    check_consistent(store, examples)


def test_deleted_file_removes_its_rows(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    (examples / WORKED).unlink()
    report = sync(store, examples, now=LATER)
    assert (report.deleted, report.unchanged) == ([WORKED], 5)
    assert rows(store, "SELECT count(*) FROM incidents WHERE incident_id = 'INC-2026-0512'") == [
        (0,)
    ]
    assert (count(store, "postmortems"), count(store, "follow_ups")) == (5, 26)
    assert count(store, "source_files") == 5
    assert count(store, "follow_up_status_history") == 26
    check_consistent(store, examples)


def test_deleted_file_keeps_an_api_incident(store: Store, examples: Path):
    with store.session() as session:
        session.add(IncidentRow(incident_id="INC-2026-0512", source="api", severity="P1"))
    report = sync(store, examples, now=NOW)
    assert WORKED in report.added
    # The file's fields win; the incident keeps its origin.
    assert rows(
        store, "SELECT severity, source FROM incidents WHERE incident_id = 'INC-2026-0512'"
    ) == [("P2", "api")]
    (examples / WORKED).unlink()
    sync(store, examples, now=LATER)
    assert rows(store, "SELECT source FROM incidents WHERE incident_id = 'INC-2026-0512'") == [
        ("api",)
    ]
    assert rows(store, "SELECT count(*) FROM postmortems WHERE path = :p", p=WORKED) == [(0,)]


def test_unparseable_file_keeps_the_indexed_version(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    before = dump(store)
    target = examples / WORKED
    good = target.read_bytes()
    edit(target, "severity: P2", "severity: [P2")  # YAML that does not close
    report = sync(store, examples, now=LATER)
    assert [error.path for error in report.errors] == [WORKED]
    assert report.errors[0].line is not None
    assert report.exit_code == 1
    after = dump(store)
    assert {k: v for k, v in after.items() if k != "source_files"} == {
        k: v for k, v in before.items() if k != "source_files"
    }
    ((last_error,),) = rows(store, "SELECT last_error FROM source_files WHERE path = :p", p=WORKED)
    assert last_error == report.errors[0].reason
    check_consistent(store, examples)
    # Still failing: reported again, nothing rewritten.
    again = sync(store, examples, now=LATER)
    assert [error.path for error in again.errors] == [WORKED]
    assert dump(store) == after
    # Fixed: indexed again (as an update of the same rows), the error cleared.
    target.write_bytes(good)
    fixed = sync(store, examples, now=LATER)
    assert (fixed.errors, fixed.updated) == ([], [WORKED])
    assert rows(store, "SELECT last_error FROM source_files WHERE path = :p", p=WORKED) == [(None,)]


def test_contract_issue_is_an_error_too(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    edit(examples / WORKED, "  primary: prompt", "  primary: prompts")
    report = sync(store, examples, now=LATER)
    (error,) = report.errors
    assert (error.path, error.field) == (WORKED, "cause.primary")
    assert "did you mean 'prompt'" in error.message
    assert rows(store, "SELECT primary_cause FROM postmortems WHERE path = :p", p=WORKED) == [
        ("prompt",)
    ]


def test_instant_without_a_zone_is_refused(store: Store, examples: Path):
    edit(examples / WORKED, "  timezone: Asia/Kolkata\n", "")
    edit(
        examples / WORKED,
        "  resolved: 2026-05-12 18:53:00+05:30",
        "  resolved: 2026-05-12 18:53:00",
    )
    report = sync(store, examples, now=NOW)
    (error,) = report.errors
    assert (error.path, error.field) == (WORKED, "incident.resolved")
    assert len(report.added) == 5


def test_value_too_long_for_its_column_is_refused(store: Store, examples: Path):
    edit(examples / WORKED, "team: policy-assistant", "team: " + "x" * 201)
    report = sync(store, examples, now=NOW)
    (error,) = report.errors
    assert (error.field, error.message) == ("team", "201 characters, over the store's limit of 200")


def test_duplicate_ids_first_path_wins(store: Store, examples: Path):
    shutil.copy(examples / WORKED, examples / "zz-copy.md")
    report = sync(store, examples, now=NOW)
    assert len(report.added) == 6
    (error,) = report.errors
    assert (error.path, error.field) == ("zz-copy.md", "id")
    assert "INC-2026-0512.md declares it too" in error.message
    assert rows(
        store,
        "SELECT path FROM postmortems p JOIN incidents i ON i.id = p.incident_fk WHERE i.incident_id = 'INC-2026-0512'",
    ) == [(WORKED,)]
    before = dump(store)
    again = sync(store, examples, now=LATER)
    assert [e.path for e in again.errors] == ["zz-copy.md"]
    assert dump(store) == before
    # A new file that sorts first takes the id over; the old holder becomes the duplicate.
    shutil.copy(examples / WORKED, examples / "A-first.md")
    third = sync(store, examples, now=LATER)
    assert third.added == ["A-first.md"]
    assert sorted(e.path for e in third.errors) == [WORKED, "zz-copy.md"]
    assert rows(
        store,
        "SELECT path FROM postmortems p JOIN incidents i ON i.id = p.incident_fk WHERE i.incident_id = 'INC-2026-0512'",
    ) == [("A-first.md",)]
    # History moved with the row: the postmortem row is the incident's.
    assert [entry[0] for entry in history(store, "A-first.md")] == ["a", "b", "c", "d"]
    settled = dump(store)
    fourth = sync(store, examples, now=LATER)
    assert sorted(e.path for e in fourth.errors) == [WORKED, "zz-copy.md"]
    assert dump(store) == settled
    check_consistent(store, examples)


def test_rename_keeps_the_postmortem_and_its_history(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    pm_id = rows(store, "SELECT id FROM postmortems WHERE path = :p", p=WORKED)
    (examples / WORKED).rename(examples / "renamed.md")
    report = sync(store, examples, now=LATER)
    assert (report.added, report.deleted, report.history_added) == (["renamed.md"], [WORKED], 0)
    assert rows(store, "SELECT id FROM postmortems WHERE path = 'renamed.md'") == pm_id
    assert history(store, "renamed.md")[0] == ("a", "in-progress", NOW, "sync")
    check_consistent(store, examples)


def test_changed_id_moves_the_row(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    edit(examples / WORKED, "id: INC-2026-0512", "id: INC-2026-0513")
    report = sync(store, examples, now=LATER)
    assert report.updated == [WORKED]
    assert rows(
        store, "SELECT incident_id FROM incidents WHERE incident_id LIKE 'INC-2026-051%'"
    ) == [("INC-2026-0513",)]
    assert history(store, WORKED)[0] == ("a", "in-progress", NOW, "sync")
    check_consistent(store, examples)


def test_swapped_ids_between_two_files(store: Store, examples: Path):
    sync(store, examples, now=NOW)
    edit(examples / "INC-2026-0217.md", "id: INC-2026-0217", "id: TMP")
    edit(examples / "INC-2026-0324.md", "id: INC-2026-0324", "id: INC-2026-0217")
    edit(examples / "INC-2026-0217.md", "id: TMP", "id: INC-2026-0324")
    report = sync(store, examples, now=LATER)
    assert report.errors == []
    assert sorted(report.updated + report.added) == ["INC-2026-0217.md", "INC-2026-0324.md"]
    assert rows(
        store,
        "SELECT i.incident_id, p.path FROM incidents i JOIN postmortems p ON p.incident_fk = i.id "
        "WHERE i.incident_id IN ('INC-2026-0217', 'INC-2026-0324') ORDER BY i.incident_id",
    ) == [("INC-2026-0217", "INC-2026-0324.md"), ("INC-2026-0324", "INC-2026-0217.md")]
    check_consistent(store, examples)
    before = dump(store)
    sync(store, examples, now=LATER)
    assert dump(store) == before


def test_files_the_linter_skips_are_not_indexed(store: Store, examples: Path):
    for name in ("README.md", "_draft.md", ".hidden.md", "notes.txt"):
        shutil.copy(examples / WORKED, examples / name)
    (examples / "node_modules").mkdir()
    shutil.copy(examples / WORKED, examples / "node_modules" / "x.md")
    (examples / "team-a").mkdir()
    shutil.move(examples / "INC-2026-0217.md", examples / "team-a" / "INC-2026-0217.MD")
    report = sync(store, examples, now=NOW)
    assert report.errors == []
    assert sorted(report.added) == sorted([*ALL_EXAMPLES[1:], "team-a/INC-2026-0217.MD"])


def test_batches_commit_and_a_rerun_is_clean(store: Store, examples: Path):
    seen: list[tuple[int, int]] = []
    report = sync(
        store,
        examples,
        now=NOW,
        batch_size=4,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(4, 6), (6, 6)]
    assert len(report.added) == 6
    with store.session() as session:
        assert (
            session.scalar(select(PostmortemRow.id).where(PostmortemRow.path == WORKED)) is not None
        )
        assert session.query(FollowUpRow).count() == 30


def test_a_second_sync_while_one_runs_is_refused(store: Store, examples: Path):
    with store.sync_lock(), pytest.raises(StoreError, match="another norecur sync"):
        sync(store, examples, now=NOW)
    assert len(sync(store, examples, now=NOW).added) == 6  # released


def test_file_over_the_size_limit_is_an_error_without_being_read(store: Store, examples: Path):
    size = (examples / WORKED).stat().st_size
    report = sync(store, examples, now=NOW, max_bytes=size - 1)
    assert WORKED in {error.path for error in report.errors}
    error = next(error for error in report.errors if error.path == WORKED)
    assert error.message.endswith("limit for a postmortem (max_file_bytes)")


def test_not_a_folder(store: Store, examples: Path):
    with pytest.raises(NorecurError, match="not a folder"):
        sync(store, examples / WORKED)
