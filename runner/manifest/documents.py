"""Where a manifest comes from, read into one document that knows the place of every part.

A manifest is a YAML file, a bare CSV file of rows, a Python mapping written as the YAML would
be (`runner.run({...})`), or rows in memory written as a CSV's would be (a DataFrame's
records, `runner.run(frame)`). Each is read into the same document of MarkedDicts, so the
loader checks them alike, and every problem names its place: `demo.yaml:14`, `rows.csv:row 7`,
`manifest dict, tasks[2]`, `DataFrame row 3`.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runner.core import Problem
from runner.manifest.csvrows import memory_tasks
from runner.manifest.expand import RawTask
from runner.manifest.fields import suggest
from runner.manifest.readers import MarkedDict, read_yaml
from runner.manifest.templates import TemplateError, is_safe_id, render

__all__ = ["DICT_DISPLAY", "TOP_LEVEL_KEYS", "ManifestSource", "MemoryRows", "Reading"]

TOP_LEVEL_KEYS: Final = (
    "name",
    "endpoint",
    "accounts",
    "model",
    "defaults",
    "limits",
    "matrix",
    "vars",
    "tasks",
    "rows",
)
DICT_DISPLAY: Final = "manifest dict"  #: how messages name a manifest given as a mapping


@dataclass(frozen=True, slots=True)
class MemoryRows:
    """Rows given in memory, each as a CSV's row: column → value, where None or "" means not
    given. `locations` name the rows in messages (`DataFrame row 3`), one per row."""

    rows: Sequence[Mapping[str, object]]
    locations: Sequence[str]
    display: str = "rows"


ManifestSource = Path | Mapping[str, object] | MemoryRows


class Reading:
    """One load under way: where the manifest came from, and where problems and warnings go."""

    def __init__(self, source: ManifestSource, base: Path | None, today: datetime.date) -> None:
        self.source = source
        self.today = today
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        if isinstance(source, Path):
            self.path: Path | None = source
            self.display = str(source)
            self.root = Path(os.path.abspath(source.parent))
            self.stem: str | None = source.stem
        else:  # relative media paths and rows files are read from `base`, as from a manifest's folder
            self.path = None
            self.display = source.display if isinstance(source, MemoryRows) else DICT_DISPLAY
            self.root = Path(os.path.abspath(base or Path.cwd()))
            self.stem = None

    def at(self, data: object, key: str | None = None) -> str:
        """Where `key` of a mapping (or the mapping) is: `file:line`, its path in memory, else
        the manifest itself."""
        if isinstance(data, MarkedDict) and data.where:
            return data.where
        if isinstance(data, MarkedDict):
            line = data.key_lines.get(key, data.line) if key is not None else data.line
            return f"{self.display}:{line}"
        return self.display

    def fail(self, where: str, name: str | None, message: str) -> None:
        self.problems.append(Problem(where, name, message))

    def document(self) -> dict[str, Any] | None:
        """The manifest as one mapping (MarkedDicts all the way down), or None after a problem."""
        if isinstance(self.source, MemoryRows):
            return MarkedDict()  # its tasks are the rows: `memory_tasks`
        if not isinstance(self.source, Path):
            data: object = _marked(self.source, self.display, "", self.problems)
        elif self.source.suffix.lower() == ".csv":
            return {"rows": self.source.name}
        elif self.source.suffix.lower() not in (".yaml", ".yml"):
            msg = "a manifest must be a .yaml/.yml file or a .csv file of rows."
            self.fail(self.display, None, msg)
            return None
        else:
            data, problems = read_yaml(self.source, self.display)
            self.problems += problems
            if data is None:
                return None
        if not isinstance(data, dict):
            self.fail(self.display, None, "the manifest must be a mapping (name:, model:, tasks: ...).")
            return None
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                hint = suggest(key, TOP_LEVEL_KEYS)
                known = ", ".join(TOP_LEVEL_KEYS)
                self.fail(self.at(data, key), key, f"unknown top-level key.{hint} Known keys: {known}.")
        return data

    def memory_tasks(self) -> list[RawTask]:
        """The tasks of rows given in memory (none for any other source)."""
        if not isinstance(self.source, MemoryRows):
            return []
        rows = self.source
        tasks, problems = memory_tasks(rows.rows, rows.locations, self.display, self.root)
        self.problems += problems
        return tasks

    def run_name(self, doc: Mapping[str, Any]) -> str:
        """The run's name (its folder): `name:`, else the file's stem; a manifest in memory has
        no file to be named after, so it must give one."""
        raw = doc.get("name", self.stem)
        if raw is None:
            msg = (
                "a manifest given in memory needs a name for its run folder (outputs/<name>/): "
                "give `name` in it, or name= to runner.run/runner.plan."
            )
            self.fail(self.display, "name", msg)
            return "unnamed"
        context = {"date": self.today.isoformat()}
        if self.stem is not None:
            context |= {"name": self.stem, "stem": self.stem}
        try:
            name = render(str(raw), context)
        except KeyError as exc:
            allowed = "{date} and {name}" if self.stem is not None else "only {date} (there is no file name)"
            msg = f"unknown placeholder {{{exc.args[0]}}}; {allowed} may be used."
            self.fail(self.at(doc, "name"), "name", msg)
            return self.stem or "unnamed"
        except TemplateError as exc:
            self.fail(self.at(doc, "name"), "name", f"{exc}.")
            return self.stem or "unnamed"
        if not is_safe_id(name):
            msg = (
                f"{name!r} is not a safe folder name; use letters, digits, '.', '_' or '-' "
                "(at most 100, starting with a letter or digit)."
            )
            self.fail(self.at(doc, "name"), "name", msg)
        return name


def _marked(value: object, display: str, path: str, problems: list[Problem]) -> object:
    """A mapping given in memory as the YAML reader would give it: MarkedDicts that know their
    place, lists, and plain values (a path as its text). A place is an item of a top-level
    list, indexed as in Python (`manifest dict, tasks[2]`); what lies inside a task is named by
    the task's own checks (`media[1]`), so it shares the task's place."""
    where = display if not path else f"{display}, {path}"
    inside_item = "[" in path
    if isinstance(value, Mapping):
        marked = MarkedDict()
        marked.where = where
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool):
                problems.append(Problem(where, None, f"unusable key {key!r}; keys are names."))
                continue
            child = path if inside_item or path else str(key)
            marked[str(key)] = _marked(item, display, child, problems)
        return marked
    if isinstance(value, list | tuple):
        return [
            _marked(item, display, path if inside_item else f"{path}[{index}]", problems)
            for index, item in enumerate(value)
        ]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value
