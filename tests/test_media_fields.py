"""Media fields as users write them: the API's `media:` list, shorthand fields and the older
names all give the same task; lists in CSV cells; templates in media; local videos checked;
sizes and ratios converted between the families that read one or the other."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from runner.core import ManifestError, TaskSpec
from runner.manifest import load_manifest

EXAMPLES = Path(__file__).resolve().parents[1] / "manifests"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("images", "audio", "clips"):
        shutil.copytree(EXAMPLES / name, tmp_path / name)
    return tmp_path


def _specs(folder: Path, body: str, name: str = "m.yaml") -> list[TaskSpec]:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return load_manifest(path).specs


def _problems(folder: Path, body: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        _specs(folder, body)
    return [str(problem).removeprefix(f"{folder}/") for problem in caught.value.problems]


def test_every_spelling_of_the_same_inputs_is_the_same_task(folder: Path) -> None:
    """img_url/audio_url, the shorthand fields and the API's media list give one key."""
    specs = _specs(
        folder,
        """\
        model: wan2.7-i2v
        tasks:
          - {prompt: a, img_url: images/bridge.png, audio_url: audio/beat.wav}
          - {prompt: a, first_frame: images/bridge.png, driving_audio: audio/beat.wav}
          - prompt: a
            media:
              - {type: driving_audio, url: audio/beat.wav}
              - {type: first_frame, url: images/bridge.png}
        """,
    )
    assert len({spec.key for spec in specs}) == 1
    assert [item.role for item in specs[0].media] == ["first_frame", "driving_audio"]


def test_a_manifest_moves_to_wan27_by_its_model_line_alone(folder: Path) -> None:
    body = """\
        model: {model}
        defaults: {{resolution: 720P, duration: 5}}
        tasks:
          - {{id: rap, prompt: a boy raps, img_url: images/bridge.png, audio_url: audio/beat.wav}}
        """
    old = _specs(folder, body.format(model="wan2.6-i2v-flash"))
    new = _specs(folder, body.format(model="wan2.7-i2v"))
    assert [s.model for s in old + new] == ["wan2.6-i2v-flash", "wan2.7-i2v"]
    assert old[0].media == new[0].media


def test_lists_in_csv_cells_are_split_at_bars(folder: Path) -> None:
    (folder / "rows.csv").write_text(
        "model,prompt,reference_images,reference_videos\n"
        "wan2.7-r2v,Image 1 meets Image 2 in Video 1,"
        "images/rooftop.png | images/bridge.png,clips/bridge-pan.mp4\n",
        encoding="utf-8",
    )
    (spec,) = load_manifest(folder / "rows.csv").specs
    roles = [(item.role, Path(item.ref.path or "").name) for item in spec.media]
    assert roles == [
        ("reference_image", "rooftop.png"),
        ("reference_image", "bridge.png"),
        ("reference_video", "bridge-pan.mp4"),
    ]
    assert spec.media[2].ref.seconds == pytest.approx(4.0, abs=0.1)


def test_wan26_references_keep_their_written_order_across_kinds(folder: Path) -> None:
    """wan2.6 r2v prompts name references by place ("character1"): the order is kept."""
    (spec,) = _specs(
        folder,
        """\
        model: wan2.6-r2v
        tasks:
          - {prompt: character1 and character2, reference_urls: [clips/bridge-pan.mp4, images/rooftop.png]}
        """,
    )
    assert [item.role for item in spec.media] == ["reference_video", "reference_image"]


def test_templates_fill_media_lists(folder: Path) -> None:
    specs = _specs(
        folder,
        """\
        model: wan2.7-i2v
        vars: {place: [bridge, rooftop]}
        tasks:
          - id: shot
            prompt: "the {place}"
            media: [{type: first_frame, url: "images/{place}.png"}]
        """,
    )
    assert [Path(s.media[0].ref.path or "").name for s in specs] == ["bridge.png", "rooftop.png"]


def test_media_problems_point_at_the_item(folder: Path) -> None:
    problems = _problems(
        folder,
        """\
        model: wan2.7-i2v
        tasks:
          - prompt: x
            media:
              - {type: first_frame, url: images/bridge.png}
              - {type: last_frame, url: clips/bridge-pan.mp4}
              - {type: first_fram, url: images/bridge.png}
        """,
    )
    assert sorted(problems) == [
        "m.yaml:6: media[2]: 'clips/bridge-pan.mp4' is not a JPEG, PNG, BMP or WEBP image "
        "(judged by its content, not its name).",
        "m.yaml:7: media[3]: unknown media type 'first_fram'. Did you mean 'first_frame'?",
    ]


