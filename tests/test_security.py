"""Security: the API key never leaves the client, plain http only to loopback, outputs stay
in the run folder, and status tables are safe to open in a spreadsheet.

Key tests run the real `runner run` in a subprocess against `runner sim serve --api-key KEY`
and search every output byte (stdout, stderr, every file written) for the key.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from factories import write_manifest
from loopback_sim import LoopbackSim, run_cli, serve_sim

from runner.api.client import DashScopeClient
from runner.api.wire import ResolvedInputs
from runner.cli import main
from runner.cli.logs import Redactor
from runner.core.errors import AccountError
from runner.core.tasks import MediaItem, MediaRef, TaskSpec, TaskState
from runner.journal.store import JOURNAL_NAME, Store

KEY = "sk-SECRET-7c1e4b9d2a6f8e3b"
WRONG_KEY = "sk-WRONG-5d3a9f1c7b2e4a6d"
FAST = ["--sim-time-scale", "0.002", "--no-progress"]

MANIFEST = """\
name: secure
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5}
tasks:
  - {id: one, prompt: "A kite over a beach [sim-time:30]", img_url: "https://img.example/one.png"}
  - {id: two, prompt: "A lantern on a river [sim-time:40]", img_url: "https://img.example/two.png"}
  - {id: bad, prompt: "Forbidden [sim-fail:DataInspectionFailed]", img_url: "https://img.example/b.png"}
"""


@pytest.fixture(scope="module")
def keyed_sim() -> Iterator[LoopbackSim]:
    """A loopback simulator that accepts only KEY, with compressed time."""
    with serve_sim("--time-scale", "0.005", "--seed", "5", api_key=KEY) as server:
        yield server


def outputs_containing(folder: Path, needle: str) -> list[str]:
    """Every file under `folder` whose bytes contain `needle`."""
    data = needle.encode()
    return [str(p) for p in folder.rglob("*") if p.is_file() and data in p.read_bytes()]


def run_with_key(
    sim: LoopbackSim, folder: Path, key: str, *extra: str, key_in_file: bool = False
) -> tuple[int, str]:
    """`runner run` in a subprocess with `key` from the environment (or a file); (exit, all output)."""
    manifest = write_manifest(folder, MANIFEST)
    out = folder / "out"
    env = {"DASHSCOPE_API_KEY": key}
    args: list[str | Path] = ["run", manifest, "--endpoint", sim.url, "--out", out, "--no-progress", *extra]
    if key_in_file:
        (folder / "key.txt").write_text(key + "\n")
        env = {"DASHSCOPE_API_KEY": ""}
        args += ["--api-key-file", folder / "key.txt"]
    result = run_cli(*args, env=env)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
def test_the_key_never_appears_in_output_or_files(keyed_sim: LoopbackSim, tmp_path: Path) -> None:
    """A whole run with the key in the environment: no byte of stdout, stderr or the run folder holds it."""
    code, output = run_with_key(keyed_sim, tmp_path, KEY)
    assert code == 3, output  # two done, one content rejection
    assert "Done: 2 of 3 tasks" in output or "2 of 3" in output, output
    assert KEY not in output
    assert outputs_containing(tmp_path / "out", KEY) == []
    assert len(list((tmp_path / "out" / "secure" / "videos").glob("*.mp4"))) == 2


@pytest.mark.parametrize("key_in_file", [False, True], ids=["environment", "key-file"])
def test_a_rejected_key_stops_the_run_with_exit_5_and_is_not_echoed(
    keyed_sim: LoopbackSim, tmp_path: Path, key_in_file: bool
) -> None:
    """A wrong key (environment or file) is an account error: exit 5, the key nowhere, nothing failed."""
    code, output = run_with_key(keyed_sim, tmp_path, WRONG_KEY, key_in_file=key_in_file)
    assert code == 5, output
    assert "Error:" in output
    assert WRONG_KEY not in output and WRONG_KEY[-8:] not in output
    assert outputs_containing(tmp_path / "out", WRONG_KEY) == []
    with Store.open(tmp_path / "out" / "secure" / JOURNAL_NAME) as store:
        assert store.counts().get(TaskState.FAILED, 0) == 0
        assert len(store.records()) == 3


def test_an_unreadable_key_file_is_named_not_shown(tmp_path: Path) -> None:
    """--api-key-file pointing at an empty or missing file: exit 1 naming the file."""
    manifest = write_manifest(tmp_path, MANIFEST.replace("name: secure", "endpoint: singapore\nname: secure"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    for key_file, words in ((empty, "is empty"), (tmp_path / "none.txt", "cannot be read")):
        result = CliRunner().invoke(
            main, ["run", str(manifest), "--out", str(tmp_path / "out"), "--api-key-file", str(key_file)]
        )
        assert result.exit_code == 1, result.output
        assert str(key_file) in result.stderr and words in result.stderr


@pytest.mark.anyio
async def test_http_debug_logging_never_shows_the_authorization_header(
    keyed_sim: LoopbackSim, caplog: pytest.LogCaptureFixture
) -> None:
    """With httpx and httpcore logging at DEBUG over real loopback HTTP, the key is never logged."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "runner"):
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
    image = MediaRef("image", url="https://img.example/debug.png")
    async with httpx.AsyncClient(base_url=keyed_sim.url) as http:
        client = DashScopeClient(http, KEY)
        body = {
            "model": "wan2.6-i2v-flash",
            "input": {"prompt": "a debug kite", "img_url": image.url},
            "parameters": {"resolution": "720P", "duration": 5},
        }
        created = await http.post(
            "/services/aigc/video-generation/video-synthesis",
            json=body,
            headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"},
        )
        task_id = created.json()["output"]["task_id"]
        await client.query(task_id)
        wrong = DashScopeClient(http, WRONG_KEY)
        with pytest.raises(AccountError) as error:
            await wrong.query(task_id)
    assert "httpcore" in caplog.text or "HTTP Request" in caplog.text  # debug logging was really on
    assert KEY not in caplog.text and WRONG_KEY not in caplog.text
    assert WRONG_KEY not in str(error.value)


