"""Reading manifest files: YAML with line numbers and a bomb guard, CSV rows with line numbers.

Both readers return plain data plus where each piece came from, and report what
they cannot read as `Problem`s; nothing here knows what a valid task is. YAML is
parsed with the safe loader only; mappings remember the line they start on and the
line of each key, so later checks can point at `demo.yaml:14`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from runner.core import Problem

__all__ = [
    "MAX_CSV_BYTES",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "CsvTable",
    "MarkedDict",
    "RowPlace",
    "read_csv",
    "read_yaml",
]

MAX_YAML_BYTES: Final = 5 * 1024 * 1024
MAX_CSV_BYTES: Final = 512 * 1024 * 1024
MAX_YAML_NODES: Final = 1_000_000  #: nodes after alias expansion; stops "billion laughs" documents


@dataclass(frozen=True, slots=True)
class RowPlace:
    """Where a row came from: its location text, per-field locations, and its file's folder."""

    location: str  #: "demo.yaml:12" or "rows.csv:8" (the line the row starts on)
    folder: Path  #: relative media paths are resolved from here
    root: Path  #: the top manifest's folder; relative paths may not leave it
    field_lines: Mapping[str, int] | None = None  #: YAML: line of each key of the row
    file: str = ""  #: the file's display name, for per-field locations

    def where(self, name: str | None) -> str:
        """The location of field `name` (its own YAML line when known), else of the row."""
        if name is not None and self.field_lines and name in self.field_lines:
            return f"{self.file}:{self.field_lines[name]}"
        return self.location


class MarkedDict(dict[str, Any]):
    """A manifest mapping that knows where it is: a YAML file's mapping its own line and the line
    of each key (1-based); a mapping given in memory its path (`manifest dict, tasks[2]`)."""

    __slots__ = ("key_lines", "line", "where")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[str, int] = {}
        self.where = ""  #: set for a mapping given in memory, which has no lines

    def place(self, file: str) -> str:
        """Where this mapping is: `file:line` in a YAML file, its path in memory."""
        return self.where or f"{file}:{self.line}"


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are MarkedDicts; duplicate and unusable keys are recorded as issues."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.issues: list[tuple[int, str]] = []


def _construct_marked_map(loader: _MarkedLoader, node: yaml.MappingNode) -> MarkedDict:
    own_keys: set[object] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue
        if key_node.value in own_keys:
            loader.issues.append((key_node.start_mark.line + 1, f"key {key_node.value!r} appears twice"))
        own_keys.add(key_node.value)
    loader.flatten_mapping(node)  # merged keys first, the mapping's own keys after (they win)
    data = MarkedDict()
    data.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool):
            loader.issues.append((key_node.start_mark.line + 1, f"unusable key {key!r}"))
            continue
        data[str(key)] = loader.construct_object(value_node, deep=True)
        data.key_lines[str(key)] = key_node.start_mark.line + 1
    return data


_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_marked_map)


