"""Manifests given in memory: a mapping written as the YAML would be, rows written as a CSV's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from factories import local_png, write_manifest

from runner.core import ManifestError
from runner.manifest import MemoryRows, load_manifest

DOCUMENT = {
    "name": "memory",
    "endpoint": "sim",
    "model": "wan2.6-i2v-flash",
    "defaults": {"resolution": "720P", "duration": 5},
    "matrix": {"seed": [1, 2]},
    "tasks": [
        {"id": "kite", "prompt": "A kite over a beach", "img_url": "https://img.example/kite.png"},
        {"id": "lamp", "prompt": "A lantern on a river", "img_url": "https://img.example/lamp.png"},
    ],
}
YAML = """
name: memory
endpoint: sim
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5}
matrix: {seed: [1, 2]}
tasks:
  - {id: kite, prompt: "A kite over a beach", img_url: "https://img.example/kite.png"}
  - {id: lamp, prompt: "A lantern on a river", img_url: "https://img.example/lamp.png"}
"""


def test_a_mapping_is_the_same_manifest_as_its_yaml(tmp_path: Path) -> None:
    """The same document as a dict and as a YAML file gives the same tasks, keys and name."""
    from_dict = load_manifest(DOCUMENT)
    from_file = load_manifest(write_manifest(tmp_path, YAML))
    assert [(s.id, s.key) for s in from_dict.specs] == [(s.id, s.key) for s in from_file.specs]
    assert len(from_dict.specs) == 4
    assert (from_dict.name, from_dict.source, from_dict.path) == ("memory", "manifest dict", None)


def test_a_mapping_s_problems_name_their_place_in_python_terms() -> None:
    """Every problem is reported at once, at `manifest dict, tasks[i]` (indexed as in Python)."""
    bad = {
        **DOCUMENT,
        "limitz": {},
        "tasks": [
            DOCUMENT["tasks"][0],  # type: ignore[index]
            {"prompt": "x", "img_url": "https://img.example/x.png", "duration": 70},
        ],
    }
    with pytest.raises(ManifestError) as caught:
        load_manifest(bad)
    text = str(caught.value)
    assert text.startswith("manifest dict has 2 problems; nothing was sent:")
    assert "manifest dict: limitz: unknown top-level key. Did you mean 'limits'?" in text
    assert "manifest dict, tasks[1]: duration: wan2.6-i2v-flash allows" in text and "got 70." in text


def test_a_mapping_reads_local_files_from_its_base_folder(tmp_path: Path) -> None:
    """Relative media paths of a mapping are read from `base` (a path object is taken as text)."""
    local_png(tmp_path / "images" / "bridge.png")
    document = {
        **DOCUMENT,
        "tasks": [{"id": "bridge", "prompt": "A bridge", "img_url": Path("images/bridge.png")}],
    }
    loaded = load_manifest(document, base=tmp_path)
    assert {spec.id for spec in loaded.specs} == {"bridge-s1", "bridge-s2"}
    with pytest.raises(ManifestError, match=re.escape("images/bridge.png")):
        load_manifest(document, base=tmp_path / "elsewhere")


def test_rows_in_memory_read_like_a_csv_s_rows() -> None:
    """Columns name task fields, `meta.*` columns become metadata, None and "" are not given,
    and a whole float (pandas' int column with gaps) is a whole number."""
    rows = [
        {"prompt": "A kite", "img_url": "https://img.example/k.png", "seed": 3.0, "meta.scene": "beach"},
        {"prompt": "A lamp", "img_url": "https://img.example/l.png", "seed": None, "meta.scene": ""},
    ]
    overrides = {"name": "frame", "model": "wan2.6-i2v-flash", "endpoint": "sim"}
    loaded = load_manifest(
        MemoryRows(rows, ["DataFrame row 0", "DataFrame row 1"], "DataFrame"), overrides=overrides
    )
    assert [(spec.seed, dict(spec.meta)) for spec in loaded.specs] == [(3, {"scene": "beach"}), (None, {})]
    assert loaded.source == "DataFrame"


def test_rows_in_memory_report_their_rows_and_columns() -> None:
    """A misspelt column and a bad value are named by the DataFrame's own row label; a run
    given in memory has no file to be named after, so it must be named."""
    rows = [{"prompt": "A kite", "img_url": "https://img.example/k.png", "duration": 70}]
    where = MemoryRows(rows, ["DataFrame row 7"], "DataFrame")
    with pytest.raises(ManifestError) as caught:
        load_manifest(where, overrides={"model": "wan2.6-i2v-flash"})
    assert "DataFrame: name: a manifest given in memory needs a name" in str(caught.value)
    assert "DataFrame row 7: duration:" in str(caught.value)
    misspelt = MemoryRows([{"promt": "A kite"}], ["DataFrame row 0"], "DataFrame")
    with pytest.raises(
        ManifestError, match=re.escape("DataFrame:header: promt: unknown column. Did you mean 'prompt'")
    ):
        load_manifest(misspelt, overrides={"model": "wan2.6-i2v-flash", "name": "x"})
