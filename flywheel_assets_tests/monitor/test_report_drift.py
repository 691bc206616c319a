"""The monitor report's drift columns and alert lines come from the snapshot's audit."""

import datetime as dt

from flywheel_assets.builds import AuditRecord
from flywheel_assets.checks.monitor import TableEvaluation
from flywheel_assets.checks.report import DRIFT_FIELDS, build_report, report_csv
from flywheel_assets_tests.conftest import make_settings

DRIFT_ALERT = "[DRIFT] split_part/ibe_01_a: key retention 12.00% < 80.00%"


def evaluation(audit: AuditRecord | None) -> TableEvaluation:
    return TableEvaluation("part_ibe_01_a", "2025-02-15", "file:///x", "t", (), audit)


def test_drift_columns_follow_the_reference_columns_and_name_the_drifted_table(tmp_path):
    audit = AuditRecord(
        dataset="split_part/ibe_01_a",
        snapshot_dt="2025-02-15",
        build="20250215T000000Z-abcd1234",
        passed=False,
        audited_at="t",
        failed_checks=["key_retention"],
        drift={"key_retention_pct": 12.0, "row_count_change_pct": -1.5},
        alerts=[DRIFT_ALERT],
    )
    report = build_report(
        make_settings(tmp_path),
        "db",
        [evaluation(audit), evaluation(None)],
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    drifted, unaudited = report["tables"]
    assert list(drifted)[-len(DRIFT_FIELDS) :] == list(DRIFT_FIELDS)
    assert drifted["drift_audit_passed"] is False
    assert drifted["key_retention_pct"] == 12.0
    assert drifted["row_count_change_pct"] == -1.5
    assert drifted["columns_removed"] is None  # not measured is empty, never 0
    assert all(unaudited[name] is None for name in DRIFT_FIELDS)
    assert report["alerts"] == [DRIFT_ALERT]  # the SNS body lists the report's alerts
    header = report_csv(report).splitlines()[0].split(",")
    assert header[-len(DRIFT_FIELDS) :] == list(DRIFT_FIELDS)


def test_an_audit_record_from_before_the_drift_figures_still_reads(tmp_path):
    old = '{"dataset": "split_part/x", "snapshot_dt": "2025-01-15", "build": "b", '
    old += '"passed": true, "audited_at": "t", "unknown_later_field": 1}'
    record = AuditRecord.from_json(old)
    assert record.passed and record.drift == {} and record.alerts == []
