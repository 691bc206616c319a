"""The UI as users meet it: the real ``dagster-webserver`` (and daemon) on workspace.yaml.

1. GraphQL lists every asset, check, sensor and schedule of ``defs``, with owners and tags;
2. one small selection (``split_part/ibe_01_a`` + ``part_ibe_01_a``) is materialized for
   a snapshot through GraphQL, exactly as the UI's "Materialize" does: the run is queued,
   dequeued by the daemon and executed (Spark) in a subprocess by the run launcher;
3. headless Chromium renders the lineage around ``part_ibe_01_a`` and its checks page;
   screenshots land in ``build/e2e/``;
4. a defective month (null keys in one raw file) goes through ``snapshot_build``, the
   raw sensor's write-and-audit job: the audit blocks, and the page of ``part_ibe_01_a``
   still shows the month it serves with its checks passed, not a failed
   materialization (screenshot ``blocked_part_ibe_01_a.png``).

Marker ``e2e`` (deselected by default); ``make e2e`` runs it. Needs Java, a Chromium
(``FLYWHEEL_E2E_CHROMIUM`` or ``chromium`` on PATH) and the ``playwright`` package; skipped
with the reason otherwise.
"""

import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from flywheel_assets.config.settings import load_settings
from flywheel_assets.definitions import build_definitions
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets_tests.e2e.stack import (
    REPO,
    REPOSITORY_SELECTOR,
    DagsterStack,
    prepare_home,
)

pytestmark = pytest.mark.e2e

