"""Manifest validation: every rule's exact message and location, all problems reported at once."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest
from data.media_fixtures import bmp, mp3_cbr, png, wav

from runner.core.errors import ManifestError
from runner.manifest.loader import load_manifest
from runner.manifest.readers import MAX_YAML_BYTES

FLASH = {"model": "wan2.6-i2v-flash"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A manifest folder with valid and invalid media files."""
    images = tmp_path / "images"
    images.mkdir()
    (images / "ok.png").write_bytes(png(300, 260))
    (images / "small.png").write_bytes(png(200, 150))
    (images / "alpha.png").write_bytes(png(300, 300, alpha=True))
    (images / "fake.png").write_bytes(b"GIF89a" + b"\x00" * 100)
    (tmp_path / "voice.wav").write_bytes(wav(4.0))
    (tmp_path / "short.wav").write_bytes(wav(2.0))
    (tmp_path / "long.mp3").write_bytes(mp3_cbr(35.0))
    return tmp_path


def problems_of(path: Path, **overrides: object) -> list[str]:
    """The problems as text, with the manifest's folder cut from locations (messages keep it)."""
    with pytest.raises(ManifestError) as info:
        load_manifest(path, overrides=overrides or None)
    return [str(p).replace(f"{path.parent}/", "", 1) for p in info.value.problems]


def csv_problems(folder: Path, text: str, **overrides: object) -> list[str]:
    path = folder / "rows.csv"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return problems_of(path, **{**FLASH, **overrides})


def yaml_problems(folder: Path, text: str) -> list[str]:
    path = folder / "m.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return problems_of(path)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "wan2.2-i2v-flash,10,,",
            "rows.csv:2: duration: wan2.2-i2v-flash allows only 5 seconds, got 10.",
        ),
        (
            "wan2.6-i2v-flash,16,,",
            "rows.csv:2: duration: wan2.6-i2v-flash allows any whole number of seconds from 2 to 15, got 16.",
        ),
        (
            "wan2.5-i2v-preview,7,,",
            "rows.csv:2: duration: wan2.5-i2v-preview allows 5 or 10 seconds, got 7.",
        ),
        (
            "wan2.2-i2v-plus,,720P,",
            "rows.csv:2: resolution: wan2.2-i2v-plus allows 480P or 1080P, got '720P'.",
        ),
        (
            "wan2.6-i2v-flash,,,-1",
            "rows.csv:2: seed: must be a whole number from 0 to 2147483647, got -1.",
        ),
        (
            "wan2.6-i2v-flash,,,2147483648",
            "rows.csv:2: seed: must be a whole number from 0 to 2147483647, got 2147483648.",
        ),
        ("wan2.6-i2v-flash,five,,", "rows.csv:2: duration: must be a whole number, got 'five'."),
        (
            "wan2.6-i2v-flsh,,,",
            "rows.csv:2: model: unknown model 'wan2.6-i2v-flsh'. Did you mean 'wan2.6-i2v-flash'? "
            "`runner models` lists the 29 known models.",
        ),
    ],
)
def test_per_model_values_are_checked(folder: Path, row: str, expected: str) -> None:
    """Durations, resolutions, seeds and model names are checked against the catalogue."""
    text = f"model,duration,resolution,seed,img_url\n{row},images/ok.png\n"
    assert csv_problems(folder, text) == [expected]


def test_every_bad_row_is_reported_at_once_with_its_row_number(folder: Path) -> None:
    """Problems of several rows and fields come together, numbered by data row (header excluded)."""
    text = """
    prompt,img_url,duration,prompt_extend
    fine,images/ok.png,5,true
    a,images/ok.png,1,maybe

    b,,5,yes
    """
    assert csv_problems(folder, text) == [
        "rows.csv:3: duration: wan2.6-i2v-flash allows any whole number of seconds from 2 to 15, got 1.",
        "rows.csv:3: prompt_extend: must be true or false (also yes/no, 1/0), got 'maybe'.",
        "rows.csv:5: img_url: every task needs a first-frame image: an http(s) URL, a data: URL "
        "or a file path.",
    ]


