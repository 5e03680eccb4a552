"""Follow-up status history from a real git repository: commit times and ``git:<sha>`` sources."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from store_support import EXAMPLES, LATER, NOW, dump, edit, history

from norecur.store import Store, sync

WORKED = "INC-2026-0512.md"
CLOSED_EXAMPLE = "INC-2026-0324.md"
T1 = datetime(2026, 5, 16, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 5, 18, 11, 30, tzinfo=UTC)
T3 = datetime(2026, 5, 22, 9, 15, tzinfo=UTC)
B_OPEN = "    status: open\n    type: eval\n    ticket: PA-1188"
B_IN_PROGRESS = "    status: in-progress\n    type: eval\n    ticket: PA-1188"
B_DONE = "    status: done\n    type: eval\n    ticket: PA-1188\n    closed: 2026-05-21"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str, when: datetime | None = None) -> str:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, message: str, when: datetime) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, when=when)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose postmortems live in a sub-folder, as they usually do."""
    root = tmp_path / "repo"
    (root / "postmortems").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("service repo\n")
    return root


def three_commits(repo: Path) -> tuple[str, str, str]:
    folder = repo / "postmortems"
    shutil.copy(EXAMPLES / WORKED, folder / WORKED)
    shutil.copy(EXAMPLES / CLOSED_EXAMPLE, folder / CLOSED_EXAMPLE)
    first = commit(repo, "postmortem", T1)
    edit(folder / WORKED, B_OPEN, B_IN_PROGRESS)
    second = commit(repo, "b in progress", T2)
    edit(folder / WORKED, B_IN_PROGRESS, B_DONE)
    third = commit(repo, "b done", T3)
    return first, second, third


def test_history_from_three_commits(store: Store, repo: Path):
    first, second, third = three_commits(repo)
    report = sync(store, repo / "postmortems", now=NOW)
    assert report.git_history is True
    assert report.errors == []
    assert history(store, WORKED) == [
        ("a", "in-progress", T1, f"git:{first}"),
        ("b", "open", T1, f"git:{first}"),
        ("b", "in-progress", T2, f"git:{second}"),
        ("b", "done", T3, f"git:{third}"),
        ("c", "open", T1, f"git:{first}"),
        ("d", "open", T1, f"git:{first}"),
    ]
    # Committed already done: the commit only bounds the closure; the closed date (00:00 in
    # America/New_York) dates it.
    assert history(store, CLOSED_EXAMPLE)[0] == (
        "a",
        "done",
        datetime(2026, 3, 24, 4, 0, tzinfo=UTC),
        "file:closed",
    )
    before = dump(store)
    assert sync(store, repo / "postmortems", now=LATER).history_added == 0
    assert dump(store) == before


def test_history_read_incrementally_is_the_same(store: Store, repo: Path):
    folder = repo / "postmortems"
    shutil.copy(EXAMPLES / WORKED, folder / WORKED)
    first = commit(repo, "postmortem", T1)
    sync(store, folder, now=NOW)
    edit(folder / WORKED, B_OPEN, B_IN_PROGRESS)
    second = commit(repo, "b in progress", T2)
    edit(folder / WORKED, B_IN_PROGRESS, B_DONE)
    third = commit(repo, "b done", T3)
    report = sync(store, folder, now=LATER)
    assert (report.updated, report.history_added) == ([WORKED], 2)
    assert [entry for entry in history(store, WORKED) if entry[0] == "b"] == [
        ("b", "open", T1, f"git:{first}"),
        ("b", "in-progress", T2, f"git:{second}"),
        ("b", "done", T3, f"git:{third}"),
    ]


def test_uncommitted_change_is_dated_by_the_sync_then_not_repeated(store: Store, repo: Path):
    folder = repo / "postmortems"
    shutil.copy(EXAMPLES / WORKED, folder / WORKED)
    first = commit(repo, "postmortem", T1)
    edit(folder / WORKED, B_OPEN, B_IN_PROGRESS)
    sync(store, folder, now=NOW)
    b_history = [("b", "open", T1, f"git:{first}"), ("b", "in-progress", NOW, "sync")]
    assert [entry for entry in history(store, WORKED) if entry[0] == "b"] == b_history
    # Committing it later (and touching the file) records nothing new: the change is known.
    commit(repo, "b in progress", LATER)
    edit(folder / WORKED, "owner: drill lead", "owner: drill coordinator")
    commit(repo, "owner", LATER)
    report = sync(store, folder, now=LATER)
    assert (report.updated, report.history_added) == ([WORKED], 0)
    assert [entry for entry in history(store, WORKED) if entry[0] == "b"] == b_history


def test_no_git_history_option(store: Store, repo: Path):
    three_commits(repo)
    report = sync(store, repo / "postmortems", git_history=False, now=NOW)
    assert report.git_history is False
    assert [entry for entry in history(store, WORKED) if entry[0] == "b"] == [
        ("b", "done", datetime(2026, 5, 20, 18, 30, tzinfo=UTC), "file:closed")
    ]


def test_a_version_that_does_not_parse_is_skipped(store: Store, repo: Path):
    folder = repo / "postmortems"
    shutil.copy(EXAMPLES / WORKED, folder / WORKED)
    first = commit(repo, "postmortem", T1)
    edit(folder / WORKED, "severity: P2", "severity: [P2")
    commit(repo, "broken", T2)
    edit(folder / WORKED, "severity: [P2", "severity: P2")
    edit(folder / WORKED, B_OPEN, B_IN_PROGRESS)
    third = commit(repo, "fixed, b in progress", T3)
    sync(store, folder, now=NOW)
    assert [entry for entry in history(store, WORKED) if entry[0] == "b"] == [
        ("b", "open", T1, f"git:{first}"),
        ("b", "in-progress", T3, f"git:{third}"),
    ]
