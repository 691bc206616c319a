"""``part_<table>_er``: the Entity Resolution view of a ``part_*`` table, without a copy.

An ``_er`` table is an external parquet table over the *same* location and partitions
as its ``part_*`` table that declares only the matching columns. Parquet resolves
columns by name, so readers of the ``_er`` table see exactly those columns and nothing
is rewritten. (The reference copied data and renamed ``customer_user_id`` to
``row_id``; a rename would break the by-name read, so the key keeps its name.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from flywheel_assets.cleanrooms.desired import (
    DEFAULT_ER_MAX_MATCH_FIELDS,
    schema_mapping_name,
    select_er_fields,
)
from flywheel_assets.ports.catalog import CatalogPort, TableDefinition, TableInfo
from glue_jobs.registry import KEY_COLUMN, TableSpec

SNAPSHOT_IN_URI = re.compile(r"snapshot_dt=(\d{4}-\d{2}-\d{2})")


class ErTableError(RuntimeError):
    """The ``part_*`` table is missing, lacks a chosen column or serves another snapshot."""


def snapshot_of(uri: str) -> str | None:
    match = SNAPSHOT_IN_URI.search(uri or "")
    return match.group(1) if match else None


def er_table_definition(
    table: TableSpec,
    part: TableInfo,
    partitions: dict[str, str],
    fields: Sequence[str],
    snapshot: str,
) -> TableDefinition:
    """Same location, partition keys and partitions as ``part``; only ``fields`` declared."""
    by_name = {c.name: c for c in part.columns}
    missing = [f for f in fields if f not in by_name]
    if missing:
        raise ErTableError(
            f"{part.database}.{part.name} lacks columns {missing} chosen for {table.er_table}"
        )
    return TableDefinition(
        database=part.database,
        name=table.er_table,
        columns=tuple(by_name[f] for f in fields),
        location=part.location,
        partition_keys=part.partition_keys,
        partitions=dict(partitions),
        comment=(
            f"Entity Resolution view of {part.name} (snapshot_dt={snapshot}); "
            f"{KEY_COLUMN} is the unique id"
        ),
        parameters={
            "classification": "parquet",
            "er_source_table": part.name,
            "er_schema_mapping": schema_mapping_name(table),
            "snapshot_dt": snapshot,
        },
    )


def publish_er_table(
    catalog: CatalogPort,
    database: str,
    table: TableSpec,
    snapshot: str,
    max_match_fields: int = DEFAULT_ER_MAX_MATCH_FIELDS,
) -> TableDefinition:
    """Repoint ``part_<table>_er`` at whatever ``part_<table>`` serves for ``snapshot``."""
    part = catalog.get_table(database, table.part_table)
    if part is None:
        raise ErTableError(
            f"{database}.{table.part_table} is not in the catalog; materialize "
            f"{table.part_table} for snapshot {snapshot} first"
        )
    partitions = catalog.list_partitions(database, table.part_table) if part.partition_keys else {}
    served = {s for s in [snapshot_of(part.location), *map(snapshot_of, partitions.values())] if s}
    if served and served != {snapshot}:
        raise ErTableError(
            f"{database}.{table.part_table} serves snapshot {sorted(served)}, not {snapshot}; "
            f"materialize {table.part_table} for {snapshot} first"
        )
    definition = er_table_definition(
        table, part, partitions, select_er_fields(table, max_match_fields), snapshot
    )
    catalog.publish_table(definition)
    return definition
