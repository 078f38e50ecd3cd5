"""Create-request validation: structure, per-model parameters and input media.

Structural problems (body, model, missing image) are always refused at submission.
Parameter-value and media problems are refused at submission or turned into a FAILED
task, according to `validation_at` and `media_validation_at` (the real service does both).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.simulator.config import SimConfig
from runner.simulator.errors import BODY_INVALID, ApiError, Problem
from runner.simulator.media import (
    check_audio_url,
    check_image_bytes,
    check_remote_url,
    decode_data_url,
)
from runner.simulator.models import ModelSpec

__all__ = ["CreateRequest", "OssResolver", "validate_create"]

# Resolves an oss:// URL for a model: a problem, or the stored object's leading bytes and size.
OssResolver = Callable[[str, str], "Problem | tuple[bytes, int]"]

_SIM_FAIL = re.compile(r"\[sim-fail:([A-Za-z0-9_.]+)\]")
_SIM_TIME = re.compile(r"\[sim-time:([0-9]+(?:\.[0-9]+)?)\]")
_MAX_SEED = 2_147_483_647


@dataclass(frozen=True)
class CreateRequest:
    """An accepted submission, normalised, plus any problem that will fail it at task time."""

    spec: ModelSpec
    prompt: str | None
    resolution: str
    duration: int
    prompt_extend: bool
    audio: bool
    deferred: Problem | None = None
    forced_failure: str | None = None  # from a `[sim-fail:CODE]` marker in the prompt
    forced_seconds: float | None = None  # from a `[sim-time:SECONDS]` marker in the prompt


class _ParameterProblem(Exception):
    """A parameter-value problem; the caller decides between refusal and task failure."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _missing(field: str) -> Problem:
    return Problem(
        "InvalidParameter",
        f"Required parameter({field}) missing or invalid, please check the request parameters.",
    )


def _validate(
    body: Any,
    segment: str,
    oss_enabled: bool,
    models: dict[str, ModelSpec],
    config: SimConfig,
    resolve_oss: OssResolver,
) -> CreateRequest:
    """Check one create body; raise ApiError or _ParameterProblem for a refusal."""
    spec, inputs, params = _structure(body, segment, models)
    image_field = spec.image_field
    image = inputs.get(image_field)
    if not isinstance(image, str) or not image:
        raise _refusal(_missing(image_field))
    prompt = _prompt(inputs.get("prompt"), spec.prompt_max, "prompt", config)
    _prompt(inputs.get("negative_prompt"), spec.negative_prompt_max, "negative_prompt", config)
    resolution, duration, audio = _parameters(spec, inputs, params)
    extend = params.get("prompt_extend", inputs.get("extend_prompt", True))
    if not isinstance(extend, bool):
        raise _ParameterProblem(_missing("prompt_extend"))
    deferred = _media(spec, inputs, oss_enabled, config, resolve_oss)
    if deferred is not None and config.media_validation_at == "submit":
        raise _refusal(deferred)
    return CreateRequest(
        spec=spec,
        prompt=prompt,
        resolution=resolution,
        duration=duration,
        prompt_extend=extend,
        audio=audio,
        deferred=deferred,
        forced_failure=_marker(_SIM_FAIL, prompt),
        forced_seconds=_float_or_none(_marker(_SIM_TIME, prompt)),
    )


def validate_create(
    body: Any,
    segment: str,
    oss_enabled: bool,
    models: dict[str, ModelSpec],
    config: SimConfig,
    resolve_oss: OssResolver,
) -> CreateRequest:
    """Check one create body; raise ApiError to refuse it at submission.

    Parameter-value problems are refused too when validation_at=submit; with
    validation_at=task the request is accepted and carries the problem as `deferred`.
    """
    try:
        return _validate(body, segment, oss_enabled, models, config, resolve_oss)
    except _ParameterProblem as exc:
        if config.validation_at == "submit":
            raise _refusal(exc.problem) from None
        spec, inputs, _ = _structure(body, segment, models)
        prompt = inputs.get("prompt")
        text = prompt if isinstance(prompt, str) else None
        return CreateRequest(
            spec=spec,
            prompt=text,
            resolution=spec.default_resolution,
            duration=spec.default_duration,
            prompt_extend=False,
            audio=False,
            deferred=exc.problem,
        )


def _refusal(problem: Problem) -> ApiError:
    return ApiError(problem.status, problem.code, problem.message)


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
        raise _ParameterProblem(_missing(field))
    if len(value) > limit:
        if config.long_prompt == "reject":
            raise _ParameterProblem(
                Problem(
                    "InvalidParameter",
                    f"Parameter {field} is {len(value)} characters long; the limit is {limit}.",
                )
            )
        return value[:limit]
    return value


