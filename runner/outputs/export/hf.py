"""`--format hf`: a Hugging Face `videofolder` dataset.

    README.md             the dataset card (runner.outputs.export.card)
    metadata.jsonl        the same rows as JSON lines, paths relative to this folder
    export.json           what was exported, and what was left out
    train/metadata.parquet  one row per video; `file_name` relative to train/
    train/<id>.mp4
    train/inputs/<sha16>.<ext>   the inputs the rows name

`datasets.load_dataset("videofolder", data_dir=FOLDER)` and `load_dataset(FOLDER)` read it.
The videos sit in `train/` because the loader infers splits from names: a task id such as
`night-train-s1` at the top level would land in a split of its own. For the same reason
metadata.jsonl stays outside train/: the loader refuses two metadata formats in one split.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from runner.outputs.export.folder import Placer
from runner.outputs.export.rows import INPUT_COLUMNS, Selection
from runner.outputs.status_table import write_parquet_table
from runner.outputs.videos import INPUTS_DIR

__all__ = ["SPLIT", "write_hf"]

SPLIT: Final = "train"
_PARQUET: Final = "metadata.parquet"
_JSONL: Final = "metadata.jsonl"


def write_hf(stage: Path, run_dir: Path, selection: Selection, placer: Placer) -> None:
    """Write the dataset's files (not its card) into `stage`."""
    split = stage / SPLIT
    split.mkdir()
    rows: list[dict[str, Any]] = []
    for row in selection.rows:
        for relative in row.inputs:
            placer.place(run_dir / relative, split / relative)
        file_name = None
        if row.video is not None:
            file_name = f"{row.spec.id}.mp4"
            placer.place(row.video, split / file_name)
        rows.append({"file_name": file_name, **row.data})
    columns = ["file_name", *selection.columns]
    write_parquet_table(split / _PARQUET, rows, columns)
    with (stage / _JSONL).open("w", encoding="utf-8") as handle:
        for data in rows:
            handle.write(json.dumps(_from_top(data), ensure_ascii=False) + "\n")


def _from_top(data: dict[str, Any]) -> dict[str, Any]:
    """A row with its paths relative to the export's top folder instead of train/."""
    rebased = dict(data)
    if data["file_name"] is not None:
        rebased["file_name"] = f"{SPLIT}/{data['file_name']}"
    for name in INPUT_COLUMNS:
        if isinstance(data[name], str):
            parts = data[name].split(" | ")
            rebased[name] = " | ".join(
                f"{SPLIT}/{part}" if part.startswith(f"{INPUTS_DIR}/") else part for part in parts
            )
    return rebased
