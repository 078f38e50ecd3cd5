"""The options of a run, named alike in Python (`runner.run(..., model=...)`) and on the command
line (`--model`): how the manifest is taken, and how the run goes.

`ManifestOptions` set or override the manifest's own values (so rows given on their own, a
CSV or a DataFrame, run with a `model`), and pick the shard and the account this process
drives. `RunOptions` add the run's knobs. Every key is optional; README, "Python API".
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Final, Literal, TypedDict

__all__ = ["OVERRIDE_KEYS", "ManifestOptions", "NotifyOn", "RunOptions"]

NotifyOn = Literal["always", "failure"]

#: the options that are manifest values (each a default for every row, or a top-level key)
OVERRIDE_KEYS: Final = (
    "name",
    "endpoint",
    "model",
    "resolution",
    "duration",
    "seed",
    "prompt_extend",
    "watermark",
    "audio",
    "concurrency",
    "submit_rate",
    "max_cost",
    "max_wall_time",
)


class ManifestOptions(TypedDict, total=False):
    """How a manifest is taken: where its run folder goes, values over its own, which part."""

    out: str | os.PathLike[str]  #: the folder holding run folders (default `outputs`)
    base: str | os.PathLike[str]  #: a manifest in memory: where its relative paths are read from
    name: str
    endpoint: str | Mapping[str, object]
    model: str
    resolution: str
    duration: int
    seed: int
    prompt_extend: bool
    watermark: bool
    audio: bool
    concurrency: int
    submit_rate: float
    max_cost: float
    max_wall_time: str | float  #: "2h", "30m", or seconds
    shard: str  #: "i/N" or "auto/N"
    account: str  #: the account of `accounts:` this process drives
    accounts_file: str | os.PathLike[str]  #: a YAML file of accounts, in place of `accounts:`


class RunOptions(ManifestOptions, total=False):
    """A run's knobs, beside how its manifest is taken."""

    queue_ahead: int
    data_url_max: int
    max_attempts: int  #: default 3
    retry_failed: bool
    retry_codes: Sequence[str]
    verify: bool
    max_video_mb: float
    api_key_file: str | os.PathLike[str]
    sim_profile: str  #: default "default"
    sim_time_scale: float
    sim_seed: int
    notify: str  #: a webhook URL the run's summary is posted to when it ends
    notify_on: NotifyOn  #: default "always"; "failure": only when it did not end with every task done
    on_finish: str  #: a command run when the run ends, with the summary file's path as last argument
