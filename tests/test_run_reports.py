"""A run that reports itself: `runner run --json`, summary.json, `--notify URL` (a webhook),
`--on-finish CMD`, and `runner status --json` in numbers.

The webhook is a loopback receiver (http.server in a thread, port 0); the run that notifies it
drives a `runner sim serve` on loopback with a fake key, so the test can look for the key in
everything the webhook received and everything the run printed.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from click.testing import CliRunner
from factories import write_manifest
from loopback_sim import run_cli, serve_sim

from runner.cli import main

FAST = ["--sim-time-scale", "0.002", "--no-progress"]
KEY = "sk-test-secret"
TOKEN = "hook-token-123"
MANIFEST = """
name: nightly
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5}
tasks:
  - {id: one, prompt: "A kite over a beach", img_url: "https://img.example/one.png"}
  - {id: bad, prompt: "Forbidden [sim-fail:DataInspectionFailed]", img_url: "https://img.example/b.png"}
"""
ALL_GOOD = MANIFEST.split("  - {id: bad")[0]


@dataclass
class Received:
    """What the loopback webhook was sent: one (path, headers, body) per request."""

    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def webhook() -> Iterator[tuple[str, Received]]:
    """A webhook receiver on 127.0.0.1 (port 0) answering 204; its URL carries a token."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.requests.append((self.path, dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet: the test reads what was received, not the server's log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/run?token={TOKEN}", received
    finally:
        server.shutdown()
        server.server_close()


def _hook_script(tmp_path: Path) -> tuple[str, Path]:
    """An on-finish command that records its arguments and RUNNER_SUMMARY, and prints a line."""
    record = tmp_path / "hook.json"
    script = tmp_path / "hook.py"
    script.write_text(
        "import json, os, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps({{'argv': sys.argv[1:], "
        "'env': os.environ.get('RUNNER_SUMMARY')}))\n"
        "print('hook ran')\n",
        encoding="utf-8",
    )
    return f"{sys.executable} {script} --from-runner", record


def test_json_prints_the_summary_as_the_last_stdout_line(tmp_path: Path) -> None:
    """stdout is one JSON line, the summary.json of the run folder: numbers, failed ids with
    their codes, paths; the summary for people goes to stderr."""
    manifest = write_manifest(tmp_path, MANIFEST.replace("model:", "endpoint: sim\nmodel:"))
    result = CliRunner().invoke(main, ["run", str(manifest), "--out", str(tmp_path), "--json", *FAST])
    assert result.exit_code == 3, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    folder = tmp_path / "nightly"
    assert data == json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert (data["exit_code"], data["outcome"], data["counts"]) == (
        3,
        "failed tasks",
        {"done": 1, "failed": 1},
    )
    assert data["failed"][0] | {"message": None} == {
        "id": "bad",
        "state": "failed",
        "code": "DataInspectionFailed",
        "message": None,
    }
    assert isinstance(data["wall_time_s"], float) and isinstance(data["efficiency_ratio"], float | None)
    assert data["paths"]["status_parquet"] == str((folder / "status.parquet").absolute())
    assert "Failed: 1 (1 DataInspectionFailed)." in result.stderr


def test_json_with_quiet_prints_only_the_json_line(tmp_path: Path) -> None:
    """--json --quiet on a run that went well: the JSON line on stdout, nothing on stderr."""
    manifest = write_manifest(tmp_path, ALL_GOOD.replace("model:", "endpoint: sim\nmodel:"))
    result = CliRunner().invoke(main, ["run", str(manifest), "--out", str(tmp_path), "--json", "-q", *FAST])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert json.loads(result.stdout)["outcome"] == "done"


