"""What a simulated video shows: the task's own first frame, panned and zoomed, fading to its
last frame, with the prompt as a caption; a gradient of its own for a task without a picture."""

from __future__ import annotations

import base64
import io
import random
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image, ImageStat
from sim_helpers import CREATE, KF2V, OSS_HEADERS, SimHarness, body, open_sim, text_body, video_shape

from runner.simulator import SimConfig, Simulator, TaskMemory

pytestmark = pytest.mark.anyio

RED, BLUE, WHITE = (220, 30, 30), (30, 40, 220), (255, 255, 255)


def picture(rgb: tuple[int, int, int], size: tuple[int, int] = (320, 240), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, rgb).save(out, format=fmt)
    return out.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def frames(video: bytes) -> list[Image.Image]:
    with av.open(io.BytesIO(video), mode="r") as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def mean(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> tuple[float, ...]:
    """The mean colour of `box` (the whole image without one)."""
    return tuple(ImageStat.Stat(image.crop(box) if box else image).mean)


def near(colour: tuple[float, ...], expected: tuple[int, int, int], tolerance: float = 30) -> bool:
    return all(abs(got - want) <= tolerance for got, want in zip(colour, expected, strict=True))


async def video_of(h: SimHarness, payload: dict[str, Any], path: str = KF2V, headers: Any = None) -> bytes:
    response = await h.client.post(path, json=payload, headers=headers or OSS_HEADERS)
    assert response.status_code == 200, response.text
    done = await h.finished(response.json()["output"]["task_id"])
    assert done["output"]["task_status"] == "SUCCEEDED", done
    return await h.download(done["output"]["video_url"])


def kf2v(
    first: str, last: str | None = None, prompt: str | None = "a flight", **parameters: Any
) -> dict[str, Any]:
    inputs = {"prompt": prompt, "first_frame_url": first} | ({"last_frame_url": last} if last else {})
    return {"model": "wan2.2-kf2v-flash", "input": inputs, "parameters": {"resolution": "480P", **parameters}}


async def test_a_first_and_last_frame_video_opens_on_the_first_and_ends_on_the_last() -> None:
    """Red first frame, blue last frame: the clip starts red, ends blue, as long and shaped as asked."""
    async with open_sim() as h:
        video = await video_of(h, kf2v(data_url(picture(RED)), data_url(picture(BLUE)), duration=5))
    pictures = frames(video)
    top = (0, 0, pictures[0].width, pictures[0].height // 2)  # above the caption
    assert near(mean(pictures[0], top), RED) and near(mean(pictures[-1], top), BLUE)
    seconds, width, height = video_shape(video)
    assert (round(seconds, 1), width, height) == (5.0, 120, 90)  # 320x240 is 4:3


async def test_the_first_frame_is_panned_or_zoomed_and_the_prompt_is_its_caption() -> None:
    """A checked picture moves between the first and last frames; a band of text sits at the
    bottom, where two prompts differ, above it the frames of two prompts are alike."""
    checks = Image.new("RGB", (320, 240), WHITE)
    for x in range(0, 320, 40):
        checks.paste((0, 0, 0), (x, 0, x + 20, 240))
    stripes = io.BytesIO()
    checks.save(stripes, format="PNG")
    image = data_url(stripes.getvalue())
    async with open_sim() as h:
        one = frames(await video_of(h, kf2v(image, prompt="A slow flight over striped fields")))
        two = frames(await video_of(h, kf2v(image, prompt="Something else entirely, at night")))
        bare = frames(await video_of(h, kf2v(image, prompt=None)))
    width, height = one[0].size
    top, bottom = (0, 0, width, height // 2), (0, height - 12, width, height)
    assert one[0].crop(top).tobytes() != one[-1].crop(top).tobytes(), "the camera moves"
    assert one[0].crop(bottom).tobytes() != two[0].crop(bottom).tobytes(), "each prompt its caption"
    assert max(mean(bare[0], bottom)) > max(mean(one[0], bottom)) + 20, "the band darkens the picture"
    assert ImageStat.Stat(one[0].crop(bottom).convert("L")).extrema[0][1] > 200, "white letters"


async def test_a_text_to_video_task_gets_a_moving_gradient_of_its_own_prompt() -> None:
    """No picture: a gradient whose colours follow the prompt, moving; the same prompt on
    another simulator gives the very same clip."""
    prompts = ("Paper lanterns drift down a river", "A storm rolls over the dunes")
    async with open_sim() as h:
        clips = [await video_of(h, text_body("wan2.7-t2v", prompt), path=CREATE) for prompt in prompts]
    async with open_sim(seed=99) as h:
        again = await video_of(h, text_body("wan2.7-t2v", prompts[0]), path=CREATE)
    first, second = frames(clips[0]), frames(clips[1])
    assert mean(first[0], (0, 0, 40, 40)) != mean(second[0], (0, 0, 40, 40))
    assert first[0].tobytes() != first[-1].tobytes()
    assert max(ImageStat.Stat(first[0]).stddev) > 5, "a gradient, not a flat colour"
    assert [f.tobytes() for f in frames(again)] == [f.tobytes() for f in first]


async def test_an_uploaded_photo_larger_than_the_kept_head_still_shows_in_its_video() -> None:
    """The upload store keeps 256 KiB of a file; the still is made from the whole of it."""
    noise = random.Random(5)
    photo = Image.new("RGB", (700, 500))
    photo.putdata(
        [(200 + noise.randrange(56), noise.randrange(40), noise.randrange(40)) for _ in range(350_000)]
    )
    data = io.BytesIO()
    photo.save(data, format="PNG")
    assert len(data.getvalue()) > 512 * 1024
    async with open_sim() as h:
        url = await h.upload("wan2.6-i2v-flash", data.getvalue(), "photo.png")
        video = await video_of(h, body(img_url=url, resolution="720P"), path=CREATE)
    red, green, blue = mean(frames(video)[0], (0, 0, 60, 40))
    assert red > 150 and green < 80 and blue < 80


async def test_an_unreadable_picture_gives_the_gradient_not_a_failure() -> None:
    """A remote URL is never fetched: its video is the prompt's gradient, like text-to-video's."""
    async with open_sim() as h:
        remote = await video_of(h, body(prompt="Lanterns"), path=CREATE)
    assert max(ImageStat.Stat(frames(remote)[0]).stddev) > 5


def test_a_resumed_simulator_shows_the_same_pictures(tmp_path: Path) -> None:
    """Stills are remembered with the tasks: the next process's simulator serves the same video."""
    path = tmp_path / "simulator.jsonl"
    config = SimConfig.profile("default", time_scale=0.001, burst=100)
    first = Simulator(config, memory=TaskMemory(path))
    task = first.create(kf2v(data_url(picture(RED)), data_url(picture(BLUE))), "image2video", False, "r1")
    assert first.memory is not None
    first.memory.close()
    second = Simulator(config, memory=TaskMemory(path))
    again = second.board.tasks[task.task_id]
    assert b"".join(second.video(again).chunks()) == b"".join(first.video(task).chunks())
    assert near(mean(frames(b"".join(second.video(again).chunks()))[0], (0, 0, 40, 30)), RED)


async def test_plain_videos_are_one_clip_per_shape_for_benchmarks() -> None:
    """`video_content: plain`: every task of a shape gets the same clip, whatever its prompt."""
    async with open_sim(video_content="plain") as h:
        one = await video_of(h, kf2v(data_url(picture(RED)), prompt="one"))
        two = await video_of(h, kf2v(data_url(picture(BLUE)), prompt="two"))
    assert [f.tobytes() for f in frames(one)] == [f.tobytes() for f in frames(two)]
