"""Connecting a run or `runner cancel` to an API: the key, the HTTP client, the embedded simulator.

The API key comes from DASHSCOPE_API_KEY or `--api-key-file`; the simulator (`sim`, or a
loopback URL such as `runner sim serve` prints, when no key is given) uses the key it
accepts by default. The key goes into the client and nowhere else (runner.cli.logs
redacts it, and URL query strings, from every log line, `--verbose` HTTP logs included).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx

from runner.api import DashScopeClient
from runner.core import SIM_API_KEY, ConfigError, Endpoint

__all__ = [
    "BASE_URL_VARIABLE",
    "DEFAULT_SIM_TIME_SCALE",
    "KEY_FILE_VARIABLE",
    "SIM_MEMORY_NAME",
    "Connection",
    "SimOptions",
    "checked_key",
    "open_connection",
    "resolve_api_key",
    "simulator_time_scale",
]

DEFAULT_SIM_TIME_SCALE: Final = 0.05  #: the demo's 90 s tasks take 4.5 s
SIM_MEMORY_NAME: Final = "simulator.jsonl"  #: in the run folder: the built-in simulator's tasks
_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
_LOOPBACK: Final = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class SimOptions:
    """Settings of the in-process simulator (`endpoint: sim`)."""

    profile: str = "default"
    time_scale: float = DEFAULT_SIM_TIME_SCALE
    seed: int | None = None
    memory: Path | None = None  #: where it keeps its tasks for the next run (runner.simulator.memory)


@dataclass(frozen=True, slots=True)
class Connection:
    """A ready client plus what the engine must know about the server's clock."""

    client: DashScopeClient
    time_scale: float  #: real seconds per server second (known only for the embedded simulator)
    learn_clock: bool  #: a loopback server may be a compressed simulator: learn its clock rate
    forgets_tasks: bool = False  #: an embedded simulator that did not take up the last run's tasks


def simulator_time_scale(profile: str, chosen: float | None = None) -> float:
    """The simulator's speed, the same for `runner run`'s embedded one and `runner sim serve`:
    the one chosen, else the profile's own (`fast`: 0.001), else DEFAULT_SIM_TIME_SCALE."""
    from runner.simulator import PROFILES

    if chosen is not None:
        return chosen
    return float(PROFILES.get(profile, {}).get("time_scale", DEFAULT_SIM_TIME_SCALE))


def is_loopback(endpoint: Endpoint) -> bool:
    host = urlsplit(endpoint.base_url).hostname or ""
    return host in _LOOPBACK or host.startswith("127.")


KEY_FILE_VARIABLE: Final = "DASHSCOPE_API_KEY_FILE_PATH"  #: the official SDK's key file variable
BASE_URL_VARIABLE: Final = "DASHSCOPE_HTTP_BASE_URL"  #: the official SDK's base URL variable


def resolve_api_key(endpoint: Endpoint, key_file: Path | None, env: str = "DASHSCOPE_API_KEY") -> str:
    """The API key for `endpoint`, from `key_file` or else the variable `env`, checked to be one
    word of ASCII; or ConfigError saying how to provide one (or try the simulator). The key
    itself never appears in a message."""
    if endpoint.is_simulator:
        return SIM_API_KEY
    if key_file is not None:
        return _key_from_file(key_file)
    key = os.environ.get(env, "")
    if key.strip():
        return checked_key(key, env)
    sdk_file = os.environ.get(KEY_FILE_VARIABLE, "") if env == "DASHSCOPE_API_KEY" else ""
    if sdk_file.strip():  # as the official SDK reads it
        return _key_from_file(Path(sdk_file.strip()).expanduser())
    if is_loopback(endpoint):
        return SIM_API_KEY
    msg = (
        f"No API key for the {endpoint.name} endpoint ({endpoint.base_url}): set {env} "
        f"(or {KEY_FILE_VARIABLE}), or pass --api-key-file. To try runner without an account, "
        "use --endpoint sim."
    )
    raise ConfigError(msg)


def _key_from_file(key_file: Path) -> str:
    try:
        text = key_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"The API key file {key_file} cannot be read ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"The API key file {key_file} is not UTF-8 text; put the key alone in it."
        ) from None
    return checked_key(text, f"the API key file {key_file}")


def checked_key(text: str, source: str) -> str:
    """`text` without surrounding whitespace, if it can be a key; else ConfigError naming the
    first character that cannot be in one (by position, never showing the key)."""
    key = text.strip()
    if not key:
        raise ConfigError(f"{_capitalised(source)} is empty.")
    lines = key.splitlines()
    bad = next(
        ((i, c) for i, c in enumerate(key, 1) if not (c.isascii() and c.isprintable()) or c.isspace()), None
    )
    if len(lines) > 1:
        problem = f"spans {len(lines)} lines"
    elif bad is not None:
        problem = f"contains {_describe(bad[1])} at character {bad[0]} of {len(key)}"
    else:
        return key
    msg = (
        f"The API key in {source} {problem}: a DashScope key is one word of ASCII letters, digits "
        "and dashes (it starts with sk-). Put the key alone on one line, with nothing else "
        "(no comment, no quotes)."
    )
    raise ConfigError(msg)


def _describe(char: str) -> str:
    if char.isspace():
        return "a space" if char == " " else "a blank character"
    if not char.isprintable():
        return f"a control character (U+{ord(char):04X})"
    return f"a non-ASCII character (U+{ord(char):04X})"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


@asynccontextmanager
async def open_connection(endpoint: Endpoint, api_key: str, sim: SimOptions) -> AsyncIterator[Connection]:
    """An httpx client for the endpoint: for `sim`, an ASGI transport into the built-in
    simulator, which takes up the tasks its memory file kept from the last process."""
    if endpoint.is_simulator:
        from runner.simulator import SimConfig, TaskMemory, create_app

        try:
            config = SimConfig.profile(sim.profile, time_scale=sim.time_scale, seed=sim.seed)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        memory = TaskMemory(sim.memory) if sim.memory is not None else None
        app = create_app(config, memory=memory)
        forgets = app.state.simulator.remembered == 0
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=endpoint.base_url) as http:
                client = DashScopeClient(http, api_key)
                yield Connection(client, sim.time_scale, learn_clock=False, forgets_tasks=forgets)
        finally:
            if memory is not None:
                memory.close()
        return
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=endpoint.base_url, timeout=_TIMEOUT, limits=limits) as http:
        client = DashScopeClient(http, api_key, workspace=endpoint.workspace_header)
        yield Connection(client, 1.0, learn_clock=is_loopback(endpoint))