def test_csv_problems_name_the_line_a_row_starts_on(folder: Path) -> None:
    """A CSV row is named by the line an editor or a spreadsheet shows (the header is line 1), the
    line it starts on when a quoted cell spans lines; blank lines count."""
    path = folder / "rows.csv"
    text = 'prompt,img_url,seed\n"two\nlines",images/ok.png,-1\n\n"three\nlines\nhere",images/ok.png,x\n'
    path.write_text(text, encoding="utf-8")
    assert problems_of(path, **FLASH) == [
        "rows.csv:2: seed: must be a whole number from 0 to 2147483647, got -1.",
        "rows.csv:5: seed: must be a whole number, got 'x'.",
    ]
    path.write_text("prompt,img_url\nfine,images/ok.png\nok,images/ok.png,extra\n", encoding="utf-8")
    assert problems_of(path, **FLASH) == [
        "rows.csv:3: the row has 3 cells but the header names only 2 columns."
    ]
    path.write_text('prompt,img_url\n"open\n', encoding="utf-8")
    assert problems_of(path, **FLASH) == [
        "rows.csv:2: a quoted cell opened on line 2 is never closed; add the closing quote."
    ]


def test_rows_alike_but_for_prompt_and_seed_still_report_their_own_problems(folder: Path) -> None:
    """Rows that share model, image and parameters are checked once for those; each row's own
    problems (its seed, a prompt too long for the model, another image) are still reported."""
    text = f"""
    prompt,img_url,seed
    fine,images/ok.png,1
    fine too,images/ok.png,-1
    {"x" * 801},images/ok.png,3
    small,images/small.png,4
    {"y" * 801},images/small.png,5
    last,images/ok.png,6
    """
    small = "'images/small.png' is 200×150 pixels; wan2.2-i2v-flash needs each side between 240 and 8000."
    long = "is 801 characters; wan2.2-i2v-flash reads at most 800 (the service would silently cut the rest)"
    assert csv_problems(folder, text, model="wan2.2-i2v-flash") == [
        "rows.csv:3: seed: must be a whole number from 0 to 2147483647, got -1.",
        f"rows.csv:4: prompt: {long}, so shorten it.",
        f"rows.csv:5: img_url: {small}",
        f"rows.csv:6: img_url: {small}",
        f"rows.csv:6: prompt: {long}, so shorten it.",
    ]


def test_long_prompts_are_errors_not_silent_truncation(folder: Path) -> None:
    """A prompt over the model's limit and a negative prompt over 500 characters are refused."""
    text = f"model,prompt,negative_prompt,img_url\nwan2.2-i2v-flash,{'x' * 801},{'y' * 501},images/ok.png\n"
    assert csv_problems(folder, text) == [
        "rows.csv:2: prompt: is 801 characters; wan2.2-i2v-flash reads at most 800 "
        "(the service would silently cut the rest), so shorten it.",
        "rows.csv:2: negative_prompt: is 501 characters; at most 500 are read "
        "(the service would silently cut the rest), so shorten it.",
    ]


def test_model_specific_fields_need_a_model_that_takes_them(folder: Path) -> None:
    """audio_url, audio and shot_type on a model without them are errors naming the models that have them."""
    text = "model,img_url,audio_url,audio,shot_type\nwan2.2-i2v-flash,images/ok.png,voice.wav,false,multi\n"
    assert csv_problems(folder, text) == [
        "rows.csv:2: shot_type: wan2.2-i2v-flash does not take shot_type "
        "(only wan2.6-i2v-flash, wan2.6-i2v, wan2.6-i2v-us, wan2.6-t2v, wan2.6-r2v, wan2.6-r2v-flash do).",
        "rows.csv:2: audio: wan2.2-i2v-flash does not take audio "
        "(only wan2.6-i2v-flash, wan2.6-r2v-flash, wan3.0-video, wan3.0-video-prime do).",
        "rows.csv:2: audio_url: wan2.2-i2v-flash takes no driving_audio; its inputs are only "
        "first_frame. Models that take driving_audio: wan2.6-i2v-flash, wan2.6-i2v, wan2.6-i2v-us, "
        "wan2.5-i2v-preview, wan2.6-t2v.",
    ]


def test_defaults_a_model_cannot_take_are_dropped_with_a_warning(folder: Path) -> None:
    """`audio: false` from the defaults is ignored (with a warning) for rows on a model without it."""
    path = folder / "m.yaml"
    path.write_text(
        "model: wan2.2-i2v-flash\ndefaults: {audio: false}\ntasks: [{img_url: images/ok.png}]\n",
        encoding="utf-8",
    )
    manifest = load_manifest(path)
    assert "audio" not in manifest.specs[0].parameters
    assert manifest.warnings == [
        "`audio` from the defaults is ignored for wan2.2-i2v-flash, which does not take it."
    ]


