"""`runner models [NAME]`: the models runner knows, what each takes, and what it costs where.

Read from the catalogue (runner.core.catalog) and the families (runner.core.families),
so what this prints is exactly what `plan` checks manifests against.
"""

from __future__ import annotations

from typing import Final

import click
from rich.console import Console
from rich.table import Table

from runner.core import (
    MEDIA_ROLES,
    MODELS,
    REGIONS,
    ConfigError,
    MediaRule,
    ModelInfo,
    get_model,
    price_per_second,
)
from runner.manifest import unknown_model

__all__ = ["COMMANDS", "models"]


@click.command()
@click.argument("name", required=False)
@click.option(
    "--region",
    type=click.Choice(list(REGIONS)),
    default="singapore",
    show_default=True,
    help="Whose prices to show (Beijing's are in CNY, the others' in USD).",
)
def models(name: str | None, region: str) -> None:
    """List the models a manifest may name, or show one model's inputs, parameters and prices.

    \b
    runner models                  every model: kind, inputs, resolutions, durations, price
    runner models wan2.7-i2v       one model in full: accepted media, limits, parameters
    """
    console = Console(highlight=False)
    if name is None:
        console.print(_table(region))
        console.print(f"`runner models NAME` shows one in full. Prices per second of video in {region}.")
        return
    model = get_model(name)
    if model is None:
        problem = unknown_model(name)
        raise ConfigError(f"{problem[0].upper()}{problem[1:]}")
    for line in describe(model, region):
        console.print(line)


def _table(region: str) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for column in ("model", "inputs", "resolution", "seconds", f"{REGIONS[region].currency}/s"):
        table.add_column(column, no_wrap=column != "inputs")
    for model in MODELS.values():
        inputs = ", ".join(_SHORT_ROLES[role] for role in model.family.roles()) or "prompt"
        resolutions = "/".join(tier.rstrip("P") for tier in model.resolutions) + "P"
        price = _price(model, region, currency=False) or "—"
        table.add_row(model.name, inputs, resolutions, _seconds(model), price)
    return table


_SHORT_ROLES: Final = {
    "first_frame": "first",
    "last_frame": "last",
    "first_clip": "clip",
    "video": "video",
    "reference_image": "ref image",
    "reference_video": "ref video",
    "reference_audio": "ref audio",
    "driving_audio": "audio",
}


def describe(model: ModelInfo, region: str) -> list[str]:
    """One model in full, as lines of text."""
    family = model.family
    lines = [f"{model.name}: {family.name}"]
    for role in family.roles():
        rule = model.rule(role)
        assert rule is not None  # roles() lists only the family's own
        lines.append(f"  {role}: {_rule_text(rule)}")
    if family.media_sets is not None:
        sets = "; ".join(
            " + ".join(sorted(s, key=MEDIA_ROLES.index)) or "no media" for s in family.media_sets
        )
        lines.append(f"  accepted media sets: {sets}")
    if family.references is not None:
        lines.append(f"  references in all: {family.references[0]} to {family.references[1]}")
    prompt = (
        "required"
        if family.prompt_required
        else "a prompt, media or both"
        if family.prompt_or_media
        else "optional"
    )
    lines.append(f"  prompt: {prompt}, at most {model.prompt_max} characters")
    lines.append(f"  resolution: {' '.join(model.resolutions)} (default {model.default_resolution})")
    if "size" in family.parameters:
        lines.append(f"  size: {' '.join(model.sizes())} (default {model.default_size})")
    if family.ratios:
        lines.append(f"  ratio: {' '.join(family.ratios)}")
    lines.append(f"  duration: {model.describe_durations()} (default {model.default_duration})")
    others = sorted(p for p in ("shot_type", "audio", "audio_setting") if model.takes(p))
    lines.append(f"  other parameters: {', '.join(['prompt_extend', 'watermark', 'seed', *others])}")
    if family.watermark_default:
        lines.append("  watermark: on unless `watermark: false`")
    lines.append(f"  regions: {', '.join(sorted(model.regions))}")
    lines.append(f"  quota: {model.submit_rate:g} submissions/s, {model.concurrency} running at once")
    billed = {
        "none": "output seconds",
        "capped": "output seconds + input video (at most 5 s)",
        "all": "output seconds + input video seconds",
    }[family.bills_input]
    lines.append(f"  billed: {billed}; {region}: {_price(model, region) or 'not offered'} per second")
    return lines


def _rule_text(rule: MediaRule) -> str:
    parts = [f"{rule.kind}, up to {rule.most}" if rule.most > 1 else rule.kind]
    parts.append(f"≤ {rule.max_bytes // (1024 * 1024)} MB")
    if rule.kind != "audio":
        parts.append(f"sides {rule.min_px}–{rule.max_px} px")
    if rule.max_s:
        parts.append(f"{rule.min_s:g}–{rule.max_s:g} s each")
    if rule.total_s:
        parts.append(f"≤ {rule.total_s:g} s in all")
    if rule.max_aspect:
        parts.append(f"aspect within 1:{rule.max_aspect:g}")
    return ", ".join(parts)


def _seconds(model: ModelInfo) -> str:
    values = [d for d in model.durations if d > 0]
    return f"{values[0]}–{values[-1]}" if len(values) > 2 else "/".join(map(str, values))


def _price(model: ModelInfo, region: str, *, currency: bool = True) -> str | None:
    if region not in model.regions:
        return None
    prices = [price_per_second(model, tier, region) for tier in model.resolutions]
    known = [p for p in prices if p is not None]
    if not known:
        return None
    low, high = min(known), max(known)
    unit = f" {REGIONS[region].currency}" if currency else ""
    return f"{low:.3f}" + (f"–{high:.3f}" if high != low else "") + unit


COMMANDS: list[click.Command] = [models]
