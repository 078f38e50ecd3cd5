"""The journal: schema, transitions, resume queries, locking."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from factories import spec

from runner.core.errors import InvalidTransitionError, JournalDamagedError, StoreError
from runner.core.lifecycle import Event
from runner.core.tasks import MediaRef, TaskSpec, TaskState
from runner.journal.file import SCHEMA_VERSION
from runner.journal.rows import Asset, Superseded
from runner.journal.store import Store

_CAT = MediaRef(kind="image", path="/tmp/cat.png", sha256="ab" * 32, size=10, mime="image/png")


def make_spec(task_id: str, prompt: str = "a cat") -> TaskSpec:
    return spec(task_id, prompt, image=_CAT, meta={"batch": "1"})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "run" / "state.sqlite")


def test_new_journal_has_current_schema(store: Store) -> None:
    """A fresh journal is created in WAL mode at the current schema version."""
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_add_tasks_plans_new_and_keeps_known(store: Store) -> None:
    """Adding the same specs twice keeps one planned row per id, in manifest order."""
    specs = [make_spec("a"), make_spec("b", "a dog")]
    store.add_tasks(specs)
    store.add_tasks(specs)
    assert [(r.id, r.state) for r in store.records()] == [
        ("a", TaskState.PLANNED),
        ("b", TaskState.PLANNED),
    ]
    assert store.spec("a") == specs[0]


def test_changed_content_is_replanned_and_the_earlier_version_kept(store: Store) -> None:
    """An id whose content changed starts over as planned; its earlier version keeps its state,
    video and history under an id of its own, and no longer counts among the manifest's tasks."""
    old = make_spec("a")
    store.add_tasks([old])
    store.transition("a", Event.SUBMIT_INTENT, attempts=1)
    store.set_state("a", TaskState.DONE, video_path="videos/a.mp4")
    changed = store.add_tasks([make_spec("a", "a different prompt")])
    earlier = f"a~{old.key[:8]}"
    assert changed == [Superseded("a", earlier, TaskState.DONE)]
    record = store.record("a")
    assert record.state is TaskState.PLANNED
    assert record.video_path is None
    kept = store.record(earlier)
    assert (kept.state, kept.video_path, kept.superseded_by) == (TaskState.DONE, "videos/a.mp4", "a")
    assert store.spec(earlier).id == earlier
    assert [e["event"] for e in store.events(earlier)] == ["submit_intent", "set_state"]
    assert store.counts() == {TaskState.PLANNED: 1}


def test_a_changed_task_never_sent_is_simply_replaced(store: Store) -> None:
    """An edited task that was only planned leaves nothing behind: nothing was paid for it."""
    store.add_tasks([make_spec("a")])
    assert store.add_tasks([make_spec("a", "another")]) == [Superseded("a", None, TaskState.PLANNED)]
    assert [record.id for record in store.records()] == ["a"]


def test_transition_updates_fields_and_logs_event(store: Store) -> None:
    """A transition follows the lifecycle, stores its fields and appends an event."""
    store.add_tasks([make_spec("a")])
    store.transition("a", Event.SUBMIT_INTENT, durable=True, attempts=1)
    record = store.transition("a", Event.ACCEPTED, task_id="t-1", usage={"duration": 5})
    assert (record.state, record.attempts, record.task_id) == (TaskState.PENDING, 1, "t-1")
    assert record.usage == {"duration": 5}
    assert [e["event"] for e in store.events("a")] == ["submit_intent", "accepted"]


def test_illegal_transition_changes_nothing(store: Store) -> None:
    """An event not allowed in the current state raises and leaves the row untouched."""
    store.add_tasks([make_spec("a")])
    with pytest.raises(InvalidTransitionError):
        store.transition("a", Event.DOWNLOADED)
    assert store.record("a").state is TaskState.PLANNED
    assert store.events("a") == []


def test_second_owner_is_refused_with_holder_named(tmp_path: Path) -> None:
    """A second process on the same run folder is refused with a message naming the holder."""
    path = tmp_path / "state.sqlite"
    with Store.open(path), pytest.raises(StoreError, match=r"in use by runner pid \d+"):
        Store.open(path)
    Store.open(path).close()  # released on close


def test_a_journal_being_created_reads_as_not_started(tmp_path: Path) -> None:
    """`runner status` (or a merge, or --ray's progress) looking the instant a run creates the
    file sees no journal yet, not a "no such table" error; the schema arrives in one step."""
    path = tmp_path / "state.sqlite"
    sqlite3.connect(path).close()  # the file exists, its schema not yet
    assert Store.open_readonly(path) is None
    with Store.open(path) as owner:
        assert owner.new
    with Store.open_readonly(path) as reader:  # type: ignore[union-attr]
        assert reader.records() == []


def test_readonly_open_of_missing_journal_is_none(tmp_path: Path) -> None:
    """Reading a run folder that has no journal yet gives None, not an error."""
    assert Store.open_readonly(tmp_path / "state.sqlite") is None


def test_readonly_open_does_not_need_the_lock(store: Store) -> None:
    """`runner status` can read a journal while a run holds its lock."""
    store.add_tasks([make_spec("a")])
    reader = Store.open_readonly(store.path)
    assert reader is not None
    assert [r.id for r in reader.records()] == ["a"]
    reader.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A journal written by a newer runner is refused with advice to upgrade."""
    path = tmp_path / "state.sqlite"
    Store.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this runner understands"):
        Store.open(path)


def test_corrupt_journal_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not SQLite gives a sentence saying what happens next, not a traceback."""
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalDamagedError, match=r"is damaged .* rebuilds it from the videos' sidecars"):
        Store.open(path)