@pytest.mark.parametrize(
    ("img_url", "expected"),
    [
        (
            "images/small.png",
            "'images/small.png' is 200×150 pixels; wan2.6-i2v-flash needs each side between 240 and 8000.",
        ),
        (
            "images/alpha.png",
            "'images/alpha.png' is a PNG with an alpha channel, which the API refuses; "
            "save it without transparency.",
        ),
        (
            "images/fake.png",
            "'images/fake.png' is not a JPEG, PNG, BMP or WEBP image (judged by its content, not its name).",
        ),
        (
            "voice.wav",
            "'voice.wav' is not a JPEG, PNG, BMP or WEBP image (judged by its content, not its name).",
        ),
        (
            "ftp://host/a.png",
            "ftp: URLs are not supported; use http(s)://, oss://, data:, file:// or a file path.",
        ),
        (
            "file://host/a.png",
            "'file://host/a.png' is not a local file URL; write file:///absolute/path, "
            "or a plain path relative to the manifest.",
        ),
        (
            "data:image/gif;base64,R0lG",
            "a data: URL image must be image/jpeg, image/png, image/bmp, image/webp; got 'image/gif'.",
        ),
        (
            "data:image/jpeg;base64," + base64.b64encode(png(300, 300)).decode(),
            "the data: URL says image/jpeg but its bytes are image/png; the API rejects a mismatch.",
        ),
        ("data:image/png;base64,###", "the data: URL's base64 payload does not decode."),
        (
            "data:image/png;base64," + base64.b64encode(png(100, 300)).decode(),
            "the data: URL is 100×300 pixels; wan2.6-i2v-flash needs each side between 240 and 8000.",
        ),
    ],
)
def test_images_are_checked_by_content_and_size(folder: Path, img_url: str, expected: str) -> None:
    """Local and data: images must be a supported format by content, within pixel limits, without alpha."""
    assert csv_problems(folder, f'img_url\n"{img_url}"\n') == [f"rows.csv:2: img_url: {expected}"]


def test_image_byte_limit_is_per_model(folder: Path) -> None:
    """A 10.3 MB image passes wan2.6 (20 MB) but not wan2.2 (10 MB)."""
    (folder / "images" / "big.bmp").write_bytes(bmp(2000, 1800))
    text = "model,img_url\nwan2.6-i2v-flash,images/big.bmp\nwan2.2-i2v-flash,images/big.bmp\n"
    assert csv_problems(folder, text) == [
        "rows.csv:3: img_url: 'images/big.bmp' is 10.3 MB; wan2.2-i2v-flash accepts images up to 10.0 MB."
    ]


def test_missing_files_and_escaping_paths_are_reported(folder: Path) -> None:
    """A missing file names where it was looked for; a relative path may not leave the manifest's folder."""
    problems = csv_problems(folder, "img_url\nimages/nope.png\n../outside.png\n")
    assert problems == [
        f"rows.csv:2: img_url: file 'images/nope.png' does not exist (looked for {folder}/images/nope.png).",
        f"rows.csv:3: img_url: '../outside.png' points outside the manifest's folder ({folder}); "
        "move the file inside it, or give an absolute path if you really mean that file.",
    ]


@pytest.mark.parametrize(
    ("audio_url", "expected"),
    [
        ("short.wav", "'short.wav' is 2.0 seconds long; wan2.6-i2v-flash needs audio of 3 to 30 seconds."),
        ("long.mp3", "'long.mp3' is 34.9 seconds long; wan2.6-i2v-flash needs audio of 3 to 30 seconds."),
        ("images/ok.png", "'images/ok.png' is not a WAV or MP3 file (judged by its content, not its name)."),
        (
            "data:audio/wav;base64,AAAA",
            "the API takes audio only as an http(s) URL or a file, not as a data: URL.",
        ),
    ],
)
def test_local_audio_is_checked(folder: Path, audio_url: str, expected: str) -> None:
    """Local audio must be WAV or MP3 by content and 3 to 30 seconds long."""
    assert csv_problems(folder, f'img_url,audio_url\nimages/ok.png,"{audio_url}"\n') == [
        f"rows.csv:2: audio_url: {expected}"
    ]


