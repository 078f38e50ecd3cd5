"""Layer 2: what a run leaves for people and tools, beside the journal.

videos       verified videos: `.part`, hash, MP4 check, fsync, atomic rename
sidecars     `videos/<id>.json`: each video's provenance
status_rows  what one task is as a row of data: the status table's columns
status_table status.csv and status.parquet (the only pandas user), rewritten during a run
inputs       copies of the inputs in `inputs/`, so tables name them inside the folder
report       report.html, a self-contained gallery, rewritten during a run
summary      the lines `runner run` ends with
liveness     is the folder's run going on, finished, stopped, or interrupted?
verify       are the done videos still what the journal says?
edits        an edited task's earlier version kept under an id of its own
durable      atomic, fsynced file publication; a full disk named as such
merge        shard or run folders combined into one dataset folder
export/      the folder as a dataset: Hugging Face videofolder, WebDataset shards, JSON lines
"""

from __future__ import annotations

from runner.outputs.durable import atomic_write
from runner.outputs.edits import describe_edits, keep_earlier_videos
from runner.outputs.export import (
    DEFAULT_SHARD_BYTES,
    EXPORT_COLUMNS,
    FORMATS,
    ExportFormat,
    ExportResult,
    LeftOut,
    VideoFacts,
    default_target,
    export_run,
    probe_video,
)
from runner.outputs.inputs import InputCopies, InputCopy
from runner.outputs.liveness import RunState, run_state
from runner.outputs.merge import MergeResult, merge_folders
from runner.outputs.report import (
    META_NAMES,
    PROBLEM_STATES,
    REPORT_NAME,
    ReportSnapshots,
    refresh_report,
    run_header,
    write_report,
)
from runner.outputs.sidecars import write_sidecar
from runner.outputs.status_rows import STATUS_COLUMNS, status_row, status_rows
from runner.outputs.status_table import CSV_NAME, PARQUET_NAME, StatusWriter, write_status_table
from runner.outputs.summary import format_duration, render_summary, stop_advice
from runner.outputs.verify import VideoProblem, video_problem
from runner.outputs.videos import INPUTS_DIR, VIDEOS_DIR, VideoFile, VideoWriter, remove_stale_parts

__all__ = [
    "CSV_NAME",
    "DEFAULT_SHARD_BYTES",
    "EXPORT_COLUMNS",
    "FORMATS",
    "INPUTS_DIR",
    "META_NAMES",
    "PARQUET_NAME",
    "PROBLEM_STATES",
    "REPORT_NAME",
    "STATUS_COLUMNS",
    "VIDEOS_DIR",
    "ExportFormat",
    "ExportResult",
    "InputCopies",
    "InputCopy",
    "LeftOut",
    "MergeResult",
    "ReportSnapshots",
    "RunState",
    "StatusWriter",
    "VideoFacts",
    "VideoFile",
    "VideoProblem",
    "VideoWriter",
    "atomic_write",
    "default_target",
    "describe_edits",
    "export_run",
    "format_duration",
    "keep_earlier_videos",
    "merge_folders",
    "probe_video",
    "refresh_report",
    "remove_stale_parts",
    "render_summary",
    "run_header",
    "run_state",
    "status_row",
    "status_rows",
    "stop_advice",
    "video_problem",
    "write_report",
    "write_sidecar",
    "write_status_table",
]
