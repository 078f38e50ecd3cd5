"""What a task will produce: the output's aspect and length, the input seconds it bills, and
which of its inputs its video shows (the first picture, and a last frame to fade to).

The aspect follows the request the way the service's does: a `ratio` parameter, a `size`
"W*H", or else the input (first frame, clip or video) when the simulator holds its bytes;
16:9 when it does not (a remote URL is never fetched). The length is the `duration`, with
two documented exceptions: video editing's 0 keeps the input video's length, and wan3.0's
-1 lets the model choose (the simulator chooses 5 s).

A video whose length the simulator cannot read (a remote URL, or an upload whose index
lies beyond the bytes it keeps) stands in as 5.0 s: deterministic, and inside every
family's documented range.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

from runner.simulator.inputs import Item
from runner.simulator.models import ModelSpec
from runner.simulator.parameters import Settings
from runner.simulator.probe import Facts

__all__ = ["UNKNOWN_VIDEO_S", "Outcome", "pictured", "plan_outcome", "reduced"]

UNKNOWN_VIDEO_S = 5.0  #: the stand-in length of a video the simulator cannot read
_CAPPED_INPUT_S = 5.0  #: r2v bills at most this many input video seconds (in all)
_MODEL_CHOOSES_S = 5.0  #: wan3.0's duration -1
_DEFAULT_RATIO = "16:9"
#: where the aspect comes from when no ratio or size sets it, in order of preference
_VISUALS = ("first_frame", "first_clip", "video", "reference_image", "reference_video", "last_frame")
#: what the simulated video opens on: the first input of the first of these types present
_OPENING = _VISUALS[:-1]


@dataclass(frozen=True)
class Outcome:
    """The output's aspect ("W:H", reduced), its seconds, and the billed input video seconds."""

    ratio: str
    output_seconds: float
    input_seconds: float


def plan_outcome(spec: ModelSpec, settings: Settings, facts: tuple[Facts, ...]) -> Outcome:
    """The output and billing of a request whose inputs taught `facts`."""
    return Outcome(
        _ratio(spec, settings, facts),
        _output_seconds(settings.duration, facts),
        _billed_input(spec, facts),
    )


def pictured(items: list[Item]) -> tuple[Item | None, Item | None]:
    """The inputs the simulated video shows: the picture it opens on and the last frame it
    fades to (None where there is none)."""
    opening = next((item for kind in _OPENING for item in items if item.type == kind), None)
    closing = next((item for item in items if item.type == "last_frame"), None)
    return opening, closing


def reduced(width: int, height: int) -> str:
    """W:H in lowest terms: 1920, 1080 -> "16:9"."""
    divisor = gcd(width, height) or 1
    return f"{width // divisor}:{height // divisor}"


def _ratio(spec: ModelSpec, settings: Settings, facts: tuple[Facts, ...]) -> str:
    if settings.size is not None:
        width, _, height = settings.size.partition("*")
        return reduced(int(width), int(height))
    types = {f.type for f in facts}
    follows_frame = spec.rules.frame_over_ratio and "first_frame" in types
    if settings.ratio not in (None, "adaptive") and not follows_frame:
        assert settings.ratio is not None
        return settings.ratio
    for kind in _VISUALS:
        known = next((f for f in facts if f.type == kind and f.width and f.height), None)
        if known is not None:
            return reduced(known.width, known.height)
    return _DEFAULT_RATIO


def _video_seconds(facts: tuple[Facts, ...], kinds: tuple[str, ...]) -> float:
    known = [f.seconds if f.seconds is not None else UNKNOWN_VIDEO_S for f in facts if f.type in kinds]
    return float(sum(known))


def _output_seconds(duration: int, facts: tuple[Facts, ...]) -> float:
    if duration == 0:  # video editing: as long as the input video
        return _video_seconds(facts, ("video",))
    if duration < 0:  # wan3.0: the model chooses
        return _MODEL_CHOOSES_S
    return float(duration)


def _billed_input(spec: ModelSpec, facts: tuple[Facts, ...]) -> float:
    """Input video seconds billed with the output: none, the r2v cap, or all of them.

    A first_clip (wan2.7 i2v) is not input here: its `duration` is the whole output.
    """
    bills = spec.rules.bills_input
    seconds = _video_seconds(facts, ("video", "reference_video"))
    if bills == "capped":
        return min(seconds, _CAPPED_INPUT_S)
    return seconds if bills == "all" else 0.0
