"""Section 4: download throughput and memory, against raw httpx streaming of the same files.

For each video size, a `runner sim serve` (video_bytes = size) generates a few tasks; then
fresh processes, one per measurement, fetch the same video URLs from that loopback server
with 4 workers:

- runner: the download pool's own fetch (`runner.engine.downloads.fetch_video`: stream into a
  `VideoWriter`: `.part`, SHA-256, MP4 check, fsync, atomic rename), on the connection
  `runner run` opens (`runner.session.wiring.open_connection`, which reads in bulk), with the
  pool's workers: 4 transfers at once, each with a worker behind it finishing (fsync,
  rename) the video it streamed before;
- raw: `httpx.AsyncClient.stream` written straight to a file, nothing else, on asyncio's own
  event loop, as a user's script would run it;
- raw-fsync: the same, plus one fsync per file (the durability the pool promises);
- raw-verified: the pool's work written the plain way: SHA-256 of every byte, fsync, rename.

Then two sizes again with the server holding each download to LINK_MB_S (a real link, not
loopback), raw and the pool only: what a user fetching from OSS over the internet would see.

Each reports MB/s and its own peak RSS; the ratio runner/raw is the figure (target >= 0.8),
and the peak memory must not grow with the file size: at every size the pool's peak stays
within `buffer_bound_mb()` of raw's. The four
measurements take turns, REPEATS times, in a new order each turn: each rate is the median of
its turns, and each ratio the median of the ratios within a turn, so a slow spell of the
shared machine falls on both sides of it. Each turn begins with a probe of the disk (a 1 MiB
write and fsync, a few times), because what the disk takes to make a file durable swings
widely on a shared virtual machine.

    # one measurement:
    python -m bench.downloads worker runner|raw|raw-fsync|raw-verified URLS.json OUT_DIR
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from bench.processes import SIM_KEY, measure, peak_rss_kb, serve
from runner.core.endpoints import resolve_endpoint
from runner.engine.downloads import HELD_BYTES_PER_TRANSFER, WORKERS_PER_TRANSFER, fetch_video
from runner.outputs.videos import VideoWriter
from runner.session import SimOptions, open_connection

__all__ = ["run_section"]

WORKERS = 4
REPEATS = 9
LINK_MB_S = 25.0  #: per download, MB per real second: an assumed speed of OSS over the internet
LINK_REPEATS = 3
KINDS = ("raw", "raw-fsync", "raw-verified", "runner")
MB = 1024 * 1024


def _make_videos(url: str, count: int) -> list[str]:
    """Submit `count` tasks to the simulator and wait for their video URLs."""
    headers = {"Authorization": f"Bearer {SIM_KEY}", "X-DashScope-Async": "enable"}
    base = url + "/services/aigc/video-generation/video-synthesis"
    ids = []
    with httpx.Client(timeout=60) as http:
        for n in range(count):
            body = {
                "model": "wan2.6-i2v-flash",
                "input": {"prompt": f"download bench {n}", "img_url": f"https://img.example/d/{n}.png"},
                "parameters": {"resolution": "720P", "duration": 5},
            }
            reply = http.post(base, json=body, headers=headers)
            reply.raise_for_status()
            ids.append(reply.json()["output"]["task_id"])
        urls = []
        for task_id in ids:
            while True:
                output = http.get(f"{url}/tasks/{task_id}", headers=headers).json()["output"]
                if output["task_status"] == "SUCCEEDED":
                    urls.append(output["video_url"])
                    break
                time.sleep(0.05)
    return urls


async def _runner_fetch(urls: list[str], out: Path) -> None:
    """The pool's fetch, on the connection `runner run` opens for a loopback endpoint."""
    server = urlsplit(urls[0])
    endpoint = resolve_endpoint(f"{server.scheme}://{server.netloc}/api/v1")
    transfers = anyio.CapacityLimiter(WORKERS)
    async with open_connection(endpoint, SIM_KEY, SimOptions()) as connection:

        async def one(n: int, url: str) -> None:
            with VideoWriter(out, f"v{n}", None) as writer:
                await fetch_video(connection.client, writer, url, transfers)

        await _pooled(urls, one, WORKERS_PER_TRANSFER * WORKERS)


async def _plain_fetch(urls: list[str], out: Path, *, fsync: bool = False, verify: bool = False) -> None:
    """httpx streaming straight to a file. `fsync`: one fsync per file. `verify`: the rest of
    the pool's work, written the plain way: SHA-256 of every byte, a `.part` renamed into
    place, the directory fsync'd so the rename, too, survives a power cut."""
    async with httpx.AsyncClient(timeout=60) as http:

        async def one(n: int, url: str) -> None:
            final = out / f"v{n}.mp4"
            path = final.with_name(final.name + ".part") if verify else final
            digest = hashlib.sha256()
            async with http.stream("GET", url) as response:
                response.raise_for_status()
                with path.open("wb") as handle:
                    async for chunk in response.aiter_bytes():
                        handle.write(chunk)
                        if verify:
                            digest.update(chunk)
                    if fsync:
                        handle.flush()
                        os.fsync(handle.fileno())
            if verify:
                path.replace(final)
                directory = os.open(out, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)

        await _pooled(urls, one, WORKERS)


async def _pooled(urls: list[str], one: Any, workers: int) -> None:
    """Fetch every URL with `workers` concurrent workers."""
    send, receive = anyio.create_memory_object_stream[tuple[int, str]](len(urls))
    for item in enumerate(urls):
        send.send_nowait(item)
    send.close()

    async def worker() -> None:
        async for n, url in receive:
            await one(n, url)

    async with anyio.create_task_group() as group:
        for _ in range(workers):
            group.start_soon(worker)


