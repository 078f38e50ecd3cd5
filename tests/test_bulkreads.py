"""Bulk reads: a client's connections take what the socket holds, up to 1 MiB a read."""

from __future__ import annotations

import socket

import anyio
import httpx
import pytest
from anyio.abc import SocketStream

from runner.bulkreads import BULK_READ_BYTES, read_in_bulk

pytestmark = pytest.mark.anyio

BODY = 2 * 1024 * 1024
HTTPCORE_READ = 64 * 1024  #: what httpcore asks for per read by default
#: room for the whole body on the client's side, so it is all there before the first read
ROOMY = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)]


async def _chunk_sizes(bulk: bool) -> list[int]:
    """GET a 2 MiB body from a loopback server that has sent all of it before the client reads."""
    sent = anyio.Event()

    async def serve(stream: SocketStream) -> None:
        async with stream:
            await stream.receive()  # the request head
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\n\r\n".encode()
            await stream.send(head + b"\0" * BODY)
            sent.set()
            await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        transport = httpx.AsyncHTTPTransport(socket_options=ROOMY)
        async with httpx.AsyncClient(transport=transport) as client:
            if bulk:
                assert read_in_bulk(client)
            async with client.stream("GET", f"http://127.0.0.1:{port}/video.mp4") as response:
                await sent.wait()
                sizes = [len(chunk) async for chunk in response.aiter_raw()]
        group.cancel_scope.cancel()
    assert sum(sizes) == BODY
    return sizes


async def test_a_bulk_client_takes_more_than_64_kib_per_read() -> None:
    """With the body already waiting in the socket, reads return up to 1 MiB, not 64 KiB."""
    sizes = await _chunk_sizes(bulk=True)
    assert max(sizes) > HTTPCORE_READ
    assert max(sizes) <= BULK_READ_BYTES
    assert len(sizes) < BODY // HTTPCORE_READ


async def test_a_default_client_reads_64_kib_at_a_time() -> None:
    """The control: httpx as it comes never returns more than httpcore's 64 KiB per read."""
    sizes = await _chunk_sizes(bulk=False)
    assert max(sizes) <= HTTPCORE_READ


async def test_proxy_mounts_read_in_bulk_too() -> None:
    """A proxy from HTTPS_PROXY becomes a mount with its own pool: it is covered as well."""
    proxied = httpx.AsyncHTTPTransport(proxy="http://127.0.0.1:9")
    async with httpx.AsyncClient(mounts={"https://": proxied}) as client:
        assert read_in_bulk(client)
        assert read_in_bulk(client)  # a second call changes nothing


async def test_a_client_without_a_network_pool_is_reported() -> None:
    """An in-process transport has no connections to read from: read_in_bulk says False."""

    async def app(scope: object, receive: object, send: object) -> None:  # never called
        raise AssertionError

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        assert not read_in_bulk(client)
