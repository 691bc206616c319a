"""Raw and compacted snapshots as catalog tables: what the reference's four crawlers did.

Analysts queried the crawlers' tables ad hoc in Athena; these assets publish the same
four tables, each partitioned by ``snapshot_dt`` (STRING, as a crawler types a
``snapshot_dt=YYYY-MM-DD`` folder), with no crawler:

* ``<prefix><folder>`` over each raw root, named as a Glue crawler names a table (its
  table prefix, then the crawled folder): ``addressable_raw_input`` (prefix
  ``addressable_``) and ``infobase_attributes_raw_input`` (``infobase_attributes_``).
  Every complete delivered snapshot is a partition (the raw sensor's arrival rule);
* ``<folder>`` over each compaction root: ``addressable_ids_compaction_cr`` and
  ``infobase_attributes_compaction_cr`` (those crawlers had no prefix). Each compacted
  snapshot is a partition pointing at its audited build (``compaction.published_build``),
  added when that snapshot is materialized; the others keep their registration.

Schema from the data: a raw snapshot's parquet footers (``glue_jobs.raw_files``; Arrow
types mapped to Hive's), a compaction build's manifest (read back by Spark). Materializing
partition D compares D's columns with the table's, the crawlers' "update in database,
log deletions": a column D adds is appended; a column D lacks is kept (older partitions
hold it) and logged; both are in the materialization's metadata. A column whose type
changed is refused, naming it (it would break reads of the older partitions). Partitions
are registered through the catalog port in batches (``CatalogTableIOManager``), as
``part_*``'s are.
"""

# no ``from __future__ import annotations``: Dagster reads the context annotation
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets import compaction, layout
from flywheel_assets.assets.split import raw_snapshot
from flywheel_assets.automation.raw_sensor import snapshot_complete
from flywheel_assets.config.settings import Settings, SettingsError
from flywheel_assets.keys import compacted_key, raw_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition
from flywheel_assets.snapshots import snapshot_folder, snapshot_from_folder, validate_snapshot
from glue_jobs.raw_files import RawInputError, describe_problems, snapshot_schema
from glue_jobs.registry import IDENTIFIER, SOURCES, normalize_column

# each table sits with what it reads: the raw snapshots, the compaction datasets
RAW_GROUP, COMPACTED_GROUP = "raw_snapshots", "compaction"
PARTITION_KEY = Column("snapshot_dt", "string")
# the crawlers' table prefixes (infrastructure overview: crawlers 3 and 4)
RAW_TABLE_PREFIXES = {
    "addressable_ids": "addressable_",
    "infobase_attributes": "infobase_attributes_",
}


_SETTING = {"infobase_attributes": "infobase", "addressable_ids": "addressable"}  # in names


class SchemaEvolutionError(ValueError):
    """A snapshot's columns cannot join the table's (a type changed, a name clashes)."""


# ---- names --------------------------------------------------------------------------------


def _table_name(name: str, setting: str) -> str:
    if not IDENTIFIER.match(name):
        raise SettingsError(f"{setting}: the table it names, {name!r}, is not a legal identifier")
    return name


def raw_table_name(settings: Settings, source: str) -> str:
    """``addressable_raw_input``: the crawler's prefix and the raw root's last folder."""
    folder = settings.raw_prefix(source).rstrip("/").rsplit("/", 1)[-1]
    return _table_name(RAW_TABLE_PREFIXES[source] + folder, f"raw_{_SETTING[source]}_prefix")


def compacted_table_name(settings: Settings, source: str) -> str:
    """``addressable_ids_compaction_cr``: the compaction root's last folder."""
    folder = layout.compaction_root(settings, source).rstrip("/").rsplit("/", 1)[-1]
    return _table_name(folder, f"compaction_{_SETTING[source]}_prefix")


# ---- schema ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaChange:
    columns: tuple[Column, ...]  # the table's columns after this snapshot
    added: tuple[str, ...]  # new with this snapshot (appended)
    removed: tuple[str, ...]  # in the table, not in this snapshot: kept, logged


@dataclass(frozen=True)
class TableUpdate:
    """What publishing one snapshot into a table does."""

    definition: TableDefinition
    change: SchemaChange
    rows: int  # the snapshot's (its partition's) rows


