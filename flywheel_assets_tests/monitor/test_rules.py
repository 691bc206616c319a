"""The monitor's rules as pure functions: figures, pass/fail, severity, alert lines."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from flywheel_assets.checks import rules
from flywheel_assets.checks.rules import Severity
from flywheel_assets.checks.sql import (
    SqlIdentifierError,
    duplicate_examples,
    key_profile_sql,
    parse_key_profile,
    table_name,
)

T = "part_ibe_01"
ALL = [f"id_bucket={b}/" for b in range(256)]


def uri(bucket: int) -> str:
    return f"s3://data/split_part/IBE_01/snapshot_dt=2025-01-15/id_bucket={bucket}/"


EXPECTED = {b: uri(b) for b in range(256)}


# ---- storage ------------------------------------------------------------------------


def test_storage_complete_passes_and_ignores_hidden_folders():
    result = rules.storage_partitions(T, [*ALL, "_temporary/", ".spark-staging-1/"], 256)
    assert result.passed and result.observed == 256 and result.expected == 256
    assert result.figures["s3_partitions"] == 256 and not result.alerts


def test_storage_names_missing_buckets():
    folders = [f for f in ALL if f not in ("id_bucket=7/", "id_bucket=200/")]
    result = rules.storage_partitions(T, folders, 256)
    assert not result.passed and result.severity is Severity.ERROR
    assert result.observed == 254 and result.figures["missing_partitions"] == 2
    assert result.examples == ("id_bucket=7", "id_bucket=200")
    assert result.alerts == (f"[ALERT] {T}: S3 missing 2 partitions (id_bucket=7, 200)",)


def test_storage_flags_folders_beyond_bucket_count():
    result = rules.storage_partitions(T, [*ALL, "id_bucket=256/", "junk/"], 256)
    assert not result.passed and result.figures["unexpected_folders"] == 2
    assert "id_bucket=256" in result.examples and "junk" in result.examples


# ---- catalog ------------------------------------------------------------------------


def test_partition_gaps_separate_unregistered_stale_and_repairable():
    registered = {str(b): uri(b) for b in range(256) if b not in (3, 4)}
    registered["5"] = uri(5).replace("2025-01-15", "2024-12-15")  # another snapshot
    registered["6"] = uri(6).replace("s3://", "s3a://").rstrip("/")  # same place, spelt so
    gaps = rules.partition_gaps(registered, EXPECTED, storage_buckets=set(range(256)) - {4})
    assert gaps.registered == 254
    assert gaps.unregistered == (3, 4) and gaps.stale == (5,) and gaps.repairable == (3,)
    assert not gaps.ok


def test_catalog_counts_spec_figures_before_repair_and_verdict_after():
    before = rules.PartitionGaps(registered=254, unregistered=(3, 4), stale=(), repairable=(3, 4))
    after = rules.PartitionGaps(registered=256, unregistered=(), stale=(), repairable=())
    result = rules.catalog_partitions(T, 256, before, after, "glue", "2025-01-15", "2025-01-15")
    assert result.passed and result.observed == 256 and not result.alerts
    assert result.figures["glue_partitions"] == 254
    assert result.figures["missing_glue_count"] == 2 and result.figures["repaired"] == 2


def test_catalog_unrepaired_uses_the_spec_alert():
    gaps = rules.PartitionGaps(
        registered=246, unregistered=tuple(range(10)), stale=(), repairable=()
    )
    result = rules.catalog_partitions(T, 256, gaps, gaps, "off", "2025-01-15", "2025-01-15")
    assert not result.passed and result.observed == 246
    assert result.alerts == (f"[ALERT] {T}: Glue missing 10 partitions",)


def test_catalog_partitions_of_another_snapshot_fail():
    gaps = rules.PartitionGaps(
        registered=256, unregistered=(), stale=tuple(range(256)), repairable=()
    )
    result = rules.catalog_partitions(T, 256, gaps, gaps, "athena", "2025-02-15", "2025-01-15")
    assert not result.passed and result.observed == 0
    assert "table serves snapshot_dt=2025-01-15" in result.alerts[0]


PROJECTION = {
    "projection.enabled": "true",
    "projection.id_bucket.type": "integer",
    "projection.id_bucket.range": "0,255",
    "storage.location.template": uri(0).replace("id_bucket=0/", "id_bucket=${id_bucket}/"),
}
SNAP = uri(0).replace("id_bucket=0/", "")


def test_projection_valid():
    assert rules.projection_enabled(PROJECTION)
    result = rules.projection_partitions(T, PROJECTION, 256, SNAP, SNAP)
    assert result.passed and result.observed == 256 and result.figures["projection"] is True
    assert result.figures["glue_partitions"] == 256 and result.figures["missing_glue_count"] == 0


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"projection.id_bucket.range": "0,127"}, "expected '0,255'"),
        ({"projection.id_bucket.type": "enum"}, "expected 'integer'"),
        ({"storage.location.template": "s3://elsewhere/id_bucket=${id_bucket}/"}, "template"),
    ],
)
def test_projection_invalid(change, problem):
    result = rules.projection_partitions(T, {**PROJECTION, **change}, 256, SNAP, SNAP)
    assert not result.passed and problem in result.summary
    assert result.alerts[0].startswith(f"[ALERT] {T}: partition projection:")


# ---- freshness ----------------------------------------------------------------------

DAY = dt.date(2025, 1, 20)


def test_fresh_snapshot_passes():
    result = rules.freshness(T, "2025-01-15\n", "2025-01-15", DAY, 45, strict=True)
    assert result.passed and result.figures["age_days"] == 5
    assert result.figures["raw_input_snapshot_dt"] == "2025-01-15" and result.threshold == 45


@pytest.mark.parametrize(
    "marker, latest_raw, problem",
    [
        (None, "2025-01-15", "snapshot_dt.txt is missing"),
        ("15/01/2025", "2025-01-15", "not a YYYY-MM-DD date"),
        ("2024-11-01", None, "is 80 days old (window 45 days)"),
        ("2025-01-15", "2025-01-18", "behind raw input snapshot 2025-01-18"),
    ],
)
def test_stale_or_missing_snapshot(marker, latest_raw, problem):
    strict = rules.freshness(T, marker, latest_raw, DAY, 45, strict=True)
    assert not strict.passed and strict.severity is Severity.ERROR
    assert problem in strict.summary
    assert strict.alerts[0].startswith(f"[ALERT] {T}: processed snapshot too old/missing: ")
    relaxed = rules.freshness(T, marker, latest_raw, DAY, 45, strict=False)
    assert not relaxed.passed and relaxed.severity is Severity.WARN


def test_window_boundary_is_inclusive():
    assert rules.freshness(T, "2024-12-06", None, DAY, 45, True).passed  # 45 days
    assert not rules.freshness(T, "2024-12-05", None, DAY, 45, True).passed  # 46 days


# ---- schema -------------------------------------------------------------------------

GOOD = rules.TableShape(
    table_type="EXTERNAL_TABLE",
    serde="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    data_columns=(("customer_user_id", "string"), ("attr", "string")),
    partition_keys=(("id_bucket", "int"),),
)


def test_schema_contract_holds():
    result = rules.schema_contract(T, GOOD, "customer_user_id")
    assert result.passed and result.figures["table_type_ok"] and result.figures["contract_ok"]
    assert "| table type | EXTERNAL_TABLE | EXTERNAL_TABLE | yes |" in result.details


@pytest.mark.parametrize(
    "change, type_ok, contract_ok",
    [
        ({"table_type": "MANAGED_TABLE"}, False, True),
        ({"serde": "org.openx.data.jsonserde.JsonSerDe"}, False, True),
        ({"input_format": "org.apache.hadoop.mapred.TextInputFormat"}, False, True),
        ({"data_columns": (("attr", "string"),)}, True, False),
        ({"partition_keys": (("id_bucket", "string"),)}, True, False),
        ({"partition_keys": (("customer_user_id", "string"),)}, True, False),
        ({"partition_keys": ()}, True, False),
    ],
)
def test_schema_violations(change, type_ok, contract_ok):
    result = rules.schema_contract(T, dataclasses.replace(GOOD, **change), "customer_user_id")
    assert not result.passed and result.observed == 1 and result.severity is Severity.ERROR
    assert result.figures["table_type_ok"] is type_ok
    assert result.figures["contract_ok"] is contract_ok
    assert result.alerts[0].startswith(f"[ALERT] {T}: schema: ")


def test_schema_of_missing_table():
    result = rules.schema_contract(T, None, "customer_user_id")
    assert not result.passed and result.figures == {"table_type_ok": False, "contract_ok": False}


# ---- counts and keys ----------------------------------------------------------------


def test_count_mismatch_uses_the_spec_formula_and_alert():
    result = rules.count_match(
        "part_ibe_01",
        "omc_flywheel_prod.part_ibe_01",
        "omc_flywheel_prod.ext_ibe_01",
        999950,
        1000000,
        0.0,
    )
    assert not result.passed and result.observed == 999950 and result.expected == 1000000
    assert result.figures["count_diff_pct"] == "0.005000" and result.threshold == 0.0
    assert result.alerts == (
        "[COUNT_MISMATCH] part_ibe_01: omc_flywheel_prod.part_ibe_01=999950 vs "
        "omc_flywheel_prod.ext_ibe_01=1000000 (Δ=0.005000%)",
    )


def test_count_within_tolerance_passes():
    result = rules.count_match(T, "db.part", "db.ext", 999950, 1000000, 0.01)
    assert result.passed and not result.alerts


@pytest.mark.parametrize(
    "part, src, pct", [(0, 0, 0.0), (5, 0, 100.0), (110, 100, 10.0), (90, 100, 10.0)]
)
def test_count_diff_pct(part, src, pct):
    assert rules.count_diff_pct(part, src) == pytest.approx(pct)


def test_missing_count_source_is_a_warning():
    result = rules.count_source_missing(T, "db.ext_ibe_01")
    assert not result.passed and result.severity is Severity.WARN
    assert result.figures["count_src"] is None


def test_pk_rules_use_spec_alerts():
    nulls = rules.pk_nulls("part_ibe_02", "customer_user_id", 5, 100, ["id_bucket=3 (5 NULL rows)"])
    dupes = rules.pk_dupes("part_ibe_03", "customer_user_id", 10, 100, [f"k{i}" for i in range(12)])
    assert nulls.alerts == ("[PK_NULL] part_ibe_02: customer_user_id NULL rows=5",)
    assert dupes.alerts == ("[PK_DUPES] part_ibe_03: customer_user_id duplicate rows=10",)
    assert len(dupes.examples) == 10  # at most 10 example keys
    assert rules.pk_nulls(T, "customer_user_id", 0, 100).passed


def test_raw_row_count():
    assert rules.raw_row_count("split_part/x", 600, 600, 603, 3).passed
    short = rules.raw_row_count("split_part/x", 599, 599, 603, 3)
    assert not short.passed and short.observed == 599 and short.expected == 600


# ---- file sizes ---------------------------------------------------------------------


def test_file_sizes_report_first_20_issues():
    mb = rules.MB
    files = [(f"id_bucket=0/f{i}.parquet", mb // 2) for i in range(25)]
    files += [("id_bucket=1/ok.parquet", 100 * mb), ("id_bucket=2/big.parquet", 2000 * mb)]
    result = rules.file_sizes(T, files, 64, 1024, 3)
    assert not result.passed and result.severity is Severity.WARN and result.observed == 26
    sample = result.figures["file_issues_sample"].split("; ")
    assert len(sample) == 20 and sample[0] == "id_bucket=0/f0.parquet=0.500MB<64MB"
    assert rules.file_sizes(T, [("a", 100 * mb)], 64, 1024, 1).passed
    big = rules.file_sizes(T, [("id_bucket=2/big.parquet", 2000 * mb)], 64, 1024, 1)
    assert big.figures["file_issues_sample"] == "id_bucket=2/big.parquet=2000.000MB>1024MB"


# ---- SQL ----------------------------------------------------------------------------


def test_key_profile_sql_reads_only_the_key_column():
    statement = key_profile_sql("db.part_x", "customer_user_id", source="db.ext_x")
    assert statement.count("FROM db.part_x") == 1 and "*" not in statement.replace("COUNT(*)", "")
    assert "CROSS JOIN (SELECT COUNT(*) AS count_src FROM db.ext_x)" in statement
    with pytest.raises(SqlIdentifierError):
        key_profile_sql("db.t", "id; DROP TABLE x")
    with pytest.raises(SqlIdentifierError):
        table_name("db", "t-1")


def test_parse_key_profile_handles_athena_case_and_nulls():
    profile = parse_key_profile([{"COUNT_PART": 3, "pk_nulls": None, "pk_dupes": 2}])
    assert (profile.count_part, profile.pk_nulls, profile.pk_dupes) == (3, 0, 2)
    assert profile.count_src is None
    assert duplicate_examples([{"k": None, "c": 2}, {"k": "A", "c": 3}]) == [
        "NULL (2 rows)",
        "A (3 rows)",
    ]
