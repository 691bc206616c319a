"""Clean Rooms and Entity Resolution reconcile, every operation at least once, every list
answered in two pages, every request checked by the ``aws_contract`` fixture (the
service model and what AWS enforces beyond it); then the creates that meet an existing
resource and converge instead of failing the rerun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from flywheel_assets.cleanrooms.apply import ApplyError, apply_plan
from flywheel_assets.cleanrooms.desired import (
    CleanroomsConfig,
    desired_configured_tables,
    desired_entity_resolution,
)
from flywheel_assets.cleanrooms.plan import Plan, Request
from flywheel_assets.cleanrooms.plan_cleanrooms import plan_cleanrooms
from flywheel_assets.cleanrooms.plan_entity_resolution import plan_entity_resolution
from flywheel_assets.cleanrooms.read import (
    read_cleanrooms,
    read_entity_resolution,
    read_membership,
)
from flywheel_assets.config.registry import load_registry
from flywheel_assets_tests.aws_contract import CONTRACT_OPERATIONS, ContractRecorder
from flywheel_assets_tests.cleanrooms.fakes import (
    ACCOUNT,
    MEMBERSHIP_ID,
    NOW,
    PROVIDERS,
    ROLE_ARN,
    analysis_rule_response,
    association,
    association_summary,
    aws_settings,
    configured_table,
    ct_id,
    id_namespace,
    schema_mapping,
    table_summary,
)

REGISTRY = load_registry()
DB = "omc_flywheel_dev"
KEPT, MISSING = REGISTRY.get("IBE_01_A"), REGISTRY.get("IBE_02_A")
CUSTOM = {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": PROVIDERS}
OLD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/old-reader"


@pytest.fixture
def config(tmp_path: Path) -> CleanroomsConfig:
    return CleanroomsConfig.from_settings(aws_settings(tmp_path))


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1")
    return client, Stubber(client)


def public(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if not k.startswith("_")}


def two_pages(stub: Stubber, operation: str, key: str, items: list, **params: Any) -> None:
    """``items`` split over two pages: the second only for a request with the token."""
    stub.add_response(operation, {key: items[:1], "nextToken": "page-2"}, params)
    stub.add_response(operation, {key: items[1:]}, {**params, "nextToken": "page-2"})


def membership() -> dict[str, Any]:
    collaboration = "0b6b6a0e-0000-4000-8000-000000000001"
    return {
        "membership": {
            "id": MEMBERSHIP_ID,
            "arn": f"arn:aws:cleanrooms:us-east-1:{ACCOUNT}:membership/{MEMBERSHIP_ID}",
            "collaborationArn": f"arn:aws:cleanrooms:us-east-1:{ACCOUNT}:collaboration/"
            + collaboration,
            "collaborationId": collaboration,
            "collaborationCreatorAccountId": ACCOUNT,
            "collaborationCreatorDisplayName": "ACX",
            "collaborationName": "ACX Flywheel",
            "createTime": NOW,
            "updateTime": NOW,
            "status": "ACTIVE",
            "memberAbilities": ["CAN_QUERY"],
            "queryLogStatus": "DISABLED",
            "paymentConfiguration": {"queryCompute": {"isResponsible": True}},
        }
    }


def test_cleanrooms_reconcile_makes_every_operation_within_the_contract(
    config: CleanroomsConfig, aws_contract: ContractRecorder
) -> None:
    """One table drifted (columns, providers, role), one missing, one unmanaged (deleted)."""
    client, stub = stubbed("cleanrooms")
    kept_id, old_id = ct_id(KEPT.part_table), ct_id("part_retired")
    kept = configured_table(
        KEPT.part_table,
        KEPT.all_columns[:-1],
        DB,
        custom={"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": PROVIDERS[:1]},
    )
    retired = configured_table("part_retired", ["customer_user_id"], DB, custom=dict(CUSTOM))
    kept_assoc = association(f"acx_{KEPT.part_table}", kept_id, role_arn=OLD_ROLE)
    retired_assoc = association("acx_part_retired", old_id)
    page_size = 1
    two_pages(
        stub,
        "list_configured_tables",
        "configuredTableSummaries",
        [table_summary(kept), table_summary(retired)],
        maxResults=page_size,
    )
    two_pages(
        stub,
        "list_configured_table_associations",
        "configuredTableAssociationSummaries",
        [association_summary(kept_assoc), association_summary(retired_assoc)],
        membershipIdentifier=MEMBERSHIP_ID,
        maxResults=page_size,
    )
    stub.add_response("get_configured_table", {"configuredTable": public(kept)})
    stub.add_response(
        "get_configured_table_analysis_rule", analysis_rule_response(kept_id, kept["_custom"])
    )
    stub.add_response(
        "get_configured_table_association", {"configuredTableAssociation": kept_assoc}
    )
    stub.add_response("get_membership", membership())
    missing_id = ct_id(MISSING.part_table)
    missing = public(configured_table(MISSING.part_table, MISSING.all_columns, DB))
    for operation, response in [
        ("update_configured_table", {"configuredTable": public(kept)}),
        ("update_configured_table_analysis_rule", analysis_rule_response(kept_id, CUSTOM)),
        ("update_configured_table_association", {"configuredTableAssociation": kept_assoc}),
        ("create_configured_table", {"configuredTable": missing}),
        ("create_configured_table_analysis_rule", analysis_rule_response(missing_id, CUSTOM)),
        (
            "create_configured_table_association",
            {"configuredTableAssociation": association(f"acx_{MISSING.part_table}", missing_id)},
        ),
        ("delete_configured_table_association", {}),
        ("delete_configured_table_analysis_rule", {}),
        ("delete_configured_table", {}),
    ]:
        stub.add_response(operation, response)
    mark = aws_contract.mark()

    with stub:
        desired = desired_configured_tables([KEPT, MISSING], config)
        actual = read_cleanrooms(client, [d.name for d in desired], MEMBERSHIP_ID, page_size)
        assert read_membership(client, MEMBERSHIP_ID)["collaboration_name"] == "ACX Flywheel"
        plan = plan_cleanrooms(desired, actual, delete_unmanaged=True)
        done = apply_plan(plan, lambda service: client)
    stub.assert_no_pending_responses()

    assert [s["name"] for s in actual.summaries] == [KEPT.part_table, "part_retired"]
    assert [a.name for a in actual.associations] == [kept_assoc["name"], "acx_part_retired"]
    assert len(done) == 9
    calls = aws_contract.since(mark)
    assert aws_contract.operations(calls) == CONTRACT_OPERATIONS["cleanrooms"]
    assert aws_contract.unfollowed_pages(calls) == []
    aws_contract.assert_clean()


def test_entity_resolution_reconcile_makes_every_operation_within_the_contract(
    config: CleanroomsConfig, aws_contract: ContractRecorder
) -> None:
    """One mapping and namespace drifted, one pair missing, one retired pair deleted."""
    client, stub = stubbed("entityresolution")
    mappings, namespaces = desired_entity_resolution([KEPT, MISSING], config, ACCOUNT)
    stale = mappings[0].document()
    stale["mappedInputFields"] = stale["mappedInputFields"][:-1]
    stored = [schema_mapping(stale), schema_mapping({**stale, "schemaName": "ACX_SCHEMA_OLD"})]
    ns_stored = [
        id_namespace({**namespaces[0].create_params(), "roleArn": OLD_ROLE}),
        id_namespace({**namespaces[0].create_params(), "idNamespaceName": "ACX_NS_OLD"}),
    ]
    two_pages(
        stub,
        "list_schema_mappings",
        "schemaList",
        [
            {k: m[k] for k in ("schemaName", "schemaArn", "createdAt", "updatedAt", "hasWorkflows")}
            for m in stored
        ],
        maxResults=1,
    )
    two_pages(
        stub,
        "list_id_namespaces",
        "idNamespaceSummaries",
        [
            {
                k: n[k]
                for k in ("idNamespaceName", "idNamespaceArn", "type", "createdAt", "updatedAt")
            }
            for n in ns_stored
        ],
        maxResults=1,
    )
    stub.add_response("get_schema_mapping", stored[0])
    stub.add_response("get_id_namespace", ns_stored[0])

    def mapping_response(document: dict[str, Any]) -> dict[str, Any]:
        body = schema_mapping(document)
        return {k: body[k] for k in ("schemaName", "schemaArn", "description", "mappedInputFields")}

    for operation, response in [
        ("update_schema_mapping", mapping_response(mappings[0].document())),
        ("update_id_namespace", id_namespace(namespaces[0].create_params())),
        ("create_schema_mapping", mapping_response(mappings[1].document())),
        ("create_id_namespace", id_namespace(namespaces[1].create_params())),
        ("delete_id_namespace", {"message": "deleted"}),
        ("delete_schema_mapping", {"message": "deleted"}),
    ]:
        stub.add_response(operation, response)
    mark = aws_contract.mark()

    with stub:
        actual = read_entity_resolution(
            client, [m.name for m in mappings], [n.name for n in namespaces], page_size=1
        )
        plan = plan_entity_resolution(mappings, namespaces, actual, delete_unmanaged=True)
        done = apply_plan(plan, lambda service: client)
    stub.assert_no_pending_responses()

    assert actual.schema_mapping_names == [mappings[0].name, "ACX_SCHEMA_OLD"]
    assert actual.id_namespace_names == [namespaces[0].name, "ACX_NS_OLD"]
    assert len(done) == 6
    calls = aws_contract.since(mark)
    assert aws_contract.operations(calls) == CONTRACT_OPERATIONS["entity_resolution"]
    assert aws_contract.unfollowed_pages(calls) == []
    aws_contract.assert_clean()


def test_a_token_seen_twice_is_an_error_not_an_endless_listing() -> None:
    client, stub = stubbed("entityresolution")
    for token in (None, "same"):
        params = {"maxResults": 25, **({"nextToken": token} if token else {})}
        stub.add_response("list_schema_mappings", {"schemaList": [], "nextToken": "same"}, params)
    with stub, pytest.raises(RuntimeError, match="page token 'same' twice"):
        read_entity_resolution(client, [], [])


# --- creates that meet an existing resource converge -------------------------------------------


def conflict(stub: Stubber, operation: str, **modeled: str) -> None:
    stub.add_client_error(
        operation,
        service_error_code="ConflictException",
        service_message="already exists",
        http_status_code=409,
        modeled_fields=modeled,
    )


def plan_of(*requests: tuple[str, str, dict[str, Any]]) -> Plan:
    return Plan(
        [
            Request(service, op, params, "create", "r", "ibe_01_a", "n")
            for service, op, params in requests
        ]
    )


def test_creates_that_meet_an_existing_rule_mapping_or_namespace_update_it(
    config: CleanroomsConfig, aws_contract: ContractRecorder
) -> None:
    (desired,) = desired_configured_tables([KEPT], config)
    (mapping,), (namespace,) = desired_entity_resolution([KEPT], config, ACCOUNT)
    table_id = ct_id(KEPT.part_table)
    rule = desired.analysis_rule_params(table_id, desired.custom_policy())
    cleanrooms, cr_stub = stubbed("cleanrooms")
    conflict(cr_stub, "create_configured_table_analysis_rule", reason="ALREADY_EXISTS")
    cr_stub.add_response(
        "update_configured_table_analysis_rule", analysis_rule_response(table_id, CUSTOM), rule
    )
    er, er_stub = stubbed("entityresolution")
    conflict(er_stub, "create_schema_mapping")
    body = schema_mapping(mapping.document())
    er_stub.add_response(
        "update_schema_mapping",
        {k: body[k] for k in ("schemaName", "schemaArn", "mappedInputFields")},
        mapping.document(),
    )
    conflict(er_stub, "create_id_namespace")
    update = {k: v for k, v in namespace.create_params().items() if k != "type"}
    er_stub.add_response("update_id_namespace", id_namespace(namespace.create_params()), update)
    plan = plan_of(
        ("cleanrooms", "create_configured_table_analysis_rule", rule),
        ("entityresolution", "create_schema_mapping", mapping.document()),
        ("entityresolution", "create_id_namespace", namespace.create_params()),
    )

    with cr_stub, er_stub:
        done = apply_plan(plan, {"cleanrooms": cleanrooms, "entityresolution": er}.__getitem__)

    cr_stub.assert_no_pending_responses()
    er_stub.assert_no_pending_responses()
    assert [d["converged"] for d in done] == ["existed; updated instead"] * 3


def test_an_existing_association_of_the_same_table_is_updated_another_table_s_is_an_error(
    config: CleanroomsConfig,
) -> None:
    (desired,) = desired_configured_tables([KEPT], config)
    table_id = ct_id(KEPT.part_table)
    params = desired.create_association_params(table_id)
    ours = association(params["name"], table_id, role_arn=OLD_ROLE)
    theirs = association(params["name"], ct_id("part_other"))
    for existing in (ours, theirs):
        client, stub = stubbed("cleanrooms")
        conflict(stub, "create_configured_table_association", reason="ALREADY_EXISTS")
        stub.add_response(
            "list_configured_table_associations",
            {"configuredTableAssociationSummaries": [association_summary(existing)]},
            {"membershipIdentifier": MEMBERSHIP_ID},
        )
        if existing is ours:
            stub.add_response(
                "update_configured_table_association",
                {"configuredTableAssociation": {**ours, "roleArn": ROLE_ARN}},
                {
                    "configuredTableAssociationIdentifier": ours["id"],
                    "membershipIdentifier": MEMBERSHIP_ID,
                    "description": params["description"],
                    "roleArn": ROLE_ARN,
                },
            )
        plan = plan_of(("cleanrooms", "create_configured_table_association", params))
        clients = {"cleanrooms": client}.__getitem__
        with stub:
            if existing is ours:
                (done,) = apply_plan(plan, clients)
                assert done["converged"]
            else:
                with pytest.raises(ApplyError, match="for another configured table"):
                    apply_plan(plan, clients)
        stub.assert_no_pending_responses()


def test_a_conflict_that_is_not_already_exists_still_fails(config: CleanroomsConfig) -> None:
    (desired,) = desired_configured_tables([KEPT], config)
    rule = desired.analysis_rule_params(ct_id(KEPT.part_table), desired.custom_policy())
    client, stub = stubbed("cleanrooms")
    conflict(stub, "create_configured_table_analysis_rule", reason="INVALID_STATE")
    plan = plan_of(("cleanrooms", "create_configured_table_analysis_rule", rule))
    with stub, pytest.raises(ApplyError, match="ConflictException"):
        apply_plan(plan, lambda service: client)
