"""The id_bucket function, one definition for Python, Spark SQL and Athena.

``id_bucket = crc32(utf8(coalesce(customer_user_id, ''))) mod bucket_count``: CRC32 is
built into zlib, Spark (``crc32``) and Trino (``crc32(to_utf8(..))``) and is stable
across versions. Null keys hash as the empty string so they land in a real bucket and
the audit can report them instead of hiding them in a default partition.
"""

from __future__ import annotations

import zlib


def id_bucket(key: str | None, bucket_count: int) -> int:
    return zlib.crc32((key or "").encode("utf-8")) % bucket_count


def spark_bucket_expr(column: str, bucket_count: int) -> str:
    # the same under Spark 4's ANSI mode (on by default) and Spark 3.5's (off on Glue 5.0):
    # pmod of a CRC32 by a positive int always fits the INT it is cast to
    return f"CAST(pmod(crc32(coalesce(CAST({column} AS STRING), '')), {bucket_count}) AS INT)"


def athena_bucket_expr(column: str, bucket_count: int) -> str:
    return (
        f"CAST(crc32(to_utf8(coalesce(CAST({column} AS VARCHAR), ''))) % {bucket_count} AS INTEGER)"
    )
