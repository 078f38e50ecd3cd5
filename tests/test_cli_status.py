"""`runner status` and `runner report` on a run folder or its manifest, read-only and offline."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from data.media_fixtures import png as make_png
from seeding import seed_run

from runner.cli import main
from runner.journal.store import JOURNAL_NAME, Store
from runner.manifest.loader import load_manifest, run_folder


def _seeded(tmp_path: Path) -> Path:
    run = tmp_path / "outputs" / "demo"
    seed_run(run, tmp_path / "in").close()
    return run


def test_status_summarises_counts_cost_and_problems(tmp_path: Path) -> None:
    """The default view gives counts, cost, failures by code with a sample message, and only problem rows."""
    run = _seeded(tmp_path)
    result = CliRunner().invoke(main, ["status", str(run)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "6 tasks: done 3 · failed 1 · expired 1 · running 1" in out
    assert "Cost 0.75 USD" in out
    assert "DataInspectionFailed" in out and "owl-1: Input data may contain inappropriate content." in out
    assert "owl-2" in out and "fox-1" not in out
    assert "4 other tasks not listed; --all lists every task." in out


def test_status_all_lists_every_task_with_cut_prompts(tmp_path: Path) -> None:
    """--all lists every task; user text is printed literally, never read as rich markup."""
    run = _seeded(tmp_path)
    result = CliRunner().invoke(main, ["status", str(run), "--all"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for task in ("fox-1", "fox-2", "owl-1", "owl-2", "remote", "queued"):
        assert task in result.output
    assert '=HYPERLINK("http://x") <script>alert(1)…' in result.output
    assert "other tasks not listed" not in result.output


def test_status_json_is_for_scripts(tmp_path: Path) -> None:
    """--json prints counts, cost, failures by code and the problem tasks as JSON."""
    run = _seeded(tmp_path)
    result = CliRunner().invoke(main, ["status", str(run), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["counts"] == {"done": 3, "failed": 1, "expired": 1, "running": 1}
    assert data["cost"] == 0.75 and data["currency"] == "USD"
    assert data["failures_by_code"]["DataInspectionFailed"]["count"] == 1
    assert [task["id"] for task in data["tasks"]] == ["owl-1", "owl-2"]
    assert data["meta"]["manifest"] == "manifests/demo.yaml" and data["meta"]["endpoint"] is None
    every = json.loads(CliRunner().invoke(main, ["status", str(run), "--json", "--all"]).output)
    assert len(every["tasks"]) == 6


def test_status_reads_while_a_run_holds_the_lock(tmp_path: Path) -> None:
    """Status needs no lock: it works while a run owns the folder."""
    run = _seeded(tmp_path)
    with Store.open(run / JOURNAL_NAME):
        result = CliRunner().invoke(main, ["status", str(run)])
    assert result.exit_code == 0, result.output
    assert "6 tasks" in result.output


def test_status_of_a_folder_without_journal_says_so(tmp_path: Path) -> None:
    """A folder that was never run gets one sentence and exit 0."""
    result = CliRunner().invoke(main, ["status", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output.strip() == f"No run has been recorded in {tmp_path} yet (there is no state.sqlite)."


def test_status_of_something_else_is_a_usage_error(tmp_path: Path) -> None:
    """A path that is neither a folder nor a manifest exits 1 with a sentence saying what to give."""
    result = CliRunner().invoke(main, ["status", str(tmp_path / "nope.txt")])
    assert result.exit_code == 1
    assert "neither a run folder nor a manifest" in result.output


def test_status_and_report_find_the_run_folder_of_a_manifest(tmp_path: Path) -> None:
    """Given a manifest, both commands use the folder its run writes to (--out/<name>)."""
    (tmp_path / "frame.png").write_bytes(make_png(320, 240))
    manifest = tmp_path / "demo.yaml"
    manifest.write_text(
        "name: nightly\nendpoint: sim\nmodel: wan2.6-i2v-flash\n"
        "tasks:\n  - id: first\n    prompt: A lighthouse at dawn\n    img_url: frame.png\n",
        encoding="utf-8",
    )
    out = tmp_path / "outputs"
    folder = run_folder(load_manifest(manifest), out)
    assert CliRunner().invoke(main, ["status", str(manifest), "--out", str(out)]).output.startswith("No run")
    with Store.open(folder / JOURNAL_NAME) as store:
        store.add_tasks(load_manifest(manifest).specs)
    status = CliRunner().invoke(main, ["status", str(manifest), "--out", str(out), "--all"])
    assert status.exit_code == 0, status.output
    assert "1 tasks: planned 1" in status.output and "first" in status.output
    report = CliRunner().invoke(main, ["report", str(manifest), "--out", str(out)])
    assert report.exit_code == 0, report.output
    assert report.output.strip() == f"Wrote {folder / 'report.html'}: 1 tasks, 0 done, 0 with problems."
    assert (folder / "report.html").is_file()
