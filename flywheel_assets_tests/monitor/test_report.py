"""The monitor report and its alert: the spec's structure, fields, file names and SNS text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from moto import mock_aws

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.adapters.sns_alerts import SnsAlerts
from flywheel_assets.assets.monitor import (
    MONITOR_REPORT_KEY,
    build_monitor_report_asset,
    write_report_files,
)
from flywheel_assets.builds import read_audit
from flywheel_assets.checks.report import (
    DRIFT_FIELDS,
    TABLE_FIELDS,
    alert_body,
    alert_subject,
    report_names,
)
from flywheel_assets.platform import Platform
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.monitor.conftest import NOW, SNAPSHOT, TABLES, rewritten_keys

REGION = "us-east-1"
# The spec's example report (shared/reference, "Outputs: JSON Report").
SPEC_REPORT = json.loads(
    """{
  "database": "omc_flywheel_prod",
  "prefix": "part_",
  "bucket_count": 256,
  "generated_at": "2025-01-15T10:30:00Z",
  "freshness_window_days": 45,
  "compare": {"enabled": true, "type": "ext", "db": "omc_flywheel_prod", "tolerance_pct": 0.0},
  "pk_column": "customer_user_id",
  "file_size_check": false,
  "alerts": [
    "[COUNT_MISMATCH] part_ibe_01: count mismatch...",
    "[PK_NULL] part_ibe_02: customer_user_id NULL rows=5"
  ],
  "tables": [
    {
      "table": "part_ibe_01",
      "location": "s3://bucket/path/",
      "s3_partitions": 256,
      "glue_partitions": 256,
      "missing_glue_count": 0,
      "table_type_ok": true,
      "contract_ok": true,
      "raw_input_snapshot_dt": "2025-01-10",
      "count_src": 1000000,
      "count_part": 1000000,
      "count_diff_pct": "0.000000",
      "pk_nulls": 0,
      "pk_dupes": 0,
      "file_issues_sample": "",
      "checked_at": "2025-01-15T10:30:00Z"
    }
  ]
}"""
)
SPEC_CSV_COLUMNS = [
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
]


def shape(value: Any) -> Any:
    """Keys (in order) and value types, recursively; lists by their first element."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_spec_alert_format():
    alerts = [
        "[COUNT_MISMATCH] part_ibe_01: omc_flywheel_prod.part_ibe_01=999950 vs "
        "omc_flywheel_prod.ext_ibe_01=1000000 (Δ=0.005000%)",
        "[PK_NULL] part_ibe_02: customer_user_id NULL rows=5",
        "[PK_DUPES] part_ibe_03: customer_user_id duplicate rows=10",
    ]
    assert alert_subject("omc_flywheel_prod", "part_", 3) == (
        "[DATA MONITOR] omc_flywheel_prod part_* — 3 issue(s)"
    )
    assert alert_body("omc_flywheel_prod", "part_", alerts) == (
        "[DATA MONITOR] 3 issue(s) in omc_flywheel_prod (part_*)\n\n" + "\n".join(alerts)
    )
    spec = len(SPEC_CSV_COLUMNS)
    assert TABLE_FIELDS[:spec] == tuple(SPEC_CSV_COLUMNS) == tuple(SPEC_REPORT["tables"][0])
    assert TABLE_FIELDS[spec:] == DRIFT_FIELDS  # ours come after the reference's
    assert report_names(NOW) == (
        "omc_monitor_report_2026-11-22.json",
        "omc_monitor_report_2026-11-22.csv",
    )


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def sns_topic(fake_credentials: None) -> Iterator[tuple[str, Any, str]]:
    """A topic with an SQS subscriber: (topic arn, sqs client, queue url)."""
    with mock_aws():
        sns = aws_client("sns", REGION)
        sqs = aws_client("sqs", REGION)
        topic_arn = sns.create_topic(Name="omc-flywheel-data-monitor")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="monitor-alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield topic_arn, sqs, queue_url


