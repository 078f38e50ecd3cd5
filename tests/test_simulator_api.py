"""Simulator endpoints: create, query shapes, cancel, list, downloads, ledger, reset."""

from __future__ import annotations

import hashlib
import re

import pytest
from sim_helpers import AUTH, CREATE, KF2V, body, open_sim

from runner.simulator import SimConfig, canonical_sha256

pytestmark = pytest.mark.anyio

_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def test_create_returns_pending_task_with_uuid_ids() -> None:
    """A valid create answers 200 with request_id, task_id (UUIDs) and PENDING."""
    async with open_sim() as h:
        response = await h.submit(body())
        data = response.json()
        assert response.status_code == 200
        assert _UUID.match(data["request_id"]) and _UUID.match(data["output"]["task_id"])
        assert data["output"]["task_status"] == "PENDING"


async def test_kf2v_models_use_the_image2video_path() -> None:
    """kf2v models are created on the image2video path and succeed with first_frame_url."""
    async with open_sim() as h:
        task_id = await h.submit_id(body("wan2.2-kf2v-flash"), path=KF2V)
        h.clock.advance(3600)
        assert await h.status(task_id) == "SUCCEEDED"


async def test_task_moves_pending_running_succeeded_with_times() -> None:
    """Status follows the clock; times appear as UTC+8 stamps as the task progresses."""
    async with open_sim(timing={"distribution": "fixed", "dispatch_delay_s": (1.0, 1.0)}) as h:
        task_id = await h.submit_id(body(resolution="720P", duration=5))
        first = (await h.query(task_id))["output"]
        assert first["task_status"] == "PENDING" and _STAMP.match(first["submit_time"])
        assert "scheduled_time" not in first
        h.clock.advance(2)
        running = (await h.query(task_id))["output"]
        assert running["task_status"] == "RUNNING" and "end_time" not in running
        h.clock.advance(100)
        done = await h.query(task_id)
        output = done["output"]
        assert output["task_status"] == "SUCCEEDED"
        assert all(_STAMP.match(output[k]) for k in ("submit_time", "scheduled_time", "end_time"))
        assert output["orig_prompt"] == "a cat surfing" and "actual_prompt" not in output
        assert output["video_url"].startswith("http://sim.local/_oss/videos/")
        assert done["usage"] == {
            "duration": 5,
            "input_video_duration": 0,
            "output_video_duration": 5,
            "video_count": 1,
            "SR": 720,
            "audio": True,
        }


async def test_submit_time_uses_epoch_and_utc_plus_8() -> None:
    """With epoch 0 the submit stamp is 1970-01-01 08:00:00.000 (UTC+8)."""
    async with open_sim(epoch=0.0) as h:
        task_id = await h.submit_id()
        assert (await h.query(task_id))["output"]["submit_time"] == "1970-01-01 08:00:00.000"


@pytest.mark.parametrize(
    ("model", "params", "usage"),
    [
        (
            "wan2.6-i2v",
            {"resolution": "1080P", "duration": 10},
            {
                "duration": 10,
                "input_video_duration": 0,
                "output_video_duration": 10,
                "video_count": 1,
                "SR": 1080,
            },
        ),
        ("wan2.5-i2v-preview", {"resolution": "480P"}, {"duration": 5, "SR": 480, "video_count": 1}),
        ("wan2.2-i2v-flash", {}, {"duration": 5, "SR": 720, "video_count": 1}),
        (
            "wanx2.1-i2v-turbo",
            {"duration": 3},
            {"video_duration": 3, "video_ratio": "standard", "video_count": 1},
        ),
    ],
)
async def test_usage_is_shaped_by_model_family(
    model: str, params: dict[str, object], usage: dict[str, object]
) -> None:
    """usage carries the fields of the model's family (docs/dashscope-api.md)."""
    async with open_sim() as h:
        task_id = await h.submit_id(body(model, **params))
        h.clock.advance(7200)
        assert (await h.query(task_id))["usage"] == usage


async def test_actual_prompt_only_for_older_models_with_prompt_extend() -> None:
    """actual_prompt appears for wan2.2 with prompt_extend, not with prompt_extend=false."""
    async with open_sim() as h:
        extended = await h.submit_id(body("wan2.2-i2v-plus"))
        plain = await h.submit_id(body("wan2.2-i2v-plus", prompt="a dog", prompt_extend=False))
        h.clock.advance(7200)
        assert "actual_prompt" in (await h.query(extended))["output"]
        assert "actual_prompt" not in (await h.query(plain))["output"]


async def test_unknown_task_id_is_unknown_with_http_200() -> None:
    """A task id that never existed answers HTTP 200 with task_status UNKNOWN."""
    async with open_sim() as h:
        output = (await h.query("00000000-0000-4000-8000-000000000000"))["output"]
        assert output == {"task_id": "00000000-0000-4000-8000-000000000000", "task_status": "UNKNOWN"}


