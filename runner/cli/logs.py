"""Where `runner run` logs go: a rich handler on a terminal, plain timestamped lines otherwise.

Every line passes a redaction filter first: the API key and the query strings of URLs
(signed video URLs and upload policies are credentials too) never reach the output,
even with `--verbose`, which also turns on httpx/httpcore debug logging.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final
from urllib.parse import quote

from rich.console import Console
from rich.logging import RichHandler

from runner.cli.terminal import terminal_safe

__all__ = ["REDACTED", "Redactor", "run_logging"]

REDACTED: Final = "«redacted»"
_URL_QUERY: Final = re.compile(r"(https?://[^\s?'\"<>]+)\?[^\s'\"<>]*")
_HTTP_LOGGERS: Final = ("httpx", "httpcore")
#: stamina logs each scheduled retry at WARNING, with no text a person could use: shown with
#: --verbose only (the retried failure itself is logged by runner when it matters)
_RETRY_LOGGER: Final = "stamina"


class Redactor(logging.Filter):
    """Rewrites each record's message (and traceback) with secrets and URL query strings removed.

    A secret is also removed in the forms a message may quote it in: escaped as in repr() or
    JSON, as bytes, or percent-encoded."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        forms = {form for secret in secrets if secret for form in _quoted_forms(secret)}
        self._forms = sorted(forms, key=len, reverse=True)  # the longest first: no half-redactions

    def redact(self, text: str) -> str:
        """`text` without secrets or URL query strings, its control characters shown, not obeyed."""
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return terminal_safe(_URL_QUERY.sub(rf"\1?{REDACTED}", text))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        return True


def _quoted_forms(secret: str) -> set[str]:
    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        quote(secret, safe=""),
    }
    return {form for form in forms if form}


@contextmanager
def run_logging(
    console: Console, live: bool, *, secrets: list[str], verbose: bool, quiet: bool = False
) -> Iterator[None]:
    """Send runner's logs (and with `verbose`, HTTP debug logs) to the console, redacted;
    with `quiet` (and not `verbose`), only warnings and errors."""
    handler: logging.Handler
    if live:
        handler = RichHandler(console=console, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    handler.addFilter(Redactor(secrets))
    loggers = [logging.getLogger("runner"), logging.getLogger(_RETRY_LOGGER)]
    if verbose:
        loggers += [logging.getLogger(name) for name in _HTTP_LOGGERS]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
        logger.propagate = logger.name == "runner"
    if not verbose:
        logging.getLogger(_RETRY_LOGGER).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
