"""The partitioned pipeline publishing to the Glue Data Catalog (moto) with real data.

Glue accepts any location string, so the local lake and in-process Spark produce the
data while the AWS catalog adapter publishes it: the AWS catalog path, proven with
real files.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from flywheel_assets import layout
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets.builds import BUILD_PARAMETER, read_audit
from flywheel_assets_tests.pipeline_helpers import run_pipeline

SELECTION = "key:split_part/* or (key:part_* and not key:*_er)"


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def test_pipeline_publishes_part_tables_to_glue(aws_env, local_platform, instance, spark):
    platform = local_platform()
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": platform.database})
    platform.__dict__["catalog"] = GlueCatalog("us-east-1", client=glue)

    calls: list[str] = []
    glue.meta.events.register(
        "before-call.glue.BatchCreatePartition", lambda **kw: calls.append("create")
    )
    summary = run_pipeline(platform, instance, "2025-01-15", SELECTION, rows=500)
    # (the monitor's SQL checks query through Spark, which cannot see Glue: not judged here)
    assert {a["status"] for a in summary.assets} == {"materialized"}, summary.to_json()
    # part_* and its history table: 256 partitions = 3 calls each
    assert calls == ["create"] * (6 * len(platform.registry))

    for table in platform.registry:
        got = glue.get_table(DatabaseName=platform.database, Name=table.part_table)["Table"]
        assert got["TableType"] == "EXTERNAL_TABLE"
        assert got["PartitionKeys"] == [{"Name": "id_bucket", "Type": "int"}]
        assert got["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith(
            "ParquetHiveSerDe"
        )
        assert got["Parameters"]["snapshot_dt"] == "2025-01-15"
        # the table serves the audited build, a directory of its own under the snapshot
        build = got["Parameters"][BUILD_PARAMETER]
        record = read_audit(
            platform.lake, platform.settings, "split_part", table, "2025-01-15", build
        )
        assert record is not None and record.passed
        served = platform.lake.uri(
            layout.dataset_build_prefix(platform.settings, "split_part", table, "2025-01-15", build)
        )
        assert got["StorageDescriptor"]["Location"] == served
        partitions = platform.catalog.list_partitions(platform.database, table.part_table)
        assert sorted(partitions, key=int) == [str(b) for b in range(256)]
        assert all(loc.startswith(served) for loc in partitions.values())
        # the partition locations Glue holds point at real data: read them back
        locations = list(partitions.values())
        rows = spark.read.parquet(*locations).count()
        assert rows == 500

    # next month (4% fewer rows, 2% churned keys: within the drift limits) passes its
    # audit and repoints every partition in place (BatchUpdatePartition); the only
    # creates are the new month's partitions of each history table
    calls.clear()
    again = run_pipeline(platform, instance, "2025-02-15", SELECTION, rows=480)
    assert {a["status"] for a in again.assets} == {"materialized"}, again.to_json()
    assert calls == ["create"] * (3 * len(platform.registry))
    for table in platform.registry:
        history = platform.catalog.list_partitions(platform.database, table.history_table)
        assert sorted({k.split("/")[0] for k in history}) == ["2025-01-15", "2025-02-15"]
    table = platform.registry.get("IBE_01_A")
    info = platform.catalog.get_table(platform.database, table.part_table)
    build = info.parameters[BUILD_PARAMETER]
    served = platform.lake.uri(
        layout.dataset_build_prefix(platform.settings, "split_part", table, "2025-02-15", build)
    )
    partitions = platform.catalog.list_partitions(platform.database, table.part_table)
    assert info.parameters["snapshot_dt"] == "2025-02-15" and info.location == served
    assert all(loc.startswith(served) for loc in partitions.values())
    assert spark.read.parquet(*partitions.values()).count() == 480
    marker = layout.snapshot_marker_key(platform.settings, "split_part", table.source)
    assert platform.lake.read_text(marker) == "2025-02-15"  # written once published
