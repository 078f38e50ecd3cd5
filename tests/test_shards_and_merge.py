"""`--shard i/N` slices a manifest deterministically; `runner merge` puts the slices back together.

The slicing is a property (disjoint, covering, stable when rows are added); the merge is shown
end to end with the CLI on the built-in simulator: three shard folders merged equal one run
of the whole manifest, task for task and file for file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from factories import spec, write_manifest
from hypothesis import given
from hypothesis import strategies as st

from runner.cli import main
from runner.core import ConfigError
from runner.journal import Store
from runner.manifest import Shard, parse_shard, shard_of, take_shard
from runner.manifest.loader import load_manifest

FAST = ["--sim-time-scale", "0.002", "--no-progress"]
#: what a run decides; the rest (times, DashScope task ids, the simulator's bytes) differs per run
COMPARED = [
    "id",
    "key",
    "model",
    "prompt",
    "seed",
    "resolution",
    "duration",
    "state",
    "img",
    "cost",
    "video_path",
]

MANIFEST = """\
name: set
endpoint: sim
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5, audio: false}
matrix: {seed: [1, 2, 3]}
tasks:
  - {id: cat, prompt: A cat on a roof, img_url: "https://img.example/cat.png"}
  - {id: dog, prompt: A dog in the rain, img_url: "https://img.example/dog.png"}
  - {id: owl, prompt: An owl at night, img_url: "https://img.example/owl.png"}
