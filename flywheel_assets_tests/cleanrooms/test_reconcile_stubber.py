"""Reconcile against botocore's Stubber: every request is checked against the real service
model and against the exact parameters written out here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from flywheel_assets.cleanrooms.apply import ApplyError, apply_plan
from flywheel_assets.cleanrooms.desired import (
    CleanroomsConfig,
    DesiredStateError,
    desired_configured_tables,
    desired_entity_resolution,
)
from flywheel_assets.cleanrooms.plan_cleanrooms import plan_cleanrooms
from flywheel_assets.cleanrooms.plan_entity_resolution import plan_entity_resolution
from flywheel_assets.cleanrooms.read import read_cleanrooms, read_entity_resolution
from flywheel_assets.config.registry import load_registry
from flywheel_assets_tests.cleanrooms.fakes import (
    ACCOUNT,
    MEMBERSHIP_ID,
    PROVIDERS,
    ROLE_ARN,
    analysis_rule_response,
    association,
    aws_settings,
    configured_table,
    ct_id,
    id_namespace,
    schema_mapping,
    stub_cleanrooms_reads,
    stub_er_reads,
    table_summary,
)
from glue_jobs.registry import Registry, TableSpec

REGISTRY = load_registry()
DB = "omc_flywheel_dev"
NAMES = [t.part_table for t in REGISTRY]
CUSTOM = {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": PROVIDERS}


@pytest.fixture
def config(tmp_path: Path) -> CleanroomsConfig:
    return CleanroomsConfig.from_settings(aws_settings(tmp_path))


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1")
    return client, Stubber(client)


# Expected requests, written out from the issue rather than from the code under test.


def table_request(t: TableSpec) -> dict[str, Any]:
    return {
        "name": t.part_table,
        "description": f"{DB}.{t.part_table} (managed by flywheel)",
        "tableReference": {"glue": {"tableName": t.part_table, "databaseName": DB}},
        "allowedColumns": ["customer_user_id", *t.columns],
        "analysisMethod": "DIRECT_QUERY",
    }


def rule_request(table_id: str, providers: list[str] = PROVIDERS, **extra: Any) -> dict[str, Any]:
    custom = {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": providers, **extra}
    return {
        "configuredTableIdentifier": table_id,
        "analysisRuleType": "CUSTOM",
        "analysisRulePolicy": {"v1": {"custom": custom}},
    }


def association_request(t: TableSpec, table_id: str) -> dict[str, Any]:
    return {
        "name": f"acx_{t.part_table}",
        "description": f"{t.part_table} in the collaboration (managed by flywheel)",
        "membershipIdentifier": MEMBERSHIP_ID,
        "configuredTableIdentifier": table_id,
        "roleArn": ROLE_ARN,
    }


def converged(registry: Registry | list[TableSpec] = REGISTRY) -> tuple[list, list]:
    """The state a first apply leaves behind."""
    tables = [
        configured_table(t.part_table, t.all_columns, DB, custom=dict(CUSTOM)) for t in registry
    ]
    associations = [
        association(f"acx_{t.part_table}", ct_id(t.part_table), description="x") for t in registry
    ]
    return tables, associations


def public(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if not k.startswith("_")}


def reconcile(client: Any, config: CleanroomsConfig, tables=REGISTRY, **options: Any):
    desired = desired_configured_tables(tables, config)
    actual = read_cleanrooms(client, [d.name for d in desired], config.membership_id)
    return plan_cleanrooms(desired, actual, managed_names=NAMES, **options)


# --- Clean Rooms ---------------------------------------------------------------------------


def test_first_apply_creates_every_table_rule_and_association(config: CleanroomsConfig) -> None:
    client, stub = stubbed("cleanrooms")
    stub_cleanrooms_reads(stub, [], [], NAMES)
    for t in REGISTRY:
        table_id = ct_id(t.part_table)
        stub.add_response(
            "create_configured_table",
            {"configuredTable": public(configured_table(t.part_table, t.all_columns, DB))},
            table_request(t),
        )
        stub.add_response(
            "create_configured_table_analysis_rule",
            analysis_rule_response(table_id, CUSTOM),
            rule_request(table_id),
        )
        stub.add_response(
            "create_configured_table_association",
            {"configuredTableAssociation": association(f"acx_{t.part_table}", table_id)},
            association_request(t, table_id),
        )
    with stub:
        plan = reconcile(client, config)
        assert plan.counts() == {
            "created": 81,
            "updated": 0,
            "deleted": 0,
            "unchanged": 0,
            "blocked": 0,
            "unmanaged_kept": 0,
        }
        done = apply_plan(plan, lambda service: client)
    stub.assert_no_pending_responses()
    assert len(done) == 81
    assert done[:3] == [
        {"operation": "create_configured_table", "table": "ibe_01_a", "name": "part_ibe_01_a"},
        {
            "operation": "create_configured_table_analysis_rule",
            "table": "ibe_01_a",
            "name": "part_ibe_01_a",
        },
        {
            "operation": "create_configured_table_association",
            "table": "ibe_01_a",
            "name": "acx_part_ibe_01_a",
        },
    ]


def test_second_apply_changes_nothing(config: CleanroomsConfig) -> None:
    client, stub = stubbed("cleanrooms")
    tables, associations = converged()
    stub_cleanrooms_reads(stub, tables, associations, NAMES)
    with stub:  # any write would be an unexpected call and raise
        plan = reconcile(client, config)
        assert plan.requests == []
        assert plan.counts()["unchanged"] == 81
        assert apply_plan(plan, lambda service: client) == []
    stub.assert_no_pending_responses()


def test_a_drifted_provider_list_is_updated_and_nothing_else(config: CleanroomsConfig) -> None:
    client, stub = stubbed("cleanrooms")
    tables, associations = converged()
    drifted = next(t for t in tables if t["name"] == "part_ibe_03_a")
    # One provider missing; a setting we do not manage must survive the update.
    drifted["_custom"] = {
        "allowedAnalyses": ["ANY_QUERY"],
        "allowedAnalysisProviders": [PROVIDERS[0]],
        "additionalAnalyses": "NOT_ALLOWED",
    }
    stub_cleanrooms_reads(stub, tables, associations, NAMES)
    table_id = ct_id("part_ibe_03_a")
    stub.add_response(
        "update_configured_table_analysis_rule",
        analysis_rule_response(table_id, CUSTOM),
        rule_request(table_id, PROVIDERS, additionalAnalyses="NOT_ALLOWED"),
    )
    with stub:
        plan = reconcile(client, config)
        assert [(r.operation, r.table) for r in plan.requests] == [
            ("update_configured_table_analysis_rule", "ibe_03_a")
        ]
        assert "657425294073" in plan.requests[0].reason
        apply_plan(plan, lambda service: client)
    stub.assert_no_pending_responses()


def test_an_extra_provider_is_removed(config: CleanroomsConfig) -> None:
    client, stub = stubbed("cleanrooms")
    tables, associations = converged(REGISTRY.tables[:1])
    tables[0]["_custom"]["allowedAnalysisProviders"] = [*PROVIDERS, "803109464991"]
    stub_cleanrooms_reads(stub, tables, associations, NAMES[:1])
    with stub:
        plan = reconcile(client, config, REGISTRY.tables[:1])
    (request,) = plan.requests
    assert request.params == rule_request(ct_id("part_ibe_01_a"))


def test_truncated_columns_are_restored(config: CleanroomsConfig) -> None:
    """The reference's part_miacs_02_a bug: a configured table missing its last column."""
    miacs = REGISTRY.get("MIACS_02_A")
    client, stub = stubbed("cleanrooms")
    tables, associations = converged([miacs])
    tables[0]["allowedColumns"] = list(miacs.all_columns[:-1])
    stub_cleanrooms_reads(stub, tables, associations, [miacs.part_table])
    table_id = ct_id(miacs.part_table)
    stub.add_response(
        "update_configured_table",
        {"configuredTable": public(configured_table(miacs.part_table, miacs.all_columns, DB))},
        {"configuredTableIdentifier": table_id, "allowedColumns": list(miacs.all_columns)},
    )
    with stub:
        plan = reconcile(client, config, [miacs])
        (request,) = plan.requests
        assert miacs.all_columns[-1] in request.reason
        apply_plan(plan, lambda service: client)
    stub.assert_no_pending_responses()
    assert len(request.params["allowedColumns"]) == 100