def test_the_webhook_gets_the_summary_and_never_the_key(tmp_path: Path) -> None:
    """Against a loopback simulator with a fake key: the webhook receives the summary (the
    same as summary.json and the --json line) once, and the key is in nothing it received,
    nothing printed and no file of the summary; the on-finish command gets the summary's
    path as its last argument (and in RUNNER_SUMMARY), its output kept off stdout."""
    manifest = write_manifest(tmp_path, MANIFEST)
    command, record = _hook_script(tmp_path)
    with serve_sim("--time-scale", "0.002", api_key=KEY) as sim, webhook() as (url, received):
        done = run_cli(
            "run", manifest, "--out", tmp_path, "--endpoint", sim.url, "--no-progress",
            "--json", "--notify", url, "--on-finish", command, "--verbose",
            env={"DASHSCOPE_API_KEY": KEY},
        )  # fmt: skip
    assert done.returncode == 3, done.stderr
    summary_path = tmp_path / "nightly" / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert json.loads(done.stdout.splitlines()[-1]) == summary
    assert len(done.stdout.splitlines()) == 1  # the hook's "hook ran" went to stderr
    assert "hook ran" in done.stderr
    [(path, headers, body)] = received.requests
    assert path == f"/hooks/run?token={TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == summary
    for text in (body.decode(), json.dumps(headers), done.stdout, done.stderr, summary_path.read_text()):
        assert KEY not in text
    assert TOKEN not in done.stderr  # --verbose logs the HTTP requests, the webhook's redacted
    hook = json.loads(record.read_text(encoding="utf-8"))
    assert hook == {
        "argv": ["--from-runner", str(summary_path.absolute())],
        "env": str(summary_path.absolute()),
    }


def test_notify_on_failure_stays_silent_when_all_went_well(tmp_path: Path) -> None:
    """--notify-on failure posts nothing after a run with every task done, and posts after one
    with a failed task."""
    good = write_manifest(tmp_path, ALL_GOOD.replace("model:", "endpoint: sim\nmodel:"), "good.yaml")
    bad = write_manifest(tmp_path, MANIFEST.replace("model:", "endpoint: sim\nmodel:"), "bad.yaml")
    with webhook() as (url, received):
        for manifest, code in ((good, 0), (bad, 3)):
            args = ["run", str(manifest), "--out", str(tmp_path / manifest.stem), *FAST]
            result = CliRunner().invoke(main, [*args, "--notify", url, "--notify-on", "failure"])
            assert result.exit_code == code, result.output
    assert [json.loads(body)["outcome"] for _, _, body in received.requests] == ["failed tasks"]


def test_a_webhook_that_cannot_be_reached_is_logged_never_fatal(tmp_path: Path) -> None:
    """A refused connection is a warning naming the webhook by its origin only (no path, no
    token); the run's exit status is its own."""
    with webhook() as (url, _):
        pass  # the receiver is gone: its port now refuses connections
    manifest = write_manifest(tmp_path, ALL_GOOD.replace("model:", "endpoint: sim\nmodel:"))
    result = CliRunner().invoke(main, ["run", str(manifest), "--out", str(tmp_path), "--notify", url, *FAST])
    assert result.exit_code == 0, result.output
    origin = url.split("/hooks")[0]
    assert f"The webhook at {origin} could not be reached" in result.stderr
    assert TOKEN not in result.output and "/hooks" not in result.output


def test_status_json_gives_numbers(tmp_path: Path) -> None:
    """`runner status --json` keeps its text fields and adds numbers: seconds, a ratio, Unix times."""
    manifest = write_manifest(tmp_path, ALL_GOOD.replace("model:", "endpoint: sim\nmodel:"))
    assert CliRunner().invoke(main, ["run", str(manifest), "--out", str(tmp_path), *FAST]).exit_code == 0
    result = CliRunner().invoke(main, ["status", str(tmp_path / "nightly"), "--json"])
    data = json.loads(result.stdout)
    assert isinstance(data["wall_time"], str) and isinstance(data["efficiency"], str)
    assert isinstance(data["wall_time_s"], float) and 0 < data["efficiency_ratio"] <= 1
    assert data["started_at_unix"] <= data["finished_at_unix"]
    assert isinstance(data["cost"], float) and data["counts"] == {"done": 1}


def test_ray_refuses_the_options_of_one_run(tmp_path: Path) -> None:
    """--json, --notify and --on-finish describe one run; with --ray (many shards, a merge) they
    are refused with a sentence saying how to use them, before Ray is even imported."""
    manifest = write_manifest(tmp_path, ALL_GOOD.replace("model:", "endpoint: sim\nmodel:"))
    args = ["run", str(manifest), "--ray", "--shards", "2", "--json", "--notify", "http://127.0.0.1:9/"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "--json, --notify apply to one run" in result.stderr
