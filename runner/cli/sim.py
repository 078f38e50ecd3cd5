"""`runner sim`: the built-in DashScope simulator on a loopback port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
import yaml

from runner.core import resolve_endpoint
from runner.session import DEFAULT_SIM_TIME_SCALE, KEY_FILE_VARIABLE, resolve_api_key, simulator_time_scale
from runner.simulator import DEFAULT_API_KEY, PROFILES, SimConfig, create_app
from runner.simulator.server import serve

__all__ = ["COMMANDS", "sim"]


@click.group()
def sim() -> None:
    """The built-in DashScope simulator: no account, no network."""


@sim.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of simulator settings (see runner/simulator/config.py).",
)
@click.option("--profile", type=click.Choice(sorted(PROFILES)), help="Preset to start from.")
@click.option("--api-key", help="The API key clients must send (default sk-sim-local).")
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    help=f"Real seconds per simulated second (default {DEFAULT_SIM_TIME_SCALE}, the fast profile's "
    "0.001, or the config's time_scale; 1 is real time).",
)
@click.option("--seed", type=int, help="Seed for generation times, ids and faults.")
@click.option("--video-bytes", type=int, help="Size of each generated video in bytes.")
def serve_command(
    host: str,
    port: int,
    config_path: Path | None,
    profile: str | None,
    api_key: str | None,
    time_scale: float | None,
    seed: int | None,
    video_bytes: int | None,
) -> None:
    """Serve the simulator; print its base URL (first stdout line); stop on Ctrl-C/SIGTERM.

    Reserved input names rehearse media failures: image hosts ending `.invalid` cannot
    be downloaded, `not-an-image.example` or a path ending `.txt` is not an image. A
    prompt containing `[sim-fail:CODE]` fails its task with CODE (InternalError.Timeout after
    60 simulated seconds: timing.injected_timeout_s); `[sim-time:SECONDS]` fixes its run time.
    """
    config = _load(config_path, profile)
    overrides: dict[str, Any] = {
        "api_key": api_key,
        "time_scale": time_scale,
        "seed": seed,
        "video_bytes": video_bytes,
    }
    config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    click.echo(
        f"DashScope simulator: {_speed(config.time_scale)}, "
        f"seed {config.seed if config.seed is not None else 'random'}; "
        "point clients (dashscope.base_http_api_url, or a manifest endpoint) at the URL "
        "printed on stdout. Ctrl-C stops it.",
        err=True,
    )
    serve(create_app(config), host=host, port=port)


def _speed(time_scale: float) -> str:
    if time_scale == 1:
        return "real time (time scale 1)"
    return (
        f"time scale {time_scale:g} (a 90 s task takes {90 * time_scale:g} s; --time-scale 1 for real time)"
    )


@sim.command("ledger")
@click.argument("url")
@click.option("--api-key", help="The simulator's key (default: found as `runner run` finds one).")
@click.option("--api-key-file", type=click.Path(path_type=Path, dir_okay=False), help="File holding the key.")
@click.option("--reset", is_flag=True, help="Clear the ledger (POST /_sim/reset) after printing it.")
def ledger_command(url: str, api_key: str | None, api_key_file: Path | None, reset: bool) -> None:
    """Print the ledger of a running simulator as JSON; URL is its base URL (…/api/v1).

    The key is --api-key, else the one `runner run` would send to URL: --api-key-file,
    DASHSCOPE_API_KEY, DASHSCOPE_API_KEY_FILE_PATH, else (on loopback) sk-sim-local.
    """
    if api_key is None:
        api_key = resolve_api_key(resolve_endpoint(url), api_key_file)
    root = url.rstrip("/").removesuffix("/api/v1")
    click.echo(json.dumps(_call(f"{root}/_sim/ledger", api_key, "GET"), indent=2))
    if reset:
        _call(f"{root}/_sim/reset", api_key, "POST")


def _call(url: str, api_key: str, method: str) -> Any:
    """One JSON request to the simulator's /_sim endpoints, errors as click errors."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(
            f"The simulator at {url} answered HTTP {exc.code}; check the URL, and that the key "
            f"(--api-key, --api-key-file, DASHSCOPE_API_KEY or {KEY_FILE_VARIABLE}, else "
            f"{DEFAULT_API_KEY}) is the one `runner sim serve --api-key` was given."
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(
            f"Cannot reach the simulator at {url} ({exc}); is `runner sim serve` running?"
        ) from exc


def _load(config_path: Path | None, profile: str | None) -> SimConfig:
    """The config from the file (if any); --profile replaces the file's `profile` key; with no
    `time_scale` in the file, the speed `runner run`'s embedded simulator has (simulator_time_scale)."""
    try:
        data: dict[str, Any] = {}
        if config_path is not None:
            loaded = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"Simulator config {config_path} must be a mapping of settings.")
            data = loaded
        if profile is not None:
            data["profile"] = profile
        data.setdefault("time_scale", simulator_time_scale(str(data.get("profile", "default"))))
        return SimConfig.from_mapping(data)
    except (ValueError, TypeError, yaml.YAMLError) as exc:
        raise click.UsageError(f"Cannot load the simulator config: {exc}") from exc


COMMANDS: list[click.Command] = [sim]