def test_a_damaged_page_is_found_when_the_journal_opens(tmp_path: Path) -> None:
    """A journal whose header is fine but whose pages are not is damaged too (quick_check), found
    at open rather than as a traceback halfway through a run."""
    path = tmp_path / "state.sqlite"
    with Store.open(path) as store:
        store.add_tasks([make_spec(f"t{i}", "x" * 2000) for i in range(50)])
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 512] = b"\xff" * 512
    path.write_bytes(bytes(data))
    with pytest.raises(JournalDamagedError):
        Store.open(path)


def test_assets_round_trip(store: Store) -> None:
    """An uploaded asset is remembered per (sha256, model, account): another account's key
    cannot read an upload, so each account has its own."""
    asset = Asset(sha256="ab" * 32, model="wan2.6-i2v-flash", url="oss://x/y.png", expires_at=1.0)
    store.put_asset(asset)
    assert store.asset(asset.sha256, asset.model) == asset
    assert store.asset(asset.sha256, "other") is None
    assert store.asset(asset.sha256, asset.model, "lab2") is None
    theirs = dataclasses.replace(asset, url="oss://lab2/y.png", account="lab2")
    store.put_asset(theirs)
    assert store.asset(asset.sha256, asset.model, "lab2") == theirs
    assert store.asset(asset.sha256, asset.model) == asset


def test_a_version_2_journal_gains_accounts_and_keeps_its_uploads(tmp_path: Path) -> None:
    """Opening a journal of schema 2 migrates it: tasks gain an account column (none for its
    rows: they belong to the run's first account) and its uploads stay, as the unnamed account's."""
    path = tmp_path / "state.sqlite"
    with Store.open(path) as store:
        store.add_tasks([make_spec("a")])
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE assets; CREATE TABLE assets (sha256 TEXT NOT NULL, model TEXT NOT NULL,"
        " url TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (sha256, model));"
        " INSERT INTO assets VALUES ('cd', 'm', 'oss://old', 9.0);"
        " ALTER TABLE tasks DROP COLUMN account; PRAGMA user_version=2;"
    )
    db.close()
    with Store.open(path) as store:
        assert store.record("a").account is None
        assert store.asset("cd", "m") == Asset("cd", "m", "oss://old", 9.0)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_transition_returns_the_record_as_stored(store: Store) -> None:
    """The record a transition returns equals what a fresh read of the journal gives."""
    store.add_tasks([make_spec("a")])
    store.transition("a", Event.SUBMIT_INTENT, attempts=1)
    returned = store.transition("a", Event.ACCEPTED, task_id="t-1", usage={"duration": 5})
    assert returned == store.record("a")


def test_aggregates_answer_what_a_scan_of_every_record_would(store: Store) -> None:
    """task_ids (current ones and those in events' detail, strings only), failures per code and
    the summed cost of some states, straight from SQL."""
    store.add_tasks([make_spec(name) for name in "abcde"])
    store.transition("a", Event.SUBMIT_INTENT, attempts=1)
    store.transition("a", Event.ACCEPTED, task_id="t-a", detail={"task_id": "t-earlier"})
    store.transition("b", Event.SUBMIT_INTENT, attempts=1, detail={"task_id": 7})
    store.transition("b", Event.REPLY_LOST, detail={"error": "task_id unknown"})
    store.set_state("c", TaskState.FAILED, task_id="t-c", error_code="InternalError", cost=0.0)
    store.set_state("d", TaskState.FAILED, task_id="", error_code=None)
    store.set_state("e", TaskState.DONE, task_id="t-e", cost=1.25)
    assert store.task_ids() == {"t-a", "t-earlier", "t-c", "t-e"}
    assert store.failure_codes() == {"InternalError": 1, "Unknown": 1}
    assert store.cost_of([TaskState.DONE, TaskState.FAILED]) == 1.25
    assert store.cost_of([TaskState.PLANNED]) == 0.0


def test_revision_changes_with_every_change_to_a_task_row(store: Store) -> None:
    """A transition, a new task, a replanned one or a moved one gives a new revision; the same
    manifest added again does not."""
    specs = [make_spec("a"), make_spec("b")]
    store.add_tasks(specs)
    seen = [store.revision()]
    store.add_tasks(specs)
    assert store.revision() == seen[-1]
    for change in (
        lambda: store.transition("a", Event.SUBMIT_INTENT, attempts=1),
        lambda: store.add_tasks([*specs, make_spec("c")]),
        lambda: store.add_tasks([make_spec("a"), make_spec("b", "another prompt"), make_spec("c")]),
        lambda: store.add_tasks([make_spec("c"), make_spec("a"), make_spec("b", "another prompt")]),
    ):
        change()
        assert store.revision() not in seen
        seen.append(store.revision())


def test_models_names_every_tasks_model(store: Store) -> None:
    """One read gives each task's model, by task (the engine routes tasks to per-model lanes)."""
    store.add_tasks([make_spec("a"), dataclasses.replace(make_spec("b"), model="wan2.2-i2v-flash")])
    assert store.models() == {"a": "wan2.6-i2v-flash", "b": "wan2.2-i2v-flash"}