async def test_cancel_pending_task_then_canceled() -> None:
    """Cancel of a PENDING task answers 200 with a request id and the task is CANCELED."""
    async with open_sim(timing={"dispatch_delay_s": (5.0, 5.0)}) as h:
        task_id = await h.submit_id()
        response = await h.client.post(f"/tasks/{task_id}/cancel", headers=AUTH)
        assert response.status_code == 200 and set(response.json()) == {"request_id"}
        h.clock.advance(3600)
        output = (await h.query(task_id))["output"]
        assert output["task_status"] == "CANCELED" and "end_time" in output


@pytest.mark.parametrize("when", ["running", "succeeded", "unknown", "canceled"])
async def test_cancel_outside_pending_is_unsupported_operation(when: str) -> None:
    """Cancel of a RUNNING, finished, unknown or already canceled task is 400 UnsupportedOperation."""
    async with open_sim() as h:
        task_id = await h.submit_id()
        if when == "running":
            h.clock.advance(3)
        elif when == "succeeded":
            h.clock.advance(7200)
        elif when == "unknown":
            task_id = "00000000-0000-4000-8000-000000000000"
        else:
            await h.client.post(f"/tasks/{task_id}/cancel", headers=AUTH)
        response = await h.client.post(f"/tasks/{task_id}/cancel", headers=AUTH)
        assert response.status_code == 400
        assert response.json()["code"] == "UnsupportedOperation"


async def test_cancel_unknown_can_be_not_found() -> None:
    """With cancel_unknown=not_found, canceling an unknown id is 404 NotFound."""
    async with open_sim(cancel_unknown="not_found") as h:
        response = await h.client.post("/tasks/nope/cancel", headers=AUTH)
        assert response.status_code == 404 and response.json()["code"] == "NotFound"


@pytest.mark.parametrize("path", ["/tasks", "/tasks/"])
async def test_list_with_and_without_trailing_slash(path: str) -> None:
    """The list answers on both paths with the documented flat shape."""
    async with open_sim() as h:
        task_id = await h.submit_id()
        response = await h.client.get(path, headers=AUTH)
        data = response.json()
        assert response.status_code == 200
        assert {"request_id", "total", "total_page", "page_no", "page_size", "data"} <= set(data)
        row = data["data"][0]
        assert row["task_id"] == task_id and row["status"] == "PENDING"
        assert row["model_name"] == "wan2.6-i2v-flash" and isinstance(row["gmt_create"], int)


async def test_list_filters_and_pages() -> None:
    """model_name, status, task_id filter the list; page_no/page_size page it."""
    async with open_sim(timing={"distribution": "fixed"}) as h:
        ids = [await h.submit_id(body(prompt=f"p{i}")) for i in range(3)]
        h.clock.advance(1.0)
        other = await h.submit_id(body("wan2.2-i2v-flash"))
        listing = (await h.client.get("/tasks?model_name=wan2.6-i2v-flash", headers=AUTH)).json()
        assert listing["total"] == 3
        one = (await h.client.get(f"/tasks?task_id={other}", headers=AUTH)).json()
        assert [r["task_id"] for r in one["data"]] == [other]
        page = (await h.client.get("/tasks?page_no=2&page_size=2", headers=AUTH)).json()
        assert page["total"] == 4 and page["total_page"] == 2 and len(page["data"]) == 2
        h.clock.advance(7200)
        done = (await h.client.get("/tasks?status=SUCCEEDED", headers=AUTH)).json()
        assert {r["task_id"] for r in done["data"]} == {*ids, other}
        assert all("end_time" in r and "start_time" in r for r in done["data"])


async def test_list_time_window_filters_and_caps_at_24_hours() -> None:
    """start_time/end_time (UTC+8 compact) select by creation; a window over 24 h is refused."""
    async with open_sim(epoch=0.0) as h:
        await h.submit_id()
        hit = await h.client.get("/tasks?start_time=19700101080000", headers=AUTH)
        miss = await h.client.get("/tasks?start_time=19700101090000", headers=AUTH)
        wide = await h.client.get("/tasks?start_time=19700101080000&end_time=19700103080000", headers=AUTH)
        assert hit.json()["total"] == 1 and miss.json()["total"] == 0
        assert wide.status_code == 400 and wide.json()["code"] == "InvalidParameter"


async def test_video_download_is_a_real_mp4_with_length_and_ledger_hash() -> None:
    """The video_url serves an MP4 with Content-Length whose sha256 the ledger records."""
    async with open_sim(video_bytes=100_000) as h:
        task_id = await h.submit_id()
        h.clock.advance(7200)
        url = (await h.query(task_id))["output"]["video_url"]
        response = await h.client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/mp4"
        assert int(response.headers["content-length"]) == len(response.content) == 100_000
        assert response.content[4:8] == b"ftyp" and task_id.encode() in response.content
        entry = h.sim.ledger()["submissions"][0]
        assert entry["video_sha256"] == hashlib.sha256(response.content).hexdigest()
        again = await h.client.get(url)
        assert again.content == response.content


