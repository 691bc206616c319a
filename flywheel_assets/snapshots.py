"""Snapshot keys (``snapshot_dt=YYYY-MM-DD``) and the lake layout derived from them."""

from __future__ import annotations

import datetime as dt
import re

SNAPSHOT_FOLDER = re.compile(r"^snapshot_dt=(?P<value>[^/]+)/?$")


class SnapshotError(ValueError):
    pass


def parse_snapshot(value: str) -> dt.date:
    """Parse a strict ISO date (``2025-01-15``); anything else is a clear error."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
        raise SnapshotError(f"snapshot_dt {value!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise SnapshotError(f"snapshot_dt {value!r} is not a valid date: {exc}") from exc


def validate_snapshot(value: str) -> str:
    parse_snapshot(value)
    return value


def snapshot_folder(snapshot: str) -> str:
    return f"snapshot_dt={validate_snapshot(snapshot)}/"


def snapshot_from_folder(folder: str) -> str:
    """``snapshot_dt=2025-01-15/`` -> ``2025-01-15``; raise SnapshotError when malformed."""
    match = SNAPSHOT_FOLDER.match(folder)
    if not match:
        raise SnapshotError(f"folder {folder!r} is not a snapshot_dt=YYYY-MM-DD folder")
    return validate_snapshot(match.group("value"))
