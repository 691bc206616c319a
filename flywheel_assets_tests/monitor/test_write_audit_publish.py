"""Write, audit, publish: a snapshot that fails its blocking audit is never published.

Snapshot A is the package's published snapshot; this test delivers snapshot B with a
duplicate key, runs the infobase tables of both pipelines (split_part -> part_*,
split_cluster -> ext_*) for B and removes every trace of B afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq

from flywheel_assets import layout
from flywheel_assets.builds import latest_build, read_audit, served_build
from flywheel_assets.checks import rules
from flywheel_assets.checks.audit import audit_checks
from flywheel_assets.sample_data import RAW_KEY_COLUMN, raw_name, write_sample_snapshot
from flywheel_assets_tests.monitor.conftest import ROWS, Built
from flywheel_assets_tests.monitor.conftest import SNAPSHOT as A
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline
from glue_jobs.registry import SOURCES

B = "2025-02-15"
INFOBASE = ("ibe_01_a", "ibe_02_a")
KINDS = ("split_part", "split_cluster")
SERVING = {"split_part": "part", "split_cluster": "ext"}  # the table each dataset feeds
SELECT = " or ".join(
    f"key:{kind}/{t} or key:{SERVING[kind]}_{t}" for t in INFOBASE for kind in KINDS
)


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
    markers = reader_markers(built)
    # as many rows as A from the same population: only the planted defect may block
    write_sample_snapshot(settings, platform.registry, lake, snapshot, ROWS)
    try:
        yield
    finally:
        for source in SOURCES:
            lake.delete_prefix(layout.raw_snapshot_prefix(settings, source, snapshot))
        for table in platform.registry:
            for kind in KINDS:
                lake.delete_prefix(layout.dataset_snapshot_prefix(settings, kind, table, snapshot))
        for key, text in markers.items():
            lake.write_text(key, text)


def reader_markers(built: Built) -> dict[str, str]:
    """Every ``metadata/snapshot_dt.txt`` readers use, by lake key."""
    settings, lake = built.platform.settings, built.platform.lake
    keys = [layout.snapshot_marker_key(settings, kind, s) for kind in KINDS for s in SOURCES]
    return {key: lake.read_text(key) for key in keys}


def serving(kind: str, slug: str) -> str:
    return f"{SERVING[kind]}_{slug}"


def served_dirs(built: Built) -> dict[tuple[str, str], dict[str, str]]:
    """Content hash of every object in each served build directory, by (kind, slug)."""
    platform = built.platform
    found = {}
    for kind in KINDS:
        for slug in INFOBASE:
            info = platform.catalog.get_table(platform.database, serving(kind, slug))
            build = served_build(info)
            assert build is not None and info.parameters["snapshot_dt"] == A
            table = built.table(slug)
            prefix = layout.dataset_build_prefix(platform.settings, kind, table, A, build)
            found[(kind, slug)] = {
                o.key: hashlib.sha256(platform.lake.path(o.key).read_bytes()).hexdigest()
                for o in platform.lake.list_objects(prefix)
            }
            assert found[(kind, slug)], prefix
    return found


def served_tables(built: Built) -> dict[str, tuple]:
    """What readers get from each catalog table: location, parameters, partitions."""
    platform = built.platform
    found = {}
    for kind in KINDS:
        for slug in INFOBASE:
            name = serving(kind, slug)
            info = platform.catalog.get_table(platform.database, name)
            partitions = (
                platform.catalog.list_partitions(platform.database, name)
                if info.partition_keys
                else {}
            )
            found[name] = (info.location, dict(info.parameters), partitions)
    return found


def failure_messages(instance, run_id: str) -> list[str]:
    """Each step failure's message and those of its causes (an op's own exception is
    the cause of Dagster's step execution error)."""
    found = []
    for e in instance.all_logs(run_id):
        if e.is_dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE":
            error = e.dagster_event.event_specific_data.error
            while error is not None:
                found.append(error.message)
                error = error.cause
    return found


def test_failed_audit_keeps_the_previous_snapshot_in_service(built):
    platform, instance = built.platform, built.instance
    settings, lake = platform.settings, platform.lake
    served_a = part_rows(platform, "part_ibe_01_a")
    assert len(served_a) == ROWS
    dirs_before, tables_before, markers_before = (
        served_dirs(built),
        served_tables(built),
        reader_markers(built),
    )
    with delivered(built, B):
        key = add_conflicting_row(platform, B)
        summary = run_pipeline(platform, instance, B, SELECT, rows=None)

        assert summary.exit_code == 1  # what `flywheel run` exits with
        assets = assets_by_key(summary)
        audits = {(c["asset"], c["name"]): c for c in summary.checks}
        messages = "\n".join(failure_messages(instance, summary.run_ids[0]))
        assert "blocking asset check failed" in messages
        for kind in KINDS:
            for slug in INFOBASE:
                dataset, name = f"{kind}/{slug}", serving(kind, slug)
                assert assets[dataset]["status"] == "materialized"  # written...
                assert assets[name]["status"] == "blocked"  # ...but never published
                # the duplicate key is the only thing that blocks: drift rules pass
                failed = [n for n in audit_checks(kind) if not audits[(dataset, n)]["passed"]]
                assert failed == [rules.CHECK_PK_DUPES], (dataset, failed)
                dupes = audits[(dataset, rules.CHECK_PK_DUPES)]
                assert dupes["severity"] == "ERROR" and dupes["metadata"]["observed"] == 2
                assert f"{dataset}: pk_unique" in messages  # names the dataset and the rule
                # the build is kept with its verdict, which any later publish must read
                build = latest_build(lake, settings, kind, built.table(slug), B)
                record = read_audit(lake, settings, kind, built.table(slug), B, build)
                assert not record.passed and record.failed_checks == [rules.CHECK_PK_DUPES]
        dupes = audits[("split_part/ibe_01_a", rules.CHECK_PK_DUPES)]
        assert dupes["metadata"]["examples"] == [f"{key} (2 rows)"]
        # blocked tables are not planned at all: no publish ran, no monitor check either
        assert not any(c["asset"].startswith(("part_", "ext_")) for c in summary.checks)

        # publishing B in a run of its own (no audit in it) is refused just the same
        publish = "key:part_ibe_01_a or key:ext_ibe_01_a"
        again = run_pipeline(platform, instance, B, publish, rows=None)
        assert again.exit_code == 1
        statuses = {k: a["status"] for k, a in assets_by_key(again).items()}
        assert statuses == {"part_ibe_01_a": "failed", "ext_ibe_01_a": "failed"}
        refused = "\n".join(failure_messages(instance, again.run_ids[0]))
        for kind in KINDS:
            assert f"{kind}/ibe_01_a snapshot {B} build" in refused
        assert "failed its audit (pk_unique)" in refused

        # readers still get A: same tables, same directories, same markers
        assert served_tables(built) == tables_before
        assert served_dirs(built) == dirs_before
        assert reader_markers(built) == markers_before
        assert part_rows(platform, "part_ibe_01_a") == served_a