def test_a_misnamed_association_is_blocked_unless_replace_is_allowed(
    config: CleanroomsConfig,
) -> None:
    t = REGISTRY.get("MIACS_01_A")
    table_id = ct_id(t.part_table)
    old = association(t.part_table, table_id, association_id=ct_id("old-assoc"))
    tables, _ = converged([t])

    client, stub = stubbed("cleanrooms")
    stub_cleanrooms_reads(stub, tables, [old], [t.part_table])
    with stub:
        plan = reconcile(client, config, [t])
    assert plan.requests == []
    (blocked,) = plan.blocked
    assert "acx_part_miacs_01_a" in blocked.detail and "cleanrooms_allow_replace" in blocked.detail

    client, stub = stubbed("cleanrooms")
    stub_cleanrooms_reads(stub, tables, [old], [t.part_table])
    stub.add_response(
        "delete_configured_table_association",
        {},
        {"configuredTableAssociationIdentifier": old["id"], "membershipIdentifier": MEMBERSHIP_ID},
    )
    stub.add_response(
        "create_configured_table_association",
        {"configuredTableAssociation": association(f"acx_{t.part_table}", table_id)},
        association_request(t, table_id),
    )
    with stub:
        plan = reconcile(client, config, [t], allow_replace=True)
        assert [r.operation for r in plan.requests] == [
            "delete_configured_table_association",
            "create_configured_table_association",
        ]
        apply_plan(plan, lambda service: client)
    stub.assert_no_pending_responses()