def test_good_local_audio_is_hashed(folder: Path) -> None:
    """A valid local WAV becomes a MediaRef with its hash, size and mime."""
    path = folder / "rows.csv"
    path.write_text("img_url,audio_url\nimages/ok.png,voice.wav\n", encoding="utf-8")
    (spec,) = load_manifest(path, overrides=FLASH).specs
    assert spec.audio is not None
    assert (spec.audio.mime, spec.audio.size) == ("audio/wav", (folder / "voice.wav").stat().st_size)


def test_unknown_csv_columns_suggest_the_field(folder: Path) -> None:
    """A misspelt column is an error with the closest field; other extras are told to use meta.*."""
    assert csv_problems(folder, "promt,img_url,character\nx,images/ok.png,y\n") == [
        "rows.csv:1: promt: unknown column. Did you mean 'prompt'?",
        "rows.csv:1: character: unknown column. Name extra columns meta.<name> to keep them as metadata.",
    ]


def test_yaml_problems_point_at_their_lines(folder: Path) -> None:
    """Unknown keys, misspelt fields, bad ids, unknown placeholders and duplicate ids carry YAML lines."""
    problems = yaml_problems(
        folder,
        """
        name: demo
        modle: wan2.6-i2v-flash
        model: wan2.6-i2v-flash
        vars: {style: [noir]}
        tasks:
          - id: one
            promt: a cat
            img_url: images/ok.png
          - id: "two/../x"
            img_url: images/ok.png
          - id: three
            prompt: "A {styel} cat"
            img_url: images/ok.png
          - id: four
            prompt: four
            img_url: images/ok.png
          - id: four
            prompt: other
            img_url: images/ok.png
        """,
    )
    assert problems == [
        "m.yaml:2: modle: unknown top-level key. Did you mean 'model'? Known keys: name, endpoint, accounts, "
        "model, defaults, limits, matrix, vars, tasks, rows.",
        "m.yaml:7: promt: unknown field in task. Did you mean 'prompt'?",
        "m.yaml:9: id: 'two/../x' cannot be used as a task id and file name; use letters, digits, '.', '_' "
        "or '-' (at most 100, starting with a letter or digit, no '..').",
        "m.yaml:12: prompt: unknown placeholder {styel}. Did you mean 'style'? Known names here: date, id, "
        "model, name, style.",
        f"m.yaml:17: id: id 'four' is already used by {folder}/m.yaml:14; ids must be unique.",
    ]


def test_a_bad_default_is_reported_once_at_its_own_line(folder: Path) -> None:
    """A wrong value in `defaults:` is one problem at its line, not one per task; a task's own
    wrong value is still reported at the task's line."""
    problems = yaml_problems(
        folder,
        """
        model: wan2.6-i2v-flash
        defaults:
          resolution: 9000P
          duration: 1
          img_url: images/ok.pgn
        tasks:
          - {id: a, prompt: one}
          - {id: b, prompt: two}
          - {id: c, prompt: three, duration: 99}
        """,
    )
    assert problems == [
        "m.yaml:3: resolution: wan2.6-i2v-flash allows 720P or 1080P, got '9000P'.",
        "m.yaml:4: duration: wan2.6-i2v-flash allows any whole number of seconds from 2 to 15, got 1.",
        f"m.yaml:5: img_url: file 'images/ok.pgn' does not exist (looked for {folder}/images/ok.pgn). "
        "Did you mean 'images/ok.png'?",
        "m.yaml:9: duration: wan2.6-i2v-flash allows any whole number of seconds from 2 to 15, got 99.",
    ]


def test_a_bad_placeholder_in_the_defaults_is_reported_once_at_its_line(folder: Path) -> None:
    """A default's template is filled in for each task; an unknown name in it is one problem."""
    problems = yaml_problems(
        folder,
        """
        model: wan2.6-i2v-flash
        defaults:
          negative_prompt: "blurry {thing}"
        tasks:
          - {id: a, prompt: one, img_url: images/ok.png}
          - {id: b, prompt: two, img_url: images/ok.png}
        """,
    )
    assert problems == [
        "m.yaml:3: negative_prompt: unknown placeholder {thing}. Known names here: date, id, model, name."
    ]


