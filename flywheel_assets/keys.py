"""Asset keys, one convention for the whole code location.

Datasets are two-part keys (``split_part/ibe_01_a``); catalog tables are named exactly
like the table (``part_ibe_01_a``), so ``--select part_ibe_01_a`` reads naturally.
"""

from __future__ import annotations

from dagster import AssetKey

from glue_jobs.registry import TableSpec


def raw_key(source: str) -> AssetKey:
    return AssetKey(["raw", source])


def compacted_key(source: str) -> AssetKey:
    """``compacted/addressable_ids``: a raw snapshot rewritten as a few large files."""
    return AssetKey(["compacted", source])


def split_part_key(table: TableSpec) -> AssetKey:
    return AssetKey(["split_part", table.slug])


def split_cluster_key(table: TableSpec) -> AssetKey:
    return AssetKey(["split_cluster", table.slug])


def part_key(table: TableSpec) -> AssetKey:
    return AssetKey([table.part_table])


def ext_key(table: TableSpec) -> AssetKey:
    return AssetKey([table.ext_table])


def bucketed_key(table: TableSpec) -> AssetKey:
    return AssetKey([table.bucketed_table])


def er_key(table: TableSpec) -> AssetKey:
    return AssetKey([table.er_table])


def history_key(table: TableSpec) -> AssetKey:
    return AssetKey([table.history_table])


def key_str(key: AssetKey) -> str:
    return "/".join(key.path)