def test_a_changed_role_updates_the_association(config: CleanroomsConfig) -> None:
    t = REGISTRY.get("IBE_01_A")
    tables, associations = converged([t])
    associations[0]["roleArn"] = f"arn:aws:iam::{ACCOUNT}:role/old-role"
    client, stub = stubbed("cleanrooms")
    stub_cleanrooms_reads(stub, tables, associations, [t.part_table])
    with stub:
        plan = reconcile(client, config, [t])
    (request,) = plan.requests
    assert (request.operation, request.params) == (
        "update_configured_table_association",
        {
            "configuredTableAssociationIdentifier": associations[0]["id"],
            "membershipIdentifier": MEMBERSHIP_ID,
            "roleArn": ROLE_ARN,
        },
    )


def test_a_101_column_table_fails_before_any_request(config: CleanroomsConfig) -> None:
    big = TableSpec("BIG_01_A", "infobase_attributes", tuple(f"a{i:03d}" for i in range(100)))
    client, stub = stubbed("cleanrooms")
    with stub, pytest.raises(DesiredStateError, match=r"part_big_01_a: 101 columns exceed"):
        # no response is stubbed: any request before the error would fail differently
        reconcile(client, config, [REGISTRY.get("IBE_01_A"), big])
    stub.assert_no_pending_responses()


def test_unmanaged_tables_are_kept_unless_deletes_are_enabled(config: CleanroomsConfig) -> None:
    t = REGISTRY.get("IBE_01_A")
    tables, associations = converged([t])
    leftover = configured_table("part_retired_01", ["customer_user_id"], DB, custom=dict(CUSTOM))
    foreign = configured_table("someone_elses_table", ["x"], DB)
    leftover_assoc = association("acx_part_retired_01", leftover["id"])
    all_tables = [*tables, leftover, foreign]

    client, stub = stubbed("cleanrooms")
    stub_cleanrooms_reads(stub, all_tables, [*associations, leftover_assoc], [t.part_table])
    with stub:
        plan = reconcile(client, config, [t])
    assert plan.requests == []
    assert [(o.name, o.resource) for o in plan.kept] == [("part_retired_01", "configured_table")]

    client, stub = stubbed("cleanrooms")
    stub_cleanrooms_reads(stub, all_tables, [*associations, leftover_assoc], [t.part_table])
    with stub:
        plan = reconcile(client, config, [t], delete_unmanaged=True)
    assert [(r.operation, r.params) for r in plan.requests] == [
        (
            "delete_configured_table_association",
            {
                "configuredTableAssociationIdentifier": leftover_assoc["id"],
                "membershipIdentifier": MEMBERSHIP_ID,
            },
        ),
        (
            "delete_configured_table_analysis_rule",
            {"configuredTableIdentifier": leftover["id"], "analysisRuleType": "CUSTOM"},
        ),
        ("delete_configured_table", {"configuredTableIdentifier": leftover["id"]}),
    ]