def evolve_schema(
    table: str, current: Sequence[Column], snapshot: Sequence[Column], origin: str
) -> SchemaChange:
    """The crawlers' "update in database, log deletions" for one snapshot's columns."""
    if any(c.name == PARTITION_KEY.name for c in snapshot):
        raise SchemaEvolutionError(
            f"{table}: {origin} has a column {PARTITION_KEY.name}, the table's partition key"
        )
    known = {c.name: c.type for c in current}
    retyped = [
        f"{c.name} ({known[c.name]} -> {c.type})"
        for c in snapshot
        if known.get(c.name, c.type) != c.type
    ]
    if retyped:
        raise SchemaEvolutionError(
            f"{table}: {origin} changes the type of {', '.join(retyped)}; refusing to "
            "retype a column the older partitions hold (rename it upstream, or drop the "
            "table to have it rebuilt)"
        )
    present = {c.name for c in snapshot}
    added = tuple(c for c in snapshot if c.name not in known)
    return SchemaChange(
        columns=(*current, *added),
        added=tuple(c.name for c in added),
        removed=tuple(c.name for c in current if c.name not in present),
    )


_SCALARS = {
    "bool": "boolean",
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "uint8": "smallint",  # unsigned: the next wider signed type, as Spark reads them
    "uint16": "int",
    "uint32": "bigint",
    "uint64": "decimal(20,0)",
    "halffloat": "float",
    "float": "float",
    "double": "double",
    "string": "string",
    "binary": "binary",
    "date32[day]": "date",
    "date64[ms]": "date",
}
_DECIMAL = re.compile(r"^decimal(?:32|64|128|256)?\((\d+), (\d+)\)$")
_NESTED = re.compile(r"^(\w+)<(.*)>(\[\d+\])?$")


