"""`report.html`: a self-contained gallery of one run folder, for people who did not start it.

The page is one file: inline CSS and JS (`report_template.html`), the run's data
embedded as JSON and rendered 60 cards at a time by a small script. Paths are
relative (videos/…, inputs/…), so the folder can be moved or zipped; each card shows
every input of its task, from its copy in `inputs/` (runner.outputs.inputs) or its http(s)
URL. Every piece of data reaches the page as
JSON text read with `textContent`, never as markup.

During a run the page is a snapshot: `ReportSnapshots` rewrites it at the start and on the
status table's schedule (runner.outputs.status_table.StatusWriter), so a killed run still
leaves a page listing its tasks; the run's caller refreshes it once the run's end is
recorded. A page is rewritten only when what it shows has changed (the tasks, the run's
facts, its state); the journal remembers what the page shows, so a re-run with nothing to
do leaves it alone.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import html
import json
import logging
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Final
from urllib.parse import quote, urlsplit

from runner import __version__
from runner.core import (
    TERMINAL_STATES,
    JournalFullError,
    MediaItem,
    MediaRef,
    StoreError,
    TaskRecord,
    TaskSpec,
    TaskState,
)
from runner.journal import Store
from runner.outputs.durable import atomic_write
from runner.outputs.inputs import InputCopies
from runner.outputs.liveness import run_state
from runner.outputs.summary import format_duration

__all__ = [
    "META_NAMES",
    "PROBLEM_STATES",
    "REPORT_NAME",
    "ReportSnapshots",
    "account_shares",
    "refresh_report",
    "render_report",
    "report_data",
    "run_header",
    "script_safe_json",
    "write_report",
]

REPORT_NAME: Final = "report.html"
#: run information the engine stores with `Store.set_meta(name, value)`; each is optional
META_NAMES: Final = (
    "manifest",
    "endpoint",
    "started_at",
    "finished_at",
    "wall_time_s",
    "efficiency",
    "currency",
    "account",
    "shard",
)
PROBLEM_STATES: Final = frozenset({TaskState.FAILED, TaskState.EXPIRED, TaskState.CANCELLED})
_PART_RUN: Final = frozenset({"running", "interrupted", "stopped"})  #: no efficiency for a part-run
_DATA_MARK: Final = "__REPORT_DATA__"
_TITLE_MARK: Final = "__REPORT_TITLE__"
_MISSING: Final = "—"
_SHOWN_META: Final = "report_shows"  #: the key (`_page_key`) of what report.html shows

log = logging.getLogger(__name__)


def write_report(run_dir: Path, store: Store) -> Path:
    """Write `report.html` (and copy input images to `inputs/`) in `run_dir`; returns its path."""
    page = render_report(report_data(run_dir, store))
    path = run_dir / REPORT_NAME
    with atomic_write(path) as part:
        part.write_text(page, encoding="utf-8")
    return path


def refresh_report(run_dir: Path, store: Store) -> bool:
    """Rewrite report.html unless it already shows the journal as it is; whether it was
    rewritten. `store` is the run's own connection: the journal remembers what the page shows."""
    key = _page_key(run_dir, store)
    if store.get_meta(_SHOWN_META) == key and (run_dir / REPORT_NAME).is_file():
        return False
    write_report(run_dir, store)
    with contextlib.suppress(JournalFullError):  # written all the same; the next refresh writes it again
        store.set_meta(_SHOWN_META, key)
    return True


class ReportSnapshots:
    """A running run's report.html, refreshed from the run's own connection (`owner`, at the
    start) or from a read-only one beside the event loop, which cannot write the journal: then
    the key of the last page written is kept here. Failures are logged, not raised: the run
    goes on without its snapshot."""

    def __init__(self, run_dir: Path, owner: Store) -> None:
        self._run_dir = run_dir
        self._owner = owner
        self._shown: str | None = None  #: the key of the page last written

    def refresh(self, store: Store) -> bool:
        """Rewrite the page from `store` if what it shows has changed; whether it was rewritten."""
        try:
            if store is self._owner:
                written = refresh_report(self._run_dir, store)
                self._shown = store.get_meta(_SHOWN_META)
                return written
            key = _page_key(self._run_dir, store)
            if key == self._shown and (self._run_dir / REPORT_NAME).is_file():
                return False
            write_report(self._run_dir, store)
        except (OSError, StoreError) as error:
            log.warning("Could not write %s: %s", REPORT_NAME, error)
            return False
        self._shown = key
        return True


def _page_key(run_dir: Path, store: Store) -> str:
    """What the page shows, in short: the runner's version (the page's form), the journal's
    revision (the tasks), the run's state and facts (the header)."""
    facts = [__version__, store.revision(), run_state(run_dir, store).state]
    facts += [store.get_meta(name) or "" for name in META_NAMES]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


def render_report(data: dict[str, Any]) -> str:
    """The page for `data`: the template with the data embedded as script-safe JSON."""
    template = resources.files("runner.outputs").joinpath("report_template.html").read_text(encoding="utf-8")
    title = html.escape(f"{data['run']['name']} · runner report")
    head, tail = template.split(_DATA_MARK)
    return head.replace(_TITLE_MARK, title) + script_safe_json(data) + tail


