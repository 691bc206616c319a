"""The monitor's SQL, written once in the subset Spark SQL and Athena (Trino) both accept.

One statement gives a table's row count, NULL keys and duplicate keys (and, when a
count source is given, the source's row count): it groups by the key column only, so
parquet readers fetch that one column. Example keys are a second, small statement that
runs only when a key problem exists. Identifiers are validated, never quoted, because
Spark quotes with backticks and Athena with double quotes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flywheel_assets.checks.rules import MAX_EXAMPLES, PARTITION_KEY

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MISSING_KEY = "k IS NULL OR TRIM(k) = ''"  # over the profile's grouped key ``k``


class SqlIdentifierError(ValueError):
    pass


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name or ""):
        raise SqlIdentifierError(f"{name!r} is not a plain SQL identifier")
    return name


def table_name(database: str, table: str) -> str:
    return f"{identifier(database)}.{identifier(table)}"


def key_profile_sql(relation: str, pk_column: str, source: str | None = None) -> str:
    """Row count, missing keys (NULL, empty or all-space: none of them joins), distinct
    keys and the spec's duplicate figure (``SUM(c)`` over key groups with
    ``COUNT(*) > 1``) of ``relation`` in one statement; ``source``'s ``COUNT(*)`` joins in
    when given. ``relation`` is a qualified table name (or, on Spark only, a
    ``parquet.`<uri>``` path relation)."""
    pk = identifier(pk_column)
    profile = (
        "SELECT COALESCE(SUM(c), 0) AS count_part, "
        f"COALESCE(SUM(CASE WHEN {MISSING_KEY} THEN c ELSE 0 END), 0) AS pk_nulls, "
        "COALESCE(SUM(CASE WHEN c > 1 THEN c ELSE 0 END), 0) AS pk_dupes, "
        f"COUNT(CASE WHEN NOT ({MISSING_KEY}) THEN 1 END) AS distinct_keys "
        f"FROM (SELECT {pk} AS k, COUNT(*) AS c FROM {relation} GROUP BY {pk}) g"
    )
    if source is None:
        return profile
    return (
        "SELECT p.count_part, p.pk_nulls, p.pk_dupes, p.distinct_keys, s.count_src "
        f"FROM ({profile}) p CROSS JOIN (SELECT COUNT(*) AS count_src FROM {source}) s"
    )


def duplicate_examples_sql(relation: str, pk_column: str, limit: int = MAX_EXAMPLES) -> str:
    pk = identifier(pk_column)
    return (
        f"SELECT {pk} AS k, COUNT(*) AS c FROM {relation} GROUP BY {pk} "
        f"HAVING COUNT(*) > 1 ORDER BY c DESC, k LIMIT {int(limit)}"
    )


def null_examples_sql(relation: str, pk_column: str, limit: int = MAX_EXAMPLES) -> str:
    """Missing keys have no value to show; the partitions holding them are the example."""
    pk = identifier(pk_column)
    return (
        f"SELECT {PARTITION_KEY} AS b, COUNT(*) AS c FROM {relation} "
        f"WHERE {pk} IS NULL OR TRIM({pk}) = '' "
        f"GROUP BY {PARTITION_KEY} ORDER BY c DESC, b LIMIT {int(limit)}"
    )


@dataclass(frozen=True)
class KeyProfile:
    count_part: int
    pk_nulls: int
    pk_dupes: int
    count_src: int | None = None
    distinct_keys: int | None = None


def parse_key_profile(rows: Sequence[Mapping[str, Any]]) -> KeyProfile:
    if len(rows) != 1:
        raise ValueError(f"key profile query returned {len(rows)} rows, expected 1")
    row = {k.lower(): v for k, v in rows[0].items()}
    src = row.get("count_src")
    return KeyProfile(
        count_part=int(row["count_part"] or 0),
        pk_nulls=int(row["pk_nulls"] or 0),
        pk_dupes=int(row["pk_dupes"] or 0),
        count_src=None if src is None else int(src),
        distinct_keys=None if row.get("distinct_keys") is None else int(row["distinct_keys"]),
    )


def duplicate_examples(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{'NULL' if r['k'] is None else r['k']} ({int(r['c'])} rows)" for r in rows]


def null_examples(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{PARTITION_KEY}={r['b']} ({int(r['c'])} NULL rows)" for r in rows]


def key_examples(
    query: Callable[[str], Sequence[Mapping[str, Any]]],
    relation: str,
    pk_column: str,
    profile: KeyProfile,
    nulls: bool = True,
    dupes: bool = True,
) -> tuple[list[str], list[str]]:
    """Example partitions holding missing keys and example duplicate keys: a second,
    small statement each, run only when the profile found such keys (``nulls=False``
    where the relation has no ``id_bucket`` to show)."""
    null_found = (
        null_examples(query(null_examples_sql(relation, pk_column)))
        if nulls and profile.pk_nulls
        else []
    )
    dupes_found = (
        duplicate_examples(query(duplicate_examples_sql(relation, pk_column)))
        if dupes and profile.pk_dupes
        else []
    )
    return null_found, dupes_found
