"""The table registry: which attribute columns go to which Cleanroom table.

Parsed from the split CSVs (header ``table_name,column_name``, one row per attribute
column; ``customer_user_id`` is implicitly in every table). Pure Python so that the
Glue jobs and the Dagster code location validate it the same way.

A registry describes the tables of one pipeline: the code location loads one per
pipeline (``flywheel_assets/config/registry.py``), so "a column belongs to one table"
holds within a pipeline, while the partitioned and the bucketed pipeline may split the
same raw columns differently (as the reference's ``*_split_part.csv`` and
``*_split_lowercase.csv`` do).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

KEY_COLUMN = "customer_user_id"
PARTITION_COLUMN = "id_bucket"
SNAPSHOT_COLUMN = "snapshot_dt"  # the first partition key of the part_*_history tables
MAX_ALLOWED_COLUMNS = 100  # Clean Rooms allow-list quota per configured table
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
SOURCES = ("infobase_attributes", "addressable_ids")


class RegistryError(ValueError):
    pass


def normalize_column(name: str) -> str:
    """``Customer_User_id`` -> ``customer_user_id``; spaces, dots and dashes become ``_``."""
    return re.sub(r"[\s.\-]+", "_", name.strip()).lower()


@dataclass(frozen=True)
class TableSpec:
    name: str  # as in the CSV and the lake folder, e.g. IBE_01_A
    source: str  # raw snapshot it is split from
    columns: tuple[str, ...]  # normalised attribute columns, key excluded

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (KEY_COLUMN, *self.columns)

    @property
    def part_table(self) -> str:
        return f"part_{self.slug}"

    @property
    def ext_table(self) -> str:
        return f"ext_{self.slug}"

    @property
    def bucketed_table(self) -> str:
        return f"bucketed_{self.slug}"

    @property
    def er_table(self) -> str:
        return f"part_{self.slug}_er"

    @property
    def history_table(self) -> str:
        """Every published, retained snapshot of ``part_table``, by ``snapshot_dt``."""
        return f"part_{self.slug}_history"


@dataclass(frozen=True)
class Registry:
    tables: tuple[TableSpec, ...]

    def __iter__(self):
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def get(self, name: str) -> TableSpec:
        for table in self.tables:
            if table.name == name or table.slug == name.lower():
                return table
        raise KeyError(f"table {name!r} is not in the registry")

    def for_source(self, source: str) -> list[TableSpec]:
        return [t for t in self.tables if t.source == source]

    def filtered(self, names: Iterable[str] | None) -> list[TableSpec]:
        """The reference's ``--TABLES_FILTER``: None or ``_NONE_`` means every table."""
        if names is None:
            return list(self.tables)
        wanted = [n.strip() for n in names if n.strip() and n.strip() != "_NONE_"]
        return [self.get(n) for n in wanted] if wanted else list(self.tables)


def parse_split_csv(text: str, source: str, origin: str) -> list[tuple[int, str, str]]:
    """Rows ``(line, table_name, raw_column)`` of one split CSV, header checked."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["table_name", "column_name"]:
        raise RegistryError(f"{origin}: header must be 'table_name,column_name', got {header!r}")
    rows = []
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise RegistryError(f"{origin}:{line}: expected 'table_name,column_name', got {row!r}")
        rows.append((line, row[0].strip(), row[1].strip()))
    return rows


def build_registry(
    csv_texts: Iterable[tuple[str, str, str]], max_columns: int = MAX_ALLOWED_COLUMNS
) -> Registry:
    """Build and validate a registry from ``(source, origin, csv_text)`` triples.

    Every error names the file and line of the offending row.
    """
    owner: dict[str, tuple[str, str]] = {}  # column -> (table, where)
    tables: dict[str, dict] = {}
    for source, origin, text in csv_texts:
        if source not in SOURCES:
            raise RegistryError(f"{origin}: unknown source {source!r}")
        rows = parse_split_csv(text, source, origin)
        if not rows:  # a source with no tables would silently never be split
            raise RegistryError(f"{origin}: holds no tables (a header and no table row)")
        for line, table_name, raw_column in rows:
            where = f"{origin}:{line}"
            slug = normalize_column(table_name)
            if not IDENTIFIER.match(slug):
                raise RegistryError(
                    f"{where}: table name {table_name!r} is not a legal lowercase identifier"
                )
            column = normalize_column(raw_column)
            if not IDENTIFIER.match(column):
                raise RegistryError(
                    f"{where}: column {raw_column!r} of {table_name} normalises to {column!r}, "
                    "not a legal lowercase identifier"
                )
            if column in (KEY_COLUMN, PARTITION_COLUMN, SNAPSHOT_COLUMN):
                raise RegistryError(
                    f"{where}: column {raw_column!r} is reserved ({KEY_COLUMN} is implicit, "
                    f"{PARTITION_COLUMN} and {SNAPSHOT_COLUMN} partition the tables)"
                )
            if column in owner:
                other_table, other_where = owner[column]
                raise RegistryError(
                    f"{where}: column {column!r} of {table_name} is already in {other_table} "
                    f"({other_where}); a column may belong to one table only"
                )
            owner[column] = (table_name, where)
            entry = tables.setdefault(
                slug, {"name": table_name, "source": source, "columns": [], "where": where}
            )
            if entry["name"] != table_name or entry["source"] != source:
                raise RegistryError(
                    f"{where}: table {table_name!r} clashes with {entry['name']!r} "
                    f"({entry['source']}) after normalisation"
                )
            entry["columns"].append(column)
            if len(entry["columns"]) + 1 > max_columns:
                raise RegistryError(
                    f"{where}: table {table_name} has more than {max_columns} columns "
                    f"including {KEY_COLUMN} (the Clean Rooms allow-list quota)"
                )
    if not tables:
        raise RegistryError("the registry holds no tables")
    _refuse_derived_name_clashes(tables)
    return Registry(
        tuple(TableSpec(e["name"], e["source"], tuple(e["columns"])) for e in tables.values())
    )


# tables named after another table: part_<slug><suffix> (TableSpec.er_table, history_table)
DERIVED_SUFFIXES = ("_er", "_history")


def _refuse_derived_name_clashes(tables: dict[str, dict]) -> None:
    """``X_HISTORY`` beside ``X`` would make ``part_x_history`` two tables at once."""
    for slug, entry in tables.items():
        for suffix in DERIVED_SUFFIXES:
            other = tables.get(slug + suffix)
            if other is not None:
                raise RegistryError(
                    f"{other['where']}: table {other['name']!r} would be named like the "
                    f"part_{slug}{suffix} table derived from {entry['name']!r} "
                    f"({entry['where']}); rename one of them"
                )
