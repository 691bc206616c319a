"""Asset keys and groups of the Clean Rooms assets, shared by their modules."""

from __future__ import annotations

import dagster as dg

from glue_jobs.registry import TableSpec

ER_GROUP = "entity_resolution"
CR_GROUP = "clean_rooms"
REPORT_KEY = dg.AssetKey(["cleanrooms_report"])


def configured_table_key(table: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["cleanrooms_table", table.slug])


def schema_mapping_key(table: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["er_schema_mapping", table.slug])


def id_namespace_key(table: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["er_id_namespace", table.slug])
