"""Layer 2: what a run leaves for people and tools, beside the journal.

videos       verified videos: `.part`, hash, MP4 check, fsync, atomic rename
sidecars     `videos/<id>.json`: each video's provenance
status_table status.csv and status.parquet (the only pandas user), rewritten during a run
report       report.html, a self-contained gallery
summary      the lines `runner run` ends with
liveness     is the folder's run going on, finished, stopped, or interrupted?
verify       are the done videos still what the journal says?
edits        an edited task's earlier version kept under an id of its own
durable      atomic, fsynced file publication; a full disk named as such
merge        shard or run folders combined into one dataset folder
"""

from __future__ import annotations

from runner.outputs.durable import atomic_write
from runner.outputs.edits import describe_edits, keep_earlier_videos
from runner.outputs.liveness import RunState, run_state
from runner.outputs.merge import MergeResult, merge_folders
from runner.outputs.report import META_NAMES, PROBLEM_STATES, REPORT_NAME, run_header, write_report
from runner.outputs.sidecars import write_sidecar
from runner.outputs.status_table import CSV_NAME, PARQUET_NAME, StatusWriter, status_rows, write_status_table
from runner.outputs.summary import format_duration, render_summary, stop_advice
from runner.outputs.verify import VideoProblem, video_problem
from runner.outputs.videos import INPUTS_DIR, VIDEOS_DIR, VideoFile, VideoWriter, remove_stale_parts

__all__ = ["CSV_NAME", "INPUTS_DIR", "META_NAMES", "MergeResult", "PARQUET_NAME", "PROBLEM_STATES", "REPORT_NAME", "RunState", "VIDEOS_DIR", "StatusWriter", "VideoFile", "VideoProblem", "VideoWriter", "atomic_write", "describe_edits", "format_duration", "keep_earlier_videos", "merge_folders", "remove_stale_parts", "render_summary", "run_state", "stop_advice", "run_header", "status_rows", "video_problem", "write_report", "write_sidecar", "write_status_table"]
