"""Build ids: every write of a dataset snapshot gets its own ``build=<id>/`` directory.

Shared by the code location and the Glue job (which must not import Dagster or the
code location), so both name and validate builds the same way.
"""

from __future__ import annotations

import datetime as dt
import re

BUILD_LEVEL = "build"
BUILD_ID = re.compile(r"^\d{8}T\d{6}Z-[A-Za-z0-9]{1,36}$")


def new_build_id(run_id: str, now: dt.datetime | None = None) -> str:
    """``20250115T103000Z-1a2b3c4d``: sorts by time and names the run that wrote it."""
    now = now or dt.datetime.now(dt.UTC)
    token = re.sub(r"[^A-Za-z0-9]", "", run_id)[:8] or "run"
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{token}"


def is_build_id(value: str) -> bool:
    return bool(BUILD_ID.match(value or ""))


def build_folder(build: str) -> str:
    if not is_build_id(build):
        raise ValueError(f"{build!r} is not a build id (YYYYMMDDTHHMMSSZ-<run>)")
    return f"{BUILD_LEVEL}={build}/"
