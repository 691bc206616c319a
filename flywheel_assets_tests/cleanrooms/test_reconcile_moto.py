"""Reconcile against moto for what moto 5.2 implements (collaborations, memberships,
configured tables); analysis rules and associations go to a Stubber on the same calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from flywheel_assets.cleanrooms.apply import apply_plan
from flywheel_assets.cleanrooms.desired import CleanroomsConfig, desired_configured_tables
from flywheel_assets.cleanrooms.plan_cleanrooms import plan_cleanrooms
from flywheel_assets.cleanrooms.read import read_cleanrooms, read_membership
from flywheel_assets.config.registry import load_registry
from flywheel_assets_tests.cleanrooms.fakes import (
    PROVIDERS,
    ROLE_ARN,
    MotoWithStubs,
    analysis_rule_response,
    association,
    association_summary,
    aws_settings,
)

REGISTRY = load_registry()
NAMES = [t.part_table for t in REGISTRY]
CUSTOM = {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": PROVIDERS}


@pytest.fixture
def moto_cleanrooms() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cleanrooms", region_name="us-east-1")


def create_membership(client: Any, name: str = "ACX Flywheel") -> str:
    collaboration = client.create_collaboration(
        name=name,
        description="test collaboration",
        creatorDisplayName="ACX",
        creatorMemberAbilities=["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
        members=[],
        queryLogStatus="DISABLED",
    )["collaboration"]
    membership = client.create_membership(
        collaborationIdentifier=collaboration["id"], queryLogStatus="DISABLED"
    )["membership"]
    return membership["id"]


def stubbed_cleanrooms() -> tuple[Any, Stubber]:
    client = boto3.client("cleanrooms", region_name="us-east-1")
    return client, Stubber(client)


def test_apply_creates_configured_tables_in_moto_and_a_rerun_converges(
    moto_cleanrooms: Any, tmp_path: Path
) -> None:
    membership_id = create_membership(moto_cleanrooms)
    config = CleanroomsConfig.from_settings(
        aws_settings(tmp_path, cleanrooms_membership_id=membership_id)
    )
    desired = desired_configured_tables(REGISTRY, config)

    # first apply: tables really created in moto; rules and associations stubbed
    stub_client, stub = stubbed_cleanrooms()
    stub.add_response(
        "list_configured_table_associations",
        {"configuredTableAssociationSummaries": []},
        {"membershipIdentifier": membership_id, "maxResults": 100},
    )
    for t in REGISTRY:
        stub.add_response(
            "create_configured_table_analysis_rule",
            analysis_rule_response("0" * 8 + "-0000-0000-0000-" + "0" * 12, CUSTOM),
            {
                "configuredTableIdentifier": ANY,
                "analysisRuleType": "CUSTOM",
                "analysisRulePolicy": {"v1": {"custom": CUSTOM}},
            },
        )
        stub.add_response(
            "create_configured_table_association",
            {"configuredTableAssociation": association(f"acx_{t.part_table}", "0" * 36)},
            {
                "name": f"acx_{t.part_table}",
                "description": f"{t.part_table} in the collaboration (managed by flywheel)",
                "membershipIdentifier": membership_id,
                "configuredTableIdentifier": ANY,
                "roleArn": ROLE_ARN,
            },
        )
    client = MotoWithStubs(moto_cleanrooms, stub_client)
    with stub:
        plan = plan_cleanrooms(desired, read_cleanrooms(client, NAMES, membership_id))
        assert plan.counts()["created"] == 81
        apply_plan(plan, lambda service: client)
    stub.assert_no_pending_responses()

    created = {
        s["name"]: s["id"]
        for s in moto_cleanrooms.list_configured_tables()["configuredTableSummaries"]
    }
    assert sorted(created) == sorted(NAMES)
    for t in REGISTRY:
        table = moto_cleanrooms.get_configured_table(
            configuredTableIdentifier=created[t.part_table]
        )
        assert table["configuredTable"]["allowedColumns"] == list(t.all_columns)
        assert table["configuredTable"]["analysisMethod"] == "DIRECT_QUERY"
        assert table["configuredTable"]["tableReference"] == {
            "glue": {"tableName": t.part_table, "databaseName": "omc_flywheel_dev"}
        }
    # rules and associations were sent for the ids moto assigned, table by table
    sent = [(op, p["configuredTableIdentifier"]) for op, p in client.stubbed_calls[1:]]
    assert sent == [
        (op, created[t.part_table])
        for t in REGISTRY
        for op in (
            "create_configured_table_analysis_rule",
            "create_configured_table_association",
        )
    ]

    # second apply: moto pages through 27 tables 10 at a time; nothing to change
    stub_client, stub = stubbed_cleanrooms()
    associations = [
        association(f"acx_{t.part_table}", created[t.part_table], membership_id) for t in REGISTRY
    ]
    stub.add_response(
        "list_configured_table_associations",
        {"configuredTableAssociationSummaries": [association_summary(a) for a in associations]},
        {"membershipIdentifier": membership_id, "maxResults": 10},
    )
    for t in REGISTRY:
        stub.add_response(
            "get_configured_table_analysis_rule",
            analysis_rule_response(created[t.part_table], CUSTOM),
            {"configuredTableIdentifier": created[t.part_table], "analysisRuleType": "CUSTOM"},
        )
    for a in associations:
        stub.add_response(
            "get_configured_table_association",
            {"configuredTableAssociation": a},
            {
                "configuredTableAssociationIdentifier": a["id"],
                "membershipIdentifier": membership_id,
            },
        )
    client = MotoWithStubs(moto_cleanrooms, stub_client)
    with stub:
        actual = read_cleanrooms(client, NAMES, membership_id, page_size=10)
        plan = plan_cleanrooms(desired, actual)
    stub.assert_no_pending_responses()
    assert len(actual.summaries) == 27
    assert plan.requests == []
    assert plan.counts()["unchanged"] == 81


def test_a_configured_table_missing_from_moto_is_the_only_thing_created(
    moto_cleanrooms: Any, tmp_path: Path
) -> None:
    """Tables that already exist in moto are left alone (no association: no membership)."""
    config = CleanroomsConfig.from_settings(aws_settings(tmp_path, cleanrooms_membership_id=""))
    tables = REGISTRY.tables[:2]
    desired = desired_configured_tables(tables, config)
    existing = moto_cleanrooms.create_configured_table(**desired[0].create_table_params())
    existing_id = existing["configuredTable"]["id"]

    stub_client, stub = stubbed_cleanrooms()
    stub.add_response(
        "get_configured_table_analysis_rule",
        analysis_rule_response(existing_id, CUSTOM),
        {"configuredTableIdentifier": existing_id, "analysisRuleType": "CUSTOM"},
    )
    client = MotoWithStubs(moto_cleanrooms, stub_client)
    with stub:
        actual = read_cleanrooms(client, [d.name for d in desired])
    plan = plan_cleanrooms(desired, actual)
    assert [(r.operation, r.name) for r in plan.requests] == [
        ("create_configured_table", tables[1].part_table),
        ("create_configured_table_analysis_rule", tables[1].part_table),
    ]
    assert {(o.resource, o.name) for o in plan.unchanged} == {
        ("configured_table", tables[0].part_table),
        ("analysis_rule", tables[0].part_table),
    }
    assert plan.notes == ["cleanrooms_membership_id is not set: no associations are desired"]


def test_membership_and_collaboration_name_are_read_from_moto(moto_cleanrooms: Any) -> None:
    membership_id = create_membership(moto_cleanrooms, "ACX Flywheel Prod")
    info = read_membership(moto_cleanrooms, membership_id)
    assert info["membership_id"] == membership_id
    assert info["collaboration_name"] == "ACX Flywheel Prod"
    assert info["status"] == "ACTIVE"
    assert read_membership(moto_cleanrooms, "") == {}
