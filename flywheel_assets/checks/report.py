"""The monitor report and alert message, exactly as the monitor spec lays them out.

``build_report`` turns table evaluations into the spec's JSON document (same keys, same
order, same types: ``count_diff_pct`` is a string with six decimals); ``report_csv``
flattens its ``tables`` into the spec's CSV columns; ``alert_subject`` / ``alert_body``
are the SNS subject and message. Pure functions, no I/O.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

from flywheel_assets.checks import rules
from flywheel_assets.checks.monitor import TableEvaluation, iso_utc
from flywheel_assets.config.settings import Settings

REPORT_BASENAME = "omc_monitor_report"
DRIFT_FIELDS = (
    "drift_audit_passed",
    "drift_accepted",
    "row_count_change_pct",
    "key_retention_pct",
    "max_null_rise_points",
    "columns_added",
    "columns_removed",
    "columns_retyped",
)
TABLE_FIELDS = (
    "table",
    "location",
    "s3_partitions",
    "glue_partitions",
    "missing_glue_count",
    "table_type_ok",
    "contract_ok",
    "raw_input_snapshot_dt",
    "count_src",
    "count_part",
    "count_diff_pct",
    "pk_nulls",
    "pk_dupes",
    "file_issues_sample",
    "checked_at",
    # after the reference's columns: the drift audit of the snapshot's newest build
    *DRIFT_FIELDS,
)


def report_names(generated_at: dt.datetime) -> tuple[str, str]:
    """``omc_monitor_report_{date}.json`` and ``.csv``; the date is the UTC run day."""
    day = generated_at.astimezone(dt.UTC).date().isoformat()
    return f"{REPORT_BASENAME}_{day}.json", f"{REPORT_BASENAME}_{day}.csv"


def _figure(evaluation: TableEvaluation, check: str, name: str, default: Any = None) -> Any:
    result = evaluation.get(check)
    if result is None:
        return default
    return result.figures.get(name, default)


def table_row(evaluation: TableEvaluation) -> dict[str, Any]:
    """One entry of the report's ``tables``: figures the rules already computed."""
    count_part = _figure(evaluation, rules.CHECK_PK_NULL, "count_part")
    if count_part is None:
        count_part = _figure(evaluation, rules.CHECK_PK_DUPES, "count_part")
    if count_part is None:
        count_part = _figure(evaluation, rules.CHECK_COUNT, "count_part")
    return {
        "table": evaluation.table,
        "location": evaluation.location,
        "s3_partitions": _figure(evaluation, rules.CHECK_STORAGE, "s3_partitions"),
        "glue_partitions": _figure(evaluation, rules.CHECK_CATALOG, "glue_partitions"),
        "missing_glue_count": _figure(evaluation, rules.CHECK_CATALOG, "missing_glue_count"),
        "table_type_ok": _figure(evaluation, rules.CHECK_SCHEMA, "table_type_ok"),
        "contract_ok": _figure(evaluation, rules.CHECK_SCHEMA, "contract_ok"),
        "raw_input_snapshot_dt": _figure(
            evaluation, rules.CHECK_FRESHNESS, "raw_input_snapshot_dt"
        ),
        "count_src": _figure(evaluation, rules.CHECK_COUNT, "count_src"),
        "count_part": count_part,
        "count_diff_pct": _figure(evaluation, rules.CHECK_COUNT, "count_diff_pct", ""),
        "pk_nulls": _figure(evaluation, rules.CHECK_PK_NULL, "pk_nulls"),
        "pk_dupes": _figure(evaluation, rules.CHECK_PK_DUPES, "pk_dupes"),
        "file_issues_sample": _figure(evaluation, rules.CHECK_FILE_SIZE, "file_issues_sample", ""),
        "checked_at": evaluation.checked_at,
        **drift_row(evaluation),
    }


def drift_row(evaluation: TableEvaluation) -> dict[str, Any]:
    """The drift columns: empty when the snapshot has no audited build."""
    audit = evaluation.audit
    if audit is None:
        return dict.fromkeys(DRIFT_FIELDS)
    row = {"drift_audit_passed": audit.passed, "drift_accepted": audit.accepted_drift}
    return {name: row.get(name, audit.drift.get(name)) for name in DRIFT_FIELDS}


def build_report(
    settings: Settings,
    database: str,
    evaluations: Sequence[TableEvaluation],
    generated_at: dt.datetime,
) -> dict[str, Any]:
    """The spec's JSON report: settings echoed back, every alert line, one row a table."""
    return {
        "database": database,
        "prefix": settings.table_prefix,
        "bucket_count": settings.bucket_count,
        "generated_at": iso_utc(generated_at),
        "freshness_window_days": settings.freshness_window_days,
        "compare": {
            "enabled": settings.count_check_enabled,
            "type": settings.compare_source_type,
            "db": settings.compare_database or database,
            "tolerance_pct": float(settings.count_tolerance_pct),
        },
        "pk_column": settings.pk_column,
        "file_size_check": settings.file_size_check,
        "alerts": [alert for e in evaluations for alert in e.alerts],
        "tables": [table_row(e) for e in evaluations],
    }


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def report_csv(report: dict[str, Any]) -> str:
    """The spec's CSV columns; Python's csv spelling (``True``, empty for null)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TABLE_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report["tables"])
    return out.getvalue()


def alert_subject(database: str, prefix: str, issues: int) -> str:
    return f"[DATA MONITOR] {database} {prefix}* — {issues} issue(s)"


def alert_body(database: str, prefix: str, alerts: Sequence[str]) -> str:
    header = f"[DATA MONITOR] {len(alerts)} issue(s) in {database} ({prefix}*)"
    return header + "\n\n" + "\n".join(alerts)
