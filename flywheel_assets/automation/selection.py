"""Asset selections the automation builds on, resolved against the full asset graph.

Jobs defined here must cover assets owned by other modules (the partitioned, bucketed
and Clean Rooms pipelines), so they are selection *expressions* evaluated when the
code location resolves its jobs, never lists of keys frozen at import time.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, AbstractSet  # noqa: UP035 - the signature Dagster declares

import dagster as dg

from flywheel_assets.config.registry import Registries, as_registries
from flywheel_assets.keys import part_key, raw_key, split_cluster_key, split_part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from glue_jobs.registry import SOURCES, Registry

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

MONITOR_REPORT_KEY = dg.AssetKey(["monitor_report"])
# Catalog tables: part_* (incl. their *_er views and *_history tables), ext_* and
# bucketed_*. Wildcards resolve to nothing instead of failing when a pipeline is not part
# of the build.
# The *_compaction_cr tables (the catalog tables of group compaction) follow their audit too.
CATALOG_TABLES = dg.AssetSelection.from_string(
    "key:part_* or key:ext_* or key:bucketed_* or (group:compaction and kind:glue)"
)
# What a snapshot build runs: the audited datasets it writes and audits before anything
# publishes (the splits, and the compaction the bucketed addressable split reads), and
# the raw snapshots' own tables (*_raw_input: raw data has no audit to wait for, and
# automation cannot follow an external asset).
SPLIT_DATASETS = dg.AssetSelection.from_string(
    "key:split_part/* or key:split_cluster/* or key:compacted/* "
    "or (group:raw_snapshots and kind:glue)"
)


@dataclass(frozen=True)
class PartitionedBy(dg.AssetSelection):
    """Materializable assets partitioned by the dynamic partitions definition ``name``.

    Dagster has no built-in "partitioned by" selection; this one keeps the snapshot
    pipeline job correct when someone adds a partitioned or an unpartitioned asset.
    It serializes as the keys it resolves to (AssetSelection's default).
    """

    partitions_name: str

    def resolve_inner(
        self, asset_graph: "BaseAssetGraph", allow_missing: bool
    ) -> AbstractSet[dg.AssetKey]:
        found = set()
        for node in asset_graph.asset_nodes:
            pdef = node.partitions_def
            if (
                node.is_materializable
                and isinstance(pdef, dg.DynamicPartitionsDefinition)
                and pdef.name == self.partitions_name
            ):
                found.add(node.key)
        return found


SNAPSHOT_PARTITIONED = PartitionedBy(SNAPSHOT_PARTITIONS.name)


def monitor_selection(registry: Registry) -> dg.AssetSelection:
    """The checks of every ``part_*`` table plus ``monitor_report`` when it exists.

    ``key:monitor_report`` resolves to nothing (no error) while the report asset is
    not defined, so the schedule works before and after the monitor lands.
    """
    checks = dg.AssetSelection.checks_for_assets(*[part_key(t) for t in registry])
    return checks | dg.AssetSelection.from_string(f"key:{MONITOR_REPORT_KEY.to_user_string()}")


def keys_for_sources(
    asset_graph: "BaseAssetGraph",
    registry: Registry | Registries,
    sources: Iterable[str],
    within: dg.AssetSelection = SNAPSHOT_PARTITIONED,
) -> list[dg.AssetKey]:
    """The assets of ``within`` (a job's selection) that only need raw data of ``sources``.

    Everything downstream of the split outputs of the *other* sources' tables, and of
    their raw snapshots, is left out, so a snapshot delivered by one feed can be built
    without failing on the other.
    """
    wanted = set(sources)
    all_keys = within.resolve(asset_graph)
    registries = as_registries(registry)
    splits = [
        *(split_part_key(t) for t in registries.split_part if t.source not in wanted),
        *(split_cluster_key(t) for t in registries.split_cluster if t.source not in wanted),
    ]
    # and whatever reads the other sources' raw snapshots (compaction, the raw tables)
    raws = [raw_key(source) for source in SOURCES if source not in wanted]
    roots = [key for key in (*splits, *raws) if asset_graph.has(key)]
    excluded = (
        dg.AssetSelection.assets(*roots).downstream().resolve(asset_graph) if roots else set()
    )
    return sorted(all_keys - excluded, key=lambda k: k.to_user_string())
