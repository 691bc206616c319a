"""``part_<table>_history`` on the local profile: every published month, queried by month,
never a month whose audit failed, and a month gone once retention removes it."""

from __future__ import annotations

import dagster as dg

from flywheel_assets import layout
from flywheel_assets.assets.history import HISTORY_KEYS, history_columns
from flywheel_assets.automation.retention import RetentionConfig, retention_job
from flywheel_assets.definitions import build_definitions
from flywheel_assets.ports.catalog import Column, TableDefinition, TableInfo
from flywheel_assets.runner import run_snapshot
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline

A, B, C = "2025-01-15", "2025-02-15", "2025-03-15"
# >= 256 rows, so every id_bucket folder exists; B is 13% smaller than A (publishes), C
# twice A (a 100% rise: the drift audit blocks it)
ROWS = {A: 300, B: 260, C: 600}
TABLE = "ibe_01_a"
HISTORY = f"part_{TABLE}_history"
PIPELINE = f"key:split_part/{TABLE} or key:part_{TABLE} or key:{HISTORY}"


def rows_per_month(platform, where: str = "") -> dict[str, int]:
    """The documented query (docs/history.md), through the SQL port."""
    rows = platform.sql.query(
        f"SELECT snapshot_dt, COUNT(*) AS n FROM {platform.database}.{HISTORY} {where} "
        "GROUP BY snapshot_dt ORDER BY snapshot_dt"
    )
    return {r["snapshot_dt"]: r["n"] for r in rows}


def build_month(platform, instance, snapshot: str):
    summary = run_pipeline(platform, instance, snapshot, PIPELINE, rows=ROWS[snapshot])
    return summary, assets_by_key(summary)


def test_history_answers_two_months_and_loses_the_month_retention_removes(local_platform, instance):
    platform = local_platform()
    for snapshot in (A, B):
        summary, assets = build_month(platform, instance, snapshot)
        assert summary.exit_code == 0, summary.to_json()
        assert assets[HISTORY]["metadata"]["snapshot_dt"] == snapshot

    assert rows_per_month(platform) == {A: 300, B: 260}
    assert rows_per_month(platform, f"WHERE snapshot_dt BETWEEN '{A}' AND '{A}'") == {A: 300}
    # the per-key month-on-month comparison of docs/history.md
    db = platform.database
    changed = platform.sql.query(
        f"SELECT COUNT(*) AS n FROM {db}.{HISTORY} cur JOIN {db}.{HISTORY} prev "
        "ON prev.customer_user_id = cur.customer_user_id AND prev.id_bucket = cur.id_bucket "
        f"WHERE cur.snapshot_dt = '{B}' AND prev.snapshot_dt = '{A}' "
        "AND cur.ibe01_attr_01 IS DISTINCT FROM prev.ibe01_attr_01"
    )[0]["n"]
    assert 0 < changed <= ROWS[B]
    # part_* serves B alone; each history month points into the build it was published from
    assert (
        platform.sql.query(f"SELECT COUNT(*) AS n FROM {platform.database}.part_{TABLE}")[0]["n"]
        == ROWS[B]
    )
    partitions = platform.catalog.list_partitions(platform.database, HISTORY)
    assert len(partitions) == 2 * 256
    table = platform.registry.get(TABLE)
    for key, location in partitions.items():
        snapshot, bucket = key.split("/")
        build_dir = layout.dataset_snapshot_prefix(platform.settings, "split_part", table, snapshot)
        assert f"{build_dir}build=" in location and location.endswith(f"id_bucket={bucket}")

    result = retention_job.execute_in_process(
        run_config=dg.RunConfig(ops={"enforce_retention": RetentionConfig(keep=1, dry_run=False)}),
        resources={"platform": platform},
    )

    summary = result.output_for_node("enforce_retention")
    assert f"{HISTORY}[snapshot_dt={A}]" in summary["history"]
    assert rows_per_month(platform) == {B: 260}
    assert not platform.lake.list_objects(
        layout.dataset_snapshot_prefix(platform.settings, "split_part", table, A), limit=1
    )


def test_a_month_whose_audit_failed_never_enters_history(local_platform, instance):
    platform = local_platform()
    first, _ = build_month(platform, instance, A)
    assert first.exit_code == 0

    blocked, assets = build_month(platform, instance, C)

    assert blocked.exit_code == 1
    assert assets[HISTORY]["status"] == "blocked"
    assert rows_per_month(platform) == {A: 300}
    # asked for on its own, the month is refused: part_* does not serve it
    defs = build_definitions(platform.settings, platform.registries, platform)
    alone = run_snapshot(defs, instance, C, f"key:{HISTORY}")
    assert assets_by_key(alone)[HISTORY]["status"] == "failed"
    assert rows_per_month(platform) == {A: 300}


def test_columns_only_an_older_month_had_are_kept():
    old = (Column("customer_user_id", "string"), Column("ibe01_attr_01", "bigint"))
    current = TableInfo("db", HISTORY, "EXTERNAL_TABLE", "", old, (), "", "")
    served = (Column("customer_user_id", "string"), Column("ibe01_attr_09", "string"))

    columns, kept = history_columns(current, served)

    assert [c.name for c in columns] == ["customer_user_id", "ibe01_attr_09", "ibe01_attr_01"]
    assert kept == ("ibe01_attr_01",)


def test_hive_groups_keep_other_months_through_column_changes(local_platform, tmp_path):
    """The local adapter: a month at a time; an added column is an ALTER, a retyped one a
    recreate that keeps every month's partitions."""
    platform = local_platform()
    catalog, db = platform.catalog, platform.database
    key = (Column("customer_user_id", "string"),)

    def group(snapshot: str, columns: tuple[Column, ...]) -> TableDefinition:
        folder = (tmp_path / snapshot).as_uri()
        return TableDefinition(
            database=db,
            name=HISTORY,
            columns=columns,
            location=tmp_path.as_uri(),
            partition_keys=HISTORY_KEYS,
            partitions={str(b): f"{folder}/id_bucket={b}" for b in range(3)},
        )

    catalog.publish_partition_group(group(A, key), A)
    catalog.publish_partition_group(group(B, (*key, Column("a", "string"))), B)  # ADD COLUMNS
    catalog.publish_partition_group(group(C, (*key, Column("a", "bigint"))), C)  # recreate

    assert sorted(catalog.list_partitions(db, HISTORY)) == [
        f"{s}/{b}" for s in (A, B, C) for b in range(3)
    ]
    assert catalog.get_table(db, HISTORY).columns == (*key, Column("a", "bigint"))
    assert catalog.drop_partition_group(db, HISTORY, B) == 3
    assert sorted({k.split("/")[0] for k in catalog.list_partitions(db, HISTORY)}) == [A, C]
