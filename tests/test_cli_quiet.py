"""`--quiet` for cron: nothing printed when all went well; warnings, errors and the summary otherwise."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import write_manifest
from rich.console import Console

from runner.cli import main
from runner.cli.logs import run_logging
from runner.cli.ray_shards import shard_argv
from runner.cli.run import run
from runner.manifest import Shard

DEMO = Path(__file__).resolve().parent.parent / "manifests" / "demo.yaml"
FAST = ["--sim-time-scale", "0.002", "--no-progress"]
FAILING = """
name: cron
endpoint: sim
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5}
tasks:
  - {id: one, prompt: "A kite over a beach", img_url: "https://img.example/one.png"}
  - {id: bad, prompt: "Forbidden [sim-fail:DataInspectionFailed]", img_url: "https://img.example/b.png"}
"""


def test_a_quiet_run_that_went_well_prints_nothing(tmp_path: Path) -> None:
    """Exit 0 and no output at all: cron mails nothing; the folder is complete all the same."""
    result = CliRunner().invoke(main, ["run", str(DEMO), "--out", str(tmp_path), "--quiet", *FAST])
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert len(list((tmp_path / "demo" / "videos").glob("*.mp4"))) == 8


def test_a_quiet_run_still_prints_its_warnings(tmp_path: Path) -> None:
    """A warning is something to act on: it shows under --quiet, the success summary does not."""
    args = ["run", str(DEMO), "--out", str(tmp_path), "-q", "--concurrency", "8", *FAST]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "above wan2.6-i2v-flash's usual quota" in result.output
    assert "Done:" not in result.output


def test_a_quiet_run_with_failures_prints_its_summary(tmp_path: Path) -> None:
    """Exit 3: the summary says what failed and where the folder is, as without --quiet."""
    manifest = write_manifest(tmp_path, FAILING)
    result = CliRunner().invoke(main, ["run", str(manifest), "--out", str(tmp_path), "--quiet", *FAST])
    assert result.exit_code == 3, result.output
    assert "Done: 1 of 2 tasks." in result.output
    assert "Failed: 1 (1 DataInspectionFailed)." in result.output
    assert f"Output: {tmp_path / 'cron'}/" in result.output


def test_quiet_logging_keeps_warnings_and_drops_progress(capsys: pytest.CaptureFixture[str]) -> None:
    """Progress lines (INFO, every 10 s under cron) are dropped; warnings and errors are kept."""
    log = logging.getLogger("runner")
    with run_logging(Console(), False, secrets=[], verbose=False, quiet=True):
        log.info("3/8 settled")
        log.warning("Could not write the status table")
        log.error("Disk full")
    err = capsys.readouterr().err
    assert "settled" not in err
    assert "WARNING Could not write the status table" in err and "ERROR Disk full" in err


def test_quiet_merge_and_report_print_nothing_when_all_is_done(tmp_path: Path) -> None:
    """`runner merge` of a complete folder and `runner report` are silent with --quiet."""
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(DEMO), "--out", str(tmp_path), *FAST]).exit_code == 0
    folder = tmp_path / "demo"
    merged = runner.invoke(main, ["merge", str(tmp_path / "merged"), str(folder), "--quiet"])
    assert (merged.exit_code, merged.output) == (0, "")
    assert (tmp_path / "merged" / "status.csv").is_file()
    reported = runner.invoke(main, ["report", str(folder), "--quiet"])
    assert (reported.exit_code, reported.output) == (0, "")
    loud = runner.invoke(main, ["report", str(folder)])
    assert "Wrote" in loud.output


def test_ray_shards_run_quiet_when_the_launcher_is(tmp_path: Path) -> None:
    """`runner run --ray --quiet`: each shard's own `runner run` gets --quiet too."""
    argv = shard_argv(run, DEMO, tmp_path, {"quiet": True}, Shard(0, 2))
    assert "--quiet" in argv
    assert "--quiet" not in shard_argv(run, DEMO, tmp_path, {"quiet": False}, Shard(0, 2))
