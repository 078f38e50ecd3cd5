"""The simulator over a real loopback socket: large streamed videos and real connection drops."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket

import httpx
import pytest
from click.testing import CliRunner
from sim_helpers import AUTH, HEADERS, body

from runner.cli.sim import sim
from runner.simulator import ManualClock, SimConfig, create_app
from runner.simulator.server import bind, serve_in_thread

pytestmark = pytest.mark.slow

_CREATE = "/services/aigc/video-generation/video-synthesis"


def _finished_video_url(client: httpx.Client, clock: ManualClock) -> str:
    response = client.post(_CREATE, json=body(), headers=HEADERS)
    task_id = response.json()["output"]["task_id"]
    clock.advance(7200)
    return str(client.get(f"/tasks/{task_id}", headers=AUTH).json()["output"]["video_url"])


def test_large_video_streams_with_length_and_matching_hash() -> None:
    """A 64 MB video streams over loopback with Content-Length and the ledger's sha256."""
    clock = ManualClock()
    app = create_app(SimConfig(seed=2, video_bytes=64 * 1024 * 1024), clock=clock)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        video_url = _finished_video_url(client, clock)
        assert video_url.startswith(url.removesuffix("/api/v1"))
        head = client.head(video_url)
        assert int(head.headers["content-length"]) == 64 * 1024 * 1024
        digest, size = hashlib.sha256(), 0
        with client.stream("GET", video_url) as response:
            assert int(response.headers["content-length"]) == 64 * 1024 * 1024
            for chunk in response.iter_bytes():
                digest.update(chunk)
                size += len(chunk)
        entry = app.state.simulator.ledger()["submissions"][0]
        assert (size, digest.hexdigest()) == (entry["video_bytes"], entry["video_sha256"])


def test_drops_and_truncation_are_transport_errors_over_a_socket() -> None:
    """Over a real socket a dropped create, a lost reply and a cut download are transport errors."""
    faults = {
        "script": [
            {"endpoint": "create", "nth": 1, "kind": "drop"},
            {"endpoint": "create", "nth": 2, "kind": "lost_reply"},
            {"endpoint": "download", "nth": 1, "kind": "truncate"},
            {"endpoint": "download", "nth": 2, "kind": "reset"},
        ]
    }
    clock = ManualClock()
    app = create_app(SimConfig.profile("default", seed=2, faults=faults), clock=clock)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                client.post(_CREATE, json=body(), headers=HEADERS)
        assert len(app.state.simulator.ledger()["submissions"]) == 1
        video_url = _finished_video_url(client, clock)
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                client.get(video_url)
        assert client.get(video_url).status_code == 200


def test_cli_ledger_prints_and_resets_a_running_simulator() -> None:
    """`runner sim ledger URL --reset` prints the ledger JSON, then clears it."""
    app = create_app(SimConfig(seed=2), clock=ManualClock())
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        client.post(_CREATE, json=body(), headers=HEADERS)
        result = CliRunner().invoke(sim, ["ledger", url, "--reset"])
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.output)["submissions"]) == 1
        assert app.state.simulator.ledger()["submissions"] == []
        wrong = CliRunner().invoke(sim, ["ledger", url, "--api-key", "sk-nope"])
        assert wrong.exit_code == 1 and "HTTP 401" in wrong.output


def test_connections_to_the_bound_socket_send_without_nagle_delay() -> None:
    """asyncio (and so uvicorn) turns Nagle's algorithm off only on sockets that say they are
    TCP; with it on, every small response waited 40 ms for the client's delayed ACK."""

    async def nodelay_of_an_accepted_connection() -> int:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[int] = loop.create_future()

        class Record(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        listening = bind("127.0.0.1", 0)
        server = await loop.create_server(Record, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            result = await asyncio.wait_for(accepted, 10)
            writer.close()
        return result

    assert asyncio.run(nodelay_of_an_accepted_connection()) != 0
