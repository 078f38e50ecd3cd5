"""`runner plan --check-urls`: is every remote media URL reachable, and of the right kind?

DashScope fetches images, audio and videos itself, and a URL it cannot fetch fails the task
only after submission. This check sends one HEAD request per distinct http(s) URL
(bounded concurrency, short timeout, redirects followed), and reports URLs that do not
answer, answer an error status, or announce a Content-Type that is not of the input's kind
(image, audio or video). It is the only time `plan` touches the network, and only when asked. Servers
that refuse HEAD (405/501) get a GET whose body is never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

import anyio
import httpx

from runner.core import TaskSpec

__all__ = ["Kind", "UrlCheck", "check_urls", "remote_urls"]

Kind = Literal["image", "audio", "video"]
DEFAULT_CONCURRENCY: Final = 8
DEFAULT_TIMEOUT_S: Final = 5.0
_NO_HEAD: Final = frozenset({405, 501})
_KIND_NAMES: Final = {"image": "an image", "audio": "audio", "video": "a video"}
#: types a server may use for any file: not evidence of a wrong kind
_GENERIC_TYPES: Final = frozenset({"application/octet-stream", "binary/octet-stream", ""})


@dataclass(frozen=True, slots=True)
class UrlCheck:
    """The outcome for one URL: `problem` is None when it looks usable."""

    url: str
    kind: Kind
    status: int | None = None
    content_type: str | None = None
    problem: str | None = None


def remote_urls(specs: Iterable[TaskSpec]) -> dict[str, Kind]:
    """Each distinct http(s) media URL of `specs`, with what it should be, in first-use order."""
    found: dict[str, Kind] = {}
    for spec in specs:
        for item in spec.media:
            url = item.ref.url
            if url and url.lower().startswith(("http://", "https://")):
                found.setdefault(url, item.ref.kind)
    return found


async def check_urls(
    urls: Mapping[str, Kind],
    *,
    http: httpx.AsyncClient | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[UrlCheck]:
    """Check every URL (at most `concurrency` at once); results in the order of `urls`."""
    results: dict[str, UrlCheck] = {}
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(client: httpx.AsyncClient, url: str, kind: Kind) -> None:
        async with limiter:
            results[url] = await _check(client, url, kind)

    async def run(client: httpx.AsyncClient) -> None:
        async with anyio.create_task_group() as group:
            for url, kind in urls.items():
                group.start_soon(one, client, url, kind)

    if http is not None:
        await run(http)
    else:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as client:
            await run(client)
    return [results[url] for url in urls]


async def _check(client: httpx.AsyncClient, url: str, kind: Kind) -> UrlCheck:
    try:
        response = await client.head(url, follow_redirects=True)
        if response.status_code in _NO_HEAD:
            async with client.stream("GET", url, follow_redirects=True) as streamed:
                response = streamed
    except httpx.TimeoutException:
        return UrlCheck(url, kind, problem="no answer in time; DashScope may time out fetching it too.")
    except httpx.HTTPError as exc:
        return UrlCheck(url, kind, problem=f"unreachable ({type(exc).__name__}).")
    status = response.status_code
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if status >= 400:
        return UrlCheck(
            url, kind, status, content_type, f"answered HTTP {status}; DashScope could not fetch it."
        )
    if content_type not in _GENERIC_TYPES and not content_type.startswith(f"{kind}/"):
        problem = f"is {content_type}, not {_KIND_NAMES[kind]}."
        return UrlCheck(url, kind, status, content_type, problem)
    return UrlCheck(url, kind, status, content_type)
