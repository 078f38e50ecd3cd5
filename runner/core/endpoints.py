"""Where requests go: DashScope's regions, their shared and workspace domains, the simulator.

A region's shared domain (`dashscope-intl.aliyuncs.com`) and its workspace domains
(`{WorkspaceId}.ap-southeast-1.maas.aliyuncs.com`, the ones Alibaba now recommends; the
only ones in Frankfurt and Tokyo) reach the same account: either kind of host gives the
region, and with it prices, currency and which models exist. A workspace named for a
shared domain travels in the `X-DashScope-WorkSpace` header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from runner.core.errors import ConfigError

__all__ = ["ENDPOINTS", "REGIONS", "SIM_API_KEY", "Endpoint", "Region", "resolve_endpoint"]

SIM_API_KEY: Final = "sk-sim-local"  #: the key the built-in simulator accepts
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_WORKSPACE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_WORKSPACE_HOST: Final = re.compile(
    r"(?P<ws>[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.(?P<region>[a-z0-9-]+)\.maas\.aliyuncs\.com"
)


@dataclass(frozen=True, slots=True)
class Region:
    """One DashScope region: its id, its shared domain (if it has one), its currency."""

    name: str
    region_id: str
    shared_host: str | None
    currency: str


REGIONS: Final = MappingProxyType(
    {
        "beijing": Region("beijing", "cn-beijing", "dashscope.aliyuncs.com", "CNY"),
        "singapore": Region("singapore", "ap-southeast-1", "dashscope-intl.aliyuncs.com", "USD"),
        "virginia": Region("virginia", "us-east-1", "dashscope-us.aliyuncs.com", "USD"),
        "frankfurt": Region("frankfurt", "eu-central-1", None, "USD"),
        "tokyo": Region("tokyo", "ap-northeast-1", None, "USD"),
    }
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests go and how cost is counted there."""

    name: str  #: a region's name, "sim", or "custom" (a host runner does not know)
    base_url: str  #: ends in /api/v1; "sim" means the in-process simulator
    price_region: str  #: which price column applies
    currency: str
    workspace: str | None = None  #: sent as X-DashScope-WorkSpace

    @property
    def is_simulator(self) -> bool:
        return self.name == "sim"

    @property
    def workspace_header(self) -> str | None:
        """The workspace to name in a header: only for a host that does not already carry it."""
        host = urlsplit(self.base_url).hostname or ""
        return None if _WORKSPACE_HOST.fullmatch(host) else self.workspace

    @property
    def identity(self) -> str:
        """Which service's tasks this endpoint reaches: the region's name (shared or workspace
        domain alike), `sim` for the built-in simulator, `loopback` for any local server (a
        `runner sim serve` changes port), or the host of another base URL."""
        if self.name != "custom":
            return self.name
        host = urlsplit(self.base_url).hostname or ""
        return "loopback" if _is_loopback(host) else host


def _shared(region: Region) -> Endpoint:
    return Endpoint(region.name, f"https://{region.shared_host}/api/v1", region.name, region.currency)


ENDPOINTS: Final = MappingProxyType(
    {
        "sim": Endpoint("sim", "http://sim.local/api/v1", "singapore", "USD"),
        **{name: _shared(region) for name, region in REGIONS.items() if region.shared_host},
    }
)


def resolve_endpoint(value: str | Mapping[str, object] | None) -> Endpoint:
    """An endpoint named as a region, a base URL, or `{region|url: …, workspace: …}`.

    Plain http is allowed only on loopback; a region without a shared domain needs a workspace."""
    if isinstance(value, Mapping):
        return _from_mapping(value)
    name = (value or "sim").strip()
    if name in ENDPOINTS:
        return ENDPOINTS[name]
    if name in REGIONS:
        raise ConfigError(_needs_workspace(name))
    return _from_url(name)


def _from_mapping(value: Mapping[str, object]) -> Endpoint:
    unknown = sorted(set(value) - {"region", "url", "workspace"})
    if unknown:
        raise ConfigError(f"The endpoint mapping takes region, url and workspace, not {', '.join(unknown)}.")
    workspace = value.get("workspace")
    if workspace is not None and not (isinstance(workspace, str) and _WORKSPACE_ID.fullmatch(workspace)):
        raise ConfigError(
            f"The workspace id {workspace!r} is not one: letters, digits, '_' or '-', up to 64."
        )
    url, region_name = value.get("url"), value.get("region")
    if url is not None:
        return _from_url(str(url), workspace)
    if not isinstance(region_name, str) or region_name not in REGIONS:
        raise ConfigError(f"The endpoint region must be one of {', '.join(REGIONS)}, got {region_name!r}.")
    region = REGIONS[region_name]
    if workspace is None:
        if region.shared_host is None:
            raise ConfigError(_needs_workspace(region.name))
        return _shared(region)
    base = f"https://{workspace}.{region.region_id}.maas.aliyuncs.com/api/v1"
    return Endpoint(region.name, base, region.name, region.currency, workspace)


def _from_url(name: str, workspace: object = None) -> Endpoint:
    parts = urlsplit(name)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        known = ", ".join(["sim", *REGIONS])
        raise ConfigError(f"Endpoint {name!r} is neither a known region ({known}) nor an http(s) URL.")
    host = parts.hostname
    if parts.scheme == "http" and not _is_loopback(host):
        msg = (
            f"Endpoint {name!r} uses plain http to a non-loopback host; the API key would travel "
            "unencrypted. Use https, or http only for 127.0.0.1/localhost (e.g. `runner sim serve`)."
        )
        raise ConfigError(msg)
    base = name.rstrip("/")
    if not base.endswith("/api/v1"):
        base += "/api/v1"
    ws = str(workspace) if workspace is not None else None
    region = _region_of(host)
    if region is None:
        return Endpoint("custom", base, "singapore", "USD", ws)
    return Endpoint(region.name, base, region.name, region.currency, ws)


def _region_of(host: str) -> Region | None:
    """The region a DashScope host serves: its shared domain or a workspace domain."""
    for region in REGIONS.values():
        if host == region.shared_host:
            return region
    match = _WORKSPACE_HOST.fullmatch(host)
    if match is not None:
        return next((r for r in REGIONS.values() if r.region_id == match["region"]), None)
    return None


def _needs_workspace(region: str) -> str:
    return (
        f"{region} has no shared domain: name your workspace, as `endpoint: {{region: {region}, "
        f"workspace: <WorkspaceId>}}` in the manifest, or its URL "
        f"(https://<WorkspaceId>.{REGIONS[region].region_id}.maas.aliyuncs.com/api/v1)."
    )


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.")
