"""A manifest's `rows:` CSV files, and rows given in memory (a DataFrame's), as raw tasks.

Each column must name a task field (a near miss gets a suggestion); `meta.<name>` and
`meta_<name>` columns are kept as the task's metadata; empty cells leave a field unset.
Every row remembers its file and the line it starts on, so later checks can point at `rows.csv:8`
(the line an editor or a spreadsheet shows: the header is line 1; `DataFrame row 3` in memory).
A rows file must lie inside the manifest's folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Final

from runner.core import Problem
from runner.manifest.expand import RawTask
from runner.manifest.fields import FIELD_NAMES, suggest
from runner.manifest.readers import RowPlace, read_csv

__all__ = ["csv_tasks", "memory_tasks"]

_META_PREFIXES: Final = ("meta.", "meta_")


def csv_tasks(
    name: str, where: str, manifest: Path | None, root: Path
) -> tuple[list[RawTask], list[Problem]]:
    """The tasks of the rows file `name` (as the manifest at `manifest` wrote it, `where`; None
    for one given in memory), resolved against `root`, the manifest's folder; and what is
    wrong with the file."""
    relative = PurePosixPath(name)
    path = Path(os.path.normpath(root / relative))
    if not relative.is_absolute() and not path.is_relative_to(root):
        return [], [Problem(where, "rows", f"{name!r} points outside the manifest's folder ({root}).")]
    if manifest is None:
        display = name
    else:
        display = str(manifest) if manifest.name == name else str(manifest.parent / name)
    table, problems = read_csv(path, display)
    if table is None:
        return [], problems
    columns = _columns(table.header, f"{display}:{table.header_line}", problems)
    if columns is None:
        return [], problems
    folder = path.parent  # one Path for every row: hashed once by the media resolver's caches
    tasks = [
        RawTask(
            _row_values(zip(columns, cells, strict=False)),  # a row may be short
            RowPlace(f"{display}:{line}", folder, root, None, display),
        )
        for line, cells in table.rows
    ]
    return tasks, problems


def memory_tasks(
    rows: Sequence[Mapping[str, object]], locations: Sequence[str], display: str, root: Path
) -> tuple[list[RawTask], list[Problem]]:
    """The tasks of rows given in memory, each a CSV row's columns with values of any type
    (None or "" for not given); relative paths are read from `root`."""
    problems: list[Problem] = []
    header = list(dict.fromkeys(column for row in rows for column in row))
    columns = _columns(header, f"{display}:header", problems)
    if columns is None:
        return [], problems
    named = dict(zip(header, columns, strict=True))
    tasks = [
        RawTask(
            _row_values((named[column], value) for column, value in row.items()),
            RowPlace(location, root, root, None, display),
        )
        for row, location in zip(rows, locations, strict=True)
    ]
    return tasks, problems


def _row_values(cells: Iterable[tuple[tuple[str, bool], object]]) -> dict[str, object]:
    """A row's task fields, its metadata under `meta`; empty cells are left out."""
    values: dict[str, object] = {}
    meta: dict[str, object] = {}
    for (column, is_meta), value in cells:
        if value is None or value == "":
            continue
        if is_meta:
            meta[column] = value
        else:
            values[column] = value
    if meta:
        values["meta"] = meta
    return values


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
