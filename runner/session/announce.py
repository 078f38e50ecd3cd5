"""Telling someone a run has ended: a webhook gets the summary (a JSON POST), a command gets the
summary file's path.

Neither can fail the run: a failure is logged and the run's outcome stands. The webhook is
named in messages by its origin only (its path and query can hold a token), and nothing sent
holds a key: the body is the summary, the headers are httpx's own and a User-Agent.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import anyio
import httpx
import stamina

from runner import __version__
from runner.session.preparation import Announcement
from runner.session.result import RunResult

__all__ = ["SUMMARY_VARIABLE", "announce"]

log = logging.getLogger("runner")

SUMMARY_VARIABLE: Final = "RUNNER_SUMMARY"  #: the on-finish command's environment: the summary's path
_TIMEOUT: Final = httpx.Timeout(10.0)
_ATTEMPTS: Final = 3


class _ServerTrouble(Exception):
    """The webhook answered 5xx or 429: worth trying again."""


async def announce(announcement: Announcement, result: RunResult, summary: Path) -> None:
    """Post the summary to the webhook (unless it is only for failures and all went well), then
    run the command with the summary's path."""
    if announcement.webhook and not (announcement.only_on_failure and result.ok):
        await _post(announcement.webhook, result.to_dict())
    if announcement.command:
        await _run_command(announcement.command, summary)


async def _post(url: str, body: dict[str, Any]) -> None:
    where = _origin(url)
    headers = {"User-Agent": f"runner/{__version__}"}
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as client:
            async for attempt in stamina.retry_context(
                on=(httpx.TransportError, _ServerTrouble), attempts=_ATTEMPTS, wait_initial=0.5, wait_max=4.0
            ):
                with attempt:
                    response = await client.post(url, json=body, headers=headers)
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _ServerTrouble(f"it answered HTTP {response.status_code}")
    except _ServerTrouble as trouble:
        log.warning("The webhook at %s was not notified: %s. The run's outcome is unchanged.", where, trouble)
        return
    except httpx.HTTPError as error:
        reason = type(error).__name__ + (f" ({error})" if str(error) else "")
        log.warning(
            "The webhook at %s could not be reached: %s. The run's outcome is unchanged.", where, reason
        )
        return
    if not response.is_success:
        log.warning(
            "The webhook at %s refused the summary: HTTP %d. The run's outcome is unchanged.",
            where,
            response.status_code,
        )
    else:
        log.info("Notified the webhook at %s.", where)


async def _run_command(words: tuple[str, ...], summary: Path) -> None:
    """The command with the summary's path as its last argument; its output goes to stderr,
    so that stdout keeps only what runner prints there."""
    environment = {**os.environ, SUMMARY_VARIABLE: str(summary)}
    try:
        done = await anyio.run_process([*words, str(summary)], check=False, env=environment, stderr=None)
    except OSError as error:
        log.warning(
            "The on-finish command %s could not be started (%s). The run's outcome is unchanged.",
            words[0],
            error.strerror or error,
        )
        return
    if done.stdout:
        sys.stderr.write(done.stdout.decode("utf-8", "replace"))
    if done.returncode != 0:
        log.warning(
            "The on-finish command %s exited with status %d. The run's outcome is unchanged.",
            words[0],
            done.returncode,
        )


def _origin(url: str) -> str:
    """`https://hooks.example.com`: the URL without its path, query or credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"
