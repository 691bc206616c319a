"""``compacted/<source>`` on the local profile: many small raw files in, the reference's
file count out with the same rows, a blocking audit every reader requires, the bucketed
addressable tables built from it equal to those built from raw, and on AWS the same
asset through the compute port (a fake Glue compute)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel_assets import compaction, layout
from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.assets.compaction import compact_locally
from flywheel_assets.builds import AUDIT_NAME, UnauditedBuildError, read_audit_at
from flywheel_assets.definitions import build_definitions
from flywheel_assets.keys import compacted_key, split_cluster_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.sample_data import write_sample_snapshot
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.pipeline_helpers import assets_by_key, run_pipeline
from glue_jobs.raw_files import RawInputError, data_files
from glue_jobs.registry import SOURCES
from glue_jobs.transforms import MANIFEST_NAME, target_file_count

SNAPSHOT = "2025-01-15"
COMPACTION = "key:compacted/*"
ADDRESSABLE_BUCKETED = (
    "key:split_cluster/addressable_ids or key:ext_addressable_ids or key:bucketed_addressable_ids"
)


def deliver_small_files(platform: Platform, snapshot: str, rows: int, files: int) -> None:
    """The sample snapshot of every source, delivered as ``files`` small parquet files."""
    settings, lake = platform.settings, platform.lake
    write_sample_snapshot(settings, platform.registry, lake, snapshot, rows)
    for source in SOURCES:
        folder = lake.path(layout.raw_snapshot_prefix(settings, source, snapshot))
        parts = sorted(folder.glob("*.parquet"))
        table = pa.concat_tables(pq.ParquetFile(p).read() for p in parts)
        for part in parts:
            part.unlink()
        step = -(-table.num_rows // files)
        for n in range(files):
            pq.write_table(table.slice(n * step, step), folder / f"part-{n:05d}.parquet")


def raw_rows(platform: Platform, source: str, snapshot: str):
    uri = platform.lake.uri(layout.raw_snapshot_prefix(platform.settings, source, snapshot))
    return platform.spark.read.parquet(uri)


def test_compaction_turns_many_small_files_into_the_sized_count_with_the_same_rows(
    local_platform, instance
) -> None:
    platform = local_platform()
    settings, lake = platform.settings, platform.lake
    deliver_small_files(platform, SNAPSHOT, rows=400, files=12)

    summary = run_pipeline(platform, instance, SNAPSHOT, COMPACTION, rows=None)

    assert summary.exit_code == 0, summary.to_json()
    assets = assets_by_key(summary)
    audits = [c for c in summary.checks if c["asset"].startswith("compacted/")]
    assert len(audits) == 3 * len(SOURCES) and all(c["passed"] for c in audits)
    for source in SOURCES:
        build = compaction.published_build(lake, settings, source, SNAPSHOT)
        manifest = compaction.read_manifest(lake, settings, source, SNAPSHOT, build)
        raw_prefix = layout.raw_snapshot_prefix(settings, source, SNAPSHOT)
        raw = data_files(raw_prefix, ((o.key, o.size) for o in lake.list_objects(raw_prefix)))
        prefix = layout.compaction_build_prefix(settings, source, SNAPSHOT, build)
        written = [o for o in lake.list_objects(prefix) if o.key.endswith(".parquet")]
        assert len(raw) == 12
        assert len(written) == manifest.files == target_file_count(sum(s for _, s in raw)) == 1
        # the same rows, exact duplicates included: compaction does not de-duplicate
        original = raw_rows(platform, source, SNAPSHOT)
        compacted = platform.spark.read.parquet(lake.uri(prefix))
        assert compacted.count() == original.count() == manifest.row_count == manifest.raw_rows
        assert original.exceptAll(compacted).count() == compacted.exceptAll(original).count() == 0
        assert original.count() > original.distinct().count()  # the sample has duplicates
        metadata = assets[f"compacted/{source}"]["metadata"]
        assert metadata["duplicates_dropped"] == 0 and metadata["build"] == build
        assert read_audit_at(lake, prefix).passed


def test_a_delivery_whose_files_differ_is_refused_and_nothing_is_written(
    local_platform, instance
) -> None:
    platform = local_platform()
    deliver_small_files(platform, SNAPSHOT, rows=200, files=3)
    folder = platform.lake.path(
        layout.raw_snapshot_prefix(platform.settings, "addressable_ids", SNAPSHOT)
    )
    last = folder / "part-00002.parquet"
    pq.write_table(pq.read_table(last).drop_columns(["Maid"]), last)

    summary = run_pipeline(platform, instance, SNAPSHOT, "key:compacted/addressable_ids", rows=None)

    assert summary.exit_code == 1
    root = layout.compaction_root(platform.settings, "addressable_ids")
    assert platform.lake.list_objects(root) == []
    with pytest.raises(RawInputError, match=r"column maid is missing from .*part-00002\.parquet"):
        compact_locally(platform, "addressable_ids", SNAPSHOT, "20250115T000000Z-test")


def test_a_failed_audit_keeps_the_build_from_every_reader(local_platform, instance) -> None:
    platform = local_platform()
    settings, lake = platform.settings, platform.lake
    deliver_small_files(platform, SNAPSHOT, rows=200, files=4)
    selection = "key:compacted/addressable_ids"
    assert run_pipeline(platform, instance, SNAPSHOT, selection, rows=None).exit_code == 0
    build = compaction.published_build(lake, settings, "addressable_ids", SNAPSHOT)
    prefix = layout.compaction_build_prefix(settings, "addressable_ids", SNAPSHOT, build)
    # a stray file lands in the build: the re-audit fails and records it
    stray = lake.path(prefix) / "part-99999-stray.parquet"
    pq.write_table(pq.read_table(next(lake.path(prefix).glob("part-0*.parquet"))), stray)

    again = run_pipeline(platform, instance, SNAPSHOT, selection, rows=None, checks_only=True)

    failed = {c["name"] for c in again.checks if not c["passed"]}
    assert failed == {"row_count_matches_raw", "files_complete", "file_count_sized"}
    assert not read_audit_at(lake, prefix).passed
    with pytest.raises(UnauditedBuildError, match="failed its audit"):
        compaction.published_build(lake, settings, "addressable_ids", SNAPSHOT)
    blocked = run_pipeline(platform, instance, SNAPSHOT, ADDRESSABLE_BUCKETED, rows=None)
    assert blocked.exit_code == 1
    assert assets_by_key(blocked)["split_cluster/addressable_ids"]["status"] == "failed"
    assert lake.read_text(prefix + MANIFEST_NAME)  # the build itself is left for inspection


def bucketed_rows(platform: Platform, table: str):
    return platform.spark.sql(f"SELECT * FROM {platform.database}.{table}")


def test_addressable_bucketed_tables_from_the_compacted_input_equal_those_from_raw(
    local_platform, instance
) -> None:
    compacted = local_platform()  # addressable_bucket_input = "compacted", the default
    deliver_small_files(compacted, SNAPSHOT, rows=500, files=8)
    from_compacted = f"{COMPACTION} or {ADDRESSABLE_BUCKETED}"
    first = run_pipeline(compacted, instance, SNAPSHOT, from_compacted, rows=None)
    assert first.exit_code == 0, first.to_json()
    raw = local_platform(addressable_bucket_input="raw")  # same lake, another database
    second = run_pipeline(raw, instance, SNAPSHOT, ADDRESSABLE_BUCKETED, rows=None)
    assert second.exit_code == 0, second.to_json()

    ext = compacted.catalog.get_table(compacted.database, "ext_addressable_ids")
    cluster_root = layout.compaction_root(compacted.settings, "addressable_ids")
    assert "split_cluster/addressable_ids/addressable_ids/" in ext.location
    read = assets_by_key(first)["split_cluster/addressable_ids"]["metadata"]
    assert (
        read["raw_rows"]
        == assets_by_key(second)["split_cluster/addressable_ids"]["metadata"]["raw_rows"]
    )
    assert cluster_root.endswith("addressable_ids_compaction_cr/")
    for table in ("ext_addressable_ids", "bucketed_addressable_ids"):
        a, b = bucketed_rows(compacted, table), bucketed_rows(raw, table)
        assert a.count() == b.count() == 500
        assert a.exceptAll(b).count() == b.exceptAll(a).count() == 0


def test_split_cluster_without_a_compaction_names_what_to_materialize(local_platform, instance):
    platform = local_platform()
    deliver_small_files(platform, SNAPSHOT, rows=100, files=2)
    summary = run_pipeline(
        platform, instance, SNAPSHOT, "key:split_cluster/addressable_ids", rows=None
    )
    assert summary.exit_code == 1
    with pytest.raises(compaction.CompactionNotPublishedError, match="materialize compacted/"):
        compaction.published_build(platform.lake, platform.settings, "addressable_ids", SNAPSHOT)


# ---- on AWS: the same assets through the compute port --------------------------------------


class FakeGlueCompute:
    """Records what the assets ask of the Glue compute and reports success."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []
        self.splits: list[dict[str, Any]] = []

    def run_job(self, context, name, arguments, extras, expected, timeout_minutes=None):
        self.jobs.append(
            {
                "name": name,
                "arguments": dict(arguments),
                "extras": dict(extras),
                "expected": list(expected),
                "timeout": timeout_minutes,
            }
        )
        yield from (dg.MaterializeResult(asset_key=k, metadata={"files": 1}) for k in expected)

    def run_split(self, context, kind, source, tables, snapshot, build, arguments=None):
        self.splits.append({"kind": kind, "source": source, "arguments": dict(arguments or {})})
        yield from (dg.MaterializeResult(asset_key=split_cluster_key(t)) for t in tables)


