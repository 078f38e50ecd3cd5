"""Log lines never carry the API key or signed URL query strings, even with --verbose."""

from __future__ import annotations

import logging
from pathlib import Path

from click.testing import CliRunner

from runner.cli import main
from runner.cli.logs import REDACTED, Redactor
from runner.core.endpoints import SIM_API_KEY


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("runner", logging.INFO, __file__, 1, message, args, None)


def test_redactor_masks_the_key_and_url_queries() -> None:
    """The key and everything after `?` in a URL are replaced, whatever the log call's arguments."""
    record = _record(
        "GET %s with Bearer %s", "https://oss.example.com/v.mp4?Expires=1&Signature=abc", "sk-secret-123"
    )
    Redactor(["sk-secret-123"]).filter(record)
    assert record.getMessage() == f"GET https://oss.example.com/v.mp4?{REDACTED} with Bearer {REDACTED}"


def test_verbose_run_logs_http_requests_without_secrets(tmp_path: Path) -> None:
    """`runner run --verbose` shows HTTP request lines, but never the key or a signed URL's query."""
    demo = Path(__file__).parent.parent / "manifests" / "demo.yaml"
    args = [
        "run",
        str(demo),
        "--out",
        str(tmp_path),
        "--sim-time-scale",
        "0.005",
        "--no-progress",
        "--verbose",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "HTTP Request: POST http://sim.local/api/v1/services/aigc/video-generation" in result.output
    assert "/_oss/videos/" in result.output  # the downloads are logged ...
    assert SIM_API_KEY not in result.output
    assert "Signature=" not in result.output  # ... without their signatures
