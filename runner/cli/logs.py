"""Where `runner run` logs go: a rich handler on a terminal, plain timestamped lines otherwise.

Every line passes a redaction filter first: the API key and the query strings of URLs
(signed video URLs and upload policies are credentials too) never reach the output,
even with `--verbose`, which also turns on httpx/httpcore debug logging.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["REDACTED", "Redactor", "run_logging"]

REDACTED: Final = "«redacted»"
_URL_QUERY: Final = re.compile(r"(https?://[^\s?'\"<>]+)\?[^\s'\"<>]*")
_HTTP_LOGGERS: Final = ("httpx", "httpcore")


class Redactor(logging.Filter):
    """Rewrites each record's message with secrets and URL query strings removed."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self._secrets:
            message = message.replace(secret, REDACTED)
        record.msg = _URL_QUERY.sub(rf"\1?{REDACTED}", message)
        record.args = None
        return True


@contextmanager
def run_logging(console: Console, live: bool, *, secrets: list[str], verbose: bool) -> Iterator[None]:
    """Send runner's logs (and with `verbose`, HTTP debug logs) to the console, redacted."""
    handler: logging.Handler
    if live:
        handler = RichHandler(console=console, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    handler.addFilter(Redactor(secrets))
    loggers = [logging.getLogger("runner")]
    if verbose:
        loggers += [logging.getLogger(name) for name in _HTTP_LOGGERS]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        logger.propagate = logger.name == "runner"
    try:
        yield
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