def _parameters(spec: ModelSpec, inputs: dict[str, Any], params: dict[str, Any]) -> tuple[str, int, bool]:
    """Check the per-model parameter values; return resolution, duration and audio."""
    resolution = params.get("resolution", spec.default_resolution)
    if resolution not in spec.resolutions:
        allowed = ", ".join(spec.resolutions)
        raise _ParameterProblem(_invalid("resolution", resolution, f"{spec.name} allows {allowed}"))
    duration = params.get("duration", spec.default_duration)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration not in spec.durations:
        allowed = ", ".join(str(d) for d in spec.durations)
        raise _ParameterProblem(_invalid("duration", duration, f"{spec.name} allows {allowed}"))
    for flag in ("watermark", "audio"):
        if flag in params and not isinstance(params[flag], bool):
            raise _ParameterProblem(_invalid(flag, params[flag], "expected true or false"))
    seed = params.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED
    ):
        raise _ParameterProblem(_invalid("seed", seed, f"expected an integer in [0, {_MAX_SEED}]"))
    shot = params.get("shot_type")
    if spec.shot_type and shot is not None and shot not in ("single", "multi"):
        raise _ParameterProblem(_invalid("shot_type", shot, "expected single or multi"))
    if inputs.get("audio_url") is not None and not spec.audio_url:
        raise _ParameterProblem(_invalid("audio_url", "…", f"{spec.name} takes no audio input"))
    audio = bool(params.get("audio", True)) if spec.audio_param else spec.audio_url
    return str(resolution), duration, audio


def _invalid(field: str, value: Any, rule: str) -> Problem:
    return Problem(
        "InvalidParameter",
        f"Required parameter({field}) missing or invalid, please check the request parameters. "
        f"Got {value!r}; {rule}.",
    )


def _media(
    spec: ModelSpec,
    inputs: dict[str, Any],
    oss_enabled: bool,
    config: SimConfig,
    resolve_oss: OssResolver,
) -> Problem | None:
    """The first problem with the input images or audio, if any."""
    fields = [spec.image_field] + (["last_frame_url"] if spec.kind == "kf2v" else [])
    for field in fields:
        value = inputs.get(field)
        if field != spec.image_field and value is None:
            continue
        if not isinstance(value, str):
            return _missing(field)
        problem = _image(value, spec, oss_enabled, config, resolve_oss)
        if problem is not None:
            return problem
    audio = inputs.get("audio_url")
    if audio is None:
        return None
    if not isinstance(audio, str):
        return _missing("audio_url")
    if audio.startswith("oss://"):
        return _oss(audio, spec, oss_enabled, resolve_oss, None)
    return check_audio_url(audio)


def _image(
    url: str, spec: ModelSpec, oss_enabled: bool, config: SimConfig, resolve_oss: OssResolver
) -> Problem | None:
    """Check one image reference: http(s), oss:// or a data URI."""
    limits = (config.image_min_px, config.image_max_px, spec.image_max_mb * 1024 * 1024)
    if url.startswith(("http://", "https://")):
        return check_remote_url(url)
    if url.startswith("oss://"):
        return _oss(url, spec, oss_enabled, resolve_oss, limits)
    if url.startswith("data:"):
        if len(url) > config.data_url_max_bytes:
            return Problem("BadRequest.TooLarge", "Payload Too Large.", status=413)
        decoded = decode_data_url(url)
        if isinstance(decoded, Problem):
            return decoded
        return check_image_bytes(decoded[1], *limits)
    return Problem("InvalidURL", "Invalid URL provided in your request.")


def _oss(
    url: str,
    spec: ModelSpec,
    oss_enabled: bool,
    resolve_oss: OssResolver,
    limits: tuple[int, int, int] | None,
) -> Problem | None:
    """oss:// needs the resolve header and a live upload made for this model."""
    if not oss_enabled:
        return Problem(
            "InvalidParameter.DataInspection",
            "The media format is not supported or incorrect for the data inspection.",
        )
    found = resolve_oss(url, spec.name)
    if isinstance(found, Problem):
        return found
    head, size = found
    return None if limits is None else check_image_bytes(head, *limits, size=size)


def _marker(pattern: re.Pattern[str], prompt: str | None) -> str | None:
    match = pattern.search(prompt or "")
    return match.group(1) if match else None


def _float_or_none(text: str | None) -> float | None:
    return None if text is None else float(text)
