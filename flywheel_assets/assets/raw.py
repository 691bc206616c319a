"""The raw snapshots: external assets written by the upstream feed, not by us."""

from __future__ import annotations

import dagster as dg

from flywheel_assets.keys import raw_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from glue_jobs.registry import SOURCES

DESCRIPTIONS = {
    "infobase_attributes": "Monthly Infobase attribute snapshot (parquet + _SUCCESS) delivered "
    "under opus/infobase_attributes/raw_input/snapshot_dt=YYYY-MM-DD/.",
    "addressable_ids": "Monthly addressable-ids snapshot (parquet + _SUCCESS) delivered under "
    "opus/addressable_ids/raw_input/snapshot_dt=YYYY-MM-DD/.",
}


def raw_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            key=raw_key(source),
            description=DESCRIPTIONS[source],
            partitions_def=SNAPSHOT_PARTITIONS,
            group_name="raw_snapshots",
            kinds={"s3", "parquet"},
        )
        for source in SOURCES
    ]