@pytest.mark.parametrize(
    "endpoint",
    ["http://dashscope.example.com/api/v1", "http://10.1.2.3:8000/api/v1", "http://[2001:db8::1]/x"],
)
def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path, endpoint: str) -> None:
    """--endpoint http://<not loopback> is refused before any connection: the key would travel in clear."""
    manifest = write_manifest(tmp_path, MANIFEST)
    for command in ("run", "cancel"):
        result = CliRunner(env={"DASHSCOPE_API_KEY": KEY}).invoke(
            main, [command, str(manifest), "--endpoint", endpoint, "--out", str(tmp_path / "out")]
        )
        assert result.exit_code == 1, result.output
        assert "plain http" in result.stderr and "https" in result.stderr
        assert KEY not in result.output
    assert not (tmp_path / "out").exists()


def test_https_and_loopback_http_endpoints_are_accepted(tmp_path: Path) -> None:
    """https to any host and http to 127.0.0.1/localhost pass the endpoint check (plan contacts nothing)."""
    manifest = write_manifest(tmp_path, MANIFEST)
    for endpoint in (
        "https://dashscope.example.com/api/v1",
        "http://127.0.0.1:9/api/v1",
        "http://localhost:9",
    ):
        result = CliRunner().invoke(main, ["plan", str(manifest), "--endpoint", endpoint])
        assert result.exit_code == 0, (endpoint, result.output)


@pytest.mark.parametrize("name", ["../escape", "../../etc", "/tmp/abs", "a/b", ".hidden", "x" * 101])
def test_a_hostile_run_name_cannot_leave_the_output_folder(tmp_path: Path, name: str) -> None:
    """--name values that would put the run folder outside --out are refused with exit 1."""
    manifest = write_manifest(tmp_path, MANIFEST)
    args = ["run", str(manifest), "--endpoint", "sim", "--name", name, "--out", str(tmp_path / "out"), *FAST]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "name" in result.stderr and "not a safe folder name" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


def test_every_file_a_run_writes_is_inside_its_run_folder(tmp_path: Path) -> None:
    """A complete run (with a dotted, maximal-length id) creates files only under --out/<name>/."""
    long_id = "a.b_c-" + "d" * 94
    body = MANIFEST + f'  - {{id: "{long_id}", prompt: "Edge id", img_url: "https://img.example/e.png"}}\n'
    manifest = write_manifest(tmp_path, body)
    before = set(tmp_path.rglob("*"))
    result = CliRunner().invoke(
        main, ["run", str(manifest), "--endpoint", "sim", "--out", str(tmp_path / "out"), *FAST]
    )
    assert result.exit_code == 3, result.output
    folder = (tmp_path / "out" / "secure").resolve()
    created = set(tmp_path.rglob("*")) - before
    outside = [p for p in created if p.resolve() != folder and folder not in p.resolve().parents]
    assert outside == [tmp_path / "out"]
    assert (folder / "videos" / f"{long_id}.mp4").is_file()


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A9)"]


