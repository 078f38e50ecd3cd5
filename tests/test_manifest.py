"""Manifest loading: YAML and CSV, defaults, matrix and vars expansion, ids, keys, limits."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest
from data.media_fixtures import jpeg, png

from runner.core.errors import ManifestError
from runner.core.tasks import task_key
from runner.manifest.limits import ModelLimits
from runner.manifest.loader import Limits, load_manifest, run_folder

TODAY = datetime.date(2026, 3, 14)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A manifest folder with two small valid images."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(png(300, 260))
    (tmp_path / "images" / "b.jpg").write_bytes(jpeg(640, 480))
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_yaml_and_csv_with_the_same_content_give_the_same_specs(folder: Path) -> None:
    """A task written in YAML and the same row in CSV produce identical specs apart from location."""
    yaml_path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        tasks:
          - id: one
            prompt: A cat
            img_url: images/a.png
            duration: 7
            seed: 3
            prompt_extend: false
            meta: {scene: roof}
        """,
    )
    csv_path = write(
        folder,
        "m.csv",
        """
        id,prompt,img_url,duration,seed,prompt_extend,meta.scene
        one,A cat,images/a.png,7,3,no,roof
        """,
    )
    from_yaml = load_manifest(yaml_path).specs
    from_csv = load_manifest(csv_path, overrides={"model": "wan2.6-i2v-flash"}).specs
    assert len(from_yaml) == len(from_csv) == 1
    a, b = from_yaml[0], from_csv[0]
    assert (a.id, a.key, a.model, a.prompt, a.image, dict(a.parameters), dict(a.meta)) == (
        b.id,
        b.key,
        b.model,
        b.prompt,
        b.image,
        dict(b.parameters),
        dict(b.meta),
    )
    assert dict(a.parameters) == {"resolution": "1080P", "duration": 7, "seed": 3, "prompt_extend": False}
    assert (a.location, b.location) == (f"{yaml_path}:3", f"{csv_path}:2")


def test_catalogue_defaults_fill_resolution_and_duration_only(folder: Path) -> None:
    """Without values, resolution and duration come from the model; other parameters stay absent."""
    path = write(folder, "m.yaml", "model: wan2.2-i2v-flash\ntasks: [{img_url: images/a.png}]\n")
    (spec,) = load_manifest(path).specs
    assert dict(spec.parameters) == {"resolution": "720P", "duration": 5}
    assert spec.prompt is None


def test_matrix_and_vars_expand_with_readable_ids(folder: Path) -> None:
    """An explicit id crossed with vars and a seed matrix gets the varying values appended."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        matrix: {seed: [1, 2]}
        vars: {style: [noir, anime]}
        tasks:
          - id: rap-boy
            prompt: "A {style} boy raps, take {seed}"
            img_url: images/a.png
        """,
    )
    specs = load_manifest(path).specs
    assert [s.id for s in specs] == [
        "rap-boy-noir-s1",
        "rap-boy-noir-s2",
        "rap-boy-anime-s1",
        "rap-boy-anime-s2",
    ]
    assert [s.prompt for s in specs][:2] == ["A noir boy raps, take 1", "A noir boy raps, take 2"]
    assert len({s.key for s in specs}) == 4


def test_vars_cross_only_tasks_that_use_them(folder: Path) -> None:
    """A task whose text does not mention a var is not multiplied by it."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        vars: {style: [noir, anime, pastel]}
        tasks:
          - {id: uses, prompt: "{style} city", img_url: images/a.png}
          - {id: plain, prompt: "a city", img_url: images/a.png}
        """,
    )
    assert [s.id for s in load_manifest(path).specs] == ["uses-noir", "uses-anime", "uses-pastel", "plain"]


def test_a_task_field_overrides_the_matrix(folder: Path) -> None:
    """A task that sets a matrix field runs once with its own value."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        matrix: {seed: [1, 2, 3]}
        tasks:
          - {id: fixed, seed: 42, img_url: images/a.png}
        """,
    )
    (spec,) = load_manifest(path).specs
    assert (spec.id, spec.seed) == ("fixed", 42)


