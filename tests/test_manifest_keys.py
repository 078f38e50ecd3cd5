"""Task keys and ids: stable under reordering and renaming, readable, safe as file names."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from data.media_fixtures import png, wav
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.manifest.loader import load_manifest
from runner.manifest.templates import is_safe_id, placeholders, slugify

FLASH = {"model": "wan2.6-i2v-flash"}

#: A manifest touching each way a key is made: defaults, matrix, vars, templates, local and
#: remote media, every media spelling, size and resolution models, and CSV rows with meta.
SAMPLE = """
name: golden
endpoint: sim
model: wan2.6-i2v-flash
defaults: {resolution: 720P, duration: 5, prompt_extend: true, meta: {batch: one}}
matrix: {seed: [1, 2]}
vars: {style: [noir, watercolor]}
tasks:
  - id: rap-boy
    prompt: "A {style} boy raps under a bridge, seed {seed}"
    img_url: images/a.png
    audio_url: voice.wav
  - prompt: "A black cat on a rooftop"
    img_url: images/b.png
    audio: false
    seed: 7
  - id: remote
    prompt: "A remote {style} frame"
    img_url: https://example.com/frame.png
    duration: 3
  - id: first-last
    model: wan2.7-i2v
    prompt: "From one frame to the next"
    first_frame: images/a.png
    last_frame: images/b.png
    negative_prompt: "blur"
  - id: media-list
    model: wan2.7-i2v
    media:
      - {type: first_frame, url: images/b.png}
      - {type: driving_audio, url: voice.wav}
  - id: refs
    model: wan2.6-r2v-flash
    prompt: "character1 meets character2"
    reference_urls: [images/a.png, images/b.png]
  - id: text-only
    model: wan2.6-t2v
    prompt: "Lanterns on a river"
    size: 1280*720
  - id: text-tier
    model: wan2.7-t2v
    prompt: "Lanterns on a river"
    ratio: "9:16"
rows: rows.csv
"""
SAMPLE_ROWS = """prompt,img_url,seed,duration,meta.shot
"A quoted, comma prompt",images/a.png,11,4,wide
Plain prompt,images/b.png,,,close
"""
#: The keys SAMPLE had when this test was written: a change here re-generates finished videos.
SAMPLE_KEYS = {
    "rap-boy-noir-s1": "63097508812c1ce85b9d4b86e780d9d4cf18a510a962a2ca82e0c1fa2b2bac7b",
    "rap-boy-noir-s2": "0bd4099beb7b46b8a831f25c88de0e465e99ccff0cfb84f8ec6731174081324c",
    "rap-boy-watercolor-s1": "4273b5e400dc4e5ecf1e61f386978287a46b85ad08d12aebab7f8d241c021ced",
    "rap-boy-watercolor-s2": "451fb2c01cfcd235b240a8279af4cf40f7d30975771a249c8178d3e4191a792b",
    "a-black-cat-on-a-rooftop-60ebc64b": "60ebc64b3d1190a359c78a824a430d0badb4e94b9992210af36c96fb74fad040",
    "remote-noir-s1": "50c061743b7343a04f475360fc676583ac60ca06827d5ee48e437796d272c2cc",
    "remote-noir-s2": "499f92cd0f6992979b0ee270b598cbb605c24347be6096945dc8b5aa5ebb04ec",
    "remote-watercolor-s1": "f7bd840d3b2f61b3062096f03ef006510c9318e4e9e9e96660509ef90d4eb315",
    "remote-watercolor-s2": "f42ea849491775b183eb42414ca0ec69b530c21de67cb2fa0f7fb6de2eb9a981",
    "first-last-s1": "076550f7d166753f7768431569fa7d205f018aa0313b0ec49a96e2f331ae9279",
    "first-last-s2": "bb3a34e1009e502caa8f1bf2af44a90882fe8b7f39511badc4acb3e0cdb106e5",
    "media-list-s1": "0a09e142919ab22d27f9dac0b83d414b996d0dce7c903e1ed659cc571f5616ae",
    "media-list-s2": "d2486862d1e5b48a7545165f175372de11318e47855d6e9247e289e3f1f8040a",
    "refs-s1": "463509c1f9e37db6fbbd5e5d7ea8f7b5a3c5c7827ba98d66c2f2f37ea71e54dc",
    "refs-s2": "d9067df3f316afebf7a90483ac96d3494ff947e9d7f409224ba57ef48a168514",
    "text-only-s1": "c55dae0eecbf550715028c1df04331e9c827c1d68451f9f390a0af2ab2acc04c",
    "text-only-s2": "084d2ea49bd1d78dadfddda585d6217e31b7d28434be70658b35f28b60d89fbf",
    "text-tier-s1": "1fb72cee72cb3648b371a8a09f78bd4ceba5a95b17fd2ed83bb4b9f3afc012c4",
    "text-tier-s2": "98ee6ad15e3b200ab881dab848c17026456e47acd1eb8491aecfc80b44a326a8",
    "a-quoted-comma-prompt-325ef5aa": "325ef5aad00e84b46ae690f78a593e447c446980183c6b767212058febc66858",
    "plain-prompt-ff6c8810": "ff6c8810716007b1d157725945dfa6129122b0f1abf00c36565d360282f8de93",
    "plain-prompt-7e62012b": "7e62012b3db75d5e3bd5e99779f96e29858141fd86749ca320d75437a9079317",
}

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


def test_the_keys_of_a_sample_manifest_are_unchanged(tmp_path: Path) -> None:
    """Each task's key (and id) is what it was: a key that changes makes a finished task "changed"."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(png(300, 260))
    (tmp_path / "images" / "b.png").write_bytes(png(640, 480))
    (tmp_path / "voice.wav").write_bytes(wav(4.0))
    (tmp_path / "rows.csv").write_text(SAMPLE_ROWS, encoding="utf-8")
    (tmp_path / "golden.yaml").write_text(SAMPLE, encoding="utf-8")
    specs = load_manifest(tmp_path / "golden.yaml").specs
    assert {spec.id: spec.key for spec in specs} == SAMPLE_KEYS


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