def test_duplicates_prefer_the_associated_table_and_are_reported(config: CleanroomsConfig) -> None:
    t = REGISTRY.get("IBE_01_A")
    tables, associations = converged([t])
    older = configured_table(t.part_table, t.all_columns, DB, table_id=ct_id("older"))
    client, stub = stubbed("cleanrooms")
    stub_cleanrooms_reads(stub, [older, *tables], associations, [])
    stub.add_response(
        "get_configured_table",
        {"configuredTable": public(tables[0])},
        {"configuredTableIdentifier": tables[0]["id"]},
    )
    stub.add_response(
        "get_configured_table_analysis_rule",
        analysis_rule_response(tables[0]["id"], CUSTOM),
        {"configuredTableIdentifier": tables[0]["id"], "analysisRuleType": "CUSTOM"},
    )
    stub.add_response(
        "get_configured_table_association",
        {"configuredTableAssociation": associations[0]},
        {
            "configuredTableAssociationIdentifier": associations[0]["id"],
            "membershipIdentifier": MEMBERSHIP_ID,
        },
    )
    with stub:
        actual = read_cleanrooms(client, [t.part_table], MEMBERSHIP_ID)
        plan = plan_cleanrooms(desired_configured_tables([t], config), actual, managed_names=NAMES)
    assert actual.configured_tables[t.part_table].id == tables[0]["id"]
    assert plan.requests == []
    assert plan.notes == [
        f"{t.part_table}: duplicate configured tables ['{ct_id('older')}'] left untouched"
    ]


def test_reader_follows_next_token() -> None:
    client, stub = stubbed("cleanrooms")
    first, second = (configured_table(f"part_x_{i}", ["a"], DB) for i in range(2))
    stub.add_response(
        "list_configured_tables",
        {"configuredTableSummaries": [table_summary(first)], "nextToken": "page-2"},
        {"maxResults": 100},
    )
    stub.add_response(
        "list_configured_tables",
        {"configuredTableSummaries": [table_summary(second)]},
        {"maxResults": 100, "nextToken": "page-2"},
    )
    with stub:
        actual = read_cleanrooms(client, [], "")
    assert [s["name"] for s in actual.summaries] == ["part_x_0", "part_x_1"]


def test_a_failed_request_stops_the_apply_and_says_what_was_done(config: CleanroomsConfig) -> None:
    t = REGISTRY.get("IBE_01_A")
    client, stub = stubbed("cleanrooms")
    stub_cleanrooms_reads(stub, [], [], [t.part_table])
    stub.add_response(
        "create_configured_table",
        {"configuredTable": public(configured_table(t.part_table, t.all_columns, DB))},
        table_request(t),
    )
    stub.add_client_error("create_configured_table_analysis_rule", "AccessDeniedException")
    with stub:
        plan = reconcile(client, config, [t])
        with pytest.raises(ApplyError, match="failed after 1 of 3 requests") as raised:
            apply_plan(plan, lambda service: client)
    assert raised.value.done == [
        {"operation": "create_configured_table", "table": "ibe_01_a", "name": "part_ibe_01_a"}
    ]


# --- Entity Resolution ---------------------------------------------------------------------


def er_desired(config: CleanroomsConfig, tables=REGISTRY):
    return desired_entity_resolution(tables, config, ACCOUNT)


def mapping_request(t: TableSpec) -> dict[str, Any]:
    fields = [{"fieldName": "customer_user_id", "type": "UNIQUE_ID"}]
    fields += [{"fieldName": c, "type": "STRING"} for c in t.columns[:59]]
    return {
        "schemaName": f"ACX_SCHEMA_{t.slug.upper()}",
        "description": f"Entity Resolution schema for {t.er_table} (customer_user_id as unique id)",
        "mappedInputFields": fields,
    }


def namespace_request(t: TableSpec) -> dict[str, Any]:
    return {
        "idNamespaceName": f"ACX_NS_{t.slug.upper()}",
        "description": f"Source: {DB}.{t.er_table} (managed by flywheel)",
        "inputSourceConfig": [
            {
                "inputSourceARN": f"arn:aws:glue:us-east-1:{ACCOUNT}:table/{DB}/{t.er_table}",
                "schemaName": f"ACX_SCHEMA_{t.slug.upper()}",
            }
        ],
        "type": "SOURCE",
        "roleArn": ROLE_ARN,
    }