def script_safe_json(data: object) -> str:
    """JSON that cannot end its <script> element or open a comment: `<`, `>`, `&` are escaped."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def report_data(run_dir: Path, store: Store) -> dict[str, Any]:
    """Everything the page shows: a header summary and one entry per task, in manifest order."""
    specs = {spec.id: spec for spec in store.specs()}
    records = store.records()
    copies = InputCopies(run_dir)
    tasks = [_task_entry(run_dir, specs[record.id], record, copies) for record in records]
    return {"run": run_header(run_dir, store, records), "tasks": tasks}


def run_header(run_dir: Path, store: Store, records: list[TaskRecord]) -> dict[str, Any]:
    """The run's facts for a header: journal meta (a dash when unknown), counts, cost."""
    meta = {name: store.get_meta(name) for name in META_NAMES}
    counts = {state.value: count for state, count in store.counts().items()}
    live = run_state(run_dir, store)
    costs = [record.cost for record in records if record.cost is not None]
    return {
        "name": run_dir.resolve().name,
        "manifest": meta["manifest"] or _MISSING,
        "endpoint": meta["endpoint"] or _MISSING,
        "state": live.state,
        "state_detail": live.detail,
        "account": meta["account"] or "",
        "accounts": account_shares(records, meta["currency"] or ""),
        "shard": meta["shard"] or "",
        "started_at": _when(meta["started_at"]),
        "finished_at": _when(meta["finished_at"]),
        "wall_time": _wall_time(meta["wall_time_s"]),
        "efficiency": _MISSING if live.state in _PART_RUN else _percent(meta["efficiency"]),
        "cost": f"{sum(costs):.2f} {meta['currency'] or ''}".strip() if costs else _MISSING,
        "total": len(records),
        "counts": counts,
        "problems": sum(counts.get(state.value, 0) for state in PROBLEM_STATES),
        "double_charges": sum(1 for record in records if record.double_charge_ids),
        "finished": sum(counts.get(state.value, 0) for state in TERMINAL_STATES),
        "currency": meta["currency"] or "",
        "generated_at": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "runner_version": __version__,
    }


def account_shares(records: list[TaskRecord], currency: str) -> dict[str, dict[str, Any]]:
    """Per account (of `accounts:`) that sent tasks: its tasks by state, its spend, and a line
    for people. Empty for a run with one unnamed account."""
    shares: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.account is None or record.state is TaskState.PLANNED:
            continue
        share = shares.setdefault(record.account, {"counts": {}, "cost": 0.0})
        share["counts"][record.state.value] = share["counts"].get(record.state.value, 0) + 1
        share["cost"] += record.cost or 0.0
    for share in shares.values():
        share["cost"] = round(share["cost"], 6)
        counts = " · ".join(f"{state} {count}" for state, count in sorted(share["counts"].items()))
        share["line"] = f"{counts} · {share['cost']:.2f} {currency}".strip()
    return shares


def _task_entry(run_dir: Path, spec: TaskSpec, record: TaskRecord, copies: InputCopies) -> dict[str, Any]:
    video = None
    if record.video_path and (run_dir / record.video_path).is_file():
        video = quote(record.video_path)
    return {
        "id": record.id,
        "state": record.state.value,
        "problem": record.state in PROBLEM_STATES,
        "model": spec.model,
        "prompt": spec.prompt or "",
        "negative_prompt": spec.negative_prompt or "",
        "actual_prompt": record.actual_prompt or "",
        "seed": spec.seed,
        "resolution": spec.resolution or None,
        "picture": " ".join(str(spec.parameters[k]) for k in ("size", "ratio") if k in spec.parameters),
        "duration": spec.parameters.get("duration"),
        "attempts": record.attempts,
        "error_code": record.error_code or "",
        "error_message": record.error_message or "",
        "task_id": record.task_id or "",
        "double_charge_ids": record.double_charge_ids or [],
        "superseded_by": record.superseded_by or "",
        "cost": record.cost,
        "video": video,
        "image": None if spec.image is None else _source(copies, spec.image),
        "inputs": _input_entries(spec.media, copies),
        "meta": dict(spec.meta),
    }


def _input_entries(media: tuple[MediaItem, ...], copies: InputCopies) -> list[dict[str, Any]]:
    """One entry per input, in the order sent: its role ("reference image 2" when there are
    several), kind, `src` (a relative path or an http(s) URL; None: not viewable) and name."""
    roles = [item.role for item in media]
    seen: dict[str, int] = {}
    entries = []
    for item in media:
        seen[item.role] = seen.get(item.role, 0) + 1
        role = item.role.replace("_", " ")
        if roles.count(item.role) > 1:
            role += f" {seen[item.role]}"
        ref = item.ref
        entries.append({"role": role, "kind": ref.kind, "src": _source(copies, ref), "name": _name(ref)})
    return entries


def _source(copies: InputCopies, media: MediaRef) -> str | None:
    """An input's `src`: its copy in `inputs/`, its http(s) URL, or None when it cannot be shown
    (oss:// and friends are not viewable in a browser)."""
    url = media.url or ""
    if url.startswith(("https://", "http://")):
        return url
    copy = copies.copy_of(media)
    return None if copy is None else copy.path


def _name(ref: MediaRef) -> str:
    """The file name a person knows the input by ("inline" for a data: URL)."""
    url = ref.url or ""
    if url.startswith("data:"):
        return "inline"
    return PurePosixPath(ref.path or urlsplit(url).path).name


def _when(value: str | None) -> str:
    """An ISO or epoch timestamp from the journal, as local `YYYY-MM-DD HH:MM`."""
    if not value:
        return _MISSING
    try:
        moment = datetime.datetime.fromtimestamp(float(value)).astimezone()
    except ValueError:
        try:
            moment = datetime.datetime.fromisoformat(value).astimezone()
        except ValueError:
            return value
    return moment.strftime("%Y-%m-%d %H:%M")


def _wall_time(value: str | None) -> str:
    try:
        return format_duration(float(value)) if value else _MISSING
    except ValueError:
        return value or _MISSING


def _percent(value: str | None) -> str:
    try:
        return f"{float(value):.0%}" if value else _MISSING
    except ValueError:
        return value or _MISSING