async def test_video_range_request_returns_partial_content() -> None:
    """A Range request gets 206 with Content-Range and exactly those bytes."""
    async with open_sim() as h:
        task_id = await h.submit_id()
        h.clock.advance(7200)
        url = (await h.query(task_id))["output"]["video_url"]
        full = (await h.client.get(url)).content
        part = await h.client.get(url, headers={"Range": "bytes=100-"})
        assert part.status_code == 206 and part.content == full[100:]
        assert part.headers["content-range"] == f"bytes 100-{len(full) - 1}/{len(full)}"


async def test_a_download_takes_its_size_over_the_link_speed_when_one_is_set() -> None:
    """download_bytes_per_s paces each download, whole or ranged, in simulated seconds."""
    async with open_sim(video_bytes=1_000_000, download_bytes_per_s=250_000.0) as h:
        task_id = await h.submit_id()
        h.clock.advance(7200)
        url = (await h.query(task_id))["output"]["video_url"]
        before = h.clock.now()
        whole = await h.client.get(url)
        assert len(whole.content) == 1_000_000
        assert h.clock.now() - before == pytest.approx(4.0)
        before = h.clock.now()
        part = await h.client.get(url, headers={"Range": "bytes=500000-"})
        assert part.content == whole.content[500_000:]
        assert h.clock.now() - before == pytest.approx(2.0)


async def test_a_link_speed_that_is_not_positive_is_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match=r"download_bytes_per_s must be a positive .* got 0"):
        SimConfig.from_mapping({"download_bytes_per_s": 0})


async def test_bad_signature_is_refused_like_oss() -> None:
    """A tampered signature gets 403 SignatureDoesNotMatch in an XML body."""
    async with open_sim() as h:
        task_id = await h.submit_id()
        h.clock.advance(7200)
        url = (await h.query(task_id))["output"]["video_url"]
        response = await h.client.get(url.replace("Signature=", "Signature=x"))
        assert response.status_code == 403
        assert "<Code>SignatureDoesNotMatch</Code>" in response.text


async def test_ledger_records_submissions_counts_and_duplicates() -> None:
    """The ledger lists each submission with its canonical body hash and counts duplicates."""
    async with open_sim() as h:
        payload = body()
        await h.submit_id(payload)
        await h.submit_id(payload)
        await h.client.get("/tasks/nope", headers=AUTH)
        response = await h.client.get("http://sim.local/_sim/ledger", headers=AUTH)
        ledger = response.json()
        assert response.status_code == 200
        assert [s["request_sha256"] for s in ledger["submissions"]] == [canonical_sha256(payload)] * 2
        assert ledger["duplicate_bodies"] == 1
        assert ledger["requests"]["create"] == {"200": 2} and ledger["requests"]["query"] == {"200": 1}
        assert ledger["submissions"][0]["submit_time"] == 0.0
        assert h.sim.ledger()["submissions"] == ledger["submissions"]


async def test_ledger_peak_per_second_counts_the_busiest_second_of_each_endpoint() -> None:
    """Three queries and a list within one simulated second, then one more a second later: the
    task endpoints' peak is 4 (a sliding window), each endpoint's its own; creates apart."""
    async with open_sim() as h:
        task_id = await h.submit_id()
        for _ in range(3):
            await h.client.get(f"/tasks/{task_id}", headers=AUTH)
            h.clock.advance(0.2)
        await h.client.get("/tasks", headers=AUTH)
        h.clock.advance(1.0)
        await h.client.get(f"/tasks/{task_id}", headers=AUTH)
        peaks = h.sim.ledger()["peak_per_second"]
        assert peaks == {"create": 1, "list": 1, "query": 3, "tasks": 4}


async def test_ledger_needs_the_api_key_and_reset_clears_it() -> None:
    """/_sim endpoints need the key; POST /_sim/reset forgets every task."""
    async with open_sim() as h:
        task_id = await h.submit_id()
        assert (await h.client.get("http://sim.local/_sim/ledger")).status_code == 401
        assert (await h.client.post("http://sim.local/_sim/reset", headers=AUTH)).status_code == 200
        assert h.sim.ledger()["submissions"] == []
        assert await h.status(task_id) == "UNKNOWN"
        assert await h.submit_id() != task_id


async def test_unknown_route_answers_json_404() -> None:
    """A path the API does not have gets a JSON error body, not HTML."""
    async with open_sim() as h:
        response = await h.client.get("/nothing/here", headers=AUTH)
        assert response.status_code == 404 and response.json()["code"] == "NotFound"


async def test_create_path_is_only_post() -> None:
    """GET on the create path is 405 with a JSON body."""
    async with open_sim() as h:
        response = await h.client.get(CREATE, headers=AUTH)
        assert response.status_code == 405 and "code" in response.json()
