"""``norecur sync`` as a user runs it, and a sync killed with SIGKILL part-way."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from store_support import EXAMPLES, NORECUR, check_consistent, count, edit, run_norecur

from norecur.document import read_postmortem
from norecur.store import Store, database_url, open_store

GENERATED = 3_000
TEMPLATES = sorted(EXAMPLES.glob("*.md"))


def template_follow_ups(path: Path) -> int:
    """Follow-ups in a generated file: those of the example it was made from (GEN-n from the
    n % 6-th), counted once per example by parsing it."""
    return _TEMPLATE_COUNTS[int(path.stem.removeprefix("GEN-")) % len(TEMPLATES)]


_TEMPLATE_COUNTS = [len(read_postmortem(path).postmortem.follow_ups) for path in TEMPLATES]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 postmortems made from the six examples, each with its own id."""
    root = tmp_path_factory.mktemp("generated")
    sources = [path.read_text(encoding="utf-8") for path in TEMPLATES]
    for number in range(GENERATED):
        text_ = sources[number % len(sources)]
        text_ = re.sub(r"^id: .*$", f"id: GEN-{number:05d}", text_, count=1, flags=re.MULTILINE)
        (root / f"GEN-{number:05d}.md").write_text(text_, encoding="utf-8")
    return root


def test_sync_command_text_output_and_exit_codes(tmp_path: Path, database_url: str):
    root = tmp_path / "postmortems"
    root.mkdir()
    for path in sorted(EXAMPLES.glob("*.md")):
        (root / path.name).write_bytes(path.read_bytes())
    done = run_norecur("sync", root, "--database", database_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Synced {root} into ")
    assert "6 added, 0 updated, 0 deleted, 0 unchanged, 0 errors" in done.stdout
    edit(root / "INC-2026-0512.md", "severity: P2", "severity: [P2")
    failed = run_norecur("sync", root, "--database", database_url, cwd=tmp_path)
    assert failed.returncode == 1
    first, summary = failed.stdout.splitlines()
    assert first.startswith(f"{root / 'INC-2026-0512.md'}:")
    assert ": error: " in first
    assert "0 added, 0 updated, 0 deleted, 5 unchanged, 1 error;" in summary


def test_sync_command_json(tmp_path: Path, database_url: str):
    done = run_norecur(
        "sync",
        EXAMPLES,
        "--database",
        database_url,
        "--format",
        "json",
        "--no-git-history",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert (payload["added"], payload["errors"], payload["git_history"]) == (6, 0, False)
    assert payload["files"]["added"][0] == "INC-2026-0217.md"
    assert payload["database"].startswith(database_url.split("://")[0].split("+")[0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync", "missing-folder"], "not a folder"),
        (["sync", ".", "--database", "mysql://h/db"], "unsupported database 'mysql'"),
        (["sync", ".", "--database", "postgresql://u:secret@127.0.0.1:1/db"], "connection"),
    ],
)
def test_sync_command_usage_and_database_errors(tmp_path: Path, args: list[str], message: str):
    done = run_norecur(*args, cwd=tmp_path)
    assert not (tmp_path / ".norecur").exists()
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "secret" not in done.stderr
    assert "Traceback" not in done.stderr


def test_sync_help_has_an_example(tmp_path: Path):
    done = run_norecur("sync", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "Example: norecur sync" in done.stdout


def test_default_database_is_created_under_the_working_folder(tmp_path: Path):
    done = run_norecur("sync", EXAMPLES, "--no-git-history", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "into sqlite:///.norecur/norecur.db" in done.stdout
    assert (tmp_path / ".norecur" / "norecur.db").is_file()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _indexed(url: str) -> int:
    """Rows in source_files, read by an independent engine (0 while the schema is not there)."""
    engine = create_engine(database_url(url))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM source_files")).scalar_one())
    except SQLAlchemyError:
        return 0
    finally:
        engine.dispose()


def test_sigkill_part_way_leaves_a_consistent_store(
    tmp_path: Path, database_url: str, generated: Path
):
    command = [str(NORECUR), "sync", str(generated), "--database", database_url, "--format", "json"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    try:
        while _indexed(database_url) == 0:
            assert process.poll() is None, f"sync ended before it was killed: {process.stderr}"
            assert time.monotonic() < deadline, "no batch was committed within 120 s"
            time.sleep(0.01)
        workers = _children(process.pid)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        assert process.stderr is not None
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    # Its parsing workers notice and exit instead of waiting forever for work.
    while any(_running(pid) for pid in workers):
        assert time.monotonic() < deadline, f"worker processes {workers} outlived the sync"
        time.sleep(0.05)
    store: Store = open_store(database_url)
    try:
        partial = check_consistent(store, generated, template_follow_ups)
        assert 0 < partial["indexed"] < GENERATED, "the kill did not land part-way"
        assert partial["sources"] == partial["indexed"]
        rerun = run_norecur(*command[1:], cwd=tmp_path)
        assert rerun.returncode == 0, rerun.stderr
        payload = json.loads(rerun.stdout)
        assert (payload["added"], payload["unchanged"], payload["errors"]) == (
            GENERATED - partial["indexed"],
            partial["indexed"],
            0,
        )
        final = check_consistent(store, generated, template_follow_ups)
        assert final == {"indexed": GENERATED, "sources": GENERATED}
        expected = sum(template_follow_ups(path) for path in generated.glob("*.md"))
        assert count(store, "follow_ups") == count(store, "follow_up_status_history") == expected
    finally:
        store.dispose()