def er_reconcile(client: Any, config: CleanroomsConfig, tables=REGISTRY, **options: Any):
    mappings, namespaces = er_desired(config, tables)
    actual = read_entity_resolution(
        client, [m.name for m in mappings], [n.name for n in namespaces]
    )
    slugs = [t.slug for t in REGISTRY]
    return plan_entity_resolution(mappings, namespaces, actual, managed_slugs=slugs, **options)


def test_er_first_apply_creates_a_mapping_then_a_namespace_per_table(
    config: CleanroomsConfig,
) -> None:
    infobase = [t for t in REGISTRY if t.source == "infobase_attributes"]
    client, stub = stubbed("entityresolution")
    stub_er_reads(stub, [], [], [], [])
    for t in REGISTRY:
        mapping = mapping_request(t) if t in infobase else er_desired(config, [t])[0][0].document()
        stub.add_response(
            "create_schema_mapping",
            {
                k: v
                for k, v in schema_mapping(mapping).items()
                if k not in ("createdAt", "updatedAt", "hasWorkflows")
            },
            mapping,
        )
        namespace = namespace_request(t)
        stub.add_response("create_id_namespace", id_namespace(namespace), namespace)
    with stub:
        plan = er_reconcile(client, config)
        assert plan.counts()["created"] == 54
        apply_plan(plan, lambda service: client)
    stub.assert_no_pending_responses()


def test_er_second_apply_changes_nothing(config: CleanroomsConfig) -> None:
    mappings, namespaces = er_desired(config)
    stored = []
    for m in mappings:
        body = schema_mapping(m.document())
        # the service echoes defaults we never sent; they must not read as drift
        for field in body["mappedInputFields"]:
            field.setdefault("hashed", False)
        stored.append(body)
    client, stub = stubbed("entityresolution")
    stub_er_reads(
        stub,
        stored,
        [id_namespace(n.create_params()) for n in namespaces],
        [m.name for m in mappings],
        [n.name for n in namespaces],
    )
    with stub:
        plan = er_reconcile(client, config)
        assert plan.requests == []
        assert plan.counts()["unchanged"] == 54
    stub.assert_no_pending_responses()


def test_er_mapping_drift_is_updated_or_blocked_when_a_workflow_uses_it(
    config: CleanroomsConfig,
) -> None:
    t = REGISTRY.get("addressable_ids")
    (mapping,), (namespace,) = er_desired(config, [t])
    stale = mapping.document()
    stale["mappedInputFields"][1] = {"fieldName": "maid", "type": "STRING"}

    for has_workflows in (False, True):
        client, stub = stubbed("entityresolution")
        stub_er_reads(
            stub,
            [schema_mapping(stale, has_workflows=has_workflows)],
            [id_namespace(namespace.create_params())],
            [mapping.name],
            [namespace.name],
        )
        with stub:
            plan = er_reconcile(client, config, [t])
        if has_workflows:
            assert plan.requests == []
            assert "used by a workflow" in plan.blocked[0].detail
        else:
            (request,) = plan.requests
            assert (request.operation, request.params) == (
                "update_schema_mapping",
                mapping.document(),
            )


def test_er_unmanaged_resources_are_kept_by_default(config: CleanroomsConfig) -> None:
    t = REGISTRY.get("IBE_01_A")
    (mapping,), (namespace,) = er_desired(config, [t])
    old_mapping = schema_mapping({**mapping.document(), "schemaName": "ACX_SCHEMA_RETIRED"})
    old_namespace = id_namespace({**namespace.create_params(), "idNamespaceName": "ACX_NS_RETIRED"})
    stores = (
        [schema_mapping(mapping.document()), old_mapping],
        [id_namespace(namespace.create_params()), old_namespace],
    )
    for delete in (False, True):
        client, stub = stubbed("entityresolution")
        stub_er_reads(stub, *stores, [mapping.name], [namespace.name])
        with stub:
            plan = er_reconcile(client, config, [t], delete_unmanaged=delete)
        if delete:
            assert [(r.operation, r.params) for r in plan.requests] == [
                ("delete_id_namespace", {"idNamespaceName": "ACX_NS_RETIRED"}),
                ("delete_schema_mapping", {"schemaName": "ACX_SCHEMA_RETIRED"}),
            ]
        else:
            assert plan.requests == []
            assert sorted(o.name for o in plan.kept) == ["ACX_NS_RETIRED", "ACX_SCHEMA_RETIRED"]