def test_templates_see_meta_columns_date_and_escapes(folder: Path) -> None:
    """CSV meta columns, {date} and {{ }} escapes are available in prompt templates."""
    path = write(
        folder,
        "rows.csv",
        """
        prompt,img_url,meta.hero
        "{hero} waves on {date} {{literally}} as {meta.hero}",images/a.png,Ana
        """,
    )
    (spec,) = load_manifest(path, overrides={"model": "wan2.6-i2v-flash"}, today=TODAY).specs
    assert spec.prompt == "Ana waves on 2026-03-14 {literally} as Ana"
    assert dict(spec.meta) == {"hero": "Ana"}


def test_generated_ids_are_prompt_slugs_with_the_key(folder: Path) -> None:
    """Without an id, the id is a lowercase ASCII slug of the prompt (≤ 40) plus 8 hex of the key."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        tasks:
          - prompt: "Café au lait: a VERY long prompt about a cat that keeps on going"
            img_url: images/a.png
          - {prompt: "一只猫", img_url: images/b.jpg}
          - {img_url: "https://example.com/shots/Red%20Fox.png?x=1"}
        """,
    )
    first, second, third = load_manifest(path).specs
    assert first.id == f"cafe-au-lait-a-very-long-prompt-about-a-{first.key[:8]}"
    assert second.id == f"task-{second.key[:8]}"  # no ASCII; a local file's name could change
    assert third.id == f"red-fox-{third.key[:8]}"  # no prompt: the URL's file name


def test_key_ignores_row_order_file_names_and_format(folder: Path) -> None:
    """Same content gives the same key after reordering rows and renaming the image file."""
    write(folder, "one.csv", "prompt,img_url\nA,images/a.png\nB,images/b.jpg\n")
    (folder / "images" / "renamed.png").write_bytes((folder / "images" / "a.png").read_bytes())
    write(folder, "two.csv", "prompt,img_url\nB,images/b.jpg\nA,images/renamed.png\n")
    overrides = {"model": "wan2.6-i2v-flash"}
    one = {s.prompt: s.key for s in load_manifest(folder / "one.csv", overrides=overrides).specs}
    two = {s.prompt: s.key for s in load_manifest(folder / "two.csv", overrides=overrides).specs}
    assert one == two


def test_key_is_the_canonical_request_hash(folder: Path) -> None:
    """TaskSpec.key equals task_key of the spec's canonical request (local files by content hash)."""
    path = write(folder, "m.yaml", "model: wan2.6-i2v-flash\ntasks: [{prompt: x, img_url: images/a.png}]\n")
    (spec,) = load_manifest(path).specs
    assert spec.key == task_key(spec.canonical())
    assert spec.canonical()["input"]["img_url"] == f"sha256:{spec.image.sha256}"
    assert spec.image.path == str(folder / "images" / "a.png")


def test_duplicate_content_is_planned_once_with_a_warning(folder: Path) -> None:
    """Two rows with identical content become one task and a warning naming both rows."""
    path = write(folder, "rows.csv", "prompt,img_url\nA,images/a.png\nA,images/a.png\n")
    manifest = load_manifest(path, overrides={"model": "wan2.6-i2v-flash"})
    assert len(manifest.specs) == 1
    assert manifest.warnings == [
        f"{path}:3 asks for the same content as {path}:2; it is planned once, as {manifest.specs[0].id!r}."
    ]


def test_variant_makes_a_deliberate_retake(folder: Path) -> None:
    """Rows differing only in `variant` are distinct tasks."""
    path = write(folder, "rows.csv", "prompt,img_url,variant\nA,images/a.png,\nA,images/a.png,take2\n")
    assert len(load_manifest(path, overrides={"model": "wan2.6-i2v-flash"}).specs) == 2


def test_name_template_and_run_folder(folder: Path) -> None:
    """`name: nightly-{date}` uses the injected day and names the run folder under out_root."""
    path = write(
        folder, "n.yaml", "name: nightly-{date}\nmodel: wan2.6-i2v-flash\ntasks: [{img_url: images/a.png}]\n"
    )
    manifest = load_manifest(path, today=TODAY)
    assert manifest.name == "nightly-2026-03-14"
    assert run_folder(manifest, Path("/runs")) == Path("/runs/nightly-2026-03-14")
    assert run_folder(manifest) == Path("outputs/nightly-2026-03-14")


