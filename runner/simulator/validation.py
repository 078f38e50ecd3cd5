"""Create-request validation: the envelope, the prompt, and the order of the other checks.

Structural problems (body, model, path, a missing required input, media types, counts and
combinations) are always refused at submission. Parameter-value problems (parameters.py,
and an input field of another family) are refused at submission or turned into a FAILED
task according to `validation_at`; media-content problems (probe.py) likewise according to
`media_validation_at` (the real service does both).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.simulator.config import SimConfig
from runner.simulator.errors import (
    BODY_INVALID,
    ApiError,
    ParameterProblem,
    Problem,
    invalid,
    missing,
    refusal,
)
from runner.simulator.inputs import Item, extract_items
from runner.simulator.media import sniff_video
from runner.simulator.models import ModelSpec
from runner.simulator.outcome import pictured, plan_outcome
from runner.simulator.parameters import read_parameters
from runner.simulator.probe import probe_inputs

__all__ = ["CreateRequest", "OssResolver", "StillFinder", "validate_create"]

# Resolves an oss:// URL for a model: a problem, or the stored object's leading bytes and size.
OssResolver = Callable[[str, str], "Problem | tuple[bytes, int]"]
# The name of an input's still (stills.py) from its URL, or None when the simulator has none.
StillFinder = Callable[[str], "str | None"]

_SIM_FAIL = re.compile(r"\[sim-fail:([A-Za-z0-9_.]+)\]")
_SIM_TIME = re.compile(r"\[sim-time:([0-9]+(?:\.[0-9]+)?)\]")


@dataclass(frozen=True)
class CreateRequest:
    """An accepted submission, normalised, plus any problem that will fail it at task time."""

    spec: ModelSpec
    prompt: str | None
    resolution: str  #: the tier (size families: the tier of the size)
    duration: int  #: as sent (0 and -1 are the editing and wan3.0 specials)
    prompt_extend: bool
    audio: bool
    deferred: Problem | None = None
    forced_failure: str | None = None  # from a `[sim-fail:CODE]` marker in the prompt
    forced_seconds: float | None = None  # from a `[sim-time:SECONDS]` marker in the prompt
    ratio: str = "16:9"  #: the output's aspect, W:H in lowest terms
    output_seconds: float = 5.0  #: the output video's length
    input_seconds: float = 0.0  #: input video seconds billed with the output
    first_still: str | None = None  #: the still the video opens on (stills.py), if any
    last_still: str | None = None  #: the still it fades to (a last frame), if any


def validate_create(
    body: Any,
    segment: str,
    oss_enabled: bool,
    models: dict[str, ModelSpec],
    config: SimConfig,
    resolve_oss: OssResolver,
    still_of: StillFinder = lambda url: None,
) -> CreateRequest:
    """Check one create body; raise ApiError to refuse it at submission.

    Parameter-value problems are refused too when validation_at=submit; with
    validation_at=task the request is accepted and carries the problem as `deferred`.
    An accepted request names the stills its video shows (`still_of` finds them).
    """
    try:
        return _validate(body, segment, oss_enabled, models, config, resolve_oss, still_of)
    except ParameterProblem as exc:
        if config.validation_at == "submit":
            raise refusal(exc.problem) from None
        spec, inputs, _ = _structure(body, segment, models)
        prompt = inputs.get("prompt")
        default = spec.default_duration
        return CreateRequest(
            spec=spec,
            prompt=prompt if isinstance(prompt, str) else None,
            resolution=spec.default_resolution,
            duration=default,
            prompt_extend=False,
            audio=False,
            deferred=exc.problem,
            output_seconds=float(default) if default > 0 else 5.0,
        )


def _validate(
    body: Any,
    segment: str,
    oss_enabled: bool,
    models: dict[str, ModelSpec],
    config: SimConfig,
    resolve_oss: OssResolver,
    still_of: StillFinder,
) -> CreateRequest:
    """Check one create body; raise ApiError or ParameterProblem for a refusal."""
    spec, inputs, params = _structure(body, segment, models)

    def read(url: str) -> Problem | tuple[bytes, int]:
        return resolve_oss(url, spec.name)

    def is_video(url: str) -> bool:
        stored = read(url) if oss_enabled else None
        return isinstance(stored, tuple) and sniff_video(stored[0]) is None

    items = extract_items(spec, inputs, is_video)
    prompt = _prompt(inputs.get("prompt"), spec.prompt_max, "prompt", config)
    _require_prompt(spec, prompt, items)
    _prompt(inputs.get("negative_prompt"), spec.negative_prompt_max, "negative_prompt", config)
    settings = read_parameters(spec, inputs, params)
    _check_duration_with_video(spec, settings.duration, items)
    probe = probe_inputs(spec, items, config, oss_enabled, read)
    if probe.problem is not None and config.media_validation_at == "submit":
        raise refusal(probe.problem)
    outcome = plan_outcome(spec, settings, probe.facts)
    stills = [None if item is None or probe.problem else still_of(item.url) for item in pictured(items)]
    return CreateRequest(
        spec=spec,
        prompt=prompt,
        resolution=settings.resolution,
        duration=settings.duration,
        prompt_extend=settings.prompt_extend,
        audio=settings.audio,
        deferred=probe.problem,
        forced_failure=_marker(_SIM_FAIL, prompt),
        forced_seconds=_float_or_none(_marker(_SIM_TIME, prompt)),
        ratio=outcome.ratio,
        output_seconds=outcome.output_seconds,
        input_seconds=outcome.input_seconds,
        first_still=stills[0],
        last_still=stills[1],
    )


def _structure(
    body: Any, segment: str, models: dict[str, ModelSpec]
) -> tuple[ModelSpec, dict[str, Any], dict[str, Any]]:
    """The envelope: a JSON object with a known model, an input object, optional parameters."""
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidParameter", BODY_INVALID)
    model = body.get("model")
    if model is None or model == "":
        raise ApiError(400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.')
    if not isinstance(model, str) or model not in models:
        raise ApiError(400, "InvalidParameter", "Model not exist.")
    spec = models[model]
    if spec.path_segment != segment:
        raise ApiError(400, "InvalidParameter", "url error, please check url！")
    inputs = body.get("input")
    if inputs is None:
        raise ApiError(400, "BadRequest.EmptyInput", 'Required parameter "input" missing from request.')
    params = body.get("parameters") or {}
    if not isinstance(inputs, dict) or not isinstance(params, dict):
        raise ApiError(400, "InvalidParameter", BODY_INVALID)
    return spec, inputs, params


def _prompt(value: Any, limit: int, field: str, config: SimConfig) -> str | None:
    """A prompt is text or null; over-long text is truncated (real) or refused (switch)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParameterProblem(missing(field))
    if len(value) > limit:
        if config.long_prompt == "reject":
            raise ParameterProblem(
                Problem(
                    "InvalidParameter",
                    f"Parameter {field} is {len(value)} characters long; the limit is {limit}.",
                )
            )
        return value[:limit]
    return value


def _require_prompt(spec: ModelSpec, prompt: str | None, items: list[Item]) -> None:
    """Text-to-video and reference families need a prompt; wan3.0 a prompt or some media."""
    rule = spec.rules.prompt
    if rule == "required" and not prompt:
        raise refusal(missing("prompt"))
    if rule == "or_media" and not prompt and not items:
        raise refusal(missing("prompt"))


def _check_duration_with_video(spec: ModelSpec, duration: int, items: list[Item]) -> None:
    """wan2.7 r2v: with a reference video the output is at most 10 s."""
    longest = spec.rules.duration_with_video
    if longest and duration > longest and any(item.type == "reference_video" for item in items):
        rule = f"{spec.name} allows at most {longest} s with a reference video"
        raise ParameterProblem(invalid("duration", duration, rule))


def _marker(pattern: re.Pattern[str], prompt: str | None) -> str | None:
    match = pattern.search(prompt or "")
    return match.group(1) if match else None


def _float_or_none(text: str | None) -> float | None:
    return None if text is None else float(text)
