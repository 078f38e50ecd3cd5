"""`runner run` and `runner cancel` from the command line, on the embedded simulator."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import write_manifest

from runner.cli import main
from runner.core.efficiency import server_seconds
from runner.journal.store import JOURNAL_NAME, Store

DEMO = Path(__file__).resolve().parent.parent / "manifests" / "demo.yaml"
FAST = ["--sim-time-scale", "0.002", "--no-progress"]


MANIFEST = """
name: cli
endpoint: sim
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5}
tasks:
  - {id: one, prompt: "A kite over a beach", img_url: "https://img.example/one.png"}
  - {id: two, prompt: "A lantern on a river", img_url: "https://img.example/two.png"}
  - {id: bad, prompt: "Forbidden [sim-fail:DataInspectionFailed]", img_url: "https://img.example/b.png"}
"""


def test_demo_runs_then_resumes_with_nothing_to_do(tmp_path: Path) -> None:
    """The demo finishes with exit 0 and a complete folder; running it again touches nothing."""
    runner = CliRunner()
    first = runner.invoke(main, ["run", str(DEMO), "--out", str(tmp_path), *FAST])
    assert first.exit_code == 0, first.output
    assert "Done: 8 of 8 tasks." in first.output
    folder = tmp_path / "demo"
    assert len(list((folder / "videos").glob("*.mp4"))) == 8
    table = [folder / "status.csv", folder / "status.parquet", folder / "report.html"]
    written = [path.stat().st_mtime_ns for path in table]
    second = runner.invoke(main, ["run", str(DEMO), "--out", str(tmp_path), *FAST])
    assert second.exit_code == 0, second.output
    assert "(8 already done before this run)" in second.output
    assert [path.stat().st_mtime_ns for path in table] == written  # nothing changed: not rewritten


def test_failed_tasks_exit_3_and_name_the_code(tmp_path: Path) -> None:
    """A content rejection leaves the run finished with exit 3 and the code in the summary."""
    result = CliRunner().invoke(
        main, ["run", str(write_manifest(tmp_path, MANIFEST)), "--out", str(tmp_path), *FAST]
    )
    assert result.exit_code == 3, result.output
    assert "DataInspectionFailed" in result.output


def test_budget_cap_stops_early_with_exit_4(tmp_path: Path) -> None:
    """--max-cost below one task's price submits nothing and exits 4 (resumable)."""
    manifest = write_manifest(tmp_path, MANIFEST)
    result = CliRunner().invoke(
        main, ["run", str(manifest), "--out", str(tmp_path), "--max-cost", "0.1", *FAST]
    )
    assert result.exit_code == 4, result.output
    assert "max-cost" in result.output


def test_real_endpoint_without_key_says_how_to_try_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No DASHSCOPE_API_KEY for a real region: one sentence, exit 1, pointing at --endpoint sim."""
    manifest = write_manifest(tmp_path, MANIFEST)
    result = CliRunner().invoke(
        main, ["run", str(manifest), "--out", str(tmp_path), "--endpoint", "singapore"]
    )
    assert result.exit_code == 1
    assert "DASHSCOPE_API_KEY" in result.output
    assert "--endpoint sim" in result.output


def test_run_writes_report_and_run_information(tmp_path: Path) -> None:
    """Every run ends with report.html and the run facts that `runner status` shows."""
    from runner.journal.store import Store

    manifest = Path(__file__).parent.parent / "manifests" / "demo.yaml"
    result = CliRunner().invoke(
        main, ["run", str(manifest), "--out", str(tmp_path), "--sim-time-scale", "0.005", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "demo"
    assert (folder / "report.html").is_file()
    store = Store.open_readonly(folder / "state.sqlite")
    assert store is not None
    assert store.get_meta("endpoint") == "sim"
    assert float(store.get_meta("wall_time_s") or 0) > 0
    assert store.get_meta("started_at") is not None
    assert store.get_meta("finished_at") is not None
    store.close()


@pytest.mark.parametrize(("flag", "uploaded"), [([], 1), (["--data-url-max", "0"], 3)])
def test_data_url_max_decides_which_local_images_are_uploaded(
    tmp_path: Path, flag: list[str], uploaded: int
) -> None:
    """By default the demo uploads only its audio; with --data-url-max 0 its two images too."""
    import sqlite3

    manifest = Path(__file__).parent.parent / "manifests" / "demo.yaml"
    args = ["run", str(manifest), "--out", str(tmp_path), "--sim-time-scale", "0.005", "--no-progress"]
    result = CliRunner().invoke(main, args + flag)
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(tmp_path / "demo" / "state.sqlite")
    assert db.execute("SELECT COUNT(*) FROM assets").fetchone()[0] == uploaded
    db.close()


def test_limits_above_the_quota_are_kept_with_a_warning(tmp_path: Path) -> None:
    """A concurrency above the catalogue's quota is honoured (raised quotas exist) but warned about."""
    manifest = Path(__file__).parent.parent / "manifests" / "demo.yaml"
    args = ["run", str(manifest), "--out", str(tmp_path), "--sim-time-scale", "0.005", "--no-progress"]
    result = CliRunner().invoke(main, [*args, "--concurrency", "8"])
    assert result.exit_code == 0, result.output
    assert "above wan2.6-i2v-flash's usual quota (5 at once, 5/s): 8 at once" in result.output


