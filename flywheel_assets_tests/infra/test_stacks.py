"""``flywheel infra plan|apply``: change sets on moto's CloudFormation, and botocore's
Stubber where moto cannot answer (a failed execution, a second page of changes or
events, a stack stuck after a failed create). Every request is checked against the
service model and CloudFormation's inline template limit (the ``aws_contract`` fixture),
and against the deployer's policy."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from flywheel_assets import cli
from flywheel_assets.deploy import iam
from flywheel_assets.deploy.infra import stacks as stacks_module
from flywheel_assets.deploy.infra.cfn import InfraError
from flywheel_assets.deploy.infra.stacks import Plan, StackFailed, Stacks
from flywheel_assets_tests.aws_calls import recording
from flywheel_assets_tests.aws_contract import INFRA_OPERATIONS, ContractRecorder
from flywheel_assets_tests.iam_check import denied
from flywheel_assets_tests.infra.helpers import by_key, infra_settings, stacks_of

# moto creates what it supports and skips the rest with this warning (test_stack_pipeline.py
# lists which types those are)
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
NOW = dt.datetime(2025, 1, 15, 12, tzinfo=dt.UTC)
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/omc-flywheel-dev-storage/1"
CHANGE_SET = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/flywheel-x/1"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def stacks_client(**kwargs: Any) -> Stacks:
    return Stacks(infra_settings("dev"), poll_seconds=0, **kwargs)


def changes(plan: Plan) -> set[tuple[str, str, str]]:
    return {(c.action, c.logical_id, c.resource_type) for c in plan.changes}


def made(recorder: ContractRecorder, mark: int) -> set[str]:
    return recorder.operations(recorder.since(mark))


# ---- on moto ------------------------------------------------------------------------------------


def test_a_missing_stack_plans_as_a_create_change_set_of_every_resource(moto, aws_contract):
    storage = by_key(stacks_of("dev"))["storage"]
    mark = aws_contract.mark()

    plan = stacks_client().plan(storage)

    assert plan.change_set_type == "CREATE" and plan.change_set
    assert changes(plan) == {("Add", k, r["Type"]) for k, r in storage.resources.items()}
    lines = plan.lines()
    assert lines[0] == "omc-flywheel-dev-storage (CREATE): 7 to add"
    assert "  + Add     DataBucket                       AWS::S3::Bucket" in lines
    assert made(aws_contract, mark) <= INFRA_OPERATIONS
    # plan changes nothing but the change set: no bucket exists yet
    assert boto3.client("s3").list_buckets()["Buckets"] == []


def test_apply_creates_then_an_unchanged_plan_is_empty_and_an_edit_is_a_modify(moto):
    storage = by_key(stacks_of("dev"))["storage"]
    client = stacks_client()

    assert client.apply(client.plan(storage)) == "CREATE_COMPLETE"

    settings = infra_settings("dev")
    s3 = boto3.client("s3")
    encryption = s3.get_bucket_encryption(Bucket=settings.data_bucket)
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    topics = boto3.client("sns").list_topics()["Topics"]
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in topics] == ["omc-flywheel-dev-alerts"]

    again = client.plan(storage)
    assert again.change_set is None and again.lines() == ["omc-flywheel-dev-storage: no changes"]
    cloudformation = boto3.client("cloudformation")
    left = cloudformation.list_change_sets(StackName=storage.name)["Summaries"]
    assert [c["ExecutionStatus"] for c in left] == ["EXECUTE_COMPLETE"]  # the applied one

    edited = by_key(stacks_of("dev", report_prefix="monitor-reports/"))["storage"]
    update = client.plan(edited)
    assert update.change_set_type == "UPDATE"
    assert ("Modify", "AnalysisBucket", "AWS::S3::Bucket") in changes(update)
    assert update.lines()[0].startswith("omc-flywheel-dev-storage (UPDATE): ")
    assert client.apply(update) == "UPDATE_COMPLETE"


def test_a_template_over_the_inline_limit_goes_by_s3(moto, aws_contract, monkeypatch):
    stacks = by_key(stacks_of("dev"))
    client = stacks_client()
    client.apply(client.plan(stacks["storage"]))  # the analysis bucket the template goes to
    monkeypatch.setattr(stacks_module, "INLINE_TEMPLATE_LIMIT", 2000)
    mark = aws_contract.mark()

    assert client.apply(client.plan(stacks["access"])) == "CREATE_COMPLETE"

    (create,) = [c for c in aws_contract.since(mark) if c.operation == "CreateChangeSet"]
    assert "TemplateBody" not in create.params
    settings = infra_settings("dev")
    bucket = settings.glue_assets_bucket
    url = create.params["TemplateURL"]
    assert url.startswith(f"https://{bucket}.s3.{REGION}.amazonaws.com/flywheel/cloudformation/")
    key = url.split(".amazonaws.com/", 1)[1]
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert body == stacks["access"].wire_body()
    assert boto3.client("iam").get_role(RoleName=settings.glue_role)["Role"]["RoleName"]


def test_the_cli_applies_the_chosen_stacks_in_order_and_plans_them(moto, cli_env, capsys):
    cli_env("dev")
    argv = ["infra", "apply", "--env", "dev", "--stack", "access", "--stack", "bootstrap"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "omc-flywheel-dev-bootstrap (CREATE): 1 to add"
    assert "omc-flywheel-dev-bootstrap: CREATE_COMPLETE" in out
    assert out[-1] == "omc-flywheel-dev-access: CREATE_COMPLETE"
    assert out.index("omc-flywheel-dev-bootstrap: CREATE_COMPLETE") < out.index(
        "omc-flywheel-dev-access (CREATE): 3 to add"
    )
    assert cli.main(["infra", "plan", "--env", "dev", "--stack", "access"]) == 0
    assert capsys.readouterr().out == "omc-flywheel-dev-access: no changes\n"


def test_every_request_of_plan_and_apply_is_the_deployers_and_within_its_policy(moto, monkeypatch):
    stacks = by_key(stacks_of("dev"))
    monkeypatch.setattr(stacks_module, "INLINE_TEMPLATE_LIMIT", 20000)  # table-grants by S3
    with recording() as calls:
        client = stacks_client()
        for key in ("bootstrap", "storage", "access", "table-grants"):
            client.apply(client.plan(stacks[key]))
        client.plan(stacks["storage"])  # no changes: its change set deleted
    assert {c.role for c in calls.calls} == {"deployer"}
    operations = {f"{c.service}:{c.operation}" for c in calls.calls}
    assert operations == INFRA_OPERATIONS - {"cloudformation:DescribeStackEvents"}
    document = iam.policy("deployer", infra_settings("dev"), ACCOUNT)
    assert denied(document, calls.calls, REGION, ACCOUNT) == []


# ---- with the Stubber ---------------------------------------------------------------------------


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("cloudformation", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def stack_status(status: str) -> dict[str, Any]:
    name = "omc-flywheel-dev-storage"
    return {"Stacks": [{"StackName": name, "CreationTime": NOW, "StackStatus": status}]}


def event(logical_id: str, kind: str, status: str, reason: str = "") -> dict[str, Any]:
    found = {
        "StackId": STACK_ID,
        "EventId": f"{logical_id}-{status}",
        "StackName": "omc-flywheel-dev-storage",
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "Timestamp": NOW,
        "ResourceStatus": status,
    }
    if reason:
        found["ResourceStatusReason"] = reason
    return found


def planned_update(stub: Stubber, pages: list[dict[str, Any]]) -> None:
    name = "omc-flywheel-dev-storage"
    stub.add_response("describe_stacks", stack_status("UPDATE_COMPLETE"), {"StackName": name})
    stub.add_response(
        "create_change_set",
        {"Id": CHANGE_SET, "StackId": STACK_ID},
        {
            "StackName": name,
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Capabilities": [],
            "Description": ANY,
            "TemplateBody": ANY,
        },
    )
    for i, page in enumerate(pages):
        expected = {"ChangeSetName": CHANGE_SET, "StackName": name}
        if i:
            expected["NextToken"] = pages[i - 1]["NextToken"]
        stub.add_response("describe_change_set", page, expected)


def modify(logical_id: str, replacement: str = "False") -> dict[str, Any]:
    change = {
        "Action": "Modify",
        "LogicalResourceId": logical_id,
        "ResourceType": "AWS::S3::Bucket",
        "Replacement": replacement,
    }
    return {"Type": "Resource", "ResourceChange": change}


def clocked(client: Any) -> Stacks:
    return stacks_client(client=client, clock=NOW.timestamp)


def test_every_page_of_a_change_set_is_read(stubbed, aws_contract):
    client, stub = stubbed
    storage = by_key(stacks_of("dev"))["storage"]
    first = {"Status": "CREATE_COMPLETE", "Changes": [modify("DataBucket")], "NextToken": "p2"}
    second = {"Status": "CREATE_COMPLETE", "Changes": [modify("AnalysisBucket", "True")]}
    planned_update(stub, [first, second])

    plan = clocked(client).plan(storage)

    assert [c.logical_id for c in plan.changes] == ["DataBucket", "AnalysisBucket"]
    assert plan.lines()[2].endswith("AWS::S3::Bucket  (replacement: True)")
    assert aws_contract.unfollowed_pages() == []


def test_a_failed_apply_names_each_failed_resource_and_its_reason(stubbed, aws_contract):
    client, stub = stubbed
    storage = by_key(stacks_of("dev"))["storage"]
    name = storage.name
    planned_update(stub, [{"Status": "CREATE_COMPLETE", "Changes": [modify("DataBucket")]}])
    stub.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET, "StackName": name})
    stub.add_response("describe_stacks", stack_status("UPDATE_IN_PROGRESS"), {"StackName": name})
    stub.add_response(
        "describe_stacks", stack_status("UPDATE_ROLLBACK_COMPLETE"), {"StackName": name}
    )
    stack = "AWS::CloudFormation::Stack"
    denied_reason = (
        'Resource handler returned message: "Access Denied (Service: S3, Status Code: 403)"'
    )
    newest = [
        event(name, stack, "UPDATE_ROLLBACK_COMPLETE"),
        event("DataBucket", "AWS::S3::Bucket", "UPDATE_COMPLETE"),
        event(name, stack, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed"),
    ]
    older = [
        event("AlertsTopic", "AWS::SNS::Topic", "UPDATE_FAILED", "Resource update cancelled"),
        event("DataBucket", "AWS::S3::Bucket", "UPDATE_FAILED", denied_reason),
        event(name, stack, "UPDATE_IN_PROGRESS", "User Initiated"),
        # an earlier run's failure, before this run started: not reported
        event("AnalysisBucket", "AWS::S3::Bucket", "UPDATE_FAILED", "an old failure"),
    ]
    stub.add_response(
        "describe_stack_events", {"StackEvents": newest, "NextToken": "e2"}, {"StackName": name}
    )
    stub.add_response(
        "describe_stack_events", {"StackEvents": older}, {"StackName": name, "NextToken": "e2"}
    )
    cloudformation = clocked(client)
    plan = cloudformation.plan(storage)

    with pytest.raises(StackFailed) as failed:
        cloudformation.apply(plan)

    assert str(failed.value).splitlines() == [
        "omc-flywheel-dev-storage: UPDATE_ROLLBACK_COMPLETE; failed:",
        f"  DataBucket (AWS::S3::Bucket): UPDATE_FAILED: {denied_reason}",
        "  AlertsTopic (AWS::SNS::Topic): UPDATE_FAILED: Resource update cancelled",
    ]
    assert aws_contract.unfollowed_pages() == []


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("ROLLBACK_COMPLETE", "delete the stack"),
        ("UPDATE_IN_PROGRESS", "wait until it settles"),
    ],
)
def test_plan_refuses_a_stack_that_cannot_take_a_change_set(stubbed, status, advice):
    client, stub = stubbed
    storage = by_key(stacks_of("dev"))["storage"]
    stub.add_response("describe_stacks", stack_status(status), {"StackName": storage.name})
    with pytest.raises(InfraError, match=f"{storage.name} is {status}: .*{advice}"):
        clocked(client).plan(storage)


def test_a_change_set_cloudformation_refuses_is_an_error_with_its_reason(stubbed):
    client, stub = stubbed
    storage = by_key(stacks_of("dev"))["storage"]
    reason = "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    planned_update(stub, [{"Status": "FAILED", "StatusReason": reason}])
    with pytest.raises(InfraError, match=r"refused the change set: Requires capabilities"):
        clocked(client).plan(storage)


def test_a_missing_stack_is_told_from_other_errors(stubbed):
    client, stub = stubbed
    storage = by_key(stacks_of("dev"))["storage"]
    missing = f"Stack with id {storage.name} does not exist"
    stub.add_client_error("describe_stacks", "ValidationError", missing, 400)
    stub.add_client_error("describe_stacks", "AccessDenied", "not authorized", 403)
    cloudformation = clocked(client)
    assert cloudformation.status(storage) is None
    with pytest.raises(Exception, match="not authorized"):
        cloudformation.status(storage)
