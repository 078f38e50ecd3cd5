"""Billing that follows each family (input video seconds, first clips, special durations), the
plan showing it, workspace domains of every region, and the workspace header."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from factories import spec

from runner.api.client import DashScopeClient
from runner.api.wire import ResolvedInputs
from runner.cli import main
from runner.core import ConfigError, ManifestError, MediaItem, MediaRef, billed_seconds, get_model
from runner.core.costs import actual_cost
from runner.core.endpoints import ENDPOINTS, resolve_endpoint
from runner.manifest import load_manifest

EXAMPLES = Path(__file__).resolve().parents[1] / "manifests"


def _video(seconds: float | None, url: str | None = None) -> MediaRef:
    if url is not None:
        return MediaRef("video", url=url)
    return MediaRef(
        "video", path="/clips/a.mp4", sha256="0" * 64, size=1000, mime="video/mp4", seconds=seconds
    )


def _billed(model: str, duration: int, *items: tuple[str, MediaRef]) -> float:
    media = tuple(MediaItem(role, ref) for role, ref in items)
    task = spec("t", model=model, media=media, duration=duration)
    info = get_model(model)
    assert info is not None
    return billed_seconds(task, info)


def test_input_video_seconds_are_billed_where_the_family_bills_them() -> None:
    four = _video(4.0)
    assert _billed("wan2.7-r2v", 5, ("reference_video", four)) == 9  # input capped at 5 s
    assert _billed("wan2.7-r2v", 5, ("reference_video", four), ("reference_video", four)) == 10
    assert _billed("wan2.6-r2v", 5, ("reference_video", _video(7.5))) == 10
    assert _billed("wan2.7-videoedit", 0, ("video", four)) == 8  # 0: as long as the input, both billed
    assert _billed("wan2.7-videoedit", 6, ("video", four)) == 10
    assert _billed("wan3.0-video", 5, ("reference_video", four), ("reference_video", _video(3.0))) == 12
    assert _billed("wan2.7-i2v", 8, ("first_clip", four)) == 8  # the whole duration, clip included
    assert _billed("wan2.7-i2v", 5) == 5


def test_unknown_lengths_are_reserved_at_their_longest() -> None:
    """A remote video's length is unknown before the run: the reservation assumes the longest."""
    remote = _video(None, url="https://cdn.example/a.mp4")
    assert _billed("wan2.7-videoedit", 0, ("video", remote)) == 20  # 10 s in + 10 s out
    assert _billed("wan2.7-r2v", 5, ("reference_video", remote)) == 10
    assert _billed("wan3.0-video", -1) == 30  # the model chooses, up to 30 s


def test_the_bill_follows_usage_floats() -> None:
    task = spec("t", model="wan2.7-r2v", media=(MediaItem("reference_video", _video(4.0)),), duration=5)
    usage = {"duration": 9.0, "input_video_duration": 4.0, "output_video_duration": 5.0, "SR": 720}
    assert actual_cost(task, usage, ENDPOINTS["singapore"]) == pytest.approx(0.9)


def test_plan_shows_billed_seconds(tmp_path: Path) -> None:
    for name in ("images", "clips"):
        shutil.copytree(EXAMPLES / name, tmp_path / name)
    shutil.copyfile(EXAMPLES / "videoedit.yaml", tmp_path / "videoedit.yaml")
    result = CliRunner().invoke(main, ["plan", str(tmp_path / "videoedit.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    (line,) = json.loads(result.output)["cost"]["by_model_resolution"]
    assert (line["model"], line["tasks"], line["seconds"]) == (
        "wan2.7-videoedit",
        2,
        16,
    )  # 2 × (4 s in + 4 s out)
    assert line["cost"] == pytest.approx(1.6)


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("ws-a1.ap-southeast-1.maas.aliyuncs.com", "singapore"),
        ("ws-a1.cn-beijing.maas.aliyuncs.com", "beijing"),
        ("ws-a1.us-east-1.maas.aliyuncs.com", "virginia"),
        ("ws-a1.eu-central-1.maas.aliyuncs.com", "frankfurt"),
        ("ws-a1.ap-northeast-1.maas.aliyuncs.com", "tokyo"),
    ],
)
def test_workspace_domains_give_their_region(host: str, region: str) -> None:
    endpoint = resolve_endpoint(f"https://{host}/api/v1")
    assert (endpoint.name, endpoint.price_region, endpoint.workspace_header) == (region, region, None)
    assert endpoint.currency == ("CNY" if region == "beijing" else "USD")


def test_a_workspace_builds_its_domain_or_travels_in_a_header() -> None:
    built = resolve_endpoint({"region": "frankfurt", "workspace": "ws-9"})
    assert built.base_url == "https://ws-9.eu-central-1.maas.aliyuncs.com/api/v1"
    assert built.workspace_header is None  # the host names it already
    shared = resolve_endpoint({"url": "https://dashscope-intl.aliyuncs.com", "workspace": "ws-9"})
    assert (shared.name, shared.workspace_header) == ("singapore", "ws-9")
    with pytest.raises(ConfigError, match="tokyo has no shared domain"):
        resolve_endpoint("tokyo")


@pytest.mark.anyio
@pytest.mark.parametrize("workspace", [None, "ws-9"])
async def test_the_workspace_header_is_sent_when_named(workspace: str | None) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"output": {"task_id": "t-1", "task_status": "PENDING"}})

    http = httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="https://dashscope-intl.aliyuncs.com/api/v1"
    )
    async with http:
        client = DashScopeClient(http, "sk-test", workspace=workspace)
        await client.submit(spec("a"), ResolvedInputs.first_frame("https://img.example/a.png"))
    assert seen[0].headers.get("X-DashScope-WorkSpace") == workspace


def test_a_manifest_names_its_workspace_and_models_are_checked_for_its_region(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            endpoint: {region: frankfurt, workspace: ws-9}
            tasks:
              - {model: wan3.0-video, prompt: a lighthouse}
              - {model: wan2.7-t2v, prompt: a lighthouse}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    (problem,) = caught.value.problems
    assert str(problem).endswith(
        "model: wan2.7-t2v is not offered in the frankfurt region (only in beijing, singapore)."
    )
