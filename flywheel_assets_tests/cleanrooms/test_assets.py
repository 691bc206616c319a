"""The Dagster assets: local plans, ``_er`` tables, AWS applies, checks and the report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from flywheel_assets.assets.cleanrooms import (
    CHECK_ASSOCIATION,
    CHECK_COLUMNS,
    CHECK_PROVIDERS,
    REPORT_KEY,
    build_cleanrooms_defs,
    configured_table_key,
    id_namespace_key,
    schema_mapping_key,
)
from flywheel_assets.config.registry import load_registry
from flywheel_assets.config.settings import Settings
from flywheel_assets.keys import er_key, part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition
from flywheel_assets_tests.cleanrooms.fakes import (
    ACCOUNT,
    MEMBERSHIP_ID,
    NOW,
    PROVIDERS,
    ROLE_ARN,
    FakeCatalog,
    MotoWithStubs,
    analysis_rule_response,
    association,
    association_summary,
    aws_settings,
    configured_table,
    ct_id,
    id_namespace,
    part_table_definition,
    schema_mapping,
    settings_for,
    stub_cleanrooms_reads,
    stub_er_reads,
)
from glue_jobs.registry import Registry, TableSpec

REGISTRY = load_registry()
SNAPSHOT = "2025-01-15"
CUSTOM = {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": PROVIDERS}
LOCAL_DB = "omc_flywheel_local"
DEV_DB = "omc_flywheel_dev"
REPORT_BUCKET = "omc-flywheel-dev-analysis-data"


def no_aws(service: str) -> Any:
    raise AssertionError(f"the local profile must not create a {service} client")


def run(
    registry: Registry,
    settings: Settings,
    selection: dg.AssetSelection,
    *,
    catalog: FakeCatalog | None = None,
    client_factory: Any = no_aws,
    partition_key: str | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    defs = build_cleanrooms_defs(
        registry, settings, client_factory=client_factory, clock=lambda: NOW
    )
    platform = Platform(settings, registry, catalog=catalog or FakeCatalog())
    with dg.instance_for_test() as instance:
        if partition_key:
            instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [partition_key])
        return dg.materialize(
            list(defs.assets),
            selection=selection,
            resources={"platform": platform},
            instance=instance,
            partition_key=partition_key,
            raise_on_error=raise_on_error,
        )


def run_checks(
    registry: Registry, settings: Settings, catalog: FakeCatalog, client_factory: Any = no_aws
) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    defs = dg.Definitions.merge(
        build_cleanrooms_defs(registry, settings, client_factory=client_factory),
        dg.Definitions(
            resources={"platform": Platform(settings, registry, catalog=catalog)},
            jobs=[dg.define_asset_job("verify", selection=dg.AssetSelection.all_asset_checks())],
        ),
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("verify").execute_in_process(instance=instance)
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


def materialized(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict[str, Any]]:
    return {
        e.asset_key: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


CR_TABLES = dg.AssetSelection.key_prefixes("cleanrooms_table")
ER_RESOURCES = dg.AssetSelection.key_prefixes("er_schema_mapping", "er_id_namespace")


# --- definitions -------------------------------------------------------------------------


def test_definitions_cover_every_table_with_groups_kinds_and_checks(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "local")
    defs = dg.Definitions.merge(
        build_cleanrooms_defs(REGISTRY, settings),
        dg.Definitions(resources={"platform": Platform(settings, REGISTRY, catalog=FakeCatalog())}),
    )
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    for t in REGISTRY:
        assert {
            er_key(t),
            schema_mapping_key(t),
            id_namespace_key(t),
            configured_table_key(t),
        } <= keys
        er_node = graph.get(er_key(t))
        assert er_node.partitions_def == SNAPSHOT_PARTITIONS
        assert er_node.group_name == "entity_resolution" and "glue" in er_node.kinds
        assert part_key(t) in er_node.parent_keys
        cr_node = graph.get(configured_table_key(t))
        assert cr_node.group_name == "clean_rooms" and "cleanrooms" in cr_node.kinds
        assert cr_node.partitions_def is None and part_key(t) in cr_node.parent_keys
        assert schema_mapping_key(t) in graph.get(id_namespace_key(t)).parent_keys
    assert graph.get(REPORT_KEY).group_name == "clean_rooms"
    # the local default has no membership: the association check is not declared
    checks = {(k.asset_key, k.name) for k in graph.asset_check_keys}
    assert len(checks) == 54
    assert {name for _, name in checks} == {CHECK_PROVIDERS, CHECK_COLUMNS}


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_association_check_is_declared_exactly_when_a_membership_is_set(
    tmp_path: Path, env: str
) -> None:
    def check_names(settings: Settings) -> dict[str, int]:
        graph = dg.Definitions.merge(
            build_cleanrooms_defs(REGISTRY, settings),
            dg.Definitions(
                resources={"platform": Platform(settings, REGISTRY, catalog=FakeCatalog())}
            ),
        ).resolve_asset_graph()
        counts: dict[str, int] = {}
        for key in graph.asset_check_keys:
            counts[key.name] = counts.get(key.name, 0) + 1
        return counts

    assert check_names(settings_for(tmp_path, env)) == {CHECK_PROVIDERS: 27, CHECK_COLUMNS: 27}
    with_membership = settings_for(
        tmp_path, env, cleanrooms_membership_id=MEMBERSHIP_ID, cleanrooms_role_arn=ROLE_ARN
    )
    assert check_names(with_membership) == {
        CHECK_PROVIDERS: 27,
        CHECK_COLUMNS: 27,
        CHECK_ASSOCIATION: 27,
    }


# --- local profile: plan only --------------------------------------------------------------


def expected_local_plan(registry: Registry) -> list[tuple[str, dict[str, Any]]]:
    """The exact requests of the 27-table local plan, written out from the issue."""
    plan = []
    for t in registry:
        ref = "${configured_table:" + t.part_table + ".id}"
        plan += [
            (
                "create_configured_table",
                {
                    "name": t.part_table,
                    "description": f"{LOCAL_DB}.{t.part_table} (managed by flywheel)",
                    "tableReference": {
                        "glue": {"tableName": t.part_table, "databaseName": LOCAL_DB}
                    },
                    "allowedColumns": ["customer_user_id", *t.columns],
                    "analysisMethod": "DIRECT_QUERY",
                },
            ),
            (
                "create_configured_table_analysis_rule",
                {
                    "configuredTableIdentifier": ref,
                    "analysisRuleType": "CUSTOM",
                    "analysisRulePolicy": {
                        "v1": {
                            "custom": {
                                "allowedAnalyses": ["ANY_QUERY"],
                                "allowedAnalysisProviders": ["921290734397", "657425294073"],
                            }
                        }
                    },
                },
            ),
            (
                "create_configured_table_association",
                {
                    "name": f"acx_{t.part_table}",
                    "description": f"{t.part_table} in the collaboration (managed by flywheel)",
                    "membershipIdentifier": MEMBERSHIP_ID,
                    "configuredTableIdentifier": ref,
                    "roleArn": ROLE_ARN,
                },
            ),
        ]
    return plan


def test_local_profile_materializes_the_exact_27_table_plan(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, "local", cleanrooms_membership_id=MEMBERSHIP_ID, cleanrooms_role_arn=ROLE_ARN
    )
    result = run(REGISTRY, settings, CR_TABLES)

    document = json.loads(
        (settings.report_root / "cleanrooms" / "cleanrooms_plan.json").read_text()
    )
    assert document["mode"] == "plan (local profile: nothing applied)"
    assert len(REGISTRY) == 27
    assert [(r["operation"], r["params"]) for r in document["requests"]] == expected_local_plan(
        REGISTRY
    )
    assert document["counts"]["created"] == 81

    metadata = materialized(result)
    assert len(metadata) == 27
    first = metadata[configured_table_key(REGISTRY.get("IBE_01_A"))]
    assert (first["mode"], first["created"], first["updated"], first["unchanged"]) == (
        "plan (local profile: nothing applied)",
        3,
        0,
        0,
    )
    assert [r["operation"] for r in first["requests"]] == [
        "create_configured_table",
        "create_configured_table_analysis_rule",
        "create_configured_table_association",
    ]
    assert "| create | association | ibe_01_a | acx_part_ibe_01_a |" in first["summary"]


def test_local_default_profile_plans_no_associations_and_every_check_passes(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, "local")
    run(REGISTRY, settings, CR_TABLES)
    document = json.loads(
        (settings.report_root / "cleanrooms" / "cleanrooms_plan.json").read_text()
    )
    assert document["counts"]["created"] == 54
    assert "cleanrooms_membership_id is not set: no associations are desired" in document["notes"]

    # catalog empty (columns expected from the registry) and as after `make demo`
    # (every part_* table published): no Clean Rooms check fails on the local default
    for catalog in (FakeCatalog(), catalog_with_parts(LOCAL_DB, list(REGISTRY))):
        results = run_checks(REGISTRY, settings, catalog)
        assert len(results) == 54
        assert not any(name == CHECK_ASSOCIATION for _, name in results)
        assert [k for k, e in results.items() if not e.passed] == []
        assert results[("ibe_01_a", CHECK_PROVIDERS)].passed
        assert results[("miacs_02_a", CHECK_COLUMNS)].passed


def test_local_run_summary_counts_no_clean_rooms_check_as_failed(tmp_path: Path) -> None:
    """What `flywheel run` prints for the Clean Rooms group on the local profile."""
    from flywheel_assets.cli import print_summary
    from flywheel_assets.publishing import PublishPolicy
    from flywheel_assets.runner import run_snapshot

    def summary_for(settings: Settings) -> tuple[Any, str]:
        catalog = catalog_with_parts(LOCAL_DB, list(REGISTRY))
        # run_snapshot configures the publish policy of every run it launches
        resources = {
            "platform": Platform(settings, REGISTRY, catalog=catalog),
            "publish_policy": PublishPolicy(),
        }
        defs = dg.Definitions.merge(
            build_cleanrooms_defs(REGISTRY, settings, client_factory=no_aws, clock=lambda: NOW),
            dg.Definitions(resources=resources),
        )
        with dg.instance_for_test() as instance:
            summary = run_snapshot(defs, instance, SNAPSHOT, "group:clean_rooms")
        out = io.StringIO()
        print_summary(summary, out=out)
        return summary, out.getvalue()

    summary, printed = summary_for(settings_for(tmp_path / "default", "local"))
    assert summary.exit_code == 0
    assert len(summary.checks) == 54 and all(c["passed"] for c in summary.checks)
    assert "checks: 54 passed, 0 failed" in printed and "FAILED" not in printed
    # without a membership the association check is not declared at all
    assert CHECK_ASSOCIATION not in {c["name"] for c in summary.checks}

    # a local profile with a membership plans the associations: 81 checks, all passing
    summary, printed = summary_for(
        settings_for(
            tmp_path / "member",
            "local",
            cleanrooms_membership_id=MEMBERSHIP_ID,
            cleanrooms_role_arn=ROLE_ARN,
        )
    )
    assert summary.exit_code == 0
    assert "checks: 81 passed, 0 failed" in printed
    assert sum(c["name"] == CHECK_ASSOCIATION for c in summary.checks) == 27


def test_local_er_plan_writes_the_schema_mapping_files(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "local")
    result = run(REGISTRY, settings, ER_RESOURCES)
    folder = settings.report_root / "cleanrooms"
    document = json.loads((folder / "entity_resolution_plan.json").read_text())
    assert document["counts"]["created"] == 54
    creates = {
        r["params"]["schemaName"]: r["params"]
        for r in document["requests"]
        if r["operation"] == "create_schema_mapping"
    }
    files = sorted((folder / "schema_mappings").iterdir())
    assert len(files) == 27
    for t in REGISTRY:
        written = json.loads(
            (folder / "schema_mappings" / f"{t.er_table}_schema_mapping.json").read_text()
        )
        assert written == creates[f"ACX_SCHEMA_{t.slug.upper()}"]
        assert written["mappedInputFields"][0] == {
            "fieldName": "customer_user_id",
            "type": "UNIQUE_ID",
        }
        assert 2 <= len(written["mappedInputFields"]) <= 60
    namespaces = [r for r in document["requests"] if r["operation"] == "create_id_namespace"]
    assert namespaces[0]["params"]["inputSourceConfig"] == [
        {
            "inputSourceARN": (
                f"arn:aws:glue:us-east-1:<aws_account_id>:table/{LOCAL_DB}/part_ibe_01_a_er"
            ),
            "schemaName": "ACX_SCHEMA_IBE_01_A",
        }
    ]
    metadata = materialized(result)
    assert len(metadata) == 54
    assert metadata[id_namespace_key(REGISTRY.get("IBE_01_A"))]["created"] == 1


# --- _er tables -----------------------------------------------------------------------------


def catalog_with_parts(
    database: str, tables: list[TableSpec], snapshot: str = SNAPSHOT
) -> FakeCatalog:
    catalog = FakeCatalog()
    for t in tables:
        catalog.publish_table(
            part_table_definition(database, t.part_table, t.all_columns, snapshot)
        )
    catalog.published.clear()
    return catalog


def test_er_table_is_a_view_over_the_same_location_and_partitions(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "local")
    ibe, miacs = REGISTRY.get("IBE_01_A"), REGISTRY.get("MIACS_02_A")
    catalog = catalog_with_parts(LOCAL_DB, [ibe, miacs])
    # a typed column keeps its type in the view
    part = catalog.tables[(LOCAL_DB, ibe.part_table)]
    typed = tuple(
        Column(c.name, "bigint" if c.name == "ibe01_attr_02" else c.type) for c in part.columns
    )
    catalog.tables[(LOCAL_DB, ibe.part_table)] = TableDefinition(
        **{**part.__dict__, "columns": typed}
    )

    result = run(
        REGISTRY,
        settings,
        dg.AssetSelection.assets(er_key(ibe), er_key(miacs)),
        catalog=catalog,
        partition_key=SNAPSHOT,
    )

    view = catalog.tables[(LOCAL_DB, ibe.er_table)]
    source = catalog.tables[(LOCAL_DB, ibe.part_table)]
    assert view.location == source.location
    assert view.partition_keys == source.partition_keys == (Column("id_bucket", "int"),)
    assert view.partitions == source.partitions and len(view.partitions) == 4
    assert view.columns == (
        Column("customer_user_id", "string"),
        Column("ibe01_attr_01", "string"),
        Column("ibe01_attr_02", "bigint"),
        Column("ibe01_attr_03", "string"),
    )
    assert view.parameters["er_source_table"] == ibe.part_table
    assert view.parameters["snapshot_dt"] == SNAPSHOT
    wide = catalog.tables[(LOCAL_DB, miacs.er_table)]
    assert [c.name for c in wide.columns] == ["customer_user_id", *miacs.columns[:59]]
    assert materialized(result)[er_key(miacs)]["column_count"] == 60


def test_er_table_refuses_a_part_table_serving_another_snapshot(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "local")
    ibe = REGISTRY.get("IBE_01_A")
    catalog = catalog_with_parts(LOCAL_DB, [ibe], snapshot="2024-12-15")
    result = run(
        REGISTRY,
        settings,
        dg.AssetSelection.assets(er_key(ibe)),
        catalog=catalog,
        partition_key=SNAPSHOT,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "serves snapshot ['2024-12-15'], not 2025-01-15" in str(failure.step_failure_data.error)
    assert catalog.published == []


def test_er_table_needs_its_part_table(tmp_path: Path) -> None:
    ibe = REGISTRY.get("IBE_01_A")
    result = run(
        REGISTRY,
        settings_for(tmp_path, "local"),
        dg.AssetSelection.assets(er_key(ibe)),
        partition_key=SNAPSHOT,
        raise_on_error=False,
    )
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert f"{LOCAL_DB}.part_ibe_01_a is not in the catalog" in str(failure.step_failure_data.error)


# --- AWS profiles: apply ---------------------------------------------------------------------


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=REPORT_BUCKET)
        yield client


def test_aws_profile_applies_the_plan_and_records_it(tmp_path: Path, s3: Any) -> None:
    tables = Registry(REGISTRY.tables[:2])
    settings = aws_settings(tmp_path)
    client = boto3.client("cleanrooms", region_name="us-east-1")
    stub = Stubber(client)
    stub_cleanrooms_reads(stub, [], [], [t.part_table for t in tables])
    for t in tables:
        table_id = ct_id(t.part_table)
        created = configured_table(t.part_table, t.all_columns, DEV_DB)
        stub.add_response("create_configured_table", {"configuredTable": created})
        stub.add_response(
            "create_configured_table_analysis_rule",
            analysis_rule_response(table_id, CUSTOM),
            {
                "configuredTableIdentifier": table_id,
                "analysisRuleType": "CUSTOM",
                "analysisRulePolicy": {"v1": {"custom": CUSTOM}},
            },
        )
        stub.add_response(
            "create_configured_table_association",
            {"configuredTableAssociation": association(f"acx_{t.part_table}", table_id)},
        )
    clients = {"cleanrooms": client, "s3": s3}
    with stub:
        result = run(tables, settings, CR_TABLES, client_factory=clients.__getitem__)
    stub.assert_no_pending_responses()

    metadata = materialized(result)
    first = metadata[configured_table_key(tables.tables[0])]
    assert (first["mode"], first["created"], first["unchanged"]) == ("applied", 3, 0)
    assert first["run_counts"]["created"] == 6
    body = s3.get_object(Bucket=REPORT_BUCKET, Key="cleanrooms-reports/plans/cleanrooms_plan.json")
    document = json.loads(body["Body"].read())
    assert document["mode"] == "applied" and len(document["requests"]) == 6


def test_a_101_column_table_fails_the_asset_before_any_client_exists(tmp_path: Path) -> None:
    big = TableSpec("BIG_01_A", "infobase_attributes", tuple(f"a{i:03d}" for i in range(100)))
    requested: list[str] = []

    def factory(service: str) -> Any:
        requested.append(service)
        raise AssertionError("no client may be created")

    result = run(
        Registry((REGISTRY.get("IBE_01_A"), big)),
        aws_settings(tmp_path),
        CR_TABLES,
        client_factory=factory,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "part_big_01_a: 101 columns exceed the Clean Rooms limit of 100" in str(
        failure.step_failure_data.error
    )
    assert requested == []


def test_verification_checks_report_each_kind_of_drift(tmp_path: Path) -> None:
    good, bad = REGISTRY.get("IBE_01_A"), REGISTRY.get("IBE_02_A")
    tables = Registry((good, bad))
    stored = [
        configured_table(good.part_table, good.all_columns, DEV_DB, custom=dict(CUSTOM)),
        configured_table(
            bad.part_table,
            bad.all_columns[:-1],
            DEV_DB,
            custom={"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": PROVIDERS[:1]},
        ),
    ]
    associations = [
        association(f"acx_{good.part_table}", ct_id(good.part_table)),
        association(f"{bad.part_table}-assoc", ct_id(bad.part_table)),
    ]
    client = boto3.client("cleanrooms", region_name="us-east-1")
    stub = Stubber(client)
    stub_cleanrooms_reads(stub, stored, associations, [good.part_table, bad.part_table])
    catalog = catalog_with_parts(DEV_DB, [good, bad])
    with stub:
        results = run_checks(
            tables, aws_settings(tmp_path), catalog, {"cleanrooms": client}.__getitem__
        )
    stub.assert_no_pending_responses()

    assert all(
        results[("ibe_01_a", name)].passed
        for name in (CHECK_PROVIDERS, CHECK_COLUMNS, CHECK_ASSOCIATION)
    )
    providers = results[("ibe_02_a", CHECK_PROVIDERS)]
    assert not providers.passed
    assert providers.metadata["missing"].value == ["657425294073"]
    columns = results[("ibe_02_a", CHECK_COLUMNS)]
    assert not columns.passed
    assert columns.metadata["missing"].value == [bad.columns[-1]]
    assert columns.metadata["expected_from"].value == "catalog"
    assoc = results[("ibe_02_a", CHECK_ASSOCIATION)]
    assert not assoc.passed
    assert assoc.metadata["found_name"].value == "part_ibe_02_a-assoc"
    assert assoc.metadata["expected_name"].value == "acx_part_ibe_02_a"


def test_association_check_fails_on_dev_when_the_membership_has_no_association(
    tmp_path: Path,
) -> None:
    missing, named = REGISTRY.get("IBE_01_A"), REGISTRY.get("IBE_02_A")
    tables = Registry((missing, named))
    stored = [
        configured_table(t.part_table, t.all_columns, DEV_DB, custom=dict(CUSTOM))
        for t in (missing, named)
    ]
    associations = [association(f"acx_{named.part_table}", ct_id(named.part_table))]
    client = boto3.client("cleanrooms", region_name="us-east-1")
    stub = Stubber(client)
    stub_cleanrooms_reads(stub, stored, associations, [t.part_table for t in tables])
    with stub:
        results = run_checks(
            tables,
            aws_settings(tmp_path),
            catalog_with_parts(DEV_DB, list(tables)),
            {"cleanrooms": client}.__getitem__,
        )
    stub.assert_no_pending_responses()

    assert len(results) == 6
    absent = results[("ibe_01_a", CHECK_ASSOCIATION)]
    assert not absent.passed and absent.severity == dg.AssetCheckSeverity.ERROR
    assert absent.metadata["found_name"].value == "(no association)"
    assert absent.metadata["expected_name"].value == "acx_part_ibe_01_a"
    assert absent.metadata["membership_id"].value == MEMBERSHIP_ID
    assert "applicable" not in absent.metadata
    assert results[("ibe_01_a", CHECK_PROVIDERS)].passed
    assert results[("ibe_01_a", CHECK_COLUMNS)].passed
    well_named = results[("ibe_02_a", CHECK_ASSOCIATION)]
    assert well_named.passed
    assert well_named.metadata["found_name"].value == "acx_part_ibe_02_a"


def test_association_check_is_not_applicable_when_the_run_has_no_membership(
    tmp_path: Path,
) -> None:
    """Definitions built with a membership, run settings without one: passed, not failed."""
    ibe = REGISTRY.get("IBE_01_A")
    tables = Registry((ibe,))
    declared = settings_for(
        tmp_path, "local", cleanrooms_membership_id=MEMBERSHIP_ID, cleanrooms_role_arn=ROLE_ARN
    )
    running = settings_for(tmp_path, "local")
    defs = dg.Definitions.merge(
        build_cleanrooms_defs(tables, declared, client_factory=no_aws),
        dg.Definitions(
            resources={"platform": Platform(running, tables, catalog=FakeCatalog())},
            jobs=[dg.define_asset_job("verify", selection=dg.AssetSelection.all_asset_checks())],
        ),
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("verify").execute_in_process(instance=instance)
    results = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assoc = results[CHECK_ASSOCIATION]
    assert assoc.passed
    assert assoc.metadata["applicable"].value is False
    assert assoc.description == (
        "not applicable: cleanrooms_membership_id is not set: no association is desired"
    )


# --- report ----------------------------------------------------------------------------------


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_local_report_files_describe_the_planned_state(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, "local", cleanrooms_membership_id=MEMBERSHIP_ID, cleanrooms_role_arn=ROLE_ARN
    )
    catalog = catalog_with_parts(LOCAL_DB, [REGISTRY.get("IBE_01_A")])
    result = run(REGISTRY, settings, dg.AssetSelection.assets(REPORT_KEY), catalog=catalog)
    folder = settings.report_root / "cleanrooms-reports"
    base = "ACX_Cleanroom_Report_20250115_120000"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{base}.json",
        f"{base}_IdentityResolution.csv",
        f"{base}_Tables.csv",
    ]
    report = json.loads((folder / f"{base}.json").read_text())
    assert report["state_source"].startswith("planned")
    assert report["summary"]["ready_for_analysis"] == 27
    rows = read_csv((folder / f"{base}_Tables.csv").read_text())
    assert len(rows) == 27
    assert rows[0] == {
        "collaboration_name": "N/A",
        "table_name": "part_ibe_01_a",
        "glue_exists": "Yes",
        "glue_column_count": "4",
        "glue_partition_keys": "id_bucket",
        "configured_table_exists": "Yes",
        "configured_table_id": "planned:part_ibe_01_a",
        "configured_table_name": "part_ibe_01_a",
        "allowed_columns_count": "4",
        "analysis_method": "DIRECT_QUERY",
        "analysis_rule_exists": "Yes",
        "analysis_providers": "921290734397, 657425294073",
        "association_exists": "Yes",
        "association_name": "acx_part_ibe_01_a",
        "in_collaboration": "Yes",
        "table_status": "READY",
        "ready_for_analysis": "Yes",
    }
    assert rows[1]["glue_exists"] == "No"  # only ibe_01_a is in the fake catalog
    identity = read_csv((folder / f"{base}_IdentityResolution.csv").read_text())
    addressable = [r for r in identity if r["table"] == "part_addressable_ids_er"]
    assert [(r["input_field"], r["match_key"]) for r in addressable] == [
        ("maid", "MAID"),
        ("hashed_email", "EMAIL"),
        ("ip_address", "IP"),
    ]
    assert all(r["unique_id"] == "customer_user_id" for r in identity)
    assert len(identity) == 26 + 3
    assert materialized(result)[REPORT_KEY]["ready_for_analysis"] == 27


def test_aws_report_reads_actual_state_and_writes_to_s3(tmp_path: Path, s3: Any) -> None:
    ready, missing = REGISTRY.get("IBE_01_A"), REGISTRY.get("addressable_ids")
    tables = Registry((ready, missing))
    moto_cleanrooms = boto3.client("cleanrooms", region_name="us-east-1")
    collaboration = moto_cleanrooms.create_collaboration(
        name="ACX Flywheel",
        description="test",
        creatorDisplayName="ACX",
        creatorMemberAbilities=["CAN_QUERY"],
        members=[],
        queryLogStatus="DISABLED",
    )["collaboration"]
    membership_id = moto_cleanrooms.create_membership(
        collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED"
    )["membership"]["id"]
    settings = aws_settings(tmp_path, cleanrooms_membership_id=membership_id)
    created = moto_cleanrooms.create_configured_table(
        name=ready.part_table,
        tableReference={"glue": {"tableName": ready.part_table, "databaseName": DEV_DB}},
        allowedColumns=list(ready.all_columns),
        analysisMethod="DIRECT_QUERY",
    )["configuredTable"]

    stub_client = boto3.client("cleanrooms", region_name="us-east-1")
    stub = Stubber(stub_client)
    assoc = association(f"acx_{ready.part_table}", created["id"], membership_id)
    stub.add_response(
        "list_configured_table_associations",
        {"configuredTableAssociationSummaries": [association_summary(assoc)]},
        {"membershipIdentifier": membership_id, "maxResults": 100},
    )
    stub.add_response(
        "get_configured_table_analysis_rule",
        analysis_rule_response(created["id"], CUSTOM),
        {"configuredTableIdentifier": created["id"], "analysisRuleType": "CUSTOM"},
    )
    stub.add_response(
        "get_configured_table_association",
        {"configuredTableAssociation": assoc},
        {
            "configuredTableAssociationIdentifier": assoc["id"],
            "membershipIdentifier": membership_id,
        },
    )
    er_client = boto3.client("entityresolution", region_name="us-east-1")
    er_stub = Stubber(er_client)
    mapping = {
        "schemaName": "ACX_SCHEMA_IBE_01_A",
        "description": "d",
        "mappedInputFields": [
            {"fieldName": "customer_user_id", "type": "UNIQUE_ID"},
            {"fieldName": "ibe01_attr_01", "type": "STRING"},
        ],
    }
    namespace = {
        "idNamespaceName": "ACX_NS_IBE_01_A",
        "description": "d",
        "inputSourceConfig": [
            {
                "inputSourceARN": (
                    f"arn:aws:glue:us-east-1:{ACCOUNT}:table/{DEV_DB}/part_ibe_01_a_er"
                ),
                "schemaName": "ACX_SCHEMA_IBE_01_A",
            }
        ],
        "type": "SOURCE",
    }
    stub_er_reads(
        er_stub,
        [schema_mapping(mapping)],
        [id_namespace(namespace)],
        ["ACX_SCHEMA_IBE_01_A", "ACX_SCHEMA_ADDRESSABLE_IDS"],
        ["ACX_NS_IBE_01_A", "ACX_NS_ADDRESSABLE_IDS"],
    )
    clients = {
        "cleanrooms": MotoWithStubs(moto_cleanrooms, stub_client),
        "entityresolution": er_client,
        "s3": s3,
    }
    catalog = catalog_with_parts(DEV_DB, [ready, missing])
    with stub, er_stub:
        result = run(
            tables,
            settings,
            dg.AssetSelection.assets(REPORT_KEY),
            catalog=catalog,
            client_factory=clients.__getitem__,
        )
    stub.assert_no_pending_responses()
    er_stub.assert_no_pending_responses()

    base = "cleanrooms-reports/ACX_Cleanroom_Report_20250115_120000"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=REPORT_BUCKET)["Contents"])
    assert keys == [f"{base}.json", f"{base}_IdentityResolution.csv", f"{base}_Tables.csv"]
    tables_csv = read_csv(
        s3.get_object(Bucket=REPORT_BUCKET, Key=f"{base}_Tables.csv")["Body"].read().decode()
    )
    assert [(r["table_name"], r["table_status"], r["collaboration_name"]) for r in tables_csv] == [
        ("part_ibe_01_a", "READY", "ACX Flywheel"),
        ("part_addressable_ids", "NOT_CONFIGURED", "ACX Flywheel"),
    ]
    identity = read_csv(
        s3.get_object(Bucket=REPORT_BUCKET, Key=f"{base}_IdentityResolution.csv")["Body"]
        .read()
        .decode()
    )
    assert identity[0]["id_namespace"] == "ACX_NS_IBE_01_A"
    assert (identity[0]["source_db"], identity[0]["table"]) == (DEV_DB, "part_ibe_01_a_er")
    assert identity[1]["id_namespace"] == "ACX_NS_ADDRESSABLE_IDS (missing)"
    metadata = materialized(result)[REPORT_KEY]
    assert (metadata["state_source"], metadata["ready_for_analysis"]) == ("actual", 1)


def test_report_names_carry_the_utc_timestamp() -> None:
    from flywheel_assets.cleanrooms.report import report_basename

    stamp = dt.datetime(2025, 11, 18, 7, 5, 9, tzinfo=dt.UTC)
    assert report_basename(stamp) == "ACX_Cleanroom_Report_20251118_070509"


def test_aws_er_resources_are_applied_and_their_mapping_files_written(
    tmp_path: Path, s3: Any
) -> None:
    t = REGISTRY.get("addressable_ids")
    client = boto3.client("entityresolution", region_name="us-east-1")
    stub = Stubber(client)
    stub_er_reads(stub, [], [], [], [])
    mapping = {
        "schemaName": "ACX_SCHEMA_ADDRESSABLE_IDS",
        "description": (
            "Entity Resolution schema for part_addressable_ids_er (customer_user_id as unique id)"
        ),
        "mappedInputFields": [
            {"fieldName": "customer_user_id", "type": "UNIQUE_ID"},
            {"fieldName": "maid", "type": "MAID", "matchKey": "MAID"},
            {
                "fieldName": "hashed_email",
                "type": "EMAIL_ADDRESS",
                "matchKey": "EMAIL",
                "hashed": True,
            },
            {"fieldName": "ip_address", "type": "IPV4", "matchKey": "IP"},
            {"fieldName": "id_type", "type": "STRING"},
        ],
    }
    namespace = {
        "idNamespaceName": "ACX_NS_ADDRESSABLE_IDS",
        "description": f"Source: {DEV_DB}.part_addressable_ids_er (managed by flywheel)",
        "inputSourceConfig": [
            {
                "inputSourceARN": (
                    f"arn:aws:glue:us-east-1:{ACCOUNT}:table/{DEV_DB}/part_addressable_ids_er"
                ),
                "schemaName": "ACX_SCHEMA_ADDRESSABLE_IDS",
            }
        ],
        "type": "SOURCE",
        "roleArn": ROLE_ARN,
    }
    created = schema_mapping(mapping)
    for key in ("createdAt", "updatedAt", "hasWorkflows"):
        created.pop(key)
    stub.add_response("create_schema_mapping", created, mapping)
    stub.add_response("create_id_namespace", id_namespace(namespace), namespace)
    clients = {"entityresolution": client, "s3": s3}
    with stub:
        result = run(
            Registry((t,)), aws_settings(tmp_path), ER_RESOURCES, client_factory=clients.__getitem__
        )
    stub.assert_no_pending_responses()

    metadata = materialized(result)
    assert metadata[schema_mapping_key(t)]["created"] == 1
    assert metadata[id_namespace_key(t)]["mode"] == "applied"
    key = "cleanrooms-reports/schema_mappings/part_addressable_ids_er_schema_mapping.json"
    assert json.loads(s3.get_object(Bucket=REPORT_BUCKET, Key=key)["Body"].read()) == mapping


def test_default_clients_come_from_the_platform_aws_client_lazily() -> None:
    from flywheel_assets.adapters.aws_clients import client_factory as default_client_factory

    factory = default_client_factory("us-east-1")
    with mock_aws():
        client = factory("cleanrooms")
        assert client.meta.region_name == "us-east-1"
        assert client.list_configured_tables()["configuredTableSummaries"] == []
