"""`runner plan`: the table, the journal diff, cost and time, --json, and exit codes."""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from data.media_fixtures import png

from runner.cli import main
from runner.core.tasks import TaskState
from runner.journal.store import JOURNAL_NAME, Store
from runner.manifest.loader import load_manifest, run_folder

MANIFESTS = Path(__file__).resolve().parent.parent / "manifests"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """A 4-task manifest (2 seeds × 2 styles) with a local image."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(png(300, 260))
    path = tmp_path / "m.yaml"
    text = """
    name: trial
    endpoint: sim
    model: wan2.6-i2v-flash
    defaults: {resolution: 720P, duration: 5, audio: false}
    matrix: {seed: [1, 2]}
    vars: {style: [noir, anime]}
    tasks:
      - id: boy
        prompt: "A {style} boy made of spray paint raps under a railway bridge at night"
        img_url: images/a.png
    """
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def test_plan_of_a_fresh_manifest_lists_new_tasks_cost_and_time(manifest: Path, tmp_path: Path) -> None:
    """Without a run folder every task is new; the table, cost by model/resolution and wall time show."""
    result = invoke("plan", str(manifest), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"trial: 4 tasks from {manifest} → {tmp_path / 'out' / 'trial'}" in out
    for task_id in ("boy-noir-s1", "boy-noir-s2", "boy-anime-s1", "boy-anime-s2"):
        assert task_id in out
    assert "A noir boy made of spray paint" in out
    assert "No run folder yet: all 4 tasks are new." in out
    assert "Estimated cost (USD)" in out
    assert "0.50" in out  # 4 × 5 s × $0.025 (silent)
    assert "Estimated wall time on DashScope: about 1 min 34 s" in out  # max(4/5, 4·52.5/5) + 52.5 = 94.5
    assert not (tmp_path / "out").exists()  # plan writes nothing


def test_plan_on_sim_shows_the_simulators_time_beside_dashscopes(manifest: Path, tmp_path: Path) -> None:
    """On `sim` both estimates show, labelled: DashScope's, and the simulator's at its default speed
    (94.5 s × 0.05 = 4.7 s), which is also what a max_wall_time is compared with; elsewhere, one."""
    on_sim = invoke("plan", str(manifest), "--out", str(tmp_path), "--max-wall-time", "30s")
    assert on_sim.exit_code == 0, on_sim.output
    assert "Estimated wall time on DashScope: about 1 min 34 s" in on_sim.output
    assert "on the built-in simulator at its default speed (time scale 0.05): about 4.7 s" in on_sim.output
    assert "below the estimate" not in on_sim.output
    real = invoke(
        "plan", str(manifest), "--out", str(tmp_path), "--endpoint", "singapore", "--max-wall-time", "30s"
    )
    assert real.exit_code == 0, real.output
    assert "Estimated wall time: about 1 min 34 s" in real.output
    assert "simulator" not in real.output
    assert "max_wall_time 30.0 s is below the estimate" in real.output


def seed_partial_run(manifest: Path, out: Path) -> list[str]:
    """Journal the manifest's tasks: one done, one failed, one running, one with changed content."""
    specs = load_manifest(manifest).specs
    store = Store.open(run_folder(load_manifest(manifest), out) / JOURNAL_NAME)
    try:
        changed = dataclasses.replace(specs[3], key="0" * 64)
        store.add_tasks([*specs[:3], changed])
        store.set_state(specs[0].id, TaskState.DONE)
        store.set_state(specs[1].id, TaskState.FAILED, error_code="InternalError")
        store.set_state(specs[2].id, TaskState.RUNNING, task_id="t-1")
    finally:
        store.close()
    return [s.id for s in specs]


