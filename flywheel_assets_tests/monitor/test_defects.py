"""One defect at a time in a real published snapshot: the matching check fails with the
right figures, the other checks pass, and the defect is undone afterwards.

The rules run through ``TableMonitor`` (what the Dagster checks and the report call)
against the package's snapshot on local Spark and the embedded Hive metastore.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow.parquet as pq
import pytest

from flywheel_assets import layout
from flywheel_assets.checks import rules
from flywheel_assets.checks.rules import Severity
from flywheel_assets.ports.catalog import TableDefinition
from flywheel_assets_tests.monitor.conftest import (
    SNAPSHOT,
    Built,
    bucket_rows,
    failing,
    rewritten_keys,
    with_settings,
)

SLUG = "ibe_01_a"
PART = f"part_{SLUG}"


def assert_only(evaluation, *checks: str) -> dict[str, rules.RuleResult]:
    failed = failing(evaluation)
    assert sorted(failed) == sorted(checks), {c: r.summary for c, r in failed.items()}
    return failed


def test_baseline_every_rule_passes(built):
    for slug in ("ibe_01_a", "ibe_02_a", "addressable_ids"):
        evaluation = built.evaluate(slug)
        assert_only(evaluation)
        assert [r.check for r in evaluation.results] == [
            rules.CHECK_STORAGE,
            rules.CHECK_CATALOG,
            rules.CHECK_FRESHNESS,
            rules.CHECK_SCHEMA,
            rules.CHECK_COUNT,
            rules.CHECK_PK_NULL,
            rules.CHECK_PK_DUPES,
        ]


def test_null_key(built):
    bucket = next(b for b, n in bucket_rows(built, SLUG).items() if n >= 1)
    with rewritten_keys(built, SLUG, bucket, lambda keys: [None, *keys[1:]]):
        failed = assert_only(built.evaluate(SLUG), rules.CHECK_PK_NULL)
    result = failed[rules.CHECK_PK_NULL]
    assert (result.observed, result.expected, result.threshold) == (1, 0, 0)
    assert result.severity is Severity.ERROR
    assert result.examples == (f"id_bucket={bucket} (1 NULL rows)",)
    assert result.alerts == (f"[PK_NULL] {PART}: customer_user_id NULL rows=1",)
    assert_only(built.evaluate(SLUG))  # undone


def test_duplicate_keys(built):
    bucket = next(b for b, n in bucket_rows(built, SLUG).items() if n >= 2)
    with rewritten_keys(built, SLUG, bucket, lambda keys: [keys[0], keys[0], *keys[2:]]) as keys:
        failed = assert_only(built.evaluate(SLUG), rules.CHECK_PK_DUPES)
    result = failed[rules.CHECK_PK_DUPES]
    assert (result.observed, result.expected) == (2, 0)  # SUM(c) over keys with COUNT > 1
    assert result.examples == (f"{keys[0]} (2 rows)",)
    assert result.alerts == (f"[PK_DUPES] {PART}: customer_user_id duplicate rows=2",)


def test_missing_bucket_directory(built):
    """Storage fails; the rows of that bucket also vanish from SQL, so the count against
    ext_* drops by exactly those rows (the spec: missing partitions = missing data)."""
    rows = bucket_rows(built, SLUG)[7]
    with built.moved_away(built.snapshot_dir(SLUG) / "id_bucket=7"):
        built.refresh(SLUG)
        failed = assert_only(built.evaluate(SLUG), rules.CHECK_STORAGE, rules.CHECK_COUNT)
    built.refresh(SLUG)
    storage = failed[rules.CHECK_STORAGE]
    assert (storage.observed, storage.expected) == (255, 256)
    assert storage.examples == ("id_bucket=7",)
    assert storage.alerts == (f"[ALERT] {PART}: S3 missing 1 partitions (id_bucket=7)",)
    count = failed[rules.CHECK_COUNT]
    assert (count.observed, count.expected) == (600 - rows, 600)
    assert_only(built.evaluate(SLUG))


@contextmanager
def unregistered_bucket(built: Built, bucket: int) -> Iterator[str]:
    platform = built.platform
    location = platform.catalog.list_partitions(platform.database, PART)[str(bucket)]
    platform.sql.execute(
        f"ALTER TABLE {platform.database}.{PART} DROP PARTITION (id_bucket={bucket})"
    )
    try:
        yield location
    finally:
        if str(bucket) not in platform.catalog.list_partitions(platform.database, PART):
            platform.catalog.add_partitions(platform.database, PART, {str(bucket): location})


@pytest.mark.parametrize("mode", ["athena", "glue"])
def test_unregistered_partition_is_repaired(built, mode):
    platform = with_settings(built.platform, auto_repair=mode)
    platform.sql.statements.clear()
    with unregistered_bucket(built, 9):
        evaluation = built.evaluate(SLUG, platform)
        registered = platform.catalog.list_partitions(platform.database, PART)
    assert_only(evaluation)  # repaired before counting: the rows are visible again
    result = evaluation.get(rules.CHECK_CATALOG)
    assert result.figures["missing_glue_count"] == 1 and result.figures["repaired"] == 1
    assert result.figures["glue_partitions"] == 255 and result.observed == 256
    # registered again where the table reads: inside the build it serves
    served = f"snapshot_dt={SNAPSHOT}/{layout.build_folder(built.served_build(SLUG))}id_bucket=9"
    assert "9" in registered and served in registered["9"]
    msck = [s for s in platform.sql.statements if s.startswith("MSCK REPAIR")]
    assert msck == ([f"MSCK REPAIR TABLE {platform.database}.{PART}"] if mode == "athena" else [])


def test_unregistered_partition_without_repair(built):
    platform = with_settings(built.platform, auto_repair="off")
    rows = bucket_rows(built, SLUG)[9]
    with unregistered_bucket(built, 9):
        evaluation = built.evaluate(SLUG, platform)
        assert "9" not in platform.catalog.list_partitions(platform.database, PART)
    failed = assert_only(evaluation, rules.CHECK_CATALOG, rules.CHECK_COUNT)
    catalog = failed[rules.CHECK_CATALOG]
    assert (catalog.observed, catalog.expected) == (255, 256)
    assert catalog.figures["missing_glue_count"] == 1 and catalog.figures["repaired"] == 0
    assert catalog.alerts == (f"[ALERT] {PART}: Glue missing 1 partitions",)
    assert failed[rules.CHECK_COUNT].observed == 600 - rows  # unregistered rows are unseen


@pytest.mark.parametrize("strict, severity", [(True, Severity.ERROR), (False, Severity.WARN)])
def test_stale_snapshot_file(built, strict, severity):
    platform = with_settings(built.platform, strict_snapshot=strict)
    marker = layout.snapshot_marker_key(platform.settings, "split_part", "infobase_attributes")
    original = platform.lake.read_text(marker)
    platform.lake.write_text(marker, "2024-10-01")
    try:
        failed = assert_only(built.evaluate(SLUG, platform), rules.CHECK_FRESHNESS)
    finally:
        platform.lake.write_text(marker, original)
    result = failed[rules.CHECK_FRESHNESS]
    assert result.severity is severity
    # locally "today" is the newest raw snapshot (2025-01-15): 106 days > 45
    assert result.figures["age_days"] == 106 and result.threshold == 45
    assert (result.observed, result.expected) == ("2024-10-01", SNAPSHOT)
    assert result.alerts == (
        f"[ALERT] {PART}: processed snapshot too old/missing: snapshot 2024-10-01 is 106 days "
        "old (window 45 days); snapshot 2024-10-01 is behind raw input snapshot 2025-01-15",
    )
    assert_only(built.evaluate(SLUG))


def test_missing_snapshot_file(built):
    platform = built.platform
    marker = layout.snapshot_marker_key(platform.settings, "split_part", "infobase_attributes")
    original = platform.lake.read_text(marker)
    platform.lake.delete_prefix(marker)
    try:
        failed = assert_only(built.evaluate(SLUG), rules.CHECK_FRESHNESS)
    finally:
        platform.lake.write_text(marker, original)
    assert "snapshot_dt.txt is missing" in failed[rules.CHECK_FRESHNESS].summary


class WrongTypeCatalog:
    """The real catalog, except that one table reports another table type."""

    def __init__(self, catalog, table: str, **change) -> None:
        self.catalog, self.table, self.change = catalog, table, change

    def __getattr__(self, name):
        return getattr(self.catalog, name)

    def get_table(self, database, name):
        info = self.catalog.get_table(database, name)
        return dataclasses.replace(info, **self.change) if name == self.table else info


def test_wrong_table_type(built):
    platform = with_settings(built.platform)
    platform.__dict__["catalog"] = WrongTypeCatalog(
        built.platform.catalog, PART, table_type="MANAGED_TABLE"
    )
    failed = assert_only(built.evaluate(SLUG, platform), rules.CHECK_SCHEMA)
    result = failed[rules.CHECK_SCHEMA]
    assert result.figures["table_type_ok"] is False and result.figures["contract_ok"] is True
    assert result.alerts == (
        f"[ALERT] {PART}: schema: table type is 'MANAGED_TABLE', expected EXTERNAL_TABLE",
    )


@pytest.fixture(scope="module")
def compare_db(built: Built) -> str:
    """A second database whose ext_ibe_01_a lacks 3 of the 600 rows."""
    platform = built.platform
    database = f"{platform.database}_cmp"
    ext = platform.catalog.get_table(platform.database, f"ext_{SLUG}")
    target = built.home / "cmp" / f"ext_{SLUG}"
    platform.spark.table(f"{platform.database}.ext_{SLUG}").orderBy("customer_user_id").limit(
        597
    ).write.mode("overwrite").parquet(f"file://{target}")
    platform.catalog.publish_table(
        TableDefinition(
            database=database, name=f"ext_{SLUG}", columns=ext.columns, location=f"file://{target}/"
        )
    )
    return database


@pytest.mark.parametrize("tolerance, passed", [(0.0, False), (0.5, False), (1.0, True)])
def test_count_mismatch_against_tolerance(built, compare_db, tolerance, passed):
    platform = with_settings(
        built.platform, compare_database=compare_db, count_tolerance_pct=tolerance
    )
    evaluation = built.evaluate(SLUG, platform)
    result = evaluation.get(rules.CHECK_COUNT)
    assert (result.observed, result.expected, result.threshold) == (600, 597, tolerance)
    assert result.figures["count_diff_pct"] == "0.502513"  # 3 * 100 / 597
    if passed:
        assert_only(evaluation)
    else:
        assert_only(evaluation, rules.CHECK_COUNT)
        assert result.alerts == (
            f"[COUNT_MISMATCH] {PART}: {platform.database}.{PART}=600 vs "
            f"{compare_db}.ext_{SLUG}=597 (Δ=0.502513%)",
        )


def test_undersized_file(built):
    """file_size_check on, thresholds around the sample's ~1 KB files: one empty parquet
    file dropped into bucket 0 is the only issue."""
    directory = built.snapshot_dir(SLUG)
    sampled = [f for b in range(5) for f in (directory / f"id_bucket={b}").glob("*.parquet")]
    smallest = min(f.stat().st_size for f in sampled)
    empty = directory / "id_bucket=0" / "part-99999-empty.snappy.parquet"
    schema_only = pq.read_table(sampled[0]).slice(0, 0).replace_schema_metadata(None)
    pq.write_table(schema_only, empty, store_schema=False)
    assert empty.stat().st_size < smallest
    platform = with_settings(
        built.platform,
        file_size_check=True,
        file_size_min_mb=smallest / rules.MB,
        file_size_max_mb=1,
    )
    try:
        failed = assert_only(built.evaluate(SLUG, platform), rules.CHECK_FILE_SIZE)
    finally:
        empty.unlink()
    result = failed[rules.CHECK_FILE_SIZE]
    assert result.severity is Severity.WARN and result.observed == 1
    assert result.figures["partitions_sampled"] == 5
    assert result.figures["files_sampled"] == len(sampled) + 1
    assert result.figures["file_issues_sample"].startswith(
        "id_bucket=0/part-99999-empty.snappy.parquet="
    )


def test_partition_projection_is_validated_from_table_parameters(built):
    platform = built.platform
    fqn = f"{platform.database}.{PART}"
    location = platform.lake.uri(built.snapshot_prefix(SLUG))  # the served build
    props = {
        "projection.enabled": "true",
        "projection.id_bucket.type": "integer",
        "projection.id_bucket.range": "0,255",
        "storage.location.template": location + "id_bucket=${id_bucket}/",
    }

    def set_props(values: dict[str, str]) -> None:
        pairs = ", ".join(f"'{k}' = '{v}'" for k, v in values.items())
        conf = platform.spark.conf
        conf.set("spark.sql.variable.substitute", "false")  # keep ${id_bucket} verbatim
        try:
            platform.sql.execute(f"ALTER TABLE {fqn} SET TBLPROPERTIES ({pairs})")
        finally:
            conf.set("spark.sql.variable.substitute", "true")

    set_props(props)
    try:
        valid = built.evaluate(SLUG).get(rules.CHECK_CATALOG)
        set_props({"projection.id_bucket.range": "0,127"})
        invalid = built.evaluate(SLUG).get(rules.CHECK_CATALOG)
    finally:
        keys = ", ".join(f"'{k}'" for k in props)
        platform.sql.execute(f"ALTER TABLE {fqn} UNSET TBLPROPERTIES ({keys})")
    assert valid.passed and valid.figures["projection"] is True and valid.observed == 256
    assert not invalid.passed and invalid.observed == 128
    assert "projection.id_bucket.range='0,127', expected '0,255'" in invalid.summary
    assert_only(built.evaluate(SLUG))


def test_snapshot_not_in_service(built):
    """Checks for a snapshot the table does not serve fail instead of reporting on
    another snapshot's rows."""
    evaluation = built.evaluate(SLUG, snapshot="2025-02-15")
    failed = failing(evaluation)
    assert failed[rules.CHECK_CATALOG].observed == 0
    assert failed[rules.CHECK_STORAGE].observed == 0
    for check in (rules.CHECK_COUNT, rules.CHECK_PK_NULL, rules.CHECK_PK_DUPES):
        assert failed[check].severity is Severity.WARN
        assert f"serves snapshot_dt={SNAPSHOT}, not 2025-02-15" in failed[check].summary
    assert rules.CHECK_SCHEMA not in failed and rules.CHECK_FRESHNESS not in failed
    json.dumps([r.figures for r in evaluation.results])  # figures stay JSON-friendly


