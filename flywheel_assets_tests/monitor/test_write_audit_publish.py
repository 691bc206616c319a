"""Write, audit, publish: a snapshot that fails its blocking audit is never published.

Snapshot A is the package's published snapshot; this test delivers snapshot B with a
duplicate key, runs the infobase tables for B and removes every trace of B afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq

from flywheel_assets import layout
from flywheel_assets.checks import rules
from flywheel_assets.sample_data import RAW_KEY_COLUMN, raw_name, write_sample_snapshot
from flywheel_assets_tests.monitor.conftest import SNAPSHOT as A
from flywheel_assets_tests.monitor.conftest import Built
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline
from glue_jobs.registry import SOURCES

B = "2025-02-15"
INFOBASE = ("ibe_01_a", "ibe_02_a")
SELECT = " or ".join(f"key:split_part/{t} or key:part_{t}" for t in INFOBASE)


def part_rows(platform, table: str) -> list[tuple]:
    rows = platform.spark.sql(f"SELECT * FROM {platform.database}.{table}").collect()
    return sorted(tuple(r) for r in rows)


def add_conflicting_row(platform, snapshot: str) -> str:
    """A second raw row with an existing key and other values in a column of each
    infobase table: not an exact duplicate in either table, so each keeps both rows and
    gets a duplicate key (a table whose own columns agree would keep one row)."""
    prefix = layout.raw_snapshot_prefix(platform.settings, "infobase_attributes", snapshot)
    path = platform.lake.path(prefix + "part-00000.snappy.parquet")
    data = pq.read_table(path)
    row = data.slice(0, 1).to_pylist()[0]
    for column in ("ibe01_attr_02", "ibe02_attr_03"):
        field = data.schema.field(raw_name(column))
        row[field.name] = -1 if pa.types.is_integer(field.type) else "conflicting value"
    pq.write_table(pa.concat_tables([data, pa.Table.from_pylist([row], schema=data.schema)]), path)
    return row[RAW_KEY_COLUMN]


@contextmanager
def delivered(built: Built, snapshot: str) -> Iterator[None]:
    """Raw snapshot ``snapshot`` in the lake for the test; the lake as before afterwards."""
    platform = built.platform
    settings, lake = platform.settings, platform.lake
    markers = {
        key: lake.read_text(key)
        for key in (layout.snapshot_marker_key(settings, "split_part", s) for s in SOURCES)
    }
    write_sample_snapshot(settings, platform.registry, lake, snapshot, 300)
    try:
        yield
    finally:
        for source in SOURCES:
            lake.delete_prefix(layout.raw_snapshot_prefix(settings, source, snapshot))
        for table in platform.registry:
            lake.delete_prefix(
                layout.dataset_snapshot_prefix(settings, "split_part", table, snapshot)
            )
        for key, text in markers.items():
            lake.write_text(key, text)


def failure_messages(instance, run_id: str) -> list[str]:
    return [
        e.dagster_event.event_specific_data.error.message
        for e in instance.all_logs(run_id)
        if e.is_dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"
    ]


def test_failed_audit_keeps_the_previous_snapshot_in_service(built):
    platform, instance = built.platform, built.instance
    served_a = part_rows(platform, "part_ibe_01_a")
    assert len(served_a) == 600
    with delivered(built, B):
        key = add_conflicting_row(platform, B)
        summary = run_pipeline(platform, instance, B, SELECT, rows=None)

        assert summary.exit_code == 1  # what `flywheel run` exits with
        assets = assets_by_key(summary)
        for slug in INFOBASE:
            assert assets[f"split_part/{slug}"]["status"] == "materialized"  # written...
            assert assets[f"part_{slug}"]["status"] == "failed"  # ...but not published
        audits = {(c["asset"], c["name"]): c for c in summary.checks}
        dupes = audits[("split_part/ibe_01_a", rules.CHECK_PK_DUPES)]
        assert not dupes["passed"] and dupes["severity"] == "ERROR"
        assert dupes["metadata"]["observed"] == 2
        assert dupes["metadata"]["examples"] == [f"{key} (2 rows)"]
        for name in (rules.CHECK_PK_NULL, rules.CHECK_STORAGE, rules.CHECK_RAW_ROWS):
            assert audits[("split_part/ibe_01_a", name)]["passed"], name
        assert not any(c["asset"].startswith("part_") for c in summary.checks)  # never ran
        messages = "\n".join(failure_messages(instance, summary.run_ids[0]))
        assert "blocking asset check failed" in messages
        assert "split_part/ibe_01_a: pk_unique" in messages  # names the table and the rule

        for slug in INFOBASE:
            info = platform.catalog.get_table(platform.database, f"part_{slug}")
            assert info.parameters["snapshot_dt"] == A
            partitions = platform.catalog.list_partitions(platform.database, f"part_{slug}")
            assert all(f"snapshot_dt={A}" in loc for loc in partitions.values())
        assert part_rows(platform, "part_ibe_01_a") == served_a  # readers still get A