def worker_main(kind: str, urls_file: Path, out: Path) -> None:
    """One measurement in this process: prints {"seconds", "bytes", "peak_mb"}."""
    urls = json.loads(urls_file.read_text())
    out.mkdir(parents=True, exist_ok=True)
    fetch = {
        "runner": _runner_fetch,
        "raw": _plain_fetch,
        "raw-fsync": partial(_plain_fetch, fsync=True),
        "raw-verified": partial(_plain_fetch, fsync=True, verify=True),
    }[kind]
    started = time.perf_counter()
    anyio.run(fetch, urls, out)
    seconds = time.perf_counter() - started
    total = sum(p.stat().st_size for p in out.rglob("*.mp4"))
    peak = peak_rss_kb() / 1024
    print(json.dumps({"seconds": seconds, "bytes": total, "peak_mb": peak}))


def _measure(kind: str, urls_file: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / kind
    run = measure([sys.executable, "-m", "bench.downloads", "worker", kind, str(urls_file), str(out)])
    if run.returncode != 0:
        raise RuntimeError(f"The {kind} download measurement failed: {run.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1]) | {"cpu_s": run.cpu_s}
    for path in out.rglob("*.mp4"):
        path.unlink()
    os.sync()  # settle the deletions before the next measurement, outside its timing
    return result


def _fsync_ms(directory: Path, files: int = 8) -> float:
    """The median time to write 1 MiB to a new file and fsync it, in ms: the disk's state now."""
    data = os.urandom(MB)
    times = []
    for n in range(files):
        path = directory / f"probe{n}"
        started = time.perf_counter()
        with path.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        times.append((time.perf_counter() - started) * 1000)
        path.unlink()
    return statistics.median(times)


def buffer_bound_mb() -> float:
    """The most received bytes the pool holds at once, whatever the video size, in MiB."""
    return WORKERS * HELD_BYTES_PER_TRANSFER / MB


def _one_size(size_mb: int, count: int, repeats: int, link_mb_s: float | None = None) -> dict[str, Any]:
    """Every kind at one video size, taking turns. `link_mb_s`: each download is held to that
    many MB per real second by the server (`download_bytes_per_s`), as over a real link; then
    only raw and the pool are measured, since the disk is no longer what they wait for."""
    time_scale = 0.001
    settings: dict[str, Any] = {
        "profile": "fast",
        "seed": 9,
        "video_bytes": size_mb * MB,
        "time_scale": time_scale,
        "url_ttl_s": 1e9,  # a day of URL validity is 86 s at this time scale: the turns outlast it
    }
    if link_mb_s is not None:
        settings["download_bytes_per_s"] = link_mb_s * MB * time_scale  # per simulated second
    kinds = KINDS if link_mb_s is None else ("raw", "runner")
    turns: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    probes = []
    with serve(settings) as sim, tempfile.TemporaryDirectory(prefix="bench-dl-") as tmp:
        urls_file = Path(tmp) / "urls.json"
        urls_file.write_text(json.dumps(_make_videos(sim.url, count)))
        for turn in range(repeats):
            probes.append(_fsync_ms(Path(tmp)))
            # A new order each turn: what one measurement leaves the disk doing (deleted
            # files, a journal to commit) falls on a different kind each time.
            for kind in random.Random(turn).sample(kinds, len(kinds)):
                turns[kind].append(_measure(kind, urls_file, Path(tmp)))
    rates = {kind: [t["bytes"] / MB / t["seconds"] for t in turns[kind]] for kind in kinds}
    rate = {kind: statistics.median(rates[kind]) for kind in kinds}
    cpu = {kind: statistics.median(t["cpu_s"] for t in turns[kind]) for kind in kinds}
    peak = {kind: max(t["peak_mb"] for t in turns[kind]) for kind in kinds}

    def ratio(baseline: str) -> float | None:
        if baseline not in rates:
            return None
        pairs = zip(rates["runner"], rates[baseline], strict=True)
        return statistics.median(ours / theirs for ours, theirs in pairs)

    return {
        "size_mb": size_mb,
        "files": count,
        "repeats": repeats,
        "link_mb_s": link_mb_s,
        "fsync_ms": statistics.median(probes),
        "fsync_ms_max": max(probes),
        "raw_mb_s": rate["raw"],
        "raw_fsync_mb_s": rate.get("raw-fsync"),
        "raw_verified_mb_s": rate.get("raw-verified"),
        "runner_mb_s": rate["runner"],
        "ratio": ratio("raw"),
        "ratio_fsync": ratio("raw-fsync"),
        "ratio_verified": ratio("raw-verified"),
        "raw_cpu_s": cpu["raw"],
        "runner_cpu_s": cpu["runner"],
        "raw_peak_mb": peak["raw"],
        "runner_peak_mb": peak["runner"],
        "buffer_bound_mb": buffer_bound_mb(),
    }


def run_section(smoke: bool) -> list[dict[str, Any]]:
    """1 MB to 200 MB videos (1 MB only when smoke); a Wan clip of 5-10 s is a few MB. Each
    measurement moves 256 MB or more, so that it lasts about a second, not a blink. Then the
    link rows: 1 MB and 20 MB held to LINK_MB_S per download (1 MB only when smoke)."""
    sizes = ((1, 4),) if smoke else ((1, 256), (5, 64), (20, 16), (200, 4))
    rows = [_one_size(size, count, 1 if smoke else REPEATS) for size, count in sizes]
    linked = ((1, 4),) if smoke else ((1, 64), (20, 8))
    rows += [_one_size(size, count, 1 if smoke else LINK_REPEATS, LINK_MB_S) for size, count in linked]
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "worker":
        worker_main(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        raise SystemExit(__doc__)