def test_csv_on_its_own_takes_defaults_from_overrides(folder: Path) -> None:
    """A bare CSV gets model, resolution, duration and name from the overrides."""
    path = write(folder, "rows.csv", "prompt,img_url\nA,images/a.png\n")
    overrides = {"model": "wan2.6-i2v-flash", "resolution": "720P", "duration": 5, "name": "mydataset"}
    manifest = load_manifest(path, overrides=overrides)
    assert (manifest.name, manifest.model) == ("mydataset", "wan2.6-i2v-flash")
    assert dict(manifest.specs[0].parameters) == {"resolution": "720P", "duration": 5}


def test_row_values_win_over_override_defaults(folder: Path) -> None:
    """Override flags are defaults: a row's own duration and model still win."""
    path = write(folder, "rows.csv", "prompt,img_url,duration,model\nA,images/a.png,3,wan2.1-i2v-turbo\n")
    (spec,) = load_manifest(path, overrides={"model": "wan2.6-i2v-flash", "duration": 5}).specs
    assert (spec.model, spec.duration) == ("wan2.1-i2v-turbo", 3)


def test_limits_parse_numbers_and_durations(folder: Path) -> None:
    """limits accept numbers and "1h30m"-style wall times."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        limits: {concurrency: 3, submit_rate: 1.5, max_cost: 20, max_wall_time: 1h30m, queue_ahead: 2}
        tasks: [{img_url: images/a.png}]
        """,
    )
    assert load_manifest(path).limits == Limits(3, 1.5, 20.0, 5400.0, 2)


def test_a_model_can_have_its_own_limits_and_flags_override_them(folder: Path) -> None:
    """limits.models gives a model its own concurrency and submit_rate over the run's, for that
    model only; a --concurrency flag replaces the run's and every model's own concurrency."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        limits: {concurrency: 3, models: {wan2.6-i2v-flash: {concurrency: 10, submit_rate: 8}}}
        tasks: [{img_url: images/a.png}]
        """,
    )
    limits = load_manifest(path).limits
    assert limits.models == {"wan2.6-i2v-flash": ModelLimits(10, 8.0)}
    assert limits.of_model("wan2.6-i2v-flash") == ModelLimits(10, 8.0)
    assert limits.of_model("wan2.2-i2v-flash") == ModelLimits(3, None)
    flagged = load_manifest(path, overrides={"concurrency": 2}).limits
    assert flagged.of_model("wan2.6-i2v-flash") == ModelLimits(2, 8.0)


def test_urls_pass_through_unchanged(folder: Path) -> None:
    """http(s) images and audio are sent as given and keyed by URL."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        tasks: [{img_url: "https://example.com/a.png", audio_url: "https://example.com/a.mp3"}]
        """,
    )
    (spec,) = load_manifest(path).specs
    assert spec.image.url == "https://example.com/a.png"
    assert spec.audio is not None
    assert spec.canonical()["input"]["audio_url"] == "https://example.com/a.mp3"


def test_yaml_anchors_within_limits_are_fine(folder: Path) -> None:
    """Ordinary anchors and merge keys load normally."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        tasks:
          - &base {prompt: base, img_url: images/a.png, seed: 1}
          - {<<: *base, seed: 2}
        """,
    )
    assert [s.seed for s in load_manifest(path).specs] == [1, 2]


def test_file_urls_and_absolute_paths_are_allowed(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """file:// URLs and absolute paths may point anywhere; they are read and hashed."""
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x.png"
    elsewhere.write_bytes(png(240, 240))
    path = write(
        folder,
        "m.yaml",
        f"""
        model: wan2.6-i2v-flash
        tasks:
          - {{img_url: "{elsewhere.as_uri()}", prompt: a}}
          - {{img_url: "{elsewhere}", prompt: b}}
        """,
    )
    specs = load_manifest(path).specs
    assert [s.image.path for s in specs] == [str(elsewhere), str(elsewhere)]


def test_max_tasks_is_checked_before_expanding(folder: Path) -> None:
    """A matrix multiplying past the cap is refused with the computed count."""
    path = write(
        folder,
        "m.yaml",
        """
        model: wan2.6-i2v-flash
        matrix: {seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], duration: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}
        vars: {a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
        tasks: [{prompt: "{a}", img_url: images/a.png}]
        """,
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(path, max_tasks=999)
    assert [str(p) for p in info.value.problems] == [
        f"{path}: expands to 1,000 tasks; the limit is 999 (raise limits.max_tasks if you mean it)."
    ]
