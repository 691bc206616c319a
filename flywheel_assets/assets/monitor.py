"""The data monitor: asset checks, the write-audit-publish gate and ``monitor_report``.

``monitor_report`` (group ``monitoring``, partitioned by ``snapshot_dt``) re-applies the
same rule functions as the checks to every monitored ``part_*`` table, writes the
spec's ``omc_monitor_report_{date}.json`` / ``.csv`` to the report location and sends
one alert through the alerts port when there are issues. It computes instead of
reading check results from the instance because Dagster does not order an asset
after its upstream's non-blocking checks: read back, the report could describe the
previous run.
"""

from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.checks.asset_checks import Clock, build_audit_checks, build_monitor_checks
from flywheel_assets.checks.monitor import TableMonitor, utc_now
from flywheel_assets.checks.report import (
    alert_body,
    alert_subject,
    build_report,
    report_csv,
    report_json,
    report_names,
)
from flywheel_assets.checks.rules import markdown_table
from flywheel_assets.checks.selection import monitor_check_names, monitored_tables
from flywheel_assets.config.registry import Registries, as_registries
from flywheel_assets.config.settings import Settings
from flywheel_assets.keys import part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.snapshots import validate_snapshot
from glue_jobs.registry import Registry

MONITOR_GROUP = "monitoring"
MONITOR_REPORT_KEY = dg.AssetKey(["monitor_report"])


def report_prefix(settings: Settings) -> str:
    """``report_prefix`` as a folder (``data-monitor/``); empty means the top level."""
    prefix = settings.report_prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def write_report_files(
    settings: Settings, files: dict[str, str], s3_client: Any | None = None
) -> list[str]:
    """Local profile: ``<report_root>/<report_prefix><name>``; AWS profiles:
    ``s3://<report_bucket>/<report_prefix><name>``. Returns the URIs written."""
    prefix = report_prefix(settings)
    uris = []
    if settings.is_local:
        for name, text in files.items():
            path = Path(settings.report_root) / prefix / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            uris.append(path.resolve().as_uri())
        return uris
    client = s3_client if s3_client is not None else aws_client("s3", settings.region)
    for name, text in files.items():
        key = prefix + name
        client.put_object(
            Bucket=settings.report_bucket,
            Key=key,
            Body=text.encode("utf-8"),
            ContentType="application/json" if name.endswith(".json") else "text/csv",
        )
        uris.append(f"s3://{settings.report_bucket}/{key}")
    return uris


def build_monitor_report_asset(
    registry: Registry, settings: Settings, clock: Clock = utc_now
) -> dg.AssetsDefinition:
    tables = monitored_tables(registry, settings)

    @dg.asset(
        key=MONITOR_REPORT_KEY,
        deps=[part_key(t) for t in tables],
        partitions_def=SNAPSHOT_PARTITIONS,
        group_name=MONITOR_GROUP,
        kinds={"json", "csv"},
        description=(
            "Data monitor report: omc_monitor_report_{date}.json/.csv with the spec's "
            "fields for every monitored part_* table, plus one SNS/local alert listing "
            "every issue ([COUNT_MISMATCH], [PK_NULL], [PK_DUPES], [ALERT] ...)."
        ),
    )
    def monitor_report(
        context: AssetExecutionContext, platform: dg.ResourceParam[Platform]
    ) -> dg.MaterializeResult:
        snapshot = validate_snapshot(context.partition_key)
        checks = monitor_check_names(platform.settings)
        now = clock()
        evaluations = [TableMonitor(platform, t, snapshot, now).evaluate(checks) for t in tables]
        report = build_report(platform.settings, platform.database, evaluations, now)
        json_name, csv_name = report_names(now)
        uris = write_report_files(
            platform.settings, {json_name: report_json(report), csv_name: report_csv(report)}
        )
        alerts = report["alerts"]
        if alerts:
            prefix = platform.settings.table_prefix
            platform.alerts.send(
                alert_subject(platform.database, prefix, len(alerts)),
                alert_body(platform.database, prefix, alerts),
            )
            context.log.warning(f"data monitor: {len(alerts)} issue(s) sent as an alert")
        failed = sum(1 for e in evaluations for r in e.results if not r.passed)
        return dg.MaterializeResult(
            metadata={
                "report_json": dg.MetadataValue.path(uris[0]),
                "report_csv": dg.MetadataValue.path(uris[1]),
                "tables": dg.MetadataValue.int(len(evaluations)),
                "issues": dg.MetadataValue.int(len(alerts)),
                "failed_rules": dg.MetadataValue.int(failed),
                "alerts": dg.MetadataValue.json(alerts),
                "summary": dg.MetadataValue.md(
                    markdown_table(
                        ("table", "failed rules"),
                        [
                            (e.table, ", ".join(r.check for r in e.results if not r.passed) or "-")
                            for e in evaluations
                        ],
                    )
                ),
            }
        )

    return monitor_report


def build_monitor_defs(
    registry: Registry | Registries, settings: Settings, clock: Clock = utc_now
) -> dg.Definitions:
    """Monitor checks on ``part_*`` and the report (the partitioned pipeline's registry),
    blocking audits on ``split_part/*`` and ``split_cluster/*`` (each pipeline's).

    ``clock`` (UTC ``datetime``) stamps the report and judges freshness; tests pin it.
    """
    partitioned = as_registries(registry).split_part
    return dg.Definitions(
        assets=[build_monitor_report_asset(partitioned, settings, clock)],
        asset_checks=[
            *build_monitor_checks(partitioned, settings, clock),
            *build_audit_checks(registry),
        ],
    )
