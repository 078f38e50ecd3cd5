"""Bad input: every file of tests/data/bad_manifests/ (and a few made at test time) is refused.

Each is run with the real `runner run … --endpoint URL` against one loopback `runner sim
serve` shared by the module: exit 1, one message naming the file, its line or row, the
field and the value, nothing written under --out, and zero requests in the ledger.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from data.media_fixtures import png as make_png
from loopback_sim import LoopbackSim, serve_sim

from runner.cli import main
from runner.core.errors import ManifestError
from runner.manifest.loader import load_manifest

CORPUS = Path(__file__).parent / "data" / "bad_manifests"

#: file → fragments its error must contain (location, field, value, the reason).
CASES: dict[str, tuple[str, ...]] = {
    "yaml_unclosed_quote.yaml": ("yaml_unclosed_quote.yaml:7", "not valid YAML", "end of stream"),
    "yaml_bad_indent.yaml": ("yaml_bad_indent.yaml:6", "not valid YAML"),
    "yaml_tabs.yaml": ("yaml_tabs.yaml:4", "'\\t'"),
    "yaml_not_mapping.yaml": ("yaml_not_mapping.yaml", "must be a mapping"),
    "yaml_scalar.yaml": ("yaml_scalar.yaml", "must be a mapping"),
    "yaml_latin1.yaml": ("yaml_latin1.yaml:5", "not UTF-8", "0xe9", "line 5, column 20"),
    "python_tag.yaml": ("python_tag.yaml:3", "python/object/apply:os.system"),
    "billion_laughs.yaml": ("billion_laughs.yaml", "1,000,000 values", "refusing"),
    "recursive_alias.yaml": ("recursive_alias.yaml", "recursive alias"),
    "empty.yaml": ("empty.yaml", "the file is empty"),
    "comments_only.yaml": ("comments_only.yaml", "the file is empty"),
    "empty.csv": ("empty.csv", "no header row"),
    "header_only.csv": ("header_only.csv", "no tasks"),
    "csv_unclosed_quote.csv": ("csv_unclosed_quote.csv:3", "opened on line 3 is never closed"),
    "csv_semicolons.csv": ("csv_semicolons.csv:1", "'id;prompt;img_url'", "semicolons"),
    "csv_tabs.csv": ("csv_tabs.csv:1", "tabs"),
    "csv_too_many_cells.csv": ("csv_too_many_cells.csv:2", "5 cells", "4 columns"),
    "csv_mixed_encoding.csv": ("csv_mixed_encoding.csv:3", "not UTF-8", "line 3, column 9", "offset 74"),
    "utf16.csv": ("utf16.csv", "UTF-16", "save it as UTF-8"),
    "duplicate_ids.yaml": ("duplicate_ids.yaml:7", "id 'same'", "duplicate_ids.yaml:4", "unique"),
    "duplicate_ids.csv": ("duplicate_ids.csv:3", "id 'same'", "duplicate_ids.csv:2"),
    "duplicate_keys.yaml": ("duplicate_keys.yaml:6", "key 'prompt' appears twice"),
    "unknown_field.yaml": ("unknown_field.yaml:5", "promt", "Did you mean 'prompt'"),
    "unknown_top_level.yaml": ("unknown_top_level.yaml:3", "taks", "Did you mean 'tasks'"),
    "unknown_column.csv": ("unknown_column.csv:1", "promt", "Did you mean 'prompt'"),
    "wrong_types.yaml": ("wrong_types.yaml:7", "duration", "'five'", "prompt_extend", "'maybe'", "[1, 2]"),
    "wrong_type_limits.yaml": ("wrong_type_limits.yaml:3", "concurrency", "'lots'"),
    "out_of_range.yaml": ("out_of_range.yaml:7", "got 99", "out_of_range.yaml:11", "'4K'", "got -5"),
    "out_of_range_model.csv": ("out_of_range_model.csv:2", "duration", "wan2.2-i2v-flash", "got 10"),
    "unknown_model.yaml": ("unknown_model.yaml:1", "model", "'wan9-i2v-ultra'"),
    "missing_image.yaml": ("missing_image.yaml:6", "img_url", "'images/does-not-exist.png'", "not exist"),
    "text_named_png.yaml": ("text_named_png.yaml:6", "img_url", "'images/not-really.png'", "not a JPEG"),
    "image_too_small.yaml": ("image_too_small.yaml:6", "img_url", "16×16", "between 240 and 8000"),
    "image_too_large.yaml": ("image_too_large.yaml:6", "img_url", "9000×9000", "between 240 and 8000"),
    "image_escapes_folder.yaml": ("image_escapes_folder.yaml:6", "img_url", "'../../../manifests", "outside"),
    "image_absolute_outside.yaml": ("image_absolute_outside.yaml:6", "img_url", "'/etc/hostname'"),
    "rows_escape_folder.yaml": ("rows_escape_folder.yaml:3", "rows", "'../../conftest.py'", "outside"),
    "name_escapes_out.yaml": ("name_escapes_out.yaml:1", "name", "'../../etc'", "not a safe folder name"),
    "name_absolute.yaml": ("name_absolute.yaml:1", "name", "'/tmp/evil'", "not a safe folder name"),
    "id_path_traversal.yaml": ("id_path_traversal.yaml:4", "id", "'../../evil'", "file name"),
    "id_unsafe.csv": ("id_unsafe.csv:2", "'a/b'", "id_unsafe.csv:3", "'con 1'", "id_unsafe.csv:4", "'..'"),
    "template_unknown_var.yaml": ("template_unknown_var.yaml:6", "prompt", "{colour}", "style"),
    "template_broken.yaml": ("template_broken.yaml:5", "prompt", "not valid", "{{"),
    "matrix_too_big.yaml": ("matrix_too_big.yaml", "120,000 tasks", "limit is 100,000", "max_tasks"),
    "matrix_over_custom_cap.yaml": ("matrix_over_custom_cap.yaml", "11 tasks", "limit is 10"),
    "wrong_extension.txt": ("wrong_extension.txt", ".yaml/.yml", ".csv"),
}
ACCEPTED = ("accepted_bom.yaml", "accepted_bom.csv")
OWN_ENDPOINT = "insecure_endpoint.yaml"  #: run without --endpoint, which would replace the bad one


@pytest.fixture(scope="module")
def sim() -> Iterator[LoopbackSim]:
    with serve_sim("--seed", "1") as server:
        yield server


def run_bad(sim: LoopbackSim, manifest: Path, out: Path, *extra: str) -> Result:
    """`runner run MANIFEST --endpoint <loopback sim>`, asserting nothing was sent or written."""
    args = ["run", str(manifest), "--endpoint", sim.url, "--out", str(out), "--no-progress", *extra]
    result = CliRunner().invoke(main, args)
    assert sim.request_count() == 0, sim.ledger()["requests"]
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))
    return result


def assert_refused(result: Result, *fragments: str) -> None:
    """Exit 1 with an `Error:` message naming the problem; no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert result.stderr.startswith("Error: "), result.stderr
    assert "nothing was sent" in result.stderr or "Traceback" not in result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def test_the_corpus_is_complete() -> None:
    """Every file in the corpus is a listed case, so none is forgotten or stale."""
    files = {p.name for p in CORPUS.iterdir() if p.is_file()}
    assert files == {*CASES, *ACCEPTED, OWN_ENDPOINT}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_manifest_is_refused_before_any_request(name: str, sim: LoopbackSim, tmp_path: Path) -> None:
    """A bad manifest exits 1 with a message naming file, line/row, field and value; nothing is sent."""
    result = run_bad(sim, CORPUS / name, tmp_path / "out")
    assert_refused(result, *CASES[name])
    plan = CliRunner().invoke(main, ["plan", str(CORPUS / name)])
    assert plan.exit_code == 1 and plan.stderr == result.stderr


