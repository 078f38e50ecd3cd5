"""DashScope's time stamps: naive "YYYY-MM-DD HH:MM:SS.mmm", written in China Standard Time.

A task's submit_time, scheduled_time and end_time carry no zone. Every body observed is in
UTC+8 (Beijing, and a production body of an unnamed region; the other regions are the wire
reference's open question 19), and the simulator writes them the same way. The journal and
the sidecars keep them as the service wrote them; tables meant for tools show them as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Final

__all__ = ["SERVER_ZONE", "server_instant", "utc_text"]

SERVER_ZONE: Final = timezone(timedelta(hours=8), "UTC+08:00")


def server_instant(stamp: str | None) -> datetime | None:
    """A server stamp as a timezone-aware UTC instant; None when absent or not a time."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SERVER_ZONE)
    return moment.astimezone(UTC)


def utc_text(stamp: str | None) -> str | None:
    """A server stamp as ISO 8601 in UTC with milliseconds: "2026-12-05T07:29:11.812+00:00"."""
    moment = server_instant(stamp)
    return None if moment is None else moment.isoformat(timespec="milliseconds")
