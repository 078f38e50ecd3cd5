"""Task keys and ids: stable under reordering and renaming, readable, safe as file names."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from data.media_fixtures import png
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.manifest.loader import load_manifest
from runner.manifest.templates import is_safe_id, placeholders, slugify

FLASH = {"model": "wan2.6-i2v-flash"}

prompts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{}"),
    min_size=1,
    max_size=60,
).filter(lambda text: text.strip() != "")


def write_rows(folder: Path, name: str, rows: list[tuple[str, str, int]]) -> Path:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "img_url", "seed"])
        writer.writerows(rows)
    return path


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(prompts, st.sampled_from(["a.png", "b.png"]), st.integers(0, 9)), min_size=1, max_size=8
    ),
    data=st.data(),
)
def test_keys_and_ids_survive_reordering_and_renaming(
    rows: list[tuple[str, str, int]], data: st.DataObject
) -> None:
    """Shuffling rows and renaming image files changes no task's key or id."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "a.png").write_bytes(png(240, 240))
        (folder / "b.png").write_bytes(png(250, 240))
        (folder / "a2.png").write_bytes(png(240, 240))
        (folder / "b2.png").write_bytes(png(250, 240))
        rows = [(p.strip(), img, seed) for p, img, seed in rows]
        shuffled = data.draw(st.permutations(rows))
        renamed = [(p, img.replace(".png", "2.png"), seed) for p, img, seed in shuffled]
        first = load_manifest(write_rows(folder, "one.csv", rows), overrides=FLASH).specs
        second = load_manifest(write_rows(folder, "two.csv", renamed), overrides=FLASH).specs
        assert {(s.id, s.key) for s in first} == {(s.id, s.key) for s in second}
        assert all(is_safe_id(s.id) for s in first)


def test_slugs_are_lowercase_ascii_and_cut_at_a_word() -> None:
    """Accents are folded, punctuation becomes hyphens, and long text is cut at a word end within 40."""
    assert slugify("Ça, c'est l'été!") == "ca-c-est-l-ete"
    assert slugify("A dragon soars over the misty mountains of the north at dawn") == (
        "a-dragon-soars-over-the-misty-mountains"
    )
    assert slugify("日本語") == ""
    assert len(slugify("x" * 100)) == 40


def test_safe_ids_are_file_name_safe() -> None:
    """Ids start with a letter or digit, use only [A-Za-z0-9._-], are at most 100 long, never hold '..'."""
    assert is_safe_id("rap-boy_01.v2")
    for bad in ("", "-x", ".hidden", "a/b", "a b", "a..b", "x" * 101, "é"):
        assert not is_safe_id(bad), bad


def test_placeholders_are_parsed_with_escapes() -> None:
    """Placeholders are listed once each in order; doubled braces are literal."""
    assert placeholders("{a} and {b} and {a} but {{not}}") == ("a", "b")
    assert placeholders("no braces") == ()
