"""A manifest's `rows:` CSV files as raw tasks.

Each column must name a task field (a near miss gets a suggestion); `meta.<name>` and
`meta_<name>` columns are kept as the task's metadata; empty cells leave a field unset.
Every row remembers its file and the line it starts on, so later checks can point at `rows.csv:8`
(the line an editor or a spreadsheet shows: the header is line 1).
A rows file must lie inside the manifest's folder.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Final

from runner.core import Problem
from runner.manifest.expand import RawTask
from runner.manifest.fields import FIELD_NAMES, suggest
from runner.manifest.readers import RowPlace, read_csv

__all__ = ["csv_tasks"]

_META_PREFIXES: Final = ("meta.", "meta_")


def csv_tasks(name: str, where: str, manifest: Path, root: Path) -> tuple[list[RawTask], list[Problem]]:
    """The tasks of the rows file `name` (as the manifest at `manifest` wrote it, `where`),
    resolved against `root`, the manifest's folder; and what is wrong with the file."""
    relative = PurePosixPath(name)
    path = Path(os.path.normpath(root / relative))
    if not relative.is_absolute() and not path.is_relative_to(root):
        return [], [Problem(where, "rows", f"{name!r} points outside the manifest's folder ({root}).")]
    display = str(manifest) if manifest.name == name else str(manifest.parent / name)
    table, problems = read_csv(path, display)
    if table is None:
        return [], problems
    columns = _columns(table.header, f"{display}:{table.header_line}", problems)
    if columns is None:
        return [], problems
    tasks = []
    folder = path.parent  # one Path for every row: hashed once by the media resolver's caches
    for line, cells in table.rows:
        values: dict[str, object] = {}
        meta: dict[str, str] = {}
        for (column, is_meta), cell in zip(columns, cells, strict=False):  # a row may be short
            if cell == "":
                continue
            if is_meta:
                meta[column] = cell
            else:
                values[column] = cell
        if meta:
            values["meta"] = meta
        tasks.append(RawTask(values, RowPlace(f"{display}:{line}", folder, root, None, display)))
    return tasks, problems


def _columns(header: list[str], where: str, problems: list[Problem]) -> list[tuple[str, bool]] | None:
    """Each column's field name and whether it is metadata; None when a column is wrong."""
    columns: list[tuple[str, bool]] = []
    ok = True
    seen: set[str] = set()
    allowed = [f for f in FIELD_NAMES if f != "meta"]
    for column in header:
        if column in seen:
            problems.append(Problem(where, column, "the column appears twice."))
            ok = False
        seen.add(column)
        if column.startswith(_META_PREFIXES) and len(column) > 5:
            columns.append((column[5:], True))
        elif column in allowed:
            columns.append((column, False))
        else:
            hint = suggest(column, allowed) or " Name extra columns meta.<name> to keep them as metadata."
            problems.append(Problem(where, column, f"unknown column.{hint}"))
            ok = False
    return columns if ok else None
