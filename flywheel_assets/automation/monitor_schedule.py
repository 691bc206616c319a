"""The daily data-monitor schedule: the ``part_*`` checks on the snapshot in service.

The monitor re-audits what readers see; it never rebuilds. "In service" is what the
catalog says (the ``snapshot_dt`` parameter every ``part_*`` table carries) on AWS
profiles. On the local profile the schedule reads Dagster's own record instead (the
partition of each table's latest materialization, which a rollback also updates):
the local catalog is an embedded metastore that only one JVM may open, and the
scheduler must not start one next to a running pipeline.
"""

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from flywheel_assets.keys import part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from glue_jobs.registry import Registry

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


MONITOR_JOB_NAME = "monitor_checks"
MONITOR_SCHEDULE_NAME = "monitor_schedule"
PARTITION_TAG = "dagster/partition"
SOURCE_TAG = "flywheel/in_service_source"


@dataclass(frozen=True)
class InService:
    """The snapshot in service and how every table voted (table -> snapshot)."""

    snapshot: str | None
    source: str
    votes: dict[str, str]

    @property
    def disagreeing(self) -> dict[str, str]:
        return {t: s for t, s in self.votes.items() if s != self.snapshot}


def _elect(votes: dict[str, str], source: str) -> InService:
    """Most tables win; a tie goes to the newer snapshot."""
    if not votes:
        return InService(None, source, {})
    counts = Counter(votes.values())
    snapshot = max(counts, key=lambda s: (counts[s], s))
    return InService(snapshot, source, votes)


def in_service_from_catalog(platform: Platform, registry: Registry) -> InService:
    votes = {}
    for table in registry:
        info = platform.catalog.get_table(platform.database, table.part_table)
        if info is not None and info.parameters.get("snapshot_dt"):
            votes[table.part_table] = info.parameters["snapshot_dt"]
    return _elect(votes, "catalog")


def in_service_from_instance(instance: dg.DagsterInstance, registry: Registry) -> InService:
    votes = {}
    for table in registry:
        records = instance.fetch_materializations(part_key(table), limit=1).records
        if records and records[0].partition_key:
            votes[table.part_table] = records[0].partition_key
    return _elect(votes, "dagster")


def in_service_snapshot(
    platform: Platform, instance: dg.DagsterInstance, registry: Registry
) -> InService:
    """Catalog first on AWS profiles (falls back to Dagster when no table is there yet)."""
    if not platform.settings.is_local:
        found = in_service_from_catalog(platform, registry)
        if found.snapshot:
            return found
    return in_service_from_instance(instance, registry)


def build_monitor_schedule(
    job: "UnresolvedAssetJobDefinition",
    registry: Registry,
    cron: str,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=MONITOR_SCHEDULE_NAME,
        cron_schedule=cron,
        job=job,
        default_status=default_status,
        description=(
            "Daily data monitor: runs the part_* checks (and monitor_report) for the "
            "snapshot currently in service; nothing is rebuilt."
        ),
    )
    def monitor_schedule(
        context: dg.ScheduleEvaluationContext, platform: dg.ResourceParam[Platform]
    ) -> dg.RunRequest | dg.SkipReason:
        found = in_service_snapshot(platform, context.instance, registry)
        if found.snapshot is None:
            return dg.SkipReason("no part_* table is in service yet: nothing to monitor")
        if found.disagreeing:
            context.log.warning(
                f"part_* tables disagree on the snapshot in service; monitoring "
                f"{found.snapshot}, others: {found.disagreeing}"
            )
        if not context.instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, found.snapshot):
            # e.g. a fresh Dagster instance in front of an existing catalog
            context.instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [found.snapshot])
        tick = context.scheduled_execution_time
        # Checks-only jobs carry no partitions definition in Dagster 1.13, so the partition
        # travels as the run tag that partitioned checks read their key from.
        return dg.RunRequest(
            run_key=f"{found.snapshot}@{tick.isoformat() if tick else 'manual'}",
            tags={PARTITION_TAG: found.snapshot, SOURCE_TAG: found.source},
        )

    return monitor_schedule