def test_key_profile_sql_on_spark_matches_the_spec_queries(spark):
    """The one-statement profile equals the spec's three queries, NULL group included."""
    from flywheel_assets.adapters.spark_sql import SparkSql
    from flywheel_assets.checks.sql import key_profile_sql, parse_key_profile

    rows = [("a",), ("b",), ("b",), ("c",), ("c",), ("c",), (None,), (None,)]
    spark.createDataFrame(rows, "customer_user_id string").createOrReplaceTempView("keys_v")
    spark.createDataFrame([(1,)] * 7, "x int").createOrReplaceTempView("source_v")
    sql = SparkSql(spark)
    profile = parse_key_profile(
        sql.query(key_profile_sql("keys_v", "customer_user_id", "source_v"))
    )
    spec_nulls = sql.query("SELECT COUNT(*) AS n FROM keys_v WHERE customer_user_id IS NULL")
    spec_dupes = sql.query(
        "SELECT SUM(c) AS n FROM (SELECT customer_user_id, COUNT(*) c FROM keys_v "
        "GROUP BY customer_user_id HAVING COUNT(*) > 1)"
    )
    assert profile.count_part == 8 and profile.count_src == 7
    assert profile.pk_nulls == spec_nulls[0]["n"] == 2
    assert profile.pk_dupes == spec_dupes[0]["n"] == 7  # b x2 + c x3 + NULL x2