SNAPSHOT = "2025-01-15"
BLOCKED = "2025-02-15"  # a defective delivery the audit must stop
ROWS = 1000  # distinct keys in the sample snapshot (plus ~0.5% exact duplicates)
SELECTION = (dg.AssetKey(["split_part", "ibe_01_a"]), dg.AssetKey(["part_ibe_01_a"]))
ARTIFACTS = REPO / "build" / "e2e"
RUN_TIMEOUT = 900  # seconds; one Spark run on 2 cores takes 1.5-3 minutes
# playwright adds --headless itself
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_or_skip() -> str:
    chromium = os.environ.get("FLYWHEEL_E2E_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        pytest.skip("no Chromium: apt-get install chromium, or set FLYWHEEL_E2E_CHROMIUM")
    return chromium


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[DagsterStack]:
    if shutil.which("java") is None:
        pytest.skip("Java 17+ is required for the run's local Spark")
    chromium_or_skip()
    pytest.importorskip("playwright", reason="pip install -e '.[dev]' (playwright)")
    env = prepare_home(tmp_path_factory.mktemp("e2e") / "home", SNAPSHOT, ROWS)
    stack = DagsterStack(env, logs=ARTIFACTS / "logs")
    try:
        yield stack.start()
    finally:
        stack.close()


@pytest.fixture(scope="module")
def defs(stack: DagsterStack) -> dg.Definitions:
    """The definitions the webserver serves, loaded here with the same settings."""
    return build_definitions(settings=load_settings("local", environ=stack.env))


def key_of(node: dict[str, Any]) -> dg.AssetKey:
    return dg.AssetKey(node["assetKey"]["path"])


def add_partition(stack: DagsterStack, snapshot: str) -> None:
    added = stack.query(
        ADD_PARTITION,
        partitionKey=snapshot,
        partitionsDefName=SNAPSHOT_PARTITIONS.name,
        repositorySelector=REPOSITORY_SELECTOR,
    )["addDynamicPartition"]
    assert added["__typename"] in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError")


def launch_and_wait(
    stack: DagsterStack, job: str, keys: tuple[dg.AssetKey, ...], snapshot: str
) -> tuple[str, str | None, float]:
    """Launch ``keys`` of ``job`` for ``snapshot`` as the UI does; wait for the end."""
    add_partition(stack, snapshot)
    launched = stack.query(
        LAUNCH_RUN,
        executionParams={
            "selector": {
                **REPOSITORY_SELECTOR,
                "jobName": job,
                "assetSelection": [{"path": k.path} for k in keys],
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": snapshot}]},
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status, started = None, time.monotonic()
    while time.monotonic() - started < RUN_TIMEOUT:
        status = stack.query(RUN_STATUS, runId=run_id)["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(3)
    return run_id, status, time.monotonic() - started


def run_tail(stack: DagsterStack, run_id: str) -> str:
    events = stack.query(RUN_LOGS, runId=run_id)["logsForRun"].get("events", [])
    return "\n".join(e.get("message", "") for e in events[-15:])


def test_graphql_serves_every_asset_check_sensor_and_schedule(stack, defs):
    data = stack.query(CATALOG, repositorySelector=REPOSITORY_SELECTOR)
    graph = defs.resolve_asset_graph()
    nodes = {key_of(n): n for n in data["assetNodes"]}
    assert set(nodes) == set(graph.get_all_asset_keys())
    served_checks = {
        dg.AssetCheckKey(key, check["name"])
        for key, node in nodes.items()
        for check in node["assetChecksOrError"]["checks"]
    }
    assert served_checks == set(graph.asset_check_keys)
    sensors = {s["name"] for s in data["sensorsOrError"]["results"]}
    schedules = {s["name"] for s in data["schedulesOrError"]["results"]}
    assert sensors == {s.name for s in defs.sensors}
    assert schedules == {s.name for s in defs.schedules}

    part = nodes[dg.AssetKey(["part_ibe_01_a"])]
    assert part["groupName"] == "partitioned_pipeline"
    assert {"team": "data-engineering"} in part["owners"]
    assert {"key": "env", "value": "local"} in part["tags"]
    assert {"glue", "parquet"} <= set(part["kinds"])
    assert part["description"].startswith("Register Part Tables")


def test_materialize_small_selection_through_graphql(stack):
    run_id, status, seconds = launch_and_wait(stack, "__ASSET_JOB", SELECTION, SNAPSHOT)
    if status != "SUCCESS":
        pytest.fail(f"run {run_id} ended {status} after {seconds:.0f}s:\n{run_tail(stack, run_id)}")
    print(f"run {run_id}: SUCCESS in {seconds:.0f}s")

    nodes = stack.query(ASSET_RESULTS, assetKeys=[{"path": k.path} for k in SELECTION])
    by_key = {key_of(n): n for n in nodes["assetNodes"]}
    for key in SELECTION:
        (latest,) = by_key[key]["assetMaterializations"]
        assert (latest["runId"], latest["partition"]) == (run_id, SNAPSHOT), key
    part = by_key[dg.AssetKey(["part_ibe_01_a"])]
    entries = part["assetMaterializations"][0]["metadataEntries"]
    assert {e["label"]: e.get("intValue") for e in entries}["dagster/row_count"] == ROWS
    checks = {
        c["name"]: c["executionForLatestMaterialization"]
        for c in part["assetChecksOrError"]["checks"]
    }
    for name in ("pk_not_null", "pk_unique", "schema_contract", "catalog_partitions_registered"):
        assert checks[name]["status"] == "SUCCEEDED", (name, checks[name])
        assert (checks[name]["runId"], checks[name]["partition"]) == (run_id, SNAPSHOT)
    audits = by_key[SELECTION[0]]["assetChecksOrError"]["checks"]
    assert audits and all(
        c["executionForLatestMaterialization"]["status"] == "SUCCEEDED" for c in audits
    )


def test_browser_shows_lineage_and_checks(stack):
    """Runs after the materialization: the pages show its results."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # what the "Join the Dagster community" dialog's Skip does (it opens on 127.0.0.1)
    stack.query("mutation { setNuxSeen }")
    pages = [
        # (path, text that proves the content rendered, screenshot)
        ("/asset-groups", "partitioned_pipeline", "asset_graph.png"),
        ("/assets/part_ibe_01_a?view=lineage", "monitor_report", "lineage_part_ibe_01_a.png"),
        ("/assets/part_ibe_01_a?view=checks", "storage_partitions_complete", "checks.png"),
        # owners, tags and the code reference ("Open catalog_table.py in editor")
        ("/assets/part_ibe_01_a?view=overview", "catalog_table.py", "overview.png"),
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_or_skip(), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            for path, proof, name in pages:
                page.goto(stack.url + path)
                page.get_by_text(proof).first.wait_for(timeout=120_000)
                # the UI polls and streams: no "network idle"; let the layout settle
                page.wait_for_timeout(2_500)
                if name == "asset_graph.png":  # group nodes load their statuses late
                    page.get_by_text("fetching statuses").first.wait_for(
                        state="detached", timeout=60_000
                    )
                if name == "checks.png":
                    # the check list carries each check's latest status for the snapshot
                    page.get_by_text("pk_not_null").first.wait_for(timeout=60_000)
                    assert page.get_by_text("Succeeded").count() >= 6
                if name == "overview.png":
                    for text in ("data-engineering", "env: local", "1,000"):
                        page.get_by_text(text).first.wait_for(timeout=60_000)
                assert page.get_by_text("Join the Dagster community").count() == 0
                page.screenshot(path=str(ARTIFACTS / name))
                assert (ARTIFACTS / name).stat().st_size > 10_000
        finally:
            browser.close()


def deliver_defective_month(stack: DagsterStack) -> None:
    """Month BLOCKED from the same population, every key of its second raw file null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flywheel_assets.adapters.local_lake import LocalLake
    from flywheel_assets.config.registry import load_registry
    from flywheel_assets.layout import raw_snapshot_prefix
    from flywheel_assets.sample_data import RAW_KEY_COLUMN, write_sample_snapshot

    settings = load_settings("local", environ=stack.env)
    lake = LocalLake(settings.lake_root)
    write_sample_snapshot(settings, load_registry(), lake, BLOCKED, ROWS)
    prefix = raw_snapshot_prefix(settings, "infobase_attributes", BLOCKED)
    path = sorted(lake.path(prefix).glob("*.parquet"))[-1]
    data = pq.read_table(path)
    index = data.schema.get_field_index(RAW_KEY_COLUMN)
    nulls = pa.nulls(data.num_rows, pa.string())
    pq.write_table(data.set_column(index, data.schema.field(index), nulls), path)


def test_a_blocked_month_leaves_the_served_table_page_truthful(stack):
    """The raw sensor's job writes and audits only; the audit blocks the defective month,
    so part_ibe_01_a is never planned: its page keeps the month it serves and its
    passed checks (no failed materialization, no "Execution failed")."""
    from playwright.sync_api import sync_playwright

    def served_page() -> tuple[dict, dict]:
        (node,) = stack.query(ASSET_RESULTS, assetKeys=[{"path": SELECTION[1].path}])["assetNodes"]
        checks = {c["name"]: c for c in node["assetChecksOrError"]["checks"]}
        return node["assetMaterializations"][0], checks

    before, checks_before = served_page()
    assert checks_before["pk_not_null"]["executionForLatestMaterialization"]["status"] == (
        "SUCCEEDED"
    )
    deliver_defective_month(stack)
    run_id, status, _ = launch_and_wait(stack, "snapshot_build", SELECTION[:1], BLOCKED)
    assert status == "FAILURE", run_tail(stack, run_id)

    after, checks_after = served_page()  # nothing about the served table changed
    assert (after["runId"], after["partition"]) == (before["runId"], SNAPSHOT)
    assert checks_after == checks_before
    nodes = stack.query(ASSET_RESULTS, assetKeys=[{"path": SELECTION[0].path}])
    by_key = {key_of(n): n for n in nodes["assetNodes"]}
    audits = {
        c["name"]: c["executionForLatestMaterialization"]
        for c in by_key[SELECTION[0]]["assetChecksOrError"]["checks"]
    }
    assert audits["pk_not_null"]["status"] == "FAILED"
    assert audits["pk_not_null"]["partition"] == BLOCKED

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_or_skip(), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(stack.url + "/assets/part_ibe_01_a?view=checks")
            page.get_by_text("pk_not_null").first.wait_for(timeout=120_000)
            page.wait_for_timeout(2_500)
            assert page.get_by_text("Succeeded").count() >= 6
            assert page.get_by_text("Execution failed").count() == 0
            page.screenshot(path=str(ARTIFACTS / "blocked_part_ibe_01_a.png"))
        finally:
            browser.close()


CATALOG = """
query Catalog($repositorySelector: RepositorySelector!) {
  assetNodes {
    assetKey { path }
    groupName
    description
    kinds
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    tags { key value }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
  sensorsOrError(repositorySelector: $repositorySelector) {
    ... on Sensors { results { name } }
  }
  schedulesOrError(repositorySelector: $repositorySelector) {
    ... on Schedules { results { name } }
  }
}
"""
ADD_PARTITION = """
mutation AddPartition(
  $partitionKey: String!, $partitionsDefName: String!, $repositorySelector: RepositorySelector!
) {
  addDynamicPartition(
    partitionKey: $partitionKey,
    partitionsDefName: $partitionsDefName,
    repositorySelector: $repositorySelector
  ) {
    __typename
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN_STATUS = """
query RunStatus($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }
"""
RUN_LOGS = """
query RunLogs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { ... on MessageEvent { message } } }
  }
}
"""
ASSET_RESULTS = """
query Results($assetKeys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $assetKeys) {
    assetKey { path }
    assetMaterializations(limit: 1) {
      runId
      partition
      metadataEntries { label ... on IntMetadataEntry { intValue } }
    }
    assetChecksOrError {
      ... on AssetChecks {
        checks { name executionForLatestMaterialization { status runId partition } }
      }
    }
  }
}
"""