def test_plain_http_to_a_remote_host_is_refused(sim: LoopbackSim, tmp_path: Path) -> None:
    """`endpoint: http://<not loopback>` is refused: the key would travel unencrypted."""
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(CORPUS / OWN_ENDPOINT), "--out", str(out)])
    assert_refused(result, "insecure_endpoint.yaml:2", "endpoint", "http://dashscope.example.com", "https")
    assert sim.request_count() == 0 and not out.exists()


@pytest.mark.parametrize("name", ACCEPTED)
def test_a_byte_order_mark_is_accepted_silently(name: str) -> None:
    """A UTF-8 BOM (as spreadsheets write it) is not part of the first key or column."""
    manifest = load_manifest(CORPUS / name)
    assert [spec.id for spec in manifest.specs] == ["a"]
    assert not manifest.warnings


def test_a_folder_is_not_a_manifest(sim: LoopbackSim, tmp_path: Path) -> None:
    """A directory given as the manifest is refused with exit 1, naming it."""
    folder = tmp_path / "looks-like.yaml"
    folder.mkdir()
    assert_refused(run_bad(sim, folder, tmp_path / "out"), "looks-like.yaml", "is a folder, not a manifest")


def test_a_missing_manifest_is_named(sim: LoopbackSim, tmp_path: Path) -> None:
    """A manifest path that does not exist is refused with exit 1, naming it."""
    assert_refused(run_bad(sim, tmp_path / "nope.yaml", tmp_path / "out"), "nope.yaml", "does not exist")