def test_rerun_with_nothing_to_do_keeps_the_run_facts(tmp_path: Path) -> None:
    """A no-op re-run does not overwrite the wall time and start of the run that did the work."""
    from runner.journal.store import Store

    manifest = Path(__file__).parent.parent / "manifests" / "demo.yaml"
    args = ["run", str(manifest), "--out", str(tmp_path), "--sim-time-scale", "0.005", "--no-progress"]
    assert CliRunner().invoke(main, args).exit_code == 0
    journal = tmp_path / "demo" / "state.sqlite"

    def facts() -> tuple[str | None, str | None]:
        store = Store.open_readonly(journal)
        assert store is not None
        try:
            return store.get_meta("started_at"), store.get_meta("wall_time_s")
        finally:
            store.close()

    first = facts()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0
    assert "8 already done before this run" in again.output
    assert facts() == first


def _two_model_run(tmp_path: Path, limits: str = "", flags: tuple[str, ...] = ()) -> tuple[Counter[str], str]:
    """Run 10 wan2.6-i2v-flash tasks beside 4 of wan2.2-i2v-flash; the most tasks of each model
    the journal shows running at one instant ("all": of both), and the command's output."""
    rows = [
        f'  - {{id: {model[:6]}-{n}, model: {model}, prompt: "Scene {n}", img_url: "https://img.example/{n}.png"}}'
        for model, count in (("wan2.6-i2v-flash", 10), ("wan2.2-i2v-flash", 4))
        for n in range(count)
    ]
    tmp_path.mkdir(exist_ok=True)
    body = f"name: two\nendpoint: sim\n{limits}defaults: {{resolution: 720P, duration: 5}}\ntasks:\n"
    manifest = write_manifest(tmp_path, body + "\n".join(rows))
    result = CliRunner().invoke(main, ["run", str(manifest), "--out", str(tmp_path), *FAST, *flags])
    assert result.exit_code == 0, result.output
    assert "Done: 14 of 14 tasks." in result.output
    with Store.open(tmp_path / "two" / JOURNAL_NAME) as store:
        spans = [
            (store.spec(r.id).model, server_seconds(r.scheduled_time), server_seconds(r.end_time))
            for r in store.records()
        ]
    peaks: Counter[str] = Counter()
    for _, t, _ in spans:
        running = Counter(
            m for m, start, end in spans if start is not None and end is not None and start <= t < end
        )
        running["all"] = sum(running.values())
        peaks |= running  # the larger count of each
    return peaks, result.output


def test_a_manifest_of_two_models_uses_each_models_quota(tmp_path: Path) -> None:
    """wan2.6-i2v-flash (5 at once) beside wan2.2-i2v-flash (2 at once): the journal shows five of
    the first and two of the second running at one instant, and every task done."""
    peaks, _ = _two_model_run(tmp_path)
    assert (peaks["all"], peaks["wan2.6-i2v-flash"], peaks["wan2.2-i2v-flash"]) == (7, 5, 2)


def test_a_model_can_have_its_own_limit_in_the_manifest(tmp_path: Path) -> None:
    """`limits: models:` gives one model its own concurrency; the other keeps its quota."""
    limits = "limits: {models: {wan2.6-i2v-flash: {concurrency: 3}}}\n"
    peaks, _ = _two_model_run(tmp_path, limits)
    assert (peaks["all"], peaks["wan2.6-i2v-flash"], peaks["wan2.2-i2v-flash"]) == (5, 3, 2)