def run_on_dev(tmp_path: Path, registry, instance, keys: list[dg.AssetKey], lake: LocalLake):
    settings = make_settings(tmp_path / "home", env="dev")
    compute = FakeGlueCompute()
    platform = Platform(settings, registry, lake=lake, compute=compute)
    job = dg.define_asset_job("dev_run", selection=dg.AssetSelection.assets(*keys).without_checks())
    defs = dg.Definitions.merge(
        build_definitions(settings, registry, platform), dg.Definitions(jobs=[job])
    )
    if not instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, SNAPSHOT):
        instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [SNAPSHOT])
    result = defs.resolve_job_def("dev_run").execute_in_process(
        instance=instance, partition_key=SNAPSHOT, raise_on_error=False
    )
    return settings, compute, result


def test_on_aws_compaction_is_the_sources_glue_job_and_split_cluster_reads_its_build(
    tmp_path, small_registry, instance
) -> None:
    lake = LocalLake(tmp_path / "lake")
    settings, compute, result = run_on_dev(
        tmp_path, small_registry, instance, [compacted_key("addressable_ids")], lake
    )
    assert result.success
    (job,) = compute.jobs
    build = job["arguments"]["--BUILD_ID"]
    assert job["name"] == "etl-omc-flywheel-dev-addressable-ids-compaction"
    assert job["timeout"] == 600
    assert job["extras"] == {"kind": "compaction", "source": "addressable_ids", "build": build}
    assert job["arguments"] == {
        "--SOURCE": "addressable_ids",
        "--SOURCE_PATH": f"s3://{settings.data_bucket}/opus/addressable_ids/raw_input/",
        "--TARGET_PATH": f"s3://{settings.data_bucket}/omc_cleanroom_data/addressable/"
        "addressable_ids_compaction_cr/",
        "--SNAPSHOT_DT": SNAPSHOT,
        "--BUILD_ID": build,
        "--SNAPSHOT_MARKER": "_SUCCESS",
        "--ENV": "dev",
    }
    assert compaction.compaction_job("infobase_attributes").workers == 24

    # an audited build (as the job and the audit leave it): split_cluster reads it on Glue
    prefix = layout.compaction_build_prefix(settings, "addressable_ids", SNAPSHOT, build)
    lake.write_text(prefix + MANIFEST_NAME, "{}")
    record = {
        "dataset": "compacted/addressable_ids",
        "snapshot_dt": SNAPSHOT,
        "build": build,
        "passed": True,
        "audited_at": "2025-01-15T00:00:00Z",
    }
    lake.write_text(prefix + AUDIT_NAME, json.dumps(record))
    ids = small_registry.get("addressable_ids")
    _, compute, result = run_on_dev(
        tmp_path, small_registry, instance, [split_cluster_key(ids)], lake
    )
    assert result.success
    assert compute.splits == [
        {
            "kind": "split_cluster",
            "source": "addressable_ids",
            "arguments": {
                "--SOURCE_PATH": lake.uri(layout.compaction_root(settings, "addressable_ids")),
                "--SOURCE_BUILD": build,
            },
        }
    ]


def test_the_setting_is_parsed_strictly(tmp_path) -> None:
    with pytest.raises(ValueError, match="addressable_bucket_input='compact': expected one of"):
        make_settings(tmp_path, addressable_bucket_input="compact")
    settings = make_settings(tmp_path)
    assert settings.addressable_bucket_input == "compacted"
    assert dataclasses.replace(settings).compaction_prefix("infobase_attributes") == (
        "omc_cleanroom_data/infobase_attributes/infobase_attributes_compaction_cr/"
    )
