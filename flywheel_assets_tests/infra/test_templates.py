"""The generated templates: valid (cfn-lint, checkov when installed), within
CloudFormation's limits, and secure by construction (asserted here whatever the linters
know): encrypted private TLS-only buckets with lifecycle rules, no wildcard action, ``*``
resources only where AWS allows nothing narrower, every waiver with its reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint

from flywheel_assets import cli
from flywheel_assets.config.settings import load_settings
from flywheel_assets.deploy import iam, names
from flywheel_assets.deploy.infra import buckets, catalog
from flywheel_assets.deploy.infra.cfn import InfraError
from flywheel_assets.deploy.infra.template import MAX_RESOURCES, STACKS, build_stacks
from flywheel_assets.deploy.jobs import PIPES_PREFIX
from flywheel_assets_tests.infra.helpers import (
    AWS_PROFILES,
    as_list,
    by_key,
    infra_settings,
    resources_of,
    role_documents,
    stacks_of,
)

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / "build" / "venv-checkov" / "bin" / "checkov"
# every finding waived in a template, by resource type (checkov ids); nothing else may be
WAIVED = {
    "AWS::S3::Bucket": {"CKV_AWS_18"},  # access logging: CloudTrail data events instead
    "AWS::Athena::WorkGroup": {"CKV_AWS_82"},  # enforced config would break the CTAS
}


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_cfn_lint_finds_nothing_in_any_template(env):
    for stack in stacks_of(env):
        config = ManualArgs(regions=[infra_settings(env).region], include_checks=["I"])
        matches = lint(stack.body(), config=config)
        assert [str(m) for m in matches] == [], stack.name


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov not installed: make lint-infra")
def test_checkov_finds_nothing_unwaived(tmp_path, cli_env):
    cli_env("prod")
    cli.main(["infra", "template", "--env", "prod", "--out", str(tmp_path)])
    done = subprocess.run(
        [str(CHECKOV), "-d", str(tmp_path / "prod"), "--framework", "cloudformation"]
        + ["--output", "json", "--quiet", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = json.loads(done.stdout)["summary"]
    assert summary["failed"] == 0, done.stdout[-3000:]
    assert summary["skipped"] == 3  # the two buckets' access logs, the workgroup's enforcement


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_stacks_are_within_cloudformation_limits_and_in_apply_order(env):
    stacks = stacks_of(env)
    assert [s.key for s in stacks] == list(STACKS)
    settings = infra_settings(env)
    assert [s.name for s in stacks] == [names.stack_name(settings, k) for k in STACKS]
    for stack in stacks:
        assert len(stack.resources) <= MAX_RESOURCES
        assert all(k.isalnum() and len(k) <= 255 for k in stack.resources)
    counts = {s.key: len(s.resources) for s in stacks}
    assert counts == {
        "bootstrap": 1,
        "storage": 7,
        "access": 3,
        "lake-formation": 8,
        "table-grants": 81,  # 27 tables x (part_*, part_*_er, bucketed_*)
    }
    # the five templates share no logical id, so nothing is owned twice
    ids = [k for s in stacks for k in s.resources]
    assert len(ids) == len(set(ids))


def test_templates_are_reproducible_and_written_by_the_cli(tmp_path, capsys, cli_env):
    assert [s.body() for s in stacks_of("dev")] == [s.body() for s in stacks_of("dev")]
    cli_env("prod")
    assert cli.main(["infra", "template", "--env", "prod", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.splitlines()
    written = sorted((tmp_path / "prod").iterdir())
    assert len(printed) == len(written) == len(STACKS)
    for stack in stacks_of("prod"):
        assert (tmp_path / "prod" / f"{stack.name}.yaml").read_text() == stack.body()
    cli_env("dev")
    one = ["infra", "template", "--env", "dev", "--stack", "storage", "--out", str(tmp_path)]
    assert cli.main(one) == 0
    assert capsys.readouterr().out.strip().endswith("omc-flywheel-dev-storage.yaml (7 resources)")


def test_the_accounts_default_workgroup_is_refused_with_the_fix(monkeypatch, capsys, tmp_path):
    settings = load_settings("dev", environ={"FLYWHEEL_ATHENA_WORKGROUP": "primary"})
    with pytest.raises(InfraError, match="FLYWHEEL_ATHENA_WORKGROUP=omc-flywheel-dev"):
        build_stacks(settings, None)  # type: ignore[arg-type]
    monkeypatch.setenv("FLYWHEEL_ATHENA_WORKGROUP", "primary")
    assert cli.main(["infra", "template", "--env", "dev", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("flywheel: error: athena_workgroup = 'primary'")


# ---- storage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_buckets_are_encrypted_private_versioned_and_tls_only(env):
    settings = infra_settings(env)
    stacks = stacks_of(env)
    found = resources_of(stacks, "AWS::S3::Bucket")
    names_ = {r["Properties"]["BucketName"] for r in found.values()}
    assert names_ == {settings.data_bucket, settings.report_bucket, settings.glue_assets_bucket}
    policies = resources_of(stacks, "AWS::S3::BucketPolicy")
    for bucket_id, bucket in found.items():
        p = bucket["Properties"]
        assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
        (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert set(p["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(p["PublicAccessBlockConfiguration"]) == 4
        assert p["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        assert p["VersioningConfiguration"] == {"Status": "Enabled"}
        (policy,) = [
            q for q in policies.values() if q["Properties"]["Bucket"] == {"Ref": bucket_id}
        ]
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert {s["Effect"] for s in statements} == {"Deny"}
        insecure = next(s for s in statements if s["Sid"] == "DenyInsecureTransport")
        assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert insecure["Principal"] == "*" and insecure["Action"] == "s3:*"
        assert insecure["Resource"] == [
            {"Fn::GetAtt": [bucket_id, "Arn"]},
            {"Fn::Sub": f"${{{bucket_id}.Arn}}/*"},
        ]


def rules_by_prefix(bucket: dict) -> dict[str, dict]:
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    return {r.get("Prefix", ""): r for r in rules if r["Status"] == "Enabled"}


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_lifecycle_rules_of_the_infrastructure_overview(env):
    settings = infra_settings(env)
    found = {
        r["Properties"]["BucketName"]: r
        for r in resources_of(stacks_of(env), "AWS::S3::Bucket").values()
    }
    data = found[settings.data_bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
    tiering = next(r for r in data if r["Id"] == "IntelligentTiering")
    assert tiering["Transitions"] == [
        {"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}
    ]
    assert "Prefix" not in tiering  # the whole data bucket
    analysis = rules_by_prefix(found[settings.glue_assets_bucket])
    expected = {
        "flywheel/glue/temp/": buckets.TEMPORARY_DAYS,  # Glue --TempDir
        PIPES_PREFIX: buckets.TEMPORARY_DAYS,
        names.STACK_TEMPLATE_PREFIX: buckets.TEMPORARY_DAYS,
        settings.athena_results.split("/", 3)[3]: buckets.QUERY_RESULT_DAYS,
        settings.report_prefix: buckets.REPORT_DAYS,
        settings.cleanrooms_report_prefix: buckets.REPORT_DAYS,
    }
    assert {p: analysis[p]["ExpirationInDays"] for p in expected} == expected
    assert "flywheel/glue/lib/" not in analysis  # the deployed code is never expired
    for bucket in found.values():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        housekeeping = next(r for r in rules if r["Id"] == "Housekeeping")
        assert housekeeping["AbortIncompleteMultipartUpload"] == {
            "DaysAfterInitiation": buckets.ABORT_UPLOAD_DAYS
        }
        assert housekeeping["ExpiredObjectDeleteMarker"] is True


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_database_workgroup_and_topic_follow_the_profile(env):
    settings = infra_settings(env)
    storage = by_key(stacks_of(env))["storage"].resources
    database = storage["GlueDatabase"]
    assert database["DeletionPolicy"] == "Retain"
    assert database["Properties"]["DatabaseInput"]["Name"] == settings.glue_database
    # Lake Formation alone governs new tables: no IAM_ALLOWED_PRINCIPALS default grant
    assert database["Properties"]["DatabaseInput"]["CreateTableDefaultPermissions"] == []
    workgroup = storage["AthenaWorkGroup"]["Properties"]
    assert workgroup["Name"] == settings.athena_workgroup
    config = workgroup["WorkGroupConfiguration"]
    assert config["ResultConfiguration"]["OutputLocation"] == settings.athena_results
    assert config["BytesScannedCutoffPerQuery"] == catalog.BYTES_SCANNED_CUTOFF >= 10 * 1024**2
    assert config["EnforceWorkGroupConfiguration"] is False  # CTAS uses external_location
    topic = storage["AlertsTopic"]["Properties"]
    assert topic["TopicName"] == f"omc-flywheel-{env}-alerts"
    assert topic["KmsMasterKeyId"] == "alias/aws/sns"


def test_one_owner_per_resource_glue_jobs_and_clean_rooms_stay_with_their_tools():
    kinds = {r["Type"] for s in stacks_of("prod") for r in s.resources.values()}
    assert kinds == {
        "AWS::IAM::Role",
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::Glue::Database",
        "AWS::Athena::WorkGroup",
        "AWS::SNS::Topic",
        "AWS::LakeFormation::Resource",
        "AWS::LakeFormation::PrincipalPermissions",
    }  # no AWS::Glue::Job (flywheel glue deploy), no CleanRooms / EntityResolution types


# ---- waivers and wildcards ---------------------------------------------------------------------


def test_every_waiver_has_a_reason_and_only_known_findings_are_waived():
    for stack in stacks_of("prod"):
        for logical_id, resource in stack.resources.items():
            skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
            assert {s["id"] for s in skips} <= WAIVED.get(resource["Type"], set()), logical_id
            assert all(len(s["comment"]) > 40 for s in skips), logical_id


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_no_statement_allows_a_wildcard_action_or_star_beyond_what_aws_requires(env):
    for name, document in role_documents(stacks_of(env)).items():
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = as_list(statement["Action"])
            assert all("*" not in a and "?" not in a for a in actions), (name, statement["Sid"])
            if statement["Resource"] == "*":
                assert set(actions) <= set(iam.STAR_ONLY), (name, statement["Sid"])
            else:
                assert "*" not in as_list(statement["Resource"]), (name, statement["Sid"])
