"""The journal's file: its schema and migrations, the SQLite settings, and the owner's lock.

WAL with synchronous=NORMAL survives any process crash; the store raises synchronous to FULL
for the commits that must survive a power cut. `state.lock` (an flock) names the process
that owns the run folder, so a second runner is refused with a sentence saying who holds it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import IO, Final

from runner.core import JournalDamagedError, JournalFullError, StoreError

__all__ = [
    "LOCK_NAME",
    "SCHEMA_VERSION",
    "connect",
    "disk_full",
    "folder_in_use",
    "is_disk_full",
    "migrate",
    "set_aside_damaged",
    "take_lock",
    "too_new",
]

LOCK_NAME: Final = "state.lock"
SCHEMA_VERSION: Final = 3

_SCHEMA_V1: Final = """
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    task_id TEXT, request_id TEXT, error_code TEXT, error_message TEXT,
    submit_time TEXT, scheduled_time TEXT, end_time TEXT, submitted_at REAL,
    video_url TEXT, video_path TEXT, video_sha256 TEXT, video_size INTEGER,
    cost REAL, usage TEXT, actual_prompt TEXT, orig_prompt TEXT, updated_at REAL
);
CREATE INDEX tasks_state ON tasks(state);
CREATE INDEX tasks_task_id ON tasks(task_id);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL, at REAL NOT NULL, event TEXT NOT NULL,
    from_state TEXT, to_state TEXT NOT NULL, detail TEXT
);
CREATE TABLE assets (
    sha256 TEXT NOT NULL, model TEXT NOT NULL, url TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (sha256, model)
);
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: the DashScope task ids that may have been a task's own paid twin (JSON list); the id of
#: the task whose new version replaced this earlier one; the index that finds a task's events
#: (reconciliation reads where its creates sit in order)
_SCHEMA_V2: Final = """
ALTER TABLE tasks ADD COLUMN double_charge_ids TEXT;
ALTER TABLE tasks ADD COLUMN superseded_by TEXT;
CREATE INDEX events_by_task ON events(id, seq);
"""

#: the account (of the manifest's `accounts:`) whose key sent a task's current attempt, so its
#: polls, download, reconciliation and cancel use that account; an upload belongs to the account
#: that made it (another account's key cannot read it), so assets are keyed by account too
_SCHEMA_V3: Final = """
ALTER TABLE tasks ADD COLUMN account TEXT;
CREATE TABLE assets_v3 (
    sha256 TEXT NOT NULL, model TEXT NOT NULL, account TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (sha256, model, account)
);
INSERT INTO assets_v3 (sha256, model, url, expires_at) SELECT sha256, model, url, expires_at FROM assets;
DROP TABLE assets;
ALTER TABLE assets_v3 RENAME TO assets;
"""

_MIGRATIONS: Final = (_SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit); JournalDamagedError if the
    file is not a readable journal, JournalFullError if the disk is full."""
    try:
        if readonly:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            db = sqlite3.connect(path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if not readonly and db.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("database disk image is malformed")
    except sqlite3.DatabaseError as exc:
        if is_disk_full(exc) or _no_room(path):
            raise disk_full(path) from None
        code = getattr(exc, "sqlite_errorcode", None)
        if code not in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT, None):
            msg = f"The journal {path} cannot be opened ({exc}). Check the folder's permissions and disk."
            raise StoreError(msg) from None
        msg = (
            f"The journal {path} is damaged ({exc}). A run sets it aside and rebuilds it from "
            "the videos' sidecars and status.csv, so finished videos are not paid for again."
        )
        raise JournalDamagedError(msg) from None
    return db


def _no_room(path: Path) -> bool:
    """Whether the disk holding `path` has (almost) no free block left for an ordinary user."""
    try:
        stats = os.statvfs(path.parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024


def set_aside_damaged(path: Path) -> Path:
    """Rename a damaged journal (and its WAL files) out of the way; the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.replace(aside.with_name(aside.name + suffix))
    return aside


def is_disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL or ENOSPC/EDQUOT: a write needed space the disk (or quota) could not give."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full(path: Path) -> JournalFullError:
    msg = (
        f"The disk holding the journal {path} is full: nothing more can be recorded, so the run "
        "stops here; the journal keeps everything recorded so far. Free some space and run the "
        "same command again to resume."
    )
    return JournalFullError(msg)


def migrate(db: sqlite3.Connection, path: Path) -> bool:
    """Bring a journal up to SCHEMA_VERSION (creating the tables of a new one); whether it was new."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(too_new(path, version))
    if version == SCHEMA_VERSION:
        return False
    db.execute("BEGIN IMMEDIATE")  # one transaction: a reader sees the old schema or the new one
    for number in range(version, SCHEMA_VERSION):
        for statement in _MIGRATIONS[number].split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    db.commit()
    return bool(version == 0)


def too_new(path: Path, version: int) -> str:
    return (
        f"The journal {path} has schema version {version}, newer than this runner understands "
        f"({SCHEMA_VERSION}). Upgrade runner (pip install -U runner) to read it."
    )


def take_lock(lock_path: Path) -> IO[str]:
    """Own the run folder (held until the handle is closed), or StoreError naming the holder."""
    handle = lock_path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        msg = (
            f"The run folder {lock_path.parent} is in use by {holder}. Wait for it to finish, "
            "or stop it; two runners on one folder would submit tasks twice."
        )
        raise StoreError(msg) from None
    handle.seek(0)
    handle.truncate()
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    handle.write(f"runner pid {os.getpid()} on {socket.gethostname()} (started {started})\n")
    handle.flush()
    return handle


def folder_in_use(folder: Path) -> str | None:
    """Who holds the run folder's lock right now (a live run), or None; takes nothing."""
    try:
        handle = (folder / LOCK_NAME).open("r", encoding="utf-8")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