def test_a_bad_flag_is_reported_once_as_the_flag(folder: Path) -> None:
    """A flag's value is a default for every row: a wrong one is named once, as the flag."""
    text = "prompt,img_url\none,images/ok.png\ntwo,images/ok.png\nthree,images/ok.png\n"
    assert csv_problems(folder, text, model="wan2.2-i2v-flash", duration=10) == [
        "the --duration option: duration: wan2.2-i2v-flash allows only 5 seconds, got 10."
    ]
    assert csv_problems(folder, text, model="wan9-i2v") == [
        "the --model option: model: unknown model 'wan9-i2v'. Did you mean 'wan2.7-i2v'? "
        "`runner models` lists the 29 known models."
    ]


def test_a_misspelt_placeholder_suggests_a_var_the_task_does_not_use_yet(folder: Path) -> None:
    """`{stlye}` names `style` (a var of two values, so not yet crossed into this task) as the
    closest name, and the list of known names holds the manifest's vars."""
    problems = yaml_problems(
        folder,
        """
        model: wan2.6-i2v-flash
        vars: {style: [noir, watercolor], mood: [calm]}
        tasks:
          - id: a
            prompt: "A {stlye} cat"
            img_url: images/ok.png
        """,
    )
    assert problems == [
        "m.yaml:5: prompt: unknown placeholder {stlye}. Did you mean 'style'? Known names here: date, id, "
        "model, mood, name, style."
    ]


def test_a_missing_file_suggests_the_closest_name_in_its_folder(folder: Path) -> None:
    """A misspelt file name is answered with the closest file of its folder, written as the row wrote it;
    a missing folder is said to be missing."""
    assert csv_problems(folder, "img_url\n./images/smal.png\nimagez/ok.png\nimages/zzz.png\n") == [
        f"rows.csv:2: img_url: file './images/smal.png' does not exist "
        f"(looked for {folder}/images/smal.png). Did you mean './images/small.png'?",
        f"rows.csv:3: img_url: file 'imagez/ok.png' does not exist (looked for {folder}/imagez/ok.png). "
        f"The folder {folder}/imagez does not exist either.",
        f"rows.csv:4: img_url: file 'images/zzz.png' does not exist (looked for {folder}/images/zzz.png).",
    ]


def test_structure_errors_are_explained(folder: Path) -> None:
    """Bad limits, a bad name, vars that are fields, an empty matrix and a bad endpoint are each reported."""
    problems = yaml_problems(
        folder,
        """
        name: "my run"
        endpoint: ftp://x
        model: wan2.6-i2v-flash
        limits: {concurrency: 0, max_wall_time: soon, max_cots: 3}
        matrix: {seed: []}
        vars: {seed: [1]}
        tasks: [{img_url: images/ok.png}]
        """,
    )
    assert problems == [
        "m.yaml:1: name: 'my run' is not a safe folder name; use letters, digits, '.', '_' or '-' "
        "(at most 100, starting with a letter or digit).",
        "m.yaml:2: endpoint: Endpoint 'ftp://x' is neither a known region "
        "(sim, beijing, singapore, virginia, frankfurt, tokyo) nor an http(s) URL.",
        "m.yaml:4: concurrency: must be a whole number of at least 1, got 0.",
        'm.yaml:4: max_wall_time: must be a positive duration in seconds or like "30m", "2h", "1h30m", '
        "got 'soon'.",
        "m.yaml:4: max_cots: unknown limit. Did you mean 'max_cost'? Known: concurrency, submit_rate, "
        "max_cost, max_wall_time, queue_ahead, max_tasks, data_url_max, models.",
        "m.yaml:5: matrix: 'seed' has no values; give at least one.",
        "m.yaml:6: vars: 'seed' is a task field; to cross over its values put it under `matrix:`.",
    ]