def test_a_concurrency_flag_overrides_every_models_own_limit(tmp_path: Path) -> None:
    """--concurrency 1 applies to each model, over the manifest's per-model numbers; a per-model
    number above the catalogue's quota is warned about, naming the model."""
    limits = "limits: {models: {wan2.2-i2v-flash: {concurrency: 4}}}\n"
    peaks, output = _two_model_run(tmp_path / "flag", limits, ("--concurrency", "1"))
    assert (peaks["all"], peaks["wan2.6-i2v-flash"], peaks["wan2.2-i2v-flash"]) == (2, 1, 1)
    _, output = _two_model_run(tmp_path / "raised", limits)
    assert "above wan2.2-i2v-flash's usual quota (2 at once, 2/s): 4 at once" in output


def test_a_folder_of_the_simulator_is_never_reported_as_a_real_accounts_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a run on `sim`, the same manifest against a region is refused (exit 1, naming both
    endpoints and what to do) before any request; `runner plan` counts none of it as done."""
    manifest = write_manifest(tmp_path, MANIFEST.replace("  - {id: bad", "  # - {id: bad"))
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(manifest), "--out", str(tmp_path), *FAST]).exit_code == 0
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-real-account-key")
    real = ["--out", str(tmp_path), "--endpoint", "singapore"]
    result = runner.invoke(main, ["run", str(manifest), *real, "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "built-in simulator (sim)" in result.stderr and "singapore" in result.stderr
    assert "--name or --out" in result.stderr
    assert "Done" not in result.output
    planned = runner.invoke(main, ["plan", str(manifest), *real, "--json"])
    assert planned.exit_code == 0, planned.output
    assert '"done": 0' in planned.output and "built-in simulator" in planned.output


def test_trace_records_each_tasks_steps_in_order(tmp_path: Path) -> None:
    """--trace FILE: one JSON line per step; every task goes taken → paced → intent → durable →
    accepted → seen_end → ended, with the server's times on its end, and each step's time is
    no earlier than the one before."""
    manifest = write_manifest(tmp_path, MANIFEST.replace("  - {id: bad", "  # - {id: bad"))
    trace = tmp_path / "trace.jsonl"
    result = CliRunner().invoke(
        main, ["run", str(manifest), "--out", str(tmp_path), "--trace", str(trace), *FAST]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    order = ["taken", "paced", "intent", "durable", "accepted", "seen_end", "ended"]
    for task in ("one", "two"):
        steps = [line for line in lines if line["task"] == task and line["step"] in order]
        firsts = {step: next(line for line in steps if line["step"] == step) for step in order}
        times = [firsts[step]["t"] for step in order]
        assert times == sorted(times), (task, steps)
        assert firsts["ended"]["status"] == "SUCCEEDED" and firsts["ended"]["end_time"]
    assert any(line["step"] in ("get", "list") for line in lines)


def test_trace_is_refused_with_ray(tmp_path: Path) -> None:
    """--trace records one process: with --ray (shards in many processes) it is a usage error."""
    manifest = write_manifest(tmp_path, MANIFEST)
    trace = tmp_path / "trace.jsonl"
    result = CliRunner().invoke(
        main, ["run", str(manifest), "--ray", "--shards", "2", "--trace", str(trace), *FAST]
    )
    assert result.exit_code == 1, result.output
    assert "--trace" in result.output and "--ray" in result.output
    assert not trace.exists()


def test_a_trace_file_that_cannot_be_opened_is_a_usage_error(tmp_path: Path) -> None:
    """--trace into a folder that does not exist: exit 1 naming the file, and no task is sent."""
    manifest = write_manifest(tmp_path, MANIFEST)
    trace = tmp_path / "missing" / "trace.jsonl"
    result = CliRunner().invoke(
        main, ["run", str(manifest), "--out", str(tmp_path), "--trace", str(trace), *FAST]
    )
    assert result.exit_code == 1, result.output
    assert "cannot be written" in result.output and "trace.jsonl" in result.output
    assert not (tmp_path / "cli" / "videos").exists()
