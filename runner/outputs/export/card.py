"""The dataset card (README.md) of an `hf` export, and the run facts every export states.

The card says what a person needs before using the videos: the models, where the prompts came
from, how many tasks ran and how many videos are in, what they cost, the generation
parameters, how to load them, each column, and the videos left out and why. Its YAML header
is the Hub's: the `train` split's files, so `load_dataset(FOLDER)` reads it as `videofolder`
does. A simulator run says so at the top: its clips are placeholders, not model output.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runner import __version__
from runner.journal import Store
from runner.outputs.export.rows import COLUMN_NOTES, Selection
from runner.outputs.liveness import run_state

__all__ = ["RunFacts", "render_card", "run_facts"]

_SIMULATED: Final = frozenset({"sim", "loopback"})
_SIMULATED_NOTE: Final = (
    "Made by runner's built-in simulator of the DashScope API: placeholder clips, not model output."
)
_LISTED_VALUES: Final = 8  #: a parameter with more distinct values is summarised
_SIZE_CATEGORIES: Final = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"))


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the journal says about the run as a whole."""

    name: str
    manifest: str
    endpoint: str
    currency: str
    cost: float  #: every task of the run, earlier versions of edited tasks included
    counts: dict[str, int]  #: tasks by state (current versions)
    run_state: str  #: running, finished, stopped, interrupted, merged (runner.outputs.liveness)

    @property
    def simulated(self) -> bool:
        return self.endpoint in _SIMULATED


def run_facts(run_dir: Path, store: Store) -> RunFacts:
    """The run's facts from its journal."""
    return RunFacts(
        name=run_dir.resolve().name,
        manifest=store.get_meta("manifest") or "",
        endpoint=store.get_meta("endpoint") or "",
        currency=store.get_meta("currency") or "",
        cost=round(sum(record.cost or 0.0 for record in store.records()), 6),
        counts={state.value: count for state, count in store.counts().items()},
        run_state=run_state(run_dir, store).state,
    )


def render_card(facts: RunFacts, selection: Selection, split: str, folder_name: str) -> str:
    """The card's Markdown, YAML header first."""
    sections = [
        _header(facts, selection, split),
        _summary(facts, selection),
        _parameters(selection),
        _loading(folder_name, split),
        _columns(selection),
        _left_out(selection),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _header(facts: RunFacts, selection: Selection, split: str) -> str:
    categories = set()
    for row in selection.rows:
        roles = {item.role for item in row.spec.media}
        categories.add("image-to-video" if "first_frame" in roles else "text-to-video" if not roles else "")
    size = next((label for bound, label in _SIZE_CATEGORIES if len(selection.rows) < bound), "100K<n<1M")
    lines = [
        "---",
        f"pretty_name: {json.dumps(facts.name)}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        f"  - split: {split}",
        "    path:",
        f"    - {split}/metadata.parquet",
        f"    - {split}/*.mp4",
        "task_categories:",
        *(f"- {category}" for category in sorted(categories - {""})),
        "tags:",
        "- video",
        "- synthetic",
        "- dashscope",
        "size_categories:",
        f"- {size}",
        "---",
    ]
    return "\n".join(lines)


def _summary(facts: RunFacts, selection: Selection) -> str:
    videos = sum(1 for row in selection.rows if row.video is not None)
    models = Counter(row.spec.model for row in selection.rows)
    exported_cost = sum(row.record.cost or 0.0 for row in selection.rows)
    states = ", ".join(f"{count} {state}" for state, count in sorted(facts.counts.items()))
    source = f"`{facts.manifest}`" if facts.manifest else "the run's manifest"
    currency = facts.currency
    lines = [
        f"# {_cell(facts.name)}",
        "",
        f"{videos} videos generated with Alibaba Cloud Model Studio (DashScope) by runner {__version__}.",
    ]
    if facts.simulated:
        lines += ["", f"> {_SIMULATED_NOTE}"]
    lines += [
        "",
        "| | |",
        "|---|---|",
        f"| Models | {_cell(_tally(models, 'videos'))} |",
        f"| Prompts from | {_cell(source)}; the `source` column gives each row's line |",
        f"| Tasks in the run | {sum(facts.counts.values())}: {states} |",
        f"| Rows | {len(selection.rows)} ({videos} with a video) |",
        f"| Left out | {len(selection.left_out)} (videos missing, altered or not decoding: listed below) |",
        f"| Cost | {facts.cost:.2f} {currency} for the run; {exported_cost:.2f} {currency} for these rows |",
        f"| Endpoint | {_cell(facts.endpoint or 'unknown')} |",
    ]
    return "\n".join(lines)


def _parameters(selection: Selection) -> str:
    values: dict[str, Counter[str]] = {}
    for row in selection.rows:
        for name, value in row.spec.parameters.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            values.setdefault(name, Counter())[text] += 1
    if not values:
        return ""
    lines = ["## Generation parameters", "", "| Parameter | Values (rows) |", "|---|---|"]
    for name in sorted(values):
        unsent = len(selection.rows) - sum(values[name].values())
        shown = _tally(values[name], "") + (f", not sent ({unsent})" if unsent else "")
        lines.append(f"| {name} | {_cell(shown)} |")
    return "\n".join(lines)


def _loading(folder_name: str, split: str) -> str:
    return "\n".join(
        [
            "## Loading",
            "",
            "```python",
            "from datasets import load_dataset, Video",
            "",
            f'ds = load_dataset("videofolder", data_dir="{folder_name}", split="{split}")',
            'ds = ds.cast_column("video", Video(decode=False))  # paths and bytes; decoding needs torchcodec',
            "```",
            "",
            f"`{split}/metadata.parquet` is the table alone (pandas, or"
            ' `load_dataset("parquet", data_files=...)`);',
            "`metadata.jsonl` holds the same rows with paths relative to this folder. Times are UTC.",
        ]
    )


def _columns(selection: Selection) -> str:
    lines = ["## Columns", "", "| Column | Meaning |", "|---|---|"]
    lines.append("| file_name | the video, relative to the split's folder (the loader's `video`) |")
    lines += [f"| {name} | {_cell(note)} |" for name, note in COLUMN_NOTES.items()]
    lines += [f"| {_cell(name)} | a column of the manifest's `meta` |" for name in selection.meta_columns]
    return "\n".join(lines)


def _left_out(selection: Selection) -> str:
    notes = []
    if selection.failed:
        notes.append(
            f"{selection.failed} tasks ended without a video (`runner export --include failed` adds them)."
        )
    if selection.not_finished:
        notes.append(f"{selection.not_finished} tasks had not finished when this was exported.")
    if selection.earlier_versions:
        notes.append(f"{selection.earlier_versions} earlier versions of edited tasks are not included.")
    if not selection.left_out and not notes:
        return ""
    lines = ["## Not included", ""]
    lines += [f"- {_cell(str(item))}" for item in selection.left_out]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def _tally(counts: Counter[str], unit: str) -> str:
    """ "720P (6), 1080P (2)", or a summary past a few distinct values."""
    suffix = f" {unit}" if unit else ""
    if len(counts) > _LISTED_VALUES:
        return f"{len(counts)} distinct values"
    return ", ".join(f"{value} ({count}{suffix})" for value, count in counts.most_common())


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
