"""The journal: one SQLite file per run folder that makes every run resumable.

Every transition is written before the action it announces. The submit intent is
committed with synchronous=FULL (it must survive a power cut: it is what stops us
paying twice); other transitions use WAL's NORMAL, which survives any process crash.
One process owns a journal at a time (an flock on `state.lock`, whose text names
the holder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

from runner.core import Event, StoreError, TaskRecord, TaskSpec, TaskState, advance
from runner.journal.file import (
    LOCK_NAME,
    SCHEMA_VERSION,
    connect,
    disk_full,
    is_disk_full,
    migrate,
    take_lock,
    too_new,
)
from runner.journal.meta import ENDPOINT_META
from runner.journal.rows import (
    MUTABLE_FIELDS,
    RECORD_FIELDS,
    Asset,
    DoneVideo,
    Superseded,
    spec_from_json,
    spec_to_json,
    to_column,
    to_record,
)

__all__ = ["JOURNAL_NAME", "Store"]

JOURNAL_NAME: Final = "state.sqlite"

_TASKS_REVISION: Final = "tasks_revision"  #: meta row counting `add_tasks` calls that changed a task
_SET_ASIDE_POSITION: Final = 1 << 40  #: earlier versions come after every manifest task


class Store:
    """The journal of one run folder. Use `Store.open` (owner) or `Store.open_readonly`."""

    def __init__(
        self, db: sqlite3.Connection, path: Path, lock: IO[str] | None, *, new: bool = False
    ) -> None:
        self._db = db
        self.path = path
        self._lock = lock
        self.new = new  #: the journal did not exist (or held nothing) before this open

    # -- opening and closing -------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if needed) the journal at `path` and take the run folder's lock.

        JournalDamagedError when the file is not a readable journal; JournalFullError when the
        disk has no room to open it."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = take_lock(path.parent / LOCK_NAME)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(path) from None
            raise
        try:
            db = connect(path)
            new = migrate(db, path)
        except sqlite3.Error as exc:
            lock.close()
            if is_disk_full(exc):
                raise disk_full(path) from None
            raise
        except BaseException:
            lock.close()
            raise
        return cls(db, path, lock, new=new)

    @classmethod
    def open_readonly(cls, path: Path) -> Store | None:
        """Open an existing journal for reading without the lock; None if there is none yet."""
        if not path.is_file():
            return None
        db = connect(path, readonly=True)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:  # a run is creating it this instant: nothing recorded yet
            db.close()
            return None
        if version > SCHEMA_VERSION:
            db.close()
            raise StoreError(too_new(path, version))
        return cls(db, path, None)

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tasks -----------------------------------------------------------------------

    def add_tasks(
        self, specs: Sequence[TaskSpec], positions: Sequence[int] | None = None
    ) -> list[Superseded]:
        """Journal the manifest's tasks, at `positions` (default: their order). New ids are
        planned. An id whose content changed is planned afresh; its earlier version is kept
        under an id of its own (returned), so its video, its cost and a create still in flight
        are not lost, unless it was never sent (then it is dropped)."""
        places = range(len(specs)) if positions is None else positions
        now = time.time()
        changed: list[Superseded] = []
        touched = False
        known = {
            row[0]: row[1:]
            for row in self._db.execute("SELECT id, key, position, state, attempts FROM tasks")
        }
        with self._tx():
            for position, spec in zip(places, specs, strict=True):
                old_key, old_position, old_state, attempts = known.get(spec.id, (None, None, None, 0))
                if old_key == spec.key:
                    if old_position != position:
                        self._db.execute("UPDATE tasks SET position=? WHERE id=?", (position, spec.id))
                        touched = True
                    continue
                if old_key is not None:
                    changed.append(self._set_aside(spec.id, old_key, TaskState(old_state), attempts, known))
                self._db.execute(
                    "INSERT INTO tasks (id, key, position, spec, state, updated_at) VALUES (?,?,?,?,?,?)",
                    (spec.id, spec.key, position, spec_to_json(spec), TaskState.PLANNED, now),
                )
                touched = True
            if touched:
                self._db.execute(
                    "INSERT INTO meta (name, value) VALUES (?, '1') ON CONFLICT (name)"
                    " DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                    (_TASKS_REVISION,),
                )
        return changed

    def _set_aside(
        self, task: str, key: str, state: TaskState, attempts: int, known: Mapping[str, object]
    ) -> Superseded:
        """Keep the earlier version of `task` under an id of its own, with its history."""
        if state is TaskState.PLANNED and not attempts:
            self._db.execute("DELETE FROM tasks WHERE id=?", (task,))
            return Superseded(task, None, state)
        earlier = f"{task}~{key[:8]}"
        suffix = 2
        while earlier in known:
            earlier, suffix = f"{task}~{key[:8]}-{suffix}", suffix + 1
        spec = dataclasses.replace(self.spec(task), id=earlier)
        self._db.execute(
            "UPDATE tasks SET id=?, spec=?, superseded_by=?, position=position+? WHERE id=?",
            (earlier, spec_to_json(spec), task, _SET_ASIDE_POSITION, task),
        )
        self._db.execute("UPDATE events SET id=? WHERE id=?", (earlier, task))
        return Superseded(task, earlier, state)

    def revision(self) -> str:
        """A label that changes whenever any task's row does (a transition, or `add_tasks`
        adding, replacing or moving one): what a file derived from the tasks was written from."""
        (seq,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return f"{seq}.{self.get_meta(_TASKS_REVISION) or 0}"

    def records(self, states: Iterable[TaskState] | None = None) -> list[TaskRecord]:
        """Every task's record in manifest order (optionally only those in `states`)."""
        sql = f"SELECT {', '.join(RECORD_FIELDS)} FROM tasks"
        args: tuple[str, ...] = ()
        if states is not None:
            args = tuple(states)
            sql += f" WHERE state IN ({', '.join('?' * len(args))})"
        rows = self._db.execute(sql + " ORDER BY position", args)
        return [to_record(row) for row in rows]

    def done_videos(self) -> list[DoneVideo]:
        """Each done task's video as journalled: 4 columns, not whole records (a resume checks all)."""
        sql = "SELECT id, video_path, video_sha256, video_size FROM tasks WHERE state=? ORDER BY position"
        return [DoneVideo(*row) for row in self._db.execute(sql, (TaskState.DONE,))]

    def task_ids(self) -> set[str]:
        """Every DashScope task id the journal recorded: current ones, earlier attempts' (kept
        in their events' detail), and those left unclaimed as possible double charges."""
        rows = self._db.execute(
            # every detail is a JSON object (`_write` dumps a mapping); LIKE spares parsing most
            "SELECT task_id FROM tasks WHERE task_id != '' UNION SELECT json_extract(detail, '$.task_id')"
            " FROM events WHERE detail LIKE '%task_id%' AND json_type(detail, '$.task_id') = 'text'"
            " UNION SELECT value FROM tasks, json_each(tasks.double_charge_ids)"
            " WHERE double_charge_ids IS NOT NULL"
        )
        return {row[0] for row in rows if row[0]}

    def creates_in_order(self, task_ids: Collection[str]) -> dict[str, tuple[int, int]]:
        """Where each of these server tasks sits in the journal's order: (the seq of the submit
        intent that created it, the seq of the event that recorded its id). Ids the journal
        never recorded are left out."""
        found: dict[str, tuple[int, int]] = {}
        ids = sorted(task_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._db.execute(
                "SELECT json_extract(a.detail, '$.task_id'), a.seq, (SELECT MAX(i.seq) FROM events i"
                " WHERE i.id = a.id AND i.event = 'submit_intent' AND i.seq < a.seq) FROM events a"
                " WHERE a.event IN ('accepted', 'adopted') AND json_extract(a.detail, '$.task_id')"
                f" IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((task_id, (intent or 0, seq)) for task_id, seq, intent in rows)
        return found

    def latest_submit_before(self, seq: int, account: str | None = None) -> str | None:
        """The latest server submit_time among `account`'s tasks whose create was answered (or
        adopted) before event `seq`: a lower bound, on its server's clock, for its later creates."""
        row = self._db.execute(
            "SELECT MAX(t.submit_time) FROM tasks t WHERE t.submit_time IS NOT NULL AND t.account IS ?"
            " AND (SELECT MAX(e.seq) FROM events e WHERE e.id = t.id"
            " AND e.event IN ('accepted', 'adopted')) < ?",
            (account, seq),
        ).fetchone()
        return None if row[0] is None else str(row[0])

    def last_event_seq(self, task: str, event: Event) -> int | None:
        """The seq of the latest `event` of `task`, if it has one."""
        sql = "SELECT MAX(seq) FROM events WHERE id=? AND event=?"
        row = self._db.execute(sql, (task, event.value)).fetchone()
        return None if row[0] is None else int(row[0])

    def double_charges(self) -> dict[str, list[str]]:
        """Each task with possible double charges: the DashScope tasks that may have been its own."""
        sql = "SELECT id, double_charge_ids FROM tasks WHERE double_charge_ids IS NOT NULL ORDER BY position"
        rows = self._db.execute(sql)
        return {task: json.loads(ids) for task, ids in rows if ids and json.loads(ids)}

    def failure_codes(self) -> dict[str, int]:
        """How many tasks failed with each error code ('Unknown' for none)."""
        sql = "SELECT COALESCE(NULLIF(error_code, ''), 'Unknown'), COUNT(*) FROM tasks"
        sql += " WHERE state=? AND superseded_by IS NULL GROUP BY 1"
        return dict(self._db.execute(sql, (TaskState.FAILED,)).fetchall())

    def cost_of(self, states: Iterable[TaskState]) -> float:
        """The summed cost of the tasks in `states`."""
        args = tuple(states)
        sql = f"SELECT TOTAL(cost) FROM tasks WHERE state IN ({', '.join('?' * len(args))})"
        return float(self._db.execute(sql, args).fetchone()[0])

    def record(self, task: str) -> TaskRecord:
        row = self._db.execute(f"SELECT {', '.join(RECORD_FIELDS)} FROM tasks WHERE id=?", (task,)).fetchone()
        if row is None:
            msg = f"Task {task!r} is not in the journal {self.path}."
            raise StoreError(msg)
        return to_record(row)

    def spec(self, task: str) -> TaskSpec:
        row = self._db.execute("SELECT spec FROM tasks WHERE id=?", (task,)).fetchone()
        if row is None:
            msg = f"Task {task!r} is not in the journal {self.path}."
            raise StoreError(msg)
        return spec_from_json(row[0])

    def models(self) -> dict[str, str]:
        """Every task's model, by task."""
        rows = self._db.execute("SELECT id, json_extract(spec, '$.model') FROM tasks")
        return dict(rows.fetchall())

    def specs(self) -> list[TaskSpec]:
        rows = self._db.execute("SELECT spec FROM tasks ORDER BY position")
        return [spec_from_json(row[0]) for row in rows]

    def positions(self) -> dict[str, int]:
        """Each task's place in the manifest (earlier versions after every current task)."""
        return dict(self._db.execute("SELECT id, position FROM tasks").fetchall())

    def counts(self, *, earlier_versions: bool = False) -> dict[TaskState, int]:
        """How many of the manifest's tasks are in each state (with `earlier_versions`, the
        versions its edits set aside too)."""
        where = "" if earlier_versions else " WHERE superseded_by IS NULL"
        rows = self._db.execute(f"SELECT state, COUNT(*) FROM tasks{where} GROUP BY state")
        return {TaskState(state): count for state, count in rows}

    def transition(
        self,
        task: str,
        event: Event,
        *,
        durable: bool = False,
        detail: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> TaskRecord:
        """Apply `event` to `task` (lifecycle rules), update `fields`, log it: one transaction.

        `durable=True` forces the commit to disk (synchronous=FULL), for submit intents.
        """
        record = self.record(task)
        new_state = advance(record.state, event, task=task)
        return self._write(record, new_state, event.value, durable, detail, fields)

    def amend(self, task: str, reason: str, **fields: Any) -> TaskRecord:
        """Update `fields` of `task` without a change of state, logged as `reason` (a repair)."""
        record = self.record(task)
        return self._write(record, record.state, reason, False, None, fields)

    def set_state(
        self, task: str, state: TaskState, *, reason: str = "set_state", **fields: Any
    ) -> TaskRecord:
        """Force a state without lifecycle checks, logged as `reason`: for seeding tests and
        repairs only (a journal rebuilt from the folder's files)."""
        record = self.record(task)
        return self._write(record, state, reason, False, None, fields)

    def events(self, task: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT seq, id, at, event, from_state, to_state, detail FROM events"
        where, args = (" WHERE id=?", (task,)) if task else ("", ())
        rows = self._db.execute(sql + where + " ORDER BY seq", args)
        names = ("seq", "id", "at", "event", "from_state", "to_state", "detail")
        return [dict(zip(names, row, strict=True)) for row in rows]

    # -- assets and run metadata --------------------------------------------------------

    def asset(self, sha256: str, model: str, account: str = "") -> Asset | None:
        columns = "sha256, model, url, expires_at, account"
        sql = f"SELECT {columns} FROM assets WHERE sha256=? AND model=? AND account=?"
        row = self._db.execute(sql, (sha256, model, account)).fetchone()
        return None if row is None else Asset(*row)

    def put_asset(self, asset: Asset) -> None:
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO assets (sha256, model, account, url, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (asset.sha256, asset.model, asset.account, asset.url, asset.expires_at),
            )

    @property
    def endpoint(self) -> str | None:
        """The identity of the endpoint whose tasks this journal holds, once a run recorded it."""
        return self.get_meta(ENDPOINT_META)

    def get_meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def integrity_ok(self) -> bool:
        return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    # -- internals ---------------------------------------------------------------------------

    def _write(
        self,
        record: TaskRecord,
        new_state: TaskState,
        event: str,
        durable: bool,
        detail: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
    ) -> TaskRecord:
        """Update the row and log the event in one transaction; the record as now stored."""
        unknown = set(fields) - MUTABLE_FIELDS
        if unknown:
            msg = f"Store.transition got unknown fields {sorted(unknown)}."
            raise ValueError(msg)
        now = time.time()
        values = {name: to_column(name, value) for name, value in fields.items()}
        values |= {"state": new_state.value, "updated_at": now}
        assignments = ", ".join(f"{name}=?" for name in values)
        if durable:
            self._db.execute("PRAGMA synchronous=FULL")
        try:
            with self._tx():
                self._db.execute(f"UPDATE tasks SET {assignments} WHERE id=?", (*values.values(), record.id))
                self._db.execute(
                    "INSERT INTO events (id, at, event, from_state, to_state, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        now,
                        event,
                        record.state.value,
                        new_state.value,
                        None if detail is None else json.dumps(detail, ensure_ascii=False),
                    ),
                )
        finally:
            if durable:
                self._db.execute("PRAGMA synchronous=NORMAL")
        return dataclasses.replace(record, **fields, state=new_state, updated_at=now)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.commit()
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()
            if is_disk_full(exc):
                raise disk_full(self.path) from exc
            raise
