"""``part_<table>_history``: every published, retained snapshot of ``part_<table>`` in one
table, for questions across months (``WHERE snapshot_dt BETWEEN ... GROUP BY snapshot_dt``).

``part_*`` serves one snapshot (what Clean Rooms reads). Its history table is partitioned
by ``snapshot_dt`` (string, ISO date) and ``id_bucket`` (int); a month's partitions point
into the build ``part_*`` served when the month was published
(``split_part/<source>/<TABLE>/snapshot_dt=D/build=<id>/id_bucket=N/``), so nothing is
copied.

An asset downstream of ``part_*``, not a second publish inside it, because that keeps
"never serve an unaudited month" true by construction: history registers exactly the
build ``part_<table>`` serves for the partition, ``part_*`` is only ever repointed through
the publish gate (``publishing.py``), and the audit record of that build is read again
here (the same gate, whichever run asks). A month whose audit failed never reaches
``part_*``, so it never reaches history; ``flywheel run`` and the automation sensor
publish history after ``part_*`` and only downstream of audits that passed.

Only retention (``automation/retention.py``) removes a month: its partitions first, then
its data. The columns are the newest month's, followed by any that only older months
had (kept, as the crawlers kept deleted columns), so old months stay queryable after a
registry change.
"""

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets import builds, layout
from flywheel_assets.keys import history_key, part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition, TableInfo
from flywheel_assets.publishing import PartitionGroup
from flywheel_assets.snapshots import validate_snapshot
from glue_jobs.registry import PARTITION_COLUMN, SNAPSHOT_COLUMN, Registry, TableSpec

HISTORY_KEYS = (Column(SNAPSHOT_COLUMN, "string"), Column(PARTITION_COLUMN, "int"))
HISTORY_PARAMETER = "flywheel_history_of"  # table parameter: the part_* table it records


class HistoryError(RuntimeError):
    """A month cannot enter history: ``part_*`` does not serve it from an audited build."""


def history_columns(
    current: TableInfo | None, served: tuple[Column, ...]
) -> tuple[tuple[Column, ...], tuple[str, ...]]:
    """The served month's columns, then those only older months had; and the latter's
    names."""
    names = {c.name for c in served}
    kept = tuple(c for c in (current.columns if current else ()) if c.name not in names)
    return served + kept, tuple(c.name for c in kept)


def served_partitions(
    platform: Platform, table: TableSpec, part: TableInfo, snapshot: str
) -> tuple[str, dict[str, str]]:
    """The build ``part`` serves and its partitions (id_bucket -> location); raises unless
    it serves ``snapshot`` from a build whose audit passed."""
    served = part.parameters.get("snapshot_dt", "")
    if served != snapshot:
        raise HistoryError(
            f"{part.name} serves snapshot_dt={served or '?'}, not {snapshot}: a month enters "
            f"{table.history_table} when {part.name} publishes it (materialize {part.name} "
            f"for {snapshot}; an older month needs --rollback)"
        )
    build = builds.served_build(part)
    if build is None:
        raise HistoryError(f"{part.name} is not published from a build: republish it first")
    builds.require_passed_audit(
        platform.lake, platform.settings, "split_part", table, snapshot, build
    )
    partitions = platform.catalog.list_partitions(platform.database, part.name)
    if not partitions:
        raise HistoryError(f"{platform.database}.{part.name} has no partitions registered")
    return build, partitions


def history_group(
    platform: Platform, table: TableSpec, part: TableInfo, snapshot: str
) -> tuple[PartitionGroup, str, tuple[str, ...]]:
    """The month's partition group of ``part_<table>_history``, the build it points into
    and the columns kept from older months."""
    build, partitions = served_partitions(platform, table, part, snapshot)
    current = platform.catalog.get_table(platform.database, table.history_table)
    columns, kept = history_columns(current, part.columns)
    root = platform.lake.uri(layout.dataset_root(platform.settings, "split_part", table))
    definition = TableDefinition(
        database=platform.database,
        name=table.history_table,
        columns=columns,
        location=root,
        partition_keys=HISTORY_KEYS,
        partitions=partitions,
        comment=(
            f"every published, retained snapshot of {part.name}: filter on snapshot_dt "
            "(YYYY-MM-DD) for a month or a range"
        ),
        parameters={"classification": "parquet", HISTORY_PARAMETER: part.name},
    )
    return PartitionGroup(definition, snapshot), build, kept


def build_history_asset(table: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=history_key(table),
        ins={"part": dg.AssetIn(part_key(table))},
        partitions_def=SNAPSHOT_PARTITIONS,
        io_manager_key="catalog_io_manager",
        group_name="partitioned_pipeline",
        kinds={"glue", "parquet"},
        description=(
            f"History: {table.history_table} holds every published, retained snapshot of "
            f"{table.part_table}, partitioned by snapshot_dt and id_bucket; this partition's "
            f"month is added once {table.part_table} serves it (after its audit) and "
            "removed only by retention."
        ),
        metadata={"table": table.name},
    )
    def _history(
        context: AssetExecutionContext, part: TableInfo, platform: dg.ResourceParam[Platform]
    ) -> PartitionGroup:
        snapshot = validate_snapshot(context.partition_key)
        group, build, kept = history_group(platform, table, part, snapshot)
        context.add_output_metadata(
            {"snapshot_dt": snapshot, "build": build, "columns_kept": ", ".join(kept) or "-"}
        )
        return group

    return _history


def build_history_assets(registry: Registry) -> list[dg.AssetsDefinition]:
    """One history table per table of the partitioned pipeline's registry."""
    return [build_history_asset(t) for t in registry]