"""

ids = st.lists(
    st.text("abcdefghij-0123456789", min_size=1, max_size=12), min_size=0, max_size=60, unique=True
)


@given(ids, st.integers(min_value=1, max_value=12), ids)
def test_shards_are_disjoint_cover_the_manifest_and_stay_put_when_rows_are_added(
    names: list[str], count: int, added: list[str]
) -> None:
    from runner.manifest.shards import take_slice

    specs = [spec(name) for name in names]
    slices = [take_slice(specs, Shard(index, count)) for index in range(count)]
    taken = [task.id for part, _ in slices for task in part]
    assert sorted(taken) == sorted(names)  # every task once: disjoint and covering
    for part, facts in slices:
        assert [names[place] for place in facts.positions] == [task.id for task in part]
        assert facts.manifest_tasks == len(names)
    grown = names + [name for name in added if name not in names]
    before = {name: shard_of(name, count) for name in names}
    after = {
        task.id: index
        for index in range(count)
        for task in take_slice([spec(n) for n in grown], Shard(index, count))[0]
    }
    assert all(after[name] == before[name] for name in names)


def test_shard_values_and_the_environment() -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    assert parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "3"}) == Shard(3, 4)
    assert parse_shard("auto/4", {"SLURM_ARRAY_TASK_ID": "0"}) == Shard(0, 4)
    for text, env, words in (
        ("4/4", {}, "from 0 to 3"),
        ("1-4", {}, "write i/N"),
        ("0/0", {}, "write i/N"),
        ("auto/4", {}, "neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID"),
        ("auto/2", {"SLURM_ARRAY_TASK_ID": "2"}, "'2' from the environment"),
    ):
        with pytest.raises(ConfigError, match=words):
            parse_shard(text, env)


def test_a_shard_runs_in_its_own_folder_with_its_own_slice(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, MANIFEST)
    whole = load_manifest(path)
    parts = [take_shard(whole, Shard(index, 3)) for index in range(3)]
    assert sorted(task.id for part in parts for task in part.specs) == sorted(task.id for task in whole.specs)
    result = _runner("plan", str(path), "--shard", "1/3", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "(shard 1/3 of 9)" in result.output


def test_merging_three_shards_equals_one_run_of_the_whole_manifest(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, MANIFEST)
    out = tmp_path / "out"
    assert _runner("run", str(path), "--out", str(out), "--name", "whole", *FAST).exit_code == 0
    for index in range(3):
        result = _runner("run", str(path), "--out", str(out), "--shard", f"{index}/3", *FAST)
        assert result.exit_code == 0, result.output
    merged = tmp_path / "dataset"
    result = _runner("merge", str(merged), str(out / "set" / "shard-*"))
    assert result.exit_code == 0, result.output
    assert "9 tasks, 9 done" in result.output

    single, combined = _table(out / "whole"), _table(merged)
    pd.testing.assert_frame_equal(single[COMPARED], combined[COMPARED])  # same rows, same order
    assert _files(out / "whole") == _files(merged)
    for row in combined.itertuples():
        shard = out / "set" / f"shard-{shard_of(str(row.id), 3)}-of-3"
        assert os.path.samefile(merged / str(row.video_path), shard / str(row.video_path))  # linked
    status = json.loads(_runner("status", str(merged), "--json").output)
    assert status["counts"] == {"done": 9}
    refused = _runner("run", str(path), "--out", str(tmp_path), "--name", "dataset", *FAST)
    assert refused.exit_code == 1 and "made by `runner merge`" in refused.output


def test_merge_says_what_is_missing_and_keeps_each_task_once(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, MANIFEST)
    out = tmp_path / "out"
    for index in (0, 2):
        assert _runner("run", str(path), "--out", str(out), "--shard", f"{index}/3", *FAST).exit_code == 0
    shards = [out / "set" / f"shard-{index}-of-3" for index in (0, 2)]
    partial = _runner("merge", str(tmp_path / "d"), *map(str, shards))
    assert partial.exit_code == 3
    missing = sum(1 for task in load_manifest(path).specs if shard_of(task.id, 3) == 1)
    assert "Missing shards: 1/3" in partial.output
    assert f"{missing} tasks of the manifest are in none of these folders" in partial.output
    as_json = _runner("merge", str(tmp_path / "d"), *map(str, shards), "--json")
    outcome = json.loads(as_json.output)
    assert as_json.exit_code == outcome["exit_code"] == 3 and not outcome["complete"]
    assert outcome["missing_shards"] == ["1/3"] and outcome["missing_tasks"] == missing
    assert sum(outcome["counts"].values()) == 9 - missing

    assert _runner("run", str(path), "--out", str(out), "--name", "whole", *FAST).exit_code == 0
    again = _runner("merge", str(tmp_path / "d"), str(out / "whole"), *map(str, shards))  # replaces
    assert again.exit_code == 0, again.output
    assert f"{9 - missing} tasks were in more than one folder; each is kept once" in again.output
    assert len(_table(tmp_path / "d")) == 9


def test_merge_refuses_mixed_manifests_unless_asked_and_leaves_out_a_broken_video(tmp_path: Path) -> None:
    first = write_manifest(tmp_path, MANIFEST)
    second = write_manifest(tmp_path, MANIFEST.replace("An owl at night", "An owl at dawn"), "other.yaml")
    out = tmp_path / "out"
    assert _runner("run", str(first), "--out", str(out), "--name", "a", *FAST).exit_code == 0
    assert _runner("run", str(second), "--out", str(out), "--name", "b", *FAST).exit_code == 0
    refused = _runner("merge", str(tmp_path / "d"), str(out / "a"), str(out / "b"))
    assert refused.exit_code == 1 and "different manifests" in refused.output
    (out / "a" / "videos" / "cat-s1.mp4").unlink()
    with Store.open(out / "b" / "state.sqlite"):  # a run still going on in b
        mixed = _runner(
            "merge", str(tmp_path / "d"), str(out / "a"), str(out / "b"), "--allow-mixed", "--copy"
        )
    assert f"Still running: {out / 'b'} (in use by runner pid {os.getpid()}" in mixed.output
    assert "Left out: cat-s1 in" in mixed.output and "its video is missing" in mixed.output
    table = _table(tmp_path / "d")
    assert (table["id"] == "cat-s1").sum() == 1  # the other folder's copy of the same task
    owl = table[table["id"].str.startswith("owl")]
    assert len(owl) == 3  # same ids, other content: the first folder's version is kept
    assert not os.path.samefile(tmp_path / "d" / "videos" / "dog-s1.mp4", out / "a" / "videos" / "dog-s1.mp4")


def _runner(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _table(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "status.parquet").reset_index(drop=True)


def _files(folder: Path) -> list[Any]:
    return sorted(path.name for path in (folder / "videos").iterdir())