def test_a_100_mb_manifest_is_refused_unread(sim: LoopbackSim, tmp_path: Path) -> None:
    """A 100 MB (sparse) YAML file is refused by its size, before it is read."""
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    assert_refused(run_bad(sim, big, tmp_path / "out"), "big.yaml", "104,857,600 bytes", "5,242,880")


def test_a_binary_csv_is_refused(sim: LoopbackSim, tmp_path: Path) -> None:
    """A 100 MB (sparse, all NUL) CSV is binary, not text: refused naming its line and column."""
    big = tmp_path / "rows.csv"
    with big.open("wb") as handle:
        handle.write(b"id,prompt,img_url\n")
        handle.truncate(100 * 1024 * 1024)
    result = run_bad(sim, big, tmp_path / "out", "--model", "wan2.6-i2v-flash")
    assert_refused(result, "rows.csv:2", "NUL byte at line 2, column 1")


def test_a_100_mb_image_is_refused_by_size(sim: LoopbackSim, tmp_path: Path) -> None:
    """A 100 MB PNG (a real header, sparse body) is refused against the model's byte limit."""
    image = tmp_path / "huge.png"
    with image.open("wb") as handle:
        handle.write(make_png(320, 240))
        handle.truncate(100 * 1024 * 1024)
    manifest = tmp_path / "m.yaml"
    manifest.write_text("model: wan2.6-i2v-flash\ntasks:\n  - {id: a, prompt: a cat, img_url: huge.png}\n")
    result = run_bad(sim, manifest, tmp_path / "out")
    assert_refused(result, "m.yaml:3", "img_url", "'huge.png'", "100.0 MB", "20.0 MB")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads chmod 000 files; unreadable cannot be shown")
def test_unreadable_files_are_named(sim: LoopbackSim, tmp_path: Path) -> None:
    """An image or a manifest without read permission is reported by name, not as a crash."""
    shutil.copy(CORPUS / "images" / "ok.png", tmp_path / "locked.png")
    (tmp_path / "locked.png").chmod(0)
    manifest = tmp_path / "m.yaml"
    manifest.write_text("model: wan2.6-i2v-flash\ntasks:\n  - {id: a, prompt: a cat, img_url: locked.png}\n")
    assert_refused(run_bad(sim, manifest, tmp_path / "out"), "m.yaml:3", "'locked.png'")
    manifest.chmod(0)
    assert_refused(run_bad(sim, manifest, tmp_path / "out"), "m.yaml", "permission denied")


def test_the_loader_reports_a_folder_in_its_own_words(tmp_path: Path) -> None:
    """load_manifest on a directory raises ManifestError, not IsADirectoryError."""
    (tmp_path / "d.yaml").mkdir()
    with pytest.raises(ManifestError, match="this is a folder"):
        load_manifest(tmp_path / "d.yaml")


def test_the_expansion_cap_is_configurable(tmp_path: Path) -> None:
    """The task cap defaults to 100,000 and a caller may lower it (max_tasks=)."""
    manifest = tmp_path / "m.yaml"
    shutil.copy(CORPUS / "images" / "ok.png", tmp_path / "ok.png")
    manifest.write_text(
        "model: wan2.6-i2v-flash\nmatrix: {seed: [1, 2, 3]}\n"
        "tasks:\n  - {id: a, prompt: a cat, img_url: ok.png}\n"
    )
    assert len(load_manifest(manifest).specs) == 3
    with pytest.raises(ManifestError, match="expands to 3 tasks; the limit is 2"):
        load_manifest(manifest, max_tasks=2)
