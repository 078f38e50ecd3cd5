"""A run folder as a dataset: `runner export FOLDER --format hf|webdataset|jsonl`.

export      export_run: read the journal, pick and check the rows, write the format, publish
rows        which tasks go in, their columns (the status table's, plus probed facts), what is left out
probe       each video's size, frame rate, frames, length, codec and sound, read with PyAV
hf          a Hugging Face `videofolder`: train/ videos, metadata.parquet, metadata.jsonl
card        the dataset card (README.md) and the run facts every export states
tar_shards  WebDataset tar shards: {key}.mp4 + {key}.json (+ the first frame), ~1 GB each
jsonl       one result per line, as a batch API's output file, beside the videos
folder      the export's own folder: staged, published whole, replaced whole; links or copies
"""

from __future__ import annotations

from runner.outputs.export.export import FORMATS, ExportFormat, ExportResult, default_target, export_run
from runner.outputs.export.probe import UndecodableVideo, VideoFacts, probe_video
from runner.outputs.export.rows import EXPORT_COLUMNS, LeftOut
from runner.outputs.export.tar_shards import DEFAULT_SHARD_BYTES, Shard

__all__ = [
    "DEFAULT_SHARD_BYTES",
    "EXPORT_COLUMNS",
    "FORMATS",
    "ExportFormat",
    "ExportResult",
    "LeftOut",
    "Shard",
    "UndecodableVideo",
    "VideoFacts",
    "default_target",
    "export_run",
    "probe_video",
]
