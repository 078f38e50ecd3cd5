"""A run made ready before anything is opened or sent: its manifest, folder, accounts with their
keys and limits, the embedded simulator's settings, and what to do when it ends.

Everything a person could get wrong (the manifest, an option, a key, a webhook URL) is found
here, as a RunnerError, before the journal is touched.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from runner.core import ConfigError
from runner.engine import DEFAULT_QUEUE_AHEAD, EngineConfig, UploadSettings
from runner.manifest import Manifest, run_folder
from runner.planning import catalogue_quota, model_quotas
from runner.session.links import AccountPlan, account_plans
from runner.session.options import NotifyOn, RunOptions
from runner.session.sources import ManifestInput, load_source
from runner.session.wiring import SimOptions, simulator_time_scale

__all__ = ["Announcement", "PreparedRun", "prepare_run"]


@dataclass(frozen=True, slots=True)
class Announcement:
    """Who hears of the run's end: a webhook, a command (its words, the summary path last)."""

    webhook: str | None = None
    only_on_failure: bool = False
    command: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A run ready to go: nothing opened, nothing sent yet."""

    manifest: Manifest
    folder: Path
    accounts: list[tuple[AccountPlan, EngineConfig]]
    sim: SimOptions
    retry_failed: bool
    announcement: Announcement = Announcement()
    warnings: list[str] = field(default_factory=list)  #: said when the run starts

    @property
    def secrets(self) -> list[str]:
        """What no log line may show: the keys, and the webhook URL (its path can be a token)."""
        return [plan.key for plan, _ in self.accounts] + [self.announcement.webhook or ""]


def prepare_run(manifest: ManifestInput, options: RunOptions) -> PreparedRun:
    """The run of `manifest` with `options` (None values are left out: not given); a
    RunnerError says what is wrong with either."""
    options = cast(RunOptions, {key: value for key, value in options.items() if value is not None})
    loaded = load_source(manifest, options)
    key_file = options.get("api_key_file")
    plans = account_plans(loaded, Path(key_file) if key_file is not None else None)
    warnings: list[str] = []
    accounts = [
        (plan, _engine_config(replace(loaded, limits=plan.limits), options, warnings)) for plan in plans
    ]
    profile = options.get("sim_profile", "default")
    sim = SimOptions(
        profile, simulator_time_scale(profile, options.get("sim_time_scale")), options.get("sim_seed")
    )
    return PreparedRun(
        manifest=loaded,
        folder=run_folder(loaded, Path(options.get("out", "outputs"))),
        accounts=accounts,
        sim=sim,
        retry_failed=options.get("retry_failed", False),
        announcement=_announcement(options),
        warnings=list(dict.fromkeys(warnings)),
    )


def _engine_config(loaded: Manifest, options: RunOptions, warnings: list[str]) -> EngineConfig:
    """Limits: options over manifest over each model's catalogue quota (quotas are per model).

    A limit above a model's catalogue quota is kept (accounts can have raised quotas) but warned about.
    """
    limits = loaded.limits
    models = sorted({spec.model for spec in loaded.specs})
    quotas = model_quotas(models, limits)
    for model in models:
        usual, quota = catalogue_quota(model), quotas[model]
        if quota.concurrency > usual.concurrency or quota.submit_rate > usual.submit_rate:
            warnings.append(
                f"Limits above {model}'s usual quota ({usual.concurrency} at once, {usual.submit_rate:g}/s): "
                f"{quota.concurrency} at once, {quota.submit_rate:g}/s. Keep them only if your account's "
                "quota was raised; otherwise DashScope will throttle the run."
            )
    ahead = options.get("queue_ahead", limits.queue_ahead)
    inline_max = options.get("data_url_max", limits.data_url_max)
    uploads = UploadSettings() if inline_max is None else UploadSettings(data_url_max=inline_max)
    max_video_mb = options.get("max_video_mb")
    return EngineConfig(
        # a model not in the manifest (an earlier manifest's task still in flight): the least quota
        concurrency=min((quota.concurrency for quota in quotas.values()), default=1),
        submit_rate=min((quota.submit_rate for quota in quotas.values()), default=1.0),
        quotas=quotas,
        queue_ahead=DEFAULT_QUEUE_AHEAD if ahead is None else ahead,
        max_cost=limits.max_cost,
        max_wall_time=limits.max_wall_time,
        max_attempts=options.get("max_attempts", 3),
        retry_failed=options.get("retry_failed", False),
        retry_codes=frozenset(options.get("retry_codes", ())),
        uploads=uploads,
        verify=options.get("verify", False),
        max_video_mb=max_video_mb,
    )


def _announcement(options: RunOptions) -> Announcement:
    webhook = options.get("notify")
    notify_on: NotifyOn = options.get("notify_on", "always")
    if notify_on not in ("always", "failure"):
        raise ConfigError(f"notify_on is 'always' or 'failure', got {notify_on!r}.")
    if webhook is not None:
        parts = urlsplit(webhook)
        try:
            parts.port  # noqa: B018 (a port that is not a number raises)
        except ValueError:
            raise ConfigError("The webhook URL to notify has a port that is not a number.") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            origin = f"{parts.scheme}://{parts.hostname}" if parts.scheme else "a text with no scheme"
            msg = f"The webhook to notify must be an http(s):// URL; got {origin}. Give the full URL."
            raise ConfigError(msg)
    command = options.get("on_finish")
    try:
        words = tuple(shlex.split(command)) if command else ()
    except ValueError as exc:
        raise ConfigError(f"The on-finish command {command!r} cannot be split into words: {exc}.") from None
    if command is not None and not words:
        raise ConfigError("The on-finish command is empty; give the command to run when the run ends.")
    return Announcement(webhook, notify_on == "failure", words)
