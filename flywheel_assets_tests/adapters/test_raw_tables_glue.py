"""The raw and compacted tables published to the Glue Data Catalog (moto): the calls they
make and their batch sizes, every request checked against the service model (the
contract fixture of this folder), with real parquet footers in a local lake. No Spark:
the raw tables read footers, the compacted ones manifests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel_assets import layout
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.builds import AUDIT_NAME
from flywheel_assets.definitions import build_definitions
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition
from flywheel_assets_tests.adapters.test_glue_catalog import record_calls
from flywheel_assets_tests.conftest import make_settings
from glue_jobs.transforms import MANIFEST_NAME, Manifest

REGION = "us-east-1"
SOURCE = "addressable_ids"
RAW, COMPACTED = "addressable_raw_input", "addressable_ids_compaction_cr"
CALLS = ("CreateTable", "UpdateTable", "BatchCreatePartition", "BatchUpdatePartition",
         "BatchDeletePartition")  # fmt: skip
BUILD = "20250101T000000Z-seeded"


@pytest.fixture
def platform(tmp_path: Path, glue: Any, small_registry) -> Platform:
    settings = make_settings(tmp_path / "home")
    catalog = GlueCatalog(REGION, client=glue)
    catalog.ensure_database(settings.glue_database)
    return Platform(settings, small_registry, catalog=catalog)


def snapshots(count: int, start: dt.date = dt.date(2024, 1, 1)) -> list[str]:
    return [(start + dt.timedelta(days=n)).isoformat() for n in range(count)]


def deliver(platform: Platform, snapshot: str, extra: str = "") -> None:
    """One small raw file and its marker (``extra``: a column upstream added)."""
    columns = {"Customer_User_id": ["CU1", "CU2"], "Maid": ["m1", "m2"]}
    if extra:
        columns[extra] = [1, 2]
    prefix = layout.raw_snapshot_prefix(platform.settings, SOURCE, snapshot)
    path = platform.lake.path(prefix + "part-00000.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    platform.lake.write_text(prefix + platform.settings.snapshot_marker, "")


def audited_build(platform: Platform, snapshot: str, columns: list[list[str]]) -> str:
    """A compaction build as the job and its passing audit leave it (manifest, record)."""
    prefix = layout.compaction_build_prefix(platform.settings, SOURCE, snapshot, BUILD)
    location = platform.lake.uri(prefix)
    manifest = Manifest(SOURCE, "compacted", snapshot, location, 2, 2, 0, 1, columns, files=1)
    platform.lake.write_text(prefix + MANIFEST_NAME, manifest.to_json())
    record = {"dataset": "compacted/addressable_ids", "snapshot_dt": snapshot, "build": BUILD,
              "passed": True, "audited_at": "2025-01-01T00:00:00Z"}  # fmt: skip
    platform.lake.write_text(prefix + AUDIT_NAME, json.dumps(record))
    return location


def materialize(platform: Platform, table: str, snapshot: str) -> dg.ExecuteInProcessResult:
    job = dg.define_asset_job("publish", selection=dg.AssetSelection.assets(table))
    defs = dg.Definitions.merge(
        build_definitions(platform.settings, platform.registry, platform),
        dg.Definitions(jobs=[job]),
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [snapshot])
        return defs.resolve_job_def("publish").execute_in_process(
            instance=instance, partition_key=snapshot
        )


def batch_sizes(calls: dict[str, list[dict[str, Any]]]) -> dict[str, list[int]]:
    return {
        "create": [len(c["PartitionInputList"]) for c in calls["BatchCreatePartition"]],
        "update": [len(c["Entries"]) for c in calls["BatchUpdatePartition"]],
        "delete": [len(c["PartitionsToDelete"]) for c in calls["BatchDeletePartition"]],
    }


def test_raw_table_registers_every_delivered_snapshot_in_batches(platform, glue) -> None:
    dates = snapshots(130)
    for snapshot in dates:
        deliver(platform, snapshot)
    calls = record_calls(glue, *CALLS)

    materialize(platform, RAW, dates[-1])

    assert len(calls["CreateTable"]) == 1
    assert batch_sizes(calls) == {"create": [100, 30], "update": [], "delete": []}
    table = glue.get_table(DatabaseName=platform.database, Name=RAW)["Table"]
    assert table["PartitionKeys"] == [{"Name": "snapshot_dt", "Type": "string"}]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
        "customer_user_id",
        "maid",
    ]
    partitions = platform.catalog.list_partitions(platform.database, RAW)
    assert sorted(partitions) == dates
    assert partitions[dates[0]] == platform.lake.uri(
        layout.raw_snapshot_prefix(platform.settings, SOURCE, dates[0])
    )

    # a month that adds a column: the table is updated in place, every partition repointed
    # in batches of at most 100, the new one created; nothing is deleted
    new = snapshots(1, dt.date(2024, 6, 1))[0]
    deliver(platform, new, extra="Segment")
    calls = record_calls(glue, *CALLS)

    result = materialize(platform, RAW, new)

    assert calls["CreateTable"] == [] and len(calls["UpdateTable"]) == 1
    assert batch_sizes(calls) == {"create": [1], "update": [100, 30], "delete": []}
    columns = calls["UpdateTable"][0]["TableInput"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == ["customer_user_id", "maid", "segment"]
    metadata = result.asset_materializations_for_node(RAW)[0].metadata
    assert metadata["columns_added"].value == ["segment"]
    assert metadata["partitions_registered"].value == 131


def test_compacted_table_adds_its_snapshot_to_the_registered_ones(platform, glue) -> None:
    columns = [["Customer_User_id", "string"], ["Maid", "string"]]
    seeded = snapshots(150)
    platform.catalog.publish_table(  # a table that already lists 150 compacted months
        TableDefinition(
            database=platform.database,
            name=COMPACTED,
            columns=(Column("customer_user_id", "string"), Column("maid", "string")),
            location=platform.lake.uri(layout.compaction_root(platform.settings, SOURCE)),
            partition_keys=(Column("snapshot_dt", "string"),),
            partitions={d: audited_build(platform, d, columns) for d in seeded},
        )
    )
    new = "2025-01-15"
    location = audited_build(platform, new, [*columns, ["Hashed_Email", "string"]])
    calls = record_calls(glue, *CALLS)

    result = materialize(platform, COMPACTED, new)

    assert batch_sizes(calls) == {"create": [1], "update": [100, 50], "delete": []}
    partitions = platform.catalog.list_partitions(platform.database, COMPACTED)
    assert len(partitions) == 151 and partitions[new] == location
    info = platform.catalog.get_table(platform.database, COMPACTED)
    assert [c.name for c in info.columns] == ["customer_user_id", "maid", "hashed_email"]
    assert info.parameters["snapshot_dt"] == new
    metadata = result.asset_materializations_for_node(COMPACTED)[0].metadata
    assert metadata["columns_added"].value == ["hashed_email"]
    assert metadata["columns_removed_kept"].value == []
