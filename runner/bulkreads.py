"""Bulk reads: let an httpx client's connections receive up to 1 MiB at a time.

httpcore asks its network stream for at most 64 KiB per read, and every read then passes
through httpcore, h11 and anyio: about 0.1 ms of Python on this project's benchmark machine.
On a fast link (loopback, or OSS from a host in the same region) that Python, not the
network, limits a video download, and the event loop it runs on is the one that polls and
submits. Reading up to 1 MiB per call takes what the socket holds in one go: the same thread
moved about 1.6 times the bytes (bench/downloads.py). A small response is unaffected, since
a read returns what has arrived.

httpx has no public setting for this (encode/httpx#3749 proposes a network backend option),
so `read_in_bulk` wraps the network backend of each httpcore pool the client holds. If a
future httpx or httpcore lays its pools out differently, the client keeps its default reads
and `read_in_bulk` says so by returning False; tests/test_bulkreads.py watches for that.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any, Final

import httpcore
import httpx

__all__ = ["BULK_READ_BYTES", "read_in_bulk"]

BULK_READ_BYTES: Final = 1024 * 1024

#: httpcore's SOCKET_OPTION, spelled out: it lives in a private module
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


def read_in_bulk(client: httpx.AsyncClient) -> bool:
    """Make every connection `client` opens read up to BULK_READ_BYTES at a time.

    True when every httpcore pool of the client (its transport and any proxy mounts, as
    from HTTPS_PROXY) now reads in bulk; False when one could not be found.
    """
    transports = [client._transport, *client._mounts.values()]  # no public hook
    return all(_wrap_pool(transport) for transport in transports if transport is not None)


def _wrap_pool(transport: httpx.AsyncBaseTransport) -> bool:
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, _BulkBackend):
        return True
    if not isinstance(backend, httpcore.AsyncNetworkBackend):
        return False
    pool._network_backend = _BulkBackend(backend)  # type: ignore[union-attr]
    return True


class _BulkBackend(httpcore.AsyncNetworkBackend):
    """Opens connections through `inner` and hands back streams that read in bulk."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _BulkStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)
        return _BulkStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _BulkStream(httpcore.AsyncNetworkStream):
    """A network stream whose reads ask for at least BULK_READ_BYTES."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max(max_bytes, BULK_READ_BYTES), timeout=timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout=timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.start_tls(ssl_context, server_hostname=server_hostname, timeout=timeout)
        return _BulkStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