def _expanded_size(root: yaml.Node) -> int | None:
    """Node count with every alias expanded (memoised, iterative); None for a recursive alias."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        ident = id(node)
        if ident in sizes:
            continue
        children = _children(node)
        if children_done:
            in_progress.discard(ident)
            sizes[ident] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
            continue
        if ident in in_progress:
            return None
        in_progress.add(ident)
        stack.append((node, True))
        for child in children:
            if id(child) in in_progress:
                return None
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_yaml(path: Path, display: str) -> tuple[Any, list[Problem]]:
    """The document in `path` (MarkedDicts for mappings), or None with the problems found."""
    problems: list[Problem] = []
    text = _read_text(path, display, MAX_YAML_BYTES, problems)
    if text is None:
        return None, problems
    loader = _MarkedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(display, None, "the file is empty; it needs at least a task.")]
        size = _expanded_size(node)
        if size is None or size > MAX_YAML_NODES:
            why = "a recursive alias" if size is None else f"more than {MAX_YAML_NODES:,} values"
            msg = f"the YAML expands to {why} through anchors and aliases; refusing to load it."
            return None, [Problem(display, None, msg)]
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{display}:{mark.line + 1}" if mark else display
        problem = exc.problem or str(exc)
        return None, [Problem(where, None, f"this is not valid YAML: {problem}.")]
    except yaml.YAMLError as exc:
        return None, [Problem(display, None, f"this is not valid YAML: {exc}.")]
    except RecursionError:
        return None, [Problem(display, None, "the YAML is nested too deeply to be a manifest.")]
    finally:
        loader.dispose()
    problems += [Problem(f"{display}:{line}", None, f"{what}.") for line, what in loader.issues]
    return data, problems


@dataclass(slots=True)
class CsvTable:
    """The header and the rows of a CSV file, each with the line it starts on (1-based, as an
    editor or a spreadsheet numbers them: the first data row is usually line 2)."""

    header: list[str]
    header_line: int
    rows: list[tuple[int, list[str]]]  #: (line, cells)


def read_csv(path: Path, display: str) -> tuple[CsvTable | None, list[Problem]]:
    """Header and rows of a CSV file (UTF-8, optional BOM); rows with too many cells are problems."""
    problems: list[Problem] = []
    text = _read_text(path, display, MAX_CSV_BYTES, problems)
    if text is None:
        return None, problems
    records, problem = _parse_csv(text, display)
    if problem is not None:
        return None, [problem]
    if not records or not any(cell.strip() for cell in records[0][1]):
        return None, [Problem(display, None, "the CSV file has no header row.")]
    header_line, first = records[0]
    header = [cell.strip() for cell in first]
    delimiter = _foreign_delimiter(header)
    if delimiter is not None:
        msg = (
            f"the header is one column, {header[0]!r}: the file looks separated by {delimiter}. "
            "runner reads comma-separated CSV; export it again with commas."
        )
        return None, [Problem(f"{display}:{header_line}", None, msg)]
    rows: list[tuple[int, list[str]]] = []
    for line, cells in records[1:]:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) > len(header):
            msg = f"the row has {len(cells)} cells but the header names only {len(header)} columns."
            problems.append(Problem(f"{display}:{line}", None, msg))
            continue
        rows.append((line, cells))
    return CsvTable(header, header_line, rows), problems


def _parse_csv(text: str, display: str) -> tuple[list[tuple[int, list[str]]], Problem | None]:
    """All records with the line each starts on, or the problem where parsing failed (strict
    quoting). A quoted cell may span lines, so a record starts just after the previous one ends
    (`line_num` is the line a record ends on)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            msg = f"a quoted cell opened on line {start} is never closed; add the closing quote."
        else:
            msg = f"this is not a readable CSV file at line {reader.line_num}: {exc}."
        return records, Problem(f"{display}:{start}", None, msg)
    return records, None


_DELIMITERS: Final = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _foreign_delimiter(header: list[str]) -> str | None:
    """The name of another delimiter when the whole header landed in one column."""
    if len(header) != 1:
        return None
    return next((name for char, name in _DELIMITERS.items() if char in header[0]), None)


def _read_text(path: Path, display: str, cap: int, problems: list[Problem]) -> str | None:
    try:
        size = path.stat().st_size
        if size > cap:
            msg = f"the file is {size:,} bytes; the limit is {cap:,}. Split it into smaller files."
            problems.append(Problem(display, None, msg))
            return None
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append(Problem(display, None, "the file does not exist."))
    except IsADirectoryError:
        problems.append(Problem(display, None, "this is a folder, not a manifest file."))
    except PermissionError:
        problems.append(Problem(display, None, "the file cannot be read (permission denied)."))
    except OSError as exc:
        problems.append(Problem(display, None, f"the file cannot be read: {exc.strerror}."))
    else:
        return _decode(data, display, problems)
    return None


def _decode(data: bytes, display: str, problems: list[Problem]) -> str | None:
    """UTF-8 text (a leading BOM is dropped); otherwise a problem naming the first bad byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        msg = 'the file is UTF-16 text; save it as UTF-8 (spreadsheets: "CSV UTF-8").'
        problems.append(Problem(display, None, msg))
        return None
    nul = data.find(b"\0")
    if nul >= 0:
        line, column = _line_column(data, nul)
        msg = f"the file holds a NUL byte at line {line}, column {column}: it is binary, not text."
        problems.append(Problem(f"{display}:{line}", None, msg))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data, exc.start)
        msg = (
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
            f"(byte offset {exc.start}); save it as UTF-8."
        )
        problems.append(Problem(f"{display}:{line}", None, msg))
        return None


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes) of a byte offset."""
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1