def test_status_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path: Path) -> None:
    """Prompts and meta columns starting with = + - @ reach status.csv quoted as text, parquet unchanged."""
    rows = ["id,prompt,img_url,meta.note"]
    for n, formula in enumerate(FORMULAS):
        quoted = formula.replace('"', '""')
        rows.append(f'f{n},"{quoted} [sim-time:20]",https://img.example/{n}.png,"{quoted}"')
    manifest = write_manifest(tmp_path, "\n".join(rows) + "\n", name="sheet.csv")
    args = ["run", str(manifest), "--model", "wan2.6-i2v-flash", "--endpoint", "sim"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out"), *FAST])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / "sheet"
    with (folder / "status.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(FORMULAS)
    for row in table:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@")), (column, cell)
    assert sorted(row["meta.note"] for row in table) == sorted("'" + f for f in FORMULAS)
    import pandas as pd

    assert sorted(pd.read_parquet(folder / "status.parquet")["meta.note"]) == sorted(FORMULAS)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("# my DashScope key\nsk-COMMENTED-4f2a9c", "spans 2 lines"),
        ("sk-CRLF-8b1d3e\r\nsk-more", "spans 2 lines"),
        ("sk-ÜNICODE-1a2b3c", "a non-ASCII character (U+00DC) at character 4"),
        ("sk-TAB\tafter-2c4d", "a blank character at character 7"),
    ],
    ids=["comment-line", "crlf", "non-ascii", "tab"],
)
@pytest.mark.parametrize("in_file", [False, True], ids=["environment", "key-file"])
def test_a_key_that_cannot_be_a_key_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, words: str, in_file: bool
) -> None:
    """Line breaks, blanks, control or non-ASCII characters in the key: one sentence naming the
    source and the position, exit 1, no traceback, and no piece of the key in the output."""
    manifest = write_manifest(tmp_path, MANIFEST.replace("name: secure", "endpoint: singapore\nname: secure"))
    args = ["run", str(manifest), "--out", str(tmp_path / "out"), "--no-progress"]
    if in_file:
        (tmp_path / "key.txt").write_text(key, encoding="utf-8")
        args += ["--api-key-file", str(tmp_path / "key.txt")]
    else:
        monkeypatch.setenv("DASHSCOPE_API_KEY", key)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert words in result.stderr and ("key.txt" if in_file else "DASHSCOPE_API_KEY") in result.stderr
    assert "Traceback" not in result.output
    for piece in key.replace("\r", "\n").replace("\t", "\n").split("\n"):
        assert piece.strip("# ") not in result.output or len(piece) < 6
    assert not (tmp_path / "out").exists()  # refused before the run folder was made


@pytest.mark.anyio
async def test_a_request_httpx_refuses_to_send_is_never_ambiguous_nor_quoted() -> None:
    """An illegal header (httpx quotes it, key and all) stops the run as an account problem:
    nothing was sent, and the message carries no piece of the key."""
    secret = "sk-LEAKY\nvalue-9e8d7c"

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value b'Bearer {secret!r}'")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="https://x/api/v1") as http:
        client = DashScopeClient(http, "sk-ok")
        image = MediaRef("image", url="https://img.example/a.png")
        spec = TaskSpec(id="a", key="k", model="wan2.6-i2v-flash", media=(MediaItem("first_frame", image),))
        for call in (client.submit(spec, ResolvedInputs.first_frame(image.url or "")), client.query("t-1")):
            with pytest.raises(AccountError) as caught:
                await call
            assert "sk-LEAKY" not in str(caught.value) and "9e8d7c" not in str(caught.value)


def test_log_lines_never_show_the_key_in_any_quoted_form() -> None:
    """The key is removed as written, escaped (repr, JSON), as bytes and percent-encoded, and
    from tracebacks."""
    secret = 'sk-ODD/key"9f\n8e'
    redactor = Redactor([secret])
    lines = [secret, repr(secret), json.dumps(secret), repr(secret.encode()), quote(secret, safe="")]
    for line in lines:
        assert "9f" not in redactor.redact(f"error: {line}"), line
    try:
        raise ValueError(f"bad {secret!r}")
    except ValueError:
        record = logging.LogRecord("runner", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    redactor.filter(record)
    assert record.exc_text and "9f" not in record.exc_text and "ValueError" in record.exc_text