def received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    for m in messages.get("Messages", []):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def materialize_report(built, platform: Platform) -> dg.MaterializeResult:
    asset = build_monitor_report_asset(platform.registry, platform.settings, clock=lambda: NOW)
    result = dg.materialize(
        [asset], partition_key=SNAPSHOT, resources={"platform": platform}, instance=built.instance
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node(asset.node_def.name)
    assert materialization.asset_key == MONITOR_REPORT_KEY
    return materialization


def test_report_files_and_sns_alert(built, sns_topic):
    topic_arn, sqs, queue_url = sns_topic
    base = built.platform
    platform = Platform(
        base.settings,
        base.registry,
        lake=base.lake,
        catalog=base.catalog,
        sql=base.sql,
        alerts=SnsAlerts(topic_arn, REGION),
    )
    platform.__dict__["spark"] = base.spark
    database = platform.database

    healthy = materialize_report(built, platform)
    assert healthy.metadata["issues"].value == 0
    assert received(sqs, queue_url) == []  # no issues, no alert

    with rewritten_keys(built, "ibe_02_a", 3, lambda keys: [None, *keys[1:]]):
        faulty = materialize_report(built, platform)
    assert faulty.metadata["issues"].value == 1

    folder = platform.settings.report_root / "data-monitor"
    report = json.loads((folder / "omc_monitor_report_2026-11-22.json").read_text())
    # the spec's report, each table row extended by the drift columns after the spec's
    spec_view = {
        **report,
        "tables": [{k: r[k] for k in SPEC_CSV_COLUMNS} for r in report["tables"]],
    }
    assert shape(spec_view) == shape(SPEC_REPORT)
    assert all(tuple(r) == TABLE_FIELDS for r in report["tables"])
    assert {k: v for k, v in report.items() if k not in ("alerts", "tables")} == {
        "database": database,
        "prefix": "part_",
        "bucket_count": 256,
        "generated_at": "2026-11-22T06:00:00Z",
        "freshness_window_days": 45,
        "compare": {"enabled": True, "type": "ext", "db": database, "tolerance_pct": 0.0},
        "pk_column": "customer_user_id",
        "file_size_check": False,
    }
    alert = "[PK_NULL] part_ibe_02_a: customer_user_id NULL rows=1"
    assert report["alerts"] == [alert]
    rows = {row["table"]: row for row in report["tables"]}
    assert sorted(rows) == sorted(f"part_{t}" for t in TABLES)
    for table, row in rows.items():
        served = built.served_build(table.removeprefix("part_"))
        assert row["location"].endswith(f"snapshot_dt={SNAPSHOT}/build={served}")
        assert {k: row[k] for k in SPEC_CSV_COLUMNS if k not in ("table", "location")} == {
            "s3_partitions": 256,
            "glue_partitions": 256,
            "missing_glue_count": 0,
            "table_type_ok": True,
            "contract_ok": True,
            "raw_input_snapshot_dt": SNAPSHOT,
            "count_src": 600,
            "count_part": 600,
            "count_diff_pct": "0.000000",
            "pk_nulls": 1 if table == "part_ibe_02_a" else 0,
            "pk_dupes": 0,
            "file_issues_sample": "",
            "checked_at": "2026-11-22T06:00:00Z",
        }
        # the drift columns are the audit record of the snapshot's newest (served) build:
        # passed, and nothing drifted (no month before it, or itself when re-audited)
        slug = table.removeprefix("part_")
        record = read_audit(
            base.lake, base.settings, "split_part", built.table(slug), SNAPSHOT, served
        )
        assert record.passed and not record.accepted_drift
        assert row["drift_audit_passed"] is True and row["drift_accepted"] is False
        verdict = ("drift_audit_passed", "drift_accepted")
        assert all(row[n] == record.drift.get(n) for n in DRIFT_FIELDS if n not in verdict)
        assert row["row_count_change_pct"] in (None, 0.0)
        assert row["key_retention_pct"] in (None, 100.0)

    lines = (folder / "omc_monitor_report_2026-11-22.csv").read_text()
    parsed = list(csv.DictReader(io.StringIO(lines)))
    header = lines.splitlines()[0].split(",")
    assert header[: len(SPEC_CSV_COLUMNS)] == SPEC_CSV_COLUMNS
    assert header == list(TABLE_FIELDS)
    assert [r["table"] for r in parsed] == [r["table"] for r in report["tables"]]
    for row in parsed:
        original = rows[row["table"]]
        assert row == {k: "" if v is None else str(v) for k, v in original.items()}

    (message,) = received(sqs, queue_url)
    assert message["Subject"] == f"[DATA MONITOR] {database} part_* — 1 issue(s)"
    assert message["Message"] == f"[DATA MONITOR] 1 issue(s) in {database} (part_*)\n\n{alert}"


def test_reports_go_to_s3_on_aws_profiles(fake_credentials, tmp_path):
    settings = make_settings(tmp_path, env="dev")
    with mock_aws():
        s3 = aws_client("s3", REGION)
        s3.create_bucket(Bucket=settings.report_bucket)
        uris = write_report_files(settings, {"r.json": "{}", "r.csv": "table\n"})
        assert uris == [
            f"s3://{settings.report_bucket}/data-monitor/r.json",
            f"s3://{settings.report_bucket}/data-monitor/r.csv",
        ]
        body = s3.get_object(Bucket=settings.report_bucket, Key="data-monitor/r.csv")["Body"]
        assert body.read() == b"table\n"