def test_per_model_limits_errors_name_the_model_and_the_key(folder: Path) -> None:
    """limits.models: an unknown model (with a suggestion), a key that is not a per-model limit,
    a bad number and an entry that is not a mapping are each reported; the rest still loads."""
    problems = yaml_problems(
        folder,
        """
        model: wan2.6-i2v-flash
        limits:
          models:
            wan2.6-i2v-flsh: {concurrency: 3}
            wan2.2-i2v-flash: {concurency: 3, submit_rate: -1}
            wan2.5-i2v-preview: 4
        tasks: [{img_url: images/ok.png}]
        """,
    )
    assert problems[0].startswith(
        "m.yaml:2: models.wan2.6-i2v-flsh: unknown model 'wan2.6-i2v-flsh'. Did you mean 'wan2.6-i2v-flash'? "
        "`runner models` lists"
    )
    assert problems[0].endswith(". It cannot have limits of its own.")
    assert problems[1:] == [
        "m.yaml:2: models.wan2.2-i2v-flash.concurency: is not a per-model limit. Did you mean "
        "'concurrency'? Per model: concurrency, submit_rate.",
        "m.yaml:2: models.wan2.2-i2v-flash.submit_rate: must be a positive number, got -1.",
        "m.yaml:2: models.wan2.5-i2v-preview: must be a mapping of concurrency and/or submit_rate, got 4.",
    ]
    bad = yaml_problems(
        folder,
        "model: wan2.6-i2v-flash\nlimits: {models: [wan2.6-i2v-flash]}\ntasks: [{img_url: images/ok.png}]\n",
    )
    assert bad == [
        "m.yaml:2: models: must map model names to their own limits, like "
        "{wan2.2-i2v-flash: {concurrency: 2}}, got ['wan2.6-i2v-flash']."
    ]


def test_model_must_exist_in_the_endpoint_region(folder: Path) -> None:
    """A Beijing-only model on the Singapore endpoint is refused; the simulator accepts every model."""
    text = "model,img_url\nwanx2.1-i2v-turbo,images/ok.png\n"
    assert csv_problems(folder, text, endpoint="singapore") == [
        "rows.csv:2: model: wanx2.1-i2v-turbo is not offered in the singapore region (only in beijing)."
    ]
    path = folder / "rows.csv"
    assert load_manifest(path, overrides={"endpoint": "sim"}).specs[0].model == "wanx2.1-i2v-turbo"


def test_missing_model_is_explained(folder: Path) -> None:
    """A CSV without a model column or --model says how to give one."""
    path = folder / "rows.csv"
    path.write_text("img_url\nimages/ok.png\n", encoding="utf-8")
    assert problems_of(path) == [
        "rows.csv:2: model: no model is given; set `model:` in the manifest, a model column, or --model."
    ]


def test_repeated_problems_are_condensed(folder: Path) -> None:
    """The same problem on many rows is listed five times, then counted."""
    rows = "".join("images/nope.png\n" for _ in range(8))
    problems = csv_problems(folder, f"img_url\n{rows}")
    assert len(problems) == 6
    assert problems[-1].startswith("rows.csv:7 and 2 more: img_url: file 'images/nope.png' does not exist")


def test_yaml_bombs_are_refused(folder: Path) -> None:
    """A billion-laughs document is refused before it is expanded."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = folder / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert problems_of(path) == [
        "bomb.yaml: the YAML expands to more than 1,000,000 values through anchors and aliases; "
        "refusing to load it."
    ]


def test_oversized_and_invalid_yaml_files_are_refused(folder: Path) -> None:
    """A YAML file over the size cap and a syntax error are reported without loading."""
    big = folder / "big.yaml"
    big.write_bytes(b"#" * (MAX_YAML_BYTES + 1))
    assert problems_of(big) == [
        f"big.yaml: the file is {MAX_YAML_BYTES + 1:,} bytes; the limit is {MAX_YAML_BYTES:,}. "
        "Split it into smaller files."
    ]
    broken = folder / "broken.yaml"
    broken.write_text("tasks: [\n  {a: 1\n", encoding="utf-8")
    (problem,) = problems_of(broken)
    assert problem.startswith("broken.yaml:3: this is not valid YAML:")


def test_error_message_lists_every_problem(folder: Path) -> None:
    """ManifestError's text says how many problems there are and that nothing was sent, one per line."""
    path = folder / "rows.csv"
    path.write_text("img_url,seed\nimages/ok.png,-1\nimages/ok.png,x\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(path, overrides=FLASH)
    assert str(info.value) == (
        f"{path} has 2 problems; nothing was sent:\n"
        f"  {path}:2: seed: must be a whole number from 0 to 2147483647, got -1.\n"
        f"  {path}:3: seed: must be a whole number, got 'x'."
    )
