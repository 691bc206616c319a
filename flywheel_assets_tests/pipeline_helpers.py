"""Helpers for tests that run the pipeline on the local profile."""

from __future__ import annotations

import dagster as dg

from flywheel_assets.definitions import build_definitions
from flywheel_assets.platform import Platform
from flywheel_assets.runner import RunSummary, run_snapshot
from flywheel_assets.sample_data import write_sample_snapshot


def run_pipeline(
    platform: Platform,
    instance: dg.DagsterInstance,
    snapshot: str,
    selection: str | None = None,
    rows: int | None = 600,
    checks_only: bool = False,
) -> RunSummary:
    """Write a sample snapshot (unless ``rows`` is None) and run ``selection`` for it."""
    if rows is not None:
        write_sample_snapshot(platform.settings, platform.registries, platform.lake, snapshot, rows)
    defs = build_definitions(platform.settings, platform.registries, platform)
    return run_snapshot(defs, instance, snapshot, selection, checks_only=checks_only)


def assets_by_key(summary: RunSummary) -> dict[str, dict]:
    return {a["key"]: a for a in summary.assets}
