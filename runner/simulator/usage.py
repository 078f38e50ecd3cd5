"""`usage` of a succeeded task, in the shape of its model's family.

The shapes differ by generation (dashscope-video-api.md 3.4): wan2.5/2.2 and kf2v 2.2 give
{duration, SR, video_count}; wan2.1 gives {video_duration, video_ratio, video_count};
the wan2.6 models split the billed `duration` into input and output seconds (integers in
the docs' examples); wan2.7, wan3.0 and HappyHorse give float seconds plus `fps` and
`ratio`, as the one byte-exact live body showed. Billed `duration` = output seconds plus
the input video seconds the family bills (outcome.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.simulator.tasks import Task

__all__ = ["usage"]


def usage(task: Task) -> dict[str, Any]:
    """`usage` in the shape of the model's family."""
    request, spec = task.request, task.spec
    tier = int(request.resolution.rstrip("P"))
    style = spec.rules.usage
    if style == "media":
        return _media(task, tier)
    if style == "wan2.6":
        shaped = _wan26(task, tier)
        if spec.audio_param:
            shaped["audio"] = request.audio
        return shaped
    seconds = _number(request.output_seconds)
    if style == "wan2.1":
        return {"video_duration": seconds, "video_ratio": "standard", "video_count": 1}
    return {"duration": seconds, "SR": tier, "video_count": 1}


def _wan26(task: Task, tier: int) -> dict[str, Any]:
    request = task.request
    output, billed_input = request.output_seconds, request.input_seconds
    return {
        "duration": _number(output + billed_input),
        "input_video_duration": _number(billed_input),
        "output_video_duration": _number(output),
        "video_count": 1,
        "SR": tier,
    }


def _media(task: Task, tier: int) -> dict[str, Any]:
    request = task.request
    output, billed_input = request.output_seconds, request.input_seconds
    return {
        "duration": round(float(output + billed_input), 3),
        "input_video_duration": round(float(billed_input), 3),
        "output_video_duration": round(float(output), 3),
        "video_count": 1,
        "SR": tier,
        "fps": task.spec.rules.fps,
        "ratio": request.ratio,
    }


def _number(seconds: float) -> int | float:
    """Whole seconds as an integer (the older shapes' examples), others rounded to ms."""
    return int(seconds) if float(seconds).is_integer() else round(seconds, 3)
