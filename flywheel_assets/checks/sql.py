"""The monitor's SQL, written once in the subset Spark SQL and Athena (Trino) both accept.

One statement gives a table's row count, NULL keys and duplicate keys (and, when a
count source is given, the source's row count): it groups by the key column only, so
parquet readers fetch that one column. Example keys are a second, small statement that
runs only when a key problem exists. Identifiers are validated, never quoted, because
Spark quotes with backticks and Athena with double quotes (backticks in its DDL): this
module's :func:`identifier` is the one check every name from the registry or the
settings passes before it reaches SQL, whoever builds the statement. Every statement
sent to Athena is parsed with Athena's grammars in
``flywheel_assets_tests/adapters/test_athena_sql_grammar.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flywheel_assets.checks.rules import MAX_EXAMPLES, PARTITION_KEY

MISSING_KEY = "k IS NULL OR TRIM(k) = ''"  # over the profile's grouped key ``k``

# What an unquoted name may be in both of Athena's engines and in Spark SQL: Athena's
# DDL (Hive) needs backticks around a name that starts with an underscore, its DML and
# CTAS (Trino) double quotes around one that starts with a digit, and neither accepts
# any special character but the underscore.
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_IDENTIFIER_LENGTH = 255  # Glue/Athena: database, table and column names
# Athena's reserved keywords, unusable unquoted: those of its DDL (Hive) and of its
# SELECT statements (Trino), as listed in the Athena user guide, "Escape reserved
# keywords in queries".
RESERVED_WORDS = frozenset(
    """
    ALL ALTER AND ARRAY AS AUTHORIZATION BETWEEN BIGINT BINARY BOOLEAN BOTH BY CASE CASHE
    CAST CHAR COLUMN CONF CONSTRAINT COMMIT CREATE CROSS CUBE CURRENT CURRENT_CATALOG
    CURRENT_DATE CURRENT_PATH CURRENT_ROLE CURRENT_SCHEMA CURRENT_TIME CURRENT_TIMESTAMP
    CURRENT_USER CURSOR DATABASE DATE DAYOFWEEK DEALLOCATE DECIMAL DELETE DESCRIBE DISTINCT
    DIV DOUBLE DROP ELSE END ESCAPE EXCEPT EXCHANGE EXECUTE EXISTS EXTENDED EXTERNAL
    EXTRACT FALSE FETCH FIRST FLOAT FLOOR FOLLOWING FOR FOREIGN FROM FULL FUNCTION GRANT
    GROUP GROUPING HAVING IF IMPORT IN INNER INSERT INT INTEGER INTERSECT INTERVAL INTO IS
    JOIN JSON_ARRAY JSON_EXISTS JSON_OBJECT JSON_QUERY JSON_TABLE JSON_VALUE LAST LATERAL
    LEFT LESS LIKE LISTAGG LOCAL LOCALTIME LOCALTIMESTAMP MACRO MAP MORE NATURAL NONE
    NORMALIZE NOT NULL NUMERIC OF ON ONLY OR ORDER OUT OUTER OVER PARTIALSCAN PARTITION
    PERCENT PRECEDING PRECISION PREPARE PRESERVE PRIMARY PROCEDURE RANGE READS RECURSIVE
    REDUCE REFERENCES REGEXP REVOKE RIGHT RLIKE ROLLBACK ROLLUP ROW ROWS SELECT SET SKIP
    SMALLINT START TABLE TABLESAMPLE THEN TIME TIMESTAMP TO TRANSFORM TRIGGER TRIM TRUE
    TRUNCATE UESCAPE UNBOUNDED UNESCAPE UNION UNIQUEJOIN UNNEST UPDATE USER USING
    UTC_TIMESTAMP VALUES VARCHAR VIEWS WHEN WHERE WINDOW WITH
    """.split()  # noqa: SIM905 - the guide's lists, kept readable
)


class SqlIdentifierError(ValueError):
    pass


def identifier(name: str, what: str = "identifier") -> str:
    """``name`` unchanged if it may stand unquoted in Athena (both engines) and Spark SQL;
    otherwise SqlIdentifierError naming it. Names from the registry and the settings go
    through here before they reach SQL: they are refused, never quoted or escaped."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise SqlIdentifierError(
            f"{what} {name!r} is not a legal SQL identifier (a letter, then letters, digits "
            "or underscores); refusing to put it in SQL"
        )
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise SqlIdentifierError(
            f"{what} {name!r} is {len(name)} characters long; Athena allows at most "
            f"{MAX_IDENTIFIER_LENGTH}; refusing to put it in SQL"
        )
    if name.upper() in RESERVED_WORDS:
        raise SqlIdentifierError(
            f"{what} {name!r} is a reserved word in Athena SQL; refusing to put it in SQL"
        )
    return name


def table_name(database: str, table: str) -> str:
    """``database.table``, both parts checked by :func:`identifier`."""
    return f"{identifier(database, 'database name')}.{identifier(table, 'table name')}"


def row_count_sql(database: str, table: str) -> str:
    return f"SELECT COUNT(*) AS n FROM {table_name(database, table)}"


def msck_repair_sql(database: str, table: str) -> str:
    """Athena (Hive DDL) and Spark SQL: register the partitions found in storage."""
    return f"MSCK REPAIR TABLE {table_name(database, table)}"


def key_profile_sql(relation: str, pk_column: str, source: str | None = None) -> str:
    """Row count, missing keys (NULL, empty or all-space: none of them joins), distinct
    keys and the spec's duplicate figure (``SUM(c)`` over key groups with
    ``COUNT(*) > 1``) of ``relation`` in one statement; ``source``'s ``COUNT(*)`` joins in
    when given. ``relation`` is a qualified table name (or, on Spark only, a
    ``parquet.`<uri>``` path relation)."""
    pk = identifier(pk_column, "key column")
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
    pk = identifier(pk_column, "key column")
    return (
        f"SELECT {pk} AS k, COUNT(*) AS c FROM {relation} GROUP BY {pk} "
        f"HAVING COUNT(*) > 1 ORDER BY c DESC, k LIMIT {int(limit)}"
    )


def null_examples_sql(relation: str, pk_column: str, limit: int = MAX_EXAMPLES) -> str:
    """Missing keys have no value to show; the partitions holding them are the example."""
    pk = identifier(pk_column, "key column")
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
