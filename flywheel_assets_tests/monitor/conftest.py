"""One real snapshot for the whole monitor test package, built once on local Spark.

The pipeline (split_part, part_*, split_cluster, ext_*) runs once for ``SNAPSHOT`` with
600 rows; defect tests then damage that snapshot in one place, evaluate, and undo the
damage (see ``Built.damaged_file`` and friends), so Spark pipeline runs stay few.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel_assets import layout
from flywheel_assets.builds import served_build
from flywheel_assets.checks.monitor import TableEvaluation, TableMonitor
from flywheel_assets.checks.rules import RuleResult
from flywheel_assets.checks.selection import monitor_check_names
from flywheel_assets.platform import Platform
from flywheel_assets.runner import RunSummary
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.pipeline_helpers import run_pipeline
from glue_jobs.registry import TableSpec
from glue_jobs.transforms import MANIFEST_NAME, Manifest

SNAPSHOT = "2025-01-15"
ROWS = 600
TABLES = ("ibe_01_a", "ibe_02_a", "addressable_ids")
# split_part -> part_* (with audits and monitor checks) and split_cluster -> ext_* (the
# count source); not the bucketed CTAS or the Clean Rooms views, which add nothing here
PIPELINE = " or ".join(
    ["key:split_part/*", "key:compacted/addressable_ids", "key:split_cluster/*", "key:ext_*"]
    + [f"key:part_{t}" for t in TABLES]
)
NOW = dt.datetime(2026, 11, 22, 6, 0, tzinfo=dt.UTC)


def with_settings(platform: Platform, **changes) -> Platform:
    """The same adapters (lake, catalog, Spark) under changed settings."""
    other = Platform(
        dataclasses.replace(platform.settings, **changes),
        platform.registry,
        lake=platform.lake,
        catalog=platform.catalog,
        sql=platform.sql,
        alerts=platform.alerts,
    )
    other.__dict__["spark"] = platform.spark
    return other


@dataclass
class Built:
    platform: Platform
    instance: dg.DagsterInstance
    summary: RunSummary
    home: Path

    def table(self, slug: str) -> TableSpec:
        return self.platform.registry.get(slug)

    def served_build(self, slug: str) -> str:
        platform = self.platform
        build = served_build(platform.catalog.get_table(platform.database, f"part_{slug}"))
        assert build is not None
        return build

    def snapshot_prefix(self, slug: str) -> str:
        """The build directory ``part_<slug>`` serves."""
        return layout.dataset_build_prefix(
            self.platform.settings,
            "split_part",
            self.table(slug),
            SNAPSHOT,
            self.served_build(slug),
        )

    def snapshot_dir(self, slug: str) -> Path:
        return self.platform.lake.path(self.snapshot_prefix(slug))  # type: ignore[attr-defined]

    def bucket_file(self, slug: str, bucket: int) -> Path:
        (path,) = (self.snapshot_dir(slug) / f"id_bucket={bucket}").glob("*.parquet")
        return path

    def refresh(self, slug: str) -> None:
        """Spark caches file listings of a table; files changed behind its back need this."""
        self.platform.spark.catalog.refreshTable(f"{self.platform.database}.part_{slug}")

    def evaluate(
        self, slug: str, platform: Platform | None = None, snapshot: str = SNAPSHOT
    ) -> TableEvaluation:
        platform = platform or self.platform
        monitor = TableMonitor(platform, self.table(slug), snapshot, now=NOW)
        return monitor.evaluate(monitor_check_names(platform.settings))

    @contextmanager
    def damaged_file(self, path: Path) -> Iterator[Path]:
        """Let the test rewrite ``path``; restore its bytes afterwards."""
        original = path.read_bytes()
        try:
            yield path
        finally:
            path.write_bytes(original)
            for slug in TABLES:
                self.refresh(slug)

    @contextmanager
    def moved_away(self, path: Path) -> Iterator[None]:
        parking = self.home / "parking" / path.name
        parking.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, parking)
        try:
            yield
        finally:
            shutil.move(parking, path)


def failing(evaluation: TableEvaluation) -> dict[str, RuleResult]:
    return {r.check: r for r in evaluation.results if not r.passed}


def bucket_rows(built: Built, slug: str) -> dict[int, int]:
    key = built.snapshot_prefix(slug) + MANIFEST_NAME
    manifest = Manifest.from_json(built.platform.lake.read_text(key))
    return {int(b): n for b, n in manifest.bucket_rows.items()}


@contextmanager
def rewritten_keys(
    built: Built, slug: str, bucket: int, change: Callable[[list], list]
) -> Iterator[list]:
    """Rewrite the key column of one bucket file in place (row count unchanged)."""
    path = built.bucket_file(slug, bucket)
    with built.damaged_file(path):
        data = pq.read_table(path)
        keys = data.column("customer_user_id").to_pylist()
        index = data.schema.get_field_index("customer_user_id")
        data = data.set_column(index, "customer_user_id", pa.array(change(keys), pa.string()))
        pq.write_table(data, path, compression="snappy")
        built.refresh(slug)
        yield keys


@pytest.fixture(scope="package")
def built(tmp_path_factory, spark, small_registry) -> Iterator[Built]:
    home = tmp_path_factory.mktemp("monitor")
    platform = Platform(make_settings(home), small_registry)
    platform.__dict__["spark"] = spark
    with dg.instance_for_test() as instance:
        summary = run_pipeline(platform, instance, SNAPSHOT, PIPELINE, rows=ROWS)
        yield Built(platform, instance, summary, home)
