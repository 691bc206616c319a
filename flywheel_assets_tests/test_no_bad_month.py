"""No bad month is ever served: every defective delivery leaves part_*, ext_* and
bucketed_* (what Clean Rooms reads) exactly as they were, on local Spark.

Month A is built once for the module (both pipelines, two tables). Each test delivers
a defective month (or rebuilds A from one), runs both pipelines, and compares what
readers see (snapshot, location, rows, distinct keys of every served table) before and
after. The tests that publish come last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flywheel_assets import builds, layout
from flywheel_assets.checks import drift, rules
from flywheel_assets.platform import Platform
from flywheel_assets.runner import Policy, RunSummary
from flywheel_assets.sample_data import RAW_KEY_COLUMN, raw_name, write_sample_snapshot
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.pipeline_helpers import assets_by_key

A, B = "2025-01-15", "2025-02-15"
ROWS = 600
SLUGS = ("ibe_01_a", "ibe_02_a")
SELECT = " or ".join(
    f"key:{k}"
    for s in SLUGS
    for k in (f"split_part/{s}", f"split_cluster/{s}", f"part_{s}", f"ext_{s}", f"bucketed_{s}")
)
SERVED = [f"{family}_{s}" for s in SLUGS for family in ("part", "ext", "bucketed")]


class World:
    def __init__(self, platform: Platform, instance: dg.DagsterInstance) -> None:
        self.platform, self.instance = platform, instance

    def served(self) -> dict[str, tuple]:
        """What a reader of each served table gets: month, location, rows, keys."""
        platform, found = self.platform, {}
        for name in SERVED:
            info = platform.catalog.get_table(platform.database, name)
            platform.spark.catalog.refreshTable(f"{platform.database}.{name}")
            (row,) = platform.sql.query(
                f"SELECT COUNT(*) AS n, COUNT(DISTINCT customer_user_id) AS k "
                f"FROM {platform.database}.{name}"
            )
            found[name] = (info.parameters["snapshot_dt"], info.location, row["n"], row["k"])
        return found

    def served_files(self) -> dict[str, float]:
        """Every file under the served locations, with its modification time."""
        files = {}
        for name in SERVED:
            info = self.platform.catalog.get_table(self.platform.database, name)
            root = Path(info.location.removeprefix("file:").replace("///", "/", 1))
            files.update({str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()})
        return files

    def raw_files(self, snapshot: str) -> list[Path]:
        prefix = layout.raw_snapshot_prefix(self.platform.settings, "infobase_attributes", snapshot)
        return sorted(self.platform.lake.path(prefix).glob("*.parquet"))  # type: ignore[attr-defined]

    def deliver(self, snapshot: str, rows: int = ROWS, change: Callable | None = None) -> None:
        """A sample month, then ``change(index, table) -> table`` on each raw file."""
        platform = self.platform
        write_sample_snapshot(platform.settings, platform.registry, platform.lake, snapshot, rows)
        for index, path in enumerate(self.raw_files(snapshot)):
            if change is not None:
                pq.write_table(change(index, pq.read_table(path)), path)

    def run(self, snapshot: str, policy: Policy | None = None) -> RunSummary:
        from flywheel_assets.definitions import build_definitions
        from flywheel_assets.runner import run_snapshot

        defs = build_definitions(self.platform.settings, self.platform.registry, self.platform)
        return run_snapshot(defs, self.instance, snapshot, SELECT, policy=policy or Policy())


def failed_checks(summary: RunSummary) -> set[tuple[str, str]]:
    return {
        (c["asset"], c["name"])
        for c in summary.checks
        if not c["passed"] and c["severity"] == "ERROR"
    }


def step_failures(world: World, summary: RunSummary) -> str:
    """Every step failure's message and its causes' (what the run page shows)."""
    messages = []
    for run_id in summary.run_ids:
        for event in world.instance.all_logs(run_id):
            if event.is_dagster_event and event.dagster_event.event_type_value == "STEP_FAILURE":
                error = event.dagster_event.event_specific_data.error
                while error is not None:
                    messages.append(error.message)
                    error = error.cause
    return "\n".join(messages)


def set_column(table: pa.Table, name: str, values: list) -> pa.Table:
    index = table.schema.get_field_index(name)
    field = table.schema.field(index)
    return table.set_column(index, field, pa.array(values, field.type))


@pytest.fixture(scope="module")
def world(tmp_path_factory, spark, small_registry) -> Iterator[World]:
    platform = Platform(make_settings(tmp_path_factory.mktemp("bad_month")), small_registry)
    platform.__dict__["spark"] = spark
    with dg.instance_for_test() as instance:
        world = World(platform, instance)
        world.deliver(A)
        summary = world.run(A)
        assert summary.exit_code == 0, summary.to_json()
        yield world


def assert_blocked(world: World, summary: RunSummary, before: dict) -> None:
    assert summary.exit_code == 1
    assert world.served() == before
    statuses = assets_by_key(summary)
    for name in SERVED:  # never planned: the page keeps showing the month it serves
        assert statuses[name]["status"] == "blocked", statuses[name]


def test_null_keys_in_one_raw_file_keep_the_good_month_in_both_pipelines(world):
    before = world.served()
    assert {v[0] for v in before.values()} == {A}

    def null_keys(index: int, table: pa.Table) -> pa.Table:
        return set_column(table, RAW_KEY_COLUMN, [None] * table.num_rows) if index else table

    world.deliver(B, change=null_keys)
    summary = world.run(B)
    assert_blocked(world, summary, before)
    for slug in SLUGS:
        for kind in ("split_part", "split_cluster"):
            assert (f"{kind}/{slug}", rules.CHECK_PK_NULL) in failed_checks(summary)
    assert "split_cluster/ibe_01_a: " in step_failures(world, summary)


@pytest.mark.parametrize(
    ("defect", "message"),
    [
        ("empty", "an empty delivery"),
        ("integer_key", "customer_user_id is int64, expected a string"),
        ("missing_column", "lacks registry column(s) ibe01_attr_02"),
    ],
)
def test_a_delivery_that_cannot_be_split_fails_before_anything_is_written(world, defect, message):
    before, files = world.served(), world.served_files()

    def change(index: int, table: pa.Table) -> pa.Table:
        if defect == "empty":
            return table.slice(0, 0)
        if defect == "integer_key":
            index = table.schema.get_field_index(RAW_KEY_COLUMN)
            keys = pa.array(range(table.num_rows), pa.int64())
            return table.set_column(index, pa.field(RAW_KEY_COLUMN, pa.int64()), keys)
        return table.drop_columns([raw_name("ibe01_attr_02")]) if index else table

    world.deliver(B, change=change)
    summary = world.run(B)
    assert_blocked(world, summary, before)
    assert world.served_files() == files
    failures = step_failures(world, summary)
    assert message in failures
    if defect == "missing_column":
        assert "part-00001.snappy.parquet" in failures  # names the file


def test_rebuilding_the_month_in_service_from_a_defective_delivery_changes_nothing(world):
    before, files = world.served(), world.served_files()
    good = {p: p.read_bytes() for p in world.raw_files(A)}

    def duplicate_half(index: int, table: pa.Table) -> pa.Table:
        keys = table.column(RAW_KEY_COLUMN).to_pylist()
        return set_column(table, RAW_KEY_COLUMN, [keys[0]] * len(keys)) if index else table

    try:
        world.deliver(A, change=duplicate_half)
        summary = world.run(A)
        assert_blocked(world, summary, before)
        assert ("split_part/ibe_01_a", rules.CHECK_PK_DUPES) in failed_checks(summary)
        # the directories readers use were neither cleared nor written
        assert world.served_files() == files
    finally:
        for path, data in good.items():
            path.write_bytes(data)


@pytest.mark.parametrize(
    ("name", "rows", "change", "rule"),
    [
        ("60% of the rows", 360, None, drift.CHECK_ROW_DRIFT),
        (
            "every key re-encoded",
            ROWS,
            lambda _i, t: set_column(
                t, RAW_KEY_COLUMN, ["X" + k[::-1] for k in t.column(RAW_KEY_COLUMN).to_pylist()]
            ),
            drift.CHECK_KEY_RETENTION,
        ),
    ],
)
def test_a_consistent_but_wrong_month_is_blocked_by_drift(world, name, rows, change, rule):
    before = world.served()
    world.deliver(B, rows=rows, change=change)
    summary = world.run(B)
    assert_blocked(world, summary, before)
    for slug in SLUGS:
        for kind in ("split_part", "split_cluster"):
            assert (f"{kind}/{slug}", rule) in failed_checks(summary), name
    assert "split_part/ibe_01_a: " in step_failures(world, summary)


def test_a_five_percent_smaller_month_publishes_and_an_all_null_column_blocks_its_table(world):
    before = world.served()

    def null_attribute(_index: int, table: pa.Table) -> pa.Table:
        return set_column(table, raw_name("ibe01_attr_01"), [None] * table.num_rows)

    world.deliver(B, rows=570, change=null_attribute)
    summary = world.run(B)
    assert summary.exit_code == 1
    after = world.served()
    for family in ("part", "ext", "bucketed"):
        assert after[f"{family}_ibe_01_a"] == before[f"{family}_ibe_01_a"]  # blocked
        assert after[f"{family}_ibe_02_a"][0] == B  # published
        assert after[f"{family}_ibe_02_a"][2] == 570
    assert ("split_part/ibe_01_a", drift.CHECK_NULL_DRIFT) in failed_checks(summary)
    metadata = assets_by_key(summary)["split_part/ibe_02_a"]["metadata"]
    assert metadata["dagster/row_count"] == 570


def test_accept_drift_publishes_the_blocked_table_and_records_it(world):
    summary = world.run(B, Policy(accept_drift=("IBE_01_A",)))
    assert summary.exit_code == 0, failed_checks(summary)
    after = world.served()
    for family in ("part", "ext", "bucketed"):
        assert after[f"{family}_ibe_01_a"][0] == B
    null_drift = next(
        c
        for c in summary.checks
        if (c["asset"], c["name"]) == ("split_part/ibe_01_a", drift.CHECK_NULL_DRIFT)
    )
    assert null_drift["passed"] and null_drift["metadata"]["drift_accepted"] is True
    published = assets_by_key(summary)["part_ibe_01_a"]["metadata"]
    assert published["drift_accepted"] is True
    platform = world.platform
    table = platform.registry.get("ibe_01_a")
    build = builds.served_build(platform.catalog.get_table(platform.database, "part_ibe_01_a"))
    record = builds.read_audit(platform.lake, platform.settings, "split_part", table, B, build)
    assert record.passed and record.accepted_drift
    run = world.instance.get_run_by_id(summary.run_ids[0])
    assert run.tags["flywheel/accept_drift"] == "IBE_01_A"


def test_an_older_month_is_not_published_over_a_newer_one_without_rollback(world):
    before = world.served()
    assert before["part_ibe_02_a"][0] == B
    summary = world.run(A)  # A's builds are audited; only the order stops them
    assert summary.exit_code == 1
    assert world.served() == before
    assert "would roll it back" in step_failures(world, summary)
    rolled = world.run(A, Policy(rollback=True))
    assert {v[0] for v in world.served().values()} == {A}
    # published; the monitor rightly calls a table behind the newest raw month stale
    assert {name for _, name in failed_checks(rolled)} == {rules.CHECK_FRESHNESS}