def test_plan_of_a_partial_run_shows_what_is_left(manifest: Path, tmp_path: Path) -> None:
    """With a journal, tasks are done / failed / in flight / changed and only the left-over work is priced."""
    out = tmp_path / "out"
    ids = seed_partial_run(manifest, out)
    result = invoke("plan", str(manifest), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Journal: 1 changed, 1 in flight, 1 failed, 1 done." in result.output
    assert "The 1 failed run again only with --retry-failed." in result.output
    data = json.loads(invoke("plan", str(manifest), "--out", str(out), "--json").output)
    assert data["counts"] == {"new": 0, "changed": 1, "in_flight": 1, "failed": 1, "done": 1}
    assert [(t["id"], t["status"]) for t in data["tasks"]] == [
        (ids[0], "done"),
        (ids[1], "failed"),
        (ids[2], "in_flight"),
        (ids[3], "changed"),
    ]
    assert data["to_run"] == 2
    assert data["cost"]["total"] == pytest.approx(0.25)
    assert data["cost"]["retry_failed"] == pytest.approx(0.125)
    assert data["journal_exists"] is True


def test_json_shape(manifest: Path, tmp_path: Path) -> None:
    """--json prints one object with the plan's sections and one entry per task."""
    result = invoke("plan", str(manifest), "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert set(data) == {
        "manifest",
        "name",
        "run_folder",
        "journal_exists",
        "endpoint",
        "currency",
        "total",
        "to_run",
        "counts",
        "tasks",
        "cost",
        "wall_time",
        "limits",
        "warnings",
        "notes",
    }
    assert (data["name"], data["endpoint"], data["currency"], data["total"]) == ("trial", "sim", "USD", 4)
    assert set(data["tasks"][0]) == {
        "id",
        "key",
        "model",
        "resolution",
        "duration",
        "seed",
        "prompt",
        "status",
        "journal_state",
        "cost",
        "location",
    }
    assert data["cost"]["by_model_resolution"] == [
        {
            "model": "wan2.6-i2v-flash",
            "resolution": "720P",
            "tasks": 4,
            "seconds": 20,
            "cost": 0.5,
            "unpriced": 0,
        }
    ]
    assert data["wall_time"]["seconds"] == pytest.approx(94.5)


def test_invalid_manifest_exits_1_listing_every_problem(tmp_path: Path) -> None:
    """A bad manifest exits 1 and prints each problem with its location."""
    path = tmp_path / "rows.csv"
    path.write_text("img_url,duration\nhttps://e.com/a.png,10\nhttps://e.com/b.png,7\n", encoding="utf-8")
    result = invoke("plan", str(path), "--model", "wan2.2-i2v-flash")
    assert result.exit_code == 1
    assert f"Error: {path} has 2 problems; nothing was sent:" in result.output
    assert "rows.csv:2: duration: wan2.2-i2v-flash allows only 5 seconds, got 10." in result.output
    assert "rows.csv:3: duration: wan2.2-i2v-flash allows only 5 seconds, got 7." in result.output


def test_csv_flags_set_the_defaults(tmp_path: Path) -> None:
    """A bare CSV is planned with --model, --resolution, --duration and --name."""
    path = tmp_path / "rows.csv"
    path.write_text("prompt,img_url\nA fox,https://e.com/a.png\n", encoding="utf-8")
    result = invoke(
        "plan",
        str(path),
        "--model",
        "wan2.6-i2v-flash",
        "--resolution",
        "720P",
        "--duration",
        "5",
        "--name",
        "mydataset",
        "--no-audio",
        "--json",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["name"] == "mydataset"
    assert data["tasks"][0]["cost"] == pytest.approx(0.125)


@pytest.mark.parametrize("name", ["demo.yaml", "dataset.yaml", "nightly.yaml"])
def test_shipped_example_manifests_are_valid(name: str, tmp_path: Path) -> None:
    """Every example manifest plans cleanly."""
    result = invoke("plan", str(MANIFESTS / name), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output


def test_each_shipped_manifest_writes_to_its_own_folder() -> None:
    """No two example files (a YAML manifest, or a CSV planned on its own) share a run folder, so
    planning one after running another never shows the other's tasks as "changed"."""
    files = sorted([*MANIFESTS.glob("*.yaml"), *MANIFESTS.glob("*.csv")])
    folders = {
        path.name: run_folder(load_manifest(path, overrides={"model": "wan2.6-i2v-flash"}))
        for path in files
        if path.suffix == ".csv"
    }
    folders.update({path.name: run_folder(load_manifest(path)) for path in files if path.suffix == ".yaml"})
    assert "dataset-rows.csv" in folders
    assert len(set(folders.values())) == len(folders), folders


def test_demo_manifest_has_a_small_realistic_shape(tmp_path: Path) -> None:
    """The demo expands to 6-12 tasks over its two shipped images, some silent."""
    shutil.copytree(MANIFESTS, tmp_path / "m")
    manifest = load_manifest(tmp_path / "m" / "demo.yaml")
    assert 6 <= len(manifest.specs) <= 12
    assert {s.image.mime for s in manifest.specs} == {"image/png"}
    assert any(s.parameters.get("audio") is False for s in manifest.specs)


def test_plan_of_a_directory_is_a_bad_manifest(tmp_path: Path) -> None:
    """A folder given as the manifest is refused like any bad manifest: exit 1, named."""
    result = CliRunner().invoke(main, ["plan", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path}: a manifest must be a .yaml/.yml file or a .csv file of rows." in result.output


def test_plan_of_several_models_shows_each_at_its_own_quota(tmp_path: Path) -> None:
    """Two models: each line at that model's quota, and the run as long as the slowest."""
    path = tmp_path / "mixed.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: mixed
            endpoint: sim
            defaults: {duration: 5}
            tasks:
              - {id: a, model: wan2.6-i2v-flash, resolution: 720P, prompt: "A kite", img_url: "https://img.example/a.png"}
              - {id: b, model: wan2.2-i2v-plus, resolution: 480P, prompt: "A lamp", img_url: "https://img.example/b.png"}
            """
        )
    )
    result = invoke("plan", str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "wan2.6-i2v-flash: 1 task, 5 submits/s, 5 at once" in result.output
    assert "wan2.2-i2v-plus: 1 task, 2 submits/s, 2 at once" in result.output
    assert "within that model's own quota, side by side" in result.output
