"""GlueCatalog partition groups (``part_*_history``: ``snapshot_dt``, ``id_bucket``) on moto.

Publishing a month reads and writes only that month's partitions (one GetPartitions
filtered by an expression, batches within AWS's limits); the conftest checks every
request against the Glue service model, batch sizes included.
"""

from __future__ import annotations

from typing import Any

import pytest

from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.ports.catalog import Column, TableDefinition
from flywheel_assets_tests.adapters.test_glue_catalog import (
    BATCH_OPERATIONS,
    COLUMNS,
    DB,
    ROOT,
    record_calls,
)

HISTORY = "part_ibe_01_history"
KEYS = (Column("snapshot_dt", "string"), Column("id_bucket", "int"))
A, B = "2025-01-15", "2025-02-15"


def month(
    snapshot: str, build: str = "b1", columns: tuple[Column, ...] = COLUMNS
) -> TableDefinition:
    served = f"{ROOT}/snapshot_dt={snapshot}/build={build}/"
    return TableDefinition(
        database=DB,
        name=HISTORY,
        columns=columns,
        location=f"{ROOT}/",
        partition_keys=KEYS,
        partitions={str(b): f"{served}id_bucket={b}/" for b in range(256)},
        comment="every published, retained snapshot of part_ibe_01",
    )


def sizes(calls: dict[str, list[dict[str, Any]]]) -> dict[str, list[int]]:
    entries = {
        "BatchCreatePartition": "PartitionInputList",
        "BatchUpdatePartition": "Entries",
        "BatchDeletePartition": "PartitionsToDelete",
    }
    return {op: [len(c[entries[op]]) for c in calls[op]] for op in BATCH_OPERATIONS}


def test_months_are_added_in_batches_without_touching_the_others(
    catalog: GlueCatalog, glue: Any
) -> None:
    catalog.publish_partition_group(month(A), A)
    calls = record_calls(glue, "GetPartitions", "CreateTable", "UpdateTable", *BATCH_OPERATIONS)

    catalog.publish_partition_group(month(B), B)

    assert sizes(calls) == {
        "BatchCreatePartition": [100, 100, 56],
        "BatchUpdatePartition": [],
        "BatchDeletePartition": [],
    }
    assert calls["CreateTable"] == [] and len(calls["UpdateTable"]) == 1
    # only B's partitions were read, by expression, without column schemas
    assert [(c.get("Expression"), c["ExcludeColumnSchema"]) for c in calls["GetPartitions"]] == [
        (f"snapshot_dt = '{B}'", True)
    ]
    partitions = catalog.list_partitions(DB, HISTORY)
    assert len(partitions) == 512
    assert partitions[f"{A}/7"] == f"{ROOT}/snapshot_dt={A}/build=b1/id_bucket=7/"
    info = catalog.get_table(DB, HISTORY)
    assert info is not None and info.partition_keys == KEYS


def test_republishing_a_month_repoints_only_what_moved(catalog: GlueCatalog, glue: Any) -> None:
    catalog.publish_partition_group(month(A), A)
    catalog.publish_partition_group(month(B), B)
    calls = record_calls(glue, *BATCH_OPERATIONS)

    catalog.publish_partition_group(month(A), A)  # unchanged: nothing to write
    assert sizes(calls) == {op: [] for op in BATCH_OPERATIONS}

    catalog.publish_partition_group(month(A, build="b2"), A)  # a rebuild of A republished
    assert sizes(calls)["BatchUpdatePartition"] == [100, 100, 56]
    partitions = catalog.list_partitions(DB, HISTORY)
    assert partitions[f"{A}/0"].endswith("build=b2/id_bucket=0/")
    assert partitions[f"{B}/0"].endswith("build=b1/id_bucket=0/")


def test_a_month_dropped_goes_in_batches_of_25_and_leaves_the_others(
    catalog: GlueCatalog, glue: Any
) -> None:
    catalog.publish_partition_group(month(A), A)
    catalog.publish_partition_group(month(B), B)
    calls = record_calls(glue, *BATCH_OPERATIONS)

    assert catalog.drop_partition_group(DB, HISTORY, A) == 256

    assert sizes(calls)["BatchDeletePartition"] == [25] * 10 + [6]
    assert sorted({k.split("/")[0] for k in catalog.list_partitions(DB, HISTORY)}) == [B]
    assert catalog.drop_partition_group(DB, HISTORY, A) == 0
    assert catalog.drop_partition_group(DB, "part_missing_history", A) == 0


def test_a_column_of_a_new_month_updates_the_table_in_place(
    catalog: GlueCatalog, glue: Any
) -> None:
    catalog.publish_partition_group(month(A), A)
    wider = (*COLUMNS, Column("city", "string"))

    catalog.publish_partition_group(month(B, columns=wider), B)

    info = catalog.get_table(DB, HISTORY)
    assert info is not None and info.columns == wider
    assert len(catalog.list_partitions(DB, HISTORY)) == 512


@pytest.mark.parametrize("leading", ["", "2025-01-15' OR 'x'='x", "a/b"])
def test_a_group_value_that_cannot_be_quoted_is_refused(catalog: GlueCatalog, leading: str) -> None:
    with pytest.raises(ValueError, match="bad partition value"):
        catalog.publish_partition_group(month(A), leading)
