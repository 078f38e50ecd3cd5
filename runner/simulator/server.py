"""Serving the simulator on a loopback port with uvicorn: in the foreground or in a thread.

`serve()` binds the socket itself so that port 0 picks a free port, prints the base URL
as the first line of stdout (flushed, so a parent process can read it), and returns
when uvicorn stops on Ctrl-C or SIGTERM. `serve_in_thread()` does the same in a daemon
thread for tests and harnesses that need a real HTTP server.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from runner.simulator.faults import SimulatedDisconnect

__all__ = ["base_url", "bind", "serve", "serve_in_thread"]


class _HideRehearsedDrops(logging.Filter):
    """Keep uvicorn from logging a traceback for every deliberately dropped connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, SimulatedDisconnect):
                return False
            error = error.__cause__ or error.__context__
        return True


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0 picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off only on sockets
    # that say they are TCP. Left on, a response sent as headers then body waits for the
    # client's delayed ACK: 40 ms on every small response over loopback.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def base_url(sock: socket.socket) -> str:
    """The API base URL clients should use for a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/api/v1"


_HIDE_DROPS = _HideRehearsedDrops()


def _server(app: Starlette, log_level: str) -> uvicorn.Server:
    logging.getLogger("uvicorn.error").addFilter(_HIDE_DROPS)  # adding twice is a no-op
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False)
    return uvicorn.Server(config)


def serve(app: Starlette, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    """Serve until interrupted; print the base URL first, flushed."""
    sock = bind(host, port)
    sys.stdout.write(base_url(sock) + "\n")
    sys.stdout.flush()
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal with the
    # previous handlers restored: make those a quiet, successful exit.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        _server(app, log_level).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


@contextmanager
def serve_in_thread(app: Starlette, host: str = "127.0.0.1") -> Iterator[str]:
    """Run the app on a free loopback port in a thread; yield the base URL; stop on exit."""
    sock = bind(host, 0)
    server = _server(app, "warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
