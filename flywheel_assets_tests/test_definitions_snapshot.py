"""The committed asset-graph snapshots match the definitions (one file per profile).

A registry or factory change must come with its regenerated snapshot, so review sees
which assets, checks and automation it adds, removes or changes.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "definitions_snapshot", REPO / "scripts/definitions_snapshot.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


@pytest.mark.parametrize("profile", GENERATOR.PROFILES)
def test_definitions_match_the_committed_snapshot(profile):
    golden = GENERATOR.golden_file(profile)
    expected = golden.read_text().splitlines()
    actual = GENERATOR.render(profile).splitlines()
    diff = "\n".join(difflib.unified_diff(expected, actual, str(golden), "definitions", n=0))
    assert not diff, f"stale: run .venv/bin/python scripts/definitions_snapshot.py\n{diff[:4000]}"


def test_the_snapshot_lists_every_kind_of_definition():
    text = GENERATOR.golden_file("local").read_text()
    assert "split_part/ibe_01_a  group=" in text
    assert "partitions=DynamicPartitionsDefinition(snapshot_dt)" in text
    assert "blocking=True" in text and "blocking=False" in text
    assert "\nsensor raw_snapshot_sensor  default=" in text
    assert "\nschedule monitor_schedule  cron=0 6 * * *  default=" in text