def test_local_videos_are_checked_for_length_and_size(folder: Path) -> None:
    big = folder / "clips" / "big.mp4"
    shutil.copyfile(folder / "clips" / "bridge-pan.mp4", big)
    with big.open("ab") as handle:
        handle.truncate(101 * 1024 * 1024)
    problems = _problems(
        folder,
        """\
        model: wan2.7-videoedit
        tasks:
          - {prompt: x, video: clips/big.mp4}
          - {prompt: x, video: audio/beat.wav}
          - model: wan3.0-video
            reference_audios: [audio/beat.wav, audio/beat.wav, audio/beat.wav, audio/beat.wav]
        """,
    )
    assert (
        problems[0]
        == "m.yaml:3: video: 'clips/big.mp4' is 101.0 MB; wan2.7-videoedit accepts videos up to 100.0 MB."
    )
    assert (
        problems[1] == "m.yaml:4: video: 'audio/beat.wav' is not an MP4 or MOV video (judged by its content, "
        "not its name)."
    )
    assert problems[2].startswith(
        "m.yaml:6: reference_audios: the reference audios last 16.0 seconds in all;"
    )


def test_sizes_and_ratios_convert_between_the_families(folder: Path) -> None:
    specs = _specs(
        folder,
        """\
        tasks:
          - {model: wan2.6-t2v, prompt: a, resolution: 720P, ratio: "3:4"}
          - {model: wan2.7-t2v, prompt: a, size: 1080*1920}
          - {model: wan2.5-t2v-preview, prompt: a}
        """,
    )
    assert [dict(s.parameters) for s in specs] == [
        {"size": "832*1088", "duration": 5},
        {"resolution": "1080P", "ratio": "9:16", "duration": 5},
        {"size": "1920*1080", "duration": 5},
    ]
    problems = _problems(
        folder, "tasks: [{model: wan2.2-t2v-plus, prompt: a, resolution: 480P, ratio: '4:3'}]\n"
    )
    assert problems == ["m.yaml:1: ratio: wan2.2-t2v-plus has no 4:3 size at 480P (only 16:9, 9:16 or 1:1)."]


def test_a_ratio_from_the_defaults_is_dropped_next_to_a_first_frame(folder: Path) -> None:
    """A default ratio serves the text-only tasks; a task with a first frame takes the frame's aspect."""
    specs = _specs(
        folder,
        """\
        model: wan3.0-video
        defaults: {ratio: "9:16"}
        tasks:
          - {prompt: a}
          - {prompt: b, first_frame: images/bridge.png}
        """,
    )
    assert [s.parameters.get("ratio") for s in specs] == ["9:16", None]


def test_special_durations_are_understood(folder: Path) -> None:
    specs = _specs(
        folder,
        """\
        tasks:
          - {model: wan3.0-video, prompt: a, duration: -1}
          - {model: wan2.7-videoedit, prompt: b, video: clips/bridge-pan.mp4}
        """,
    )
    assert [s.duration for s in specs] == [-1, 0]
    problems = _problems(folder, "tasks: [{model: wan3.0-video, prompt: a, duration: 1}]\n")
    assert problems == [
        "m.yaml:1: duration: wan3.0-video allows any whole number of seconds from 2 to 30, "
        "or -1 (the model chooses), got 1."
    ]


def test_a_journal_of_the_earlier_version_reads_as_the_same_tasks() -> None:
    """Journals written before media lists stored `image` and `audio`: they read back as a first
    frame and a driving audio, and the content key computed then is the key computed now."""
    import json

    from runner.core import task_key
    from runner.journal.rows import spec_from_json

    image = {
        "kind": "image",
        "url": "https://img.example/a.png",
        "path": None,
        "sha256": None,
        "size": None,
        "mime": None,
    }
    audio = {
        "kind": "audio",
        "url": "https://img.example/a.mp3",
        "path": None,
        "sha256": None,
        "size": None,
        "mime": None,
    }
    parameters = {"resolution": "720P", "duration": 5}
    then = {
        "model": "wan2.6-i2v-flash",
        "input": {"img_url": image["url"], "audio_url": audio["url"], "prompt": "a"},
        "parameters": parameters,
        "variant": None,
    }
    old_row = {
        "id": "a", "key": task_key(then), "model": "wan2.6-i2v-flash", "image": image, "audio": audio,
        "prompt": "a", "negative_prompt": None, "parameters": parameters, "variant": None, "meta": {},
        "location": "m.yaml:3",
    }  # fmt: skip
    spec = spec_from_json(json.dumps(old_row))
    assert [item.role for item in spec.media] == ["first_frame", "driving_audio"]
    assert task_key(spec.canonical()) == spec.key