def _top_level(text: str) -> list[str]:
    """``a: int64, b: struct<c: x, d: y>`` -> its top-level comma-separated parts."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    return [*parts, text[start:].strip()]


def _field_type(field: str) -> str:
    """``item: int64`` -> ``int64``; a bare type (a map's) stays as it is."""
    name, colon, rest = field.partition(": ")
    return rest if colon and "<" not in name else field


def hive_type(arrow: str) -> str:
    """Hive's name of an Arrow type as ``raw_files`` reports it (``str(pyarrow type)``);
    ValueError for a type Hive cannot declare (``time64``, ``duration``, ...)."""
    arrow = arrow.removesuffix(" not null")
    if arrow in _SCALARS:
        return _SCALARS[arrow]
    if arrow.startswith("timestamp["):
        return "timestamp"
    if arrow.startswith("fixed_size_binary["):
        return "binary"
    decimal = _DECIMAL.match(arrow)
    if decimal:
        return f"decimal({decimal[1]},{decimal[2]})"
    nested = _NESTED.match(arrow)
    if nested:
        kind, inner = nested[1], _top_level(nested[2])
        if kind in ("list", "large_list", "list_view", "large_list_view", "fixed_size_list"):
            return f"array<{hive_type(_field_type(inner[0]))}>"
        if kind == "struct":
            fields = [f.split(": ", 1) for f in inner]
            return "struct<" + ",".join(f"{n.lower()}:{hive_type(t)}" for n, t in fields) + ">"
        if kind == "map" and len(inner) == 2:
            return f"map<{hive_type(inner[0])},{hive_type(_field_type(inner[1]))}>"
    raise ValueError(f"Arrow type {arrow} has no Hive equivalent")


def raw_columns(
    platform: Platform, source: str, snapshot: str
) -> tuple[tuple[Column, ...], str, int]:
    """The columns of a complete raw snapshot from its footers (one type per column across
    its files, the key present), where they were read, and its rows."""
    uri, summary = raw_snapshot(platform, source, snapshot)
    schema = snapshot_schema(summary.footers)
    problems = list(schema.problems)
    columns = []
    for name, arrow in schema.columns:
        try:
            columns.append(Column(name, hive_type(arrow)))
        except ValueError as exc:
            problems.append(f"column {name}: {exc}")
    if problems:
        raise RawInputError(describe_problems(uri, problems))
    return tuple(columns), uri, summary.rows


# ---- the two table families ---------------------------------------------------------------


def delivered_snapshots(platform: Platform, source: str) -> dict[str, str]:
    """Every complete raw snapshot of ``source``: ``snapshot -> location``. Hidden folders
    (``_temporary/``) are skipped; any other folder that is not ``snapshot_dt=YYYY-MM-DD/``
    is an error naming it (a crawler would have made it a partition)."""
    settings, lake = platform.settings, platform.lake
    root, now = settings.raw_prefix(source), time.time()
    found = {}
    for folder in lake.list_folders(root):
        if folder.startswith(("_", ".")):
            continue
        snapshot = snapshot_from_folder(folder)
        if snapshot_complete(lake, settings, source, snapshot, now):
            found[snapshot] = lake.uri(root + snapshot_folder(snapshot))
    return dict(sorted(found.items()))


def raw_table(platform: Platform, source: str, snapshot: str) -> TableUpdate:
    name = raw_table_name(platform.settings, source)
    columns, origin, rows = raw_columns(platform, source, snapshot)
    current = platform.catalog.get_table(platform.database, name)
    change = evolve_schema(name, current.columns if current else (), columns, origin)
    partitions = delivered_snapshots(platform, source)
    location = platform.lake.uri(platform.settings.raw_prefix(source))
    definition = _definition(platform, name, change, location, partitions, f"raw {source}")
    return TableUpdate(definition, change, rows)


def compacted_table(platform: Platform, source: str, snapshot: str) -> TableUpdate:
    settings, lake, catalog = platform.settings, platform.lake, platform.catalog
    name = compacted_table_name(settings, source)
    if settings.partition_registration == "msck":
        raise SettingsError(
            f"partition_registration='msck': {name}'s partitions are build directories "
            "(snapshot_dt=D/build=<id>/) MSCK REPAIR cannot find; it needs 'catalog'"
        )
    build = compaction.published_build(lake, settings, source, snapshot)
    manifest = compaction.read_manifest(lake, settings, source, snapshot, build)
    columns = tuple(Column(normalize_column(n), t) for n, t in manifest.columns)
    current = catalog.get_table(platform.database, name)
    change = evolve_schema(name, current.columns if current else (), columns, manifest.location)
    registered = (
        catalog.list_partitions(platform.database, name)
        if current is not None and current.partition_keys == (PARTITION_KEY,)
        else {}
    )
    partitions = dict(sorted({**registered, snapshot: manifest.location}.items()))
    location = lake.uri(layout.compaction_root(settings, source))
    what = f"{compaction.dataset_name(source)} (audited builds)"
    definition = _definition(platform, name, change, location, partitions, what)
    return TableUpdate(definition, change, manifest.row_count)


def _definition(
    platform: Platform,
    name: str,
    change: SchemaChange,
    location: str,
    partitions: dict[str, str],
    what: str,
) -> TableDefinition:
    newest = max(partitions)
    return TableDefinition(
        database=platform.database,
        name=name,
        columns=change.columns,
        location=location,
        partition_keys=(PARTITION_KEY,),
        partitions=partitions,
        comment=f"{what}: {len(partitions)} snapshot(s), newest snapshot_dt={newest}",
        parameters={"snapshot_dt": newest, "classification": "parquet"},
    )


DefinitionFn = Callable[[Platform, str, str], TableUpdate]


def build_table_asset(
    key: dg.AssetKey,
    dep: dg.AssetKey,
    group: str,
    source: str,
    description: str,
    definition_fn: DefinitionFn,
) -> dg.AssetsDefinition:
    @dg.asset(
        key=key,
        deps=[dep],
        partitions_def=SNAPSHOT_PARTITIONS,
        io_manager_key="catalog_io_manager",
        group_name=group,
        kinds={"glue", "parquet"},
        description=description,
        metadata={"source": source},
    )
    def _table(
        context: AssetExecutionContext, platform: dg.ResourceParam[Platform]
    ) -> TableDefinition:
        snapshot = validate_snapshot(context.partition_key)
        update = definition_fn(platform, source, snapshot)
        definition, change = update.definition, update.change
        if change.added:
            context.log.info(f"{definition.name}: columns added by {snapshot}: {change.added}")
        if change.removed:  # the crawlers' "log deletions": kept for the older partitions
            context.log.warning(
                f"{definition.name}: snapshot {snapshot} lacks columns {list(change.removed)}; "
                "kept in the table (older partitions hold them)"
            )
        context.add_output_metadata(
            {
                "snapshot_dt": snapshot,
                "dagster/row_count": update.rows,
                "columns_added": dg.MetadataValue.json(list(change.added)),
                "columns_removed_kept": dg.MetadataValue.json(list(change.removed)),
                "snapshots": dg.MetadataValue.json(sorted(definition.partitions)),
            }
        )
        return definition

    return _table


def build_raw_table_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """The four tables: raw and compacted, per source."""
    assets = []
    for source in SOURCES:
        raw, compacted = raw_table_name(settings, source), compacted_table_name(settings, source)
        assets.append(
            build_table_asset(
                dg.AssetKey([raw]),
                raw_key(source),
                RAW_GROUP,
                source,
                f"The crawler's {raw}: every complete raw {source} snapshot as a snapshot_dt "
                "partition, schema from the parquet footers (new columns added, missing ones "
                "kept and logged).",
                raw_table,
            )
        )
        assets.append(
            build_table_asset(
                dg.AssetKey([compacted]),
                compacted_key(source),
                COMPACTED_GROUP,
                source,
                f"The crawler's {compacted}: each compacted {source} snapshot as a snapshot_dt "
                "partition at its audited build, schema from the data (new columns added, "
                "missing ones kept and logged).",
                compacted_table,
            )
        )
    return assets
