"""`runner plan --check-urls`: one HEAD per distinct remote URL (a loopback server), problems reported."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from data.media_fixtures import png

from runner.cli import main
from runner.planning.urlcheck import Kind, check_urls

_ROUTES = {  # path → (status, content type) for HEAD
    "/cat.png": (200, "image/png"),
    "/song.mp3": (200, "audio/mpeg"),
    "/blob": (200, "application/octet-stream"),
    "/page.html": (200, "text/html; charset=utf-8"),
    "/gone.png": (404, "text/html"),
}


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_HEAD(self) -> None:
        self.seen.append(("HEAD", self.path))
        if self.path == "/nohead.png":
            self._reply(405, "text/plain")
            return
        self._reply(*_ROUTES.get(self.path, (404, "text/plain")))

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path))
        self._reply(*((200, "image/png") if self.path == "/nohead.png" else (404, "text/plain")))

    def _reply(self, status: int, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A loopback HTTP server; yields its base URL."""
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_each_url_is_judged_by_status_and_type(server: str) -> None:
    """Images and audio of the right type pass; a page, a 404 and a refused connection are problems."""
    dead = f"http://127.0.0.1:{_closed_port()}/x.png"
    urls: dict[str, Kind] = {
        f"{server}/cat.png": "image",
        f"{server}/song.mp3": "audio",
        f"{server}/blob": "image",
        f"{server}/nohead.png": "image",
        f"{server}/page.html": "image",
        f"{server}/gone.png": "image",
        dead: "image",
    }
    results = {check.url: check.problem for check in await check_urls(urls, timeout_s=2.0)}
    assert results[f"{server}/cat.png"] is None and results[f"{server}/song.mp3"] is None
    assert results[f"{server}/blob"] is None and results[f"{server}/nohead.png"] is None
    assert results[f"{server}/page.html"] == "is text/html, not an image."
    assert results[f"{server}/gone.png"] == "answered HTTP 404; DashScope could not fetch it."
    assert results[dead] == "unreachable (ConnectError)."


def test_plan_checks_each_distinct_url_once_and_exits_1_on_a_problem(server: str, tmp_path: Path) -> None:
    """Six tasks over two URLs: two HEADs; the HTML page is reported and plan exits 1."""
    (tmp_path / "ok.png").write_bytes(png(300, 260))
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "endpoint: sim\nmodel: wan2.6-i2v-flash\nmatrix: {seed: [1, 2, 3]}\ntasks:\n"
        f"  - {{id: a, img_url: '{server}/cat.png'}}\n  - {{id: b, img_url: '{server}/page.html'}}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(main, ["plan", str(manifest), "--out", str(tmp_path / "out"), "--check-urls"])
    assert result.exit_code == 1, result.output
    assert "URL check: 2 distinct remote URLs, 1 with problems." in result.output
    assert f"image {server}/page.html: is text/html, not an image." in result.output
    assert sorted(_Handler.seen) == [("HEAD", "/cat.png"), ("HEAD", "/page.html")]

    as_json = runner.invoke(
        main, ["plan", str(manifest), "--out", str(tmp_path / "out"), "--check-urls", "--json"]
    )
    checks = json.loads(as_json.output)["url_check"]
    assert [c["problem"] for c in checks] == [None, "is text/html, not an image."]


def test_plan_without_the_flag_sends_nothing(server: str, tmp_path: Path) -> None:
    """Plain `runner plan` makes no request, even with remote URLs in the manifest."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        f"endpoint: sim\nmodel: wan2.6-i2v-flash\ntasks: [{{id: a, img_url: '{server}/page.html'}}]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["plan", str(manifest), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert _Handler.seen == []
