"""Least privilege, written down and checked (``flywheel_assets/deploy/iam.py``).

* every AWS operation the adapters issue in the moto/Stubber tests (recorded per role by
  ``scripts/record_aws_calls.py`` into ``aws_calls_recorded.json``) is allowed by the
  policy of the role that runs it, and the recording holds every operation the code
  calls;
* a role holds no action that neither its code was seen calling nor an AWS service
  calls with its credentials (``Grant.by_aws``);
* the documents are well formed against AWS's Service Authorization Reference (a slice in
  ``aws_iam_reference.json``), name only the project's resources, use ``*`` only where
  AWS allows nothing narrower, and are what ``docs/deploy.md`` shows.

Resource ARNs and conditions of real requests are checked in the moto end-to-end runs
(``glue/test_glue_e2e.py``, ``assert_least_privilege``).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from functools import cache
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from flywheel_assets.cleanrooms.desired import CleanroomsConfig, desired_configured_tables
from flywheel_assets.compaction import COMPACTION_JOBS
from flywheel_assets.config.registry import load_registry
from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.deploy import iam, names
from flywheel_assets.deploy.jobs import DEPLOYED_JOBS
from flywheel_assets_tests.aws_calls import AwsCall
from flywheel_assets_tests.iam_check import allows, denied, matches

REPO = Path(__file__).resolve().parents[1]
RECORDED = REPO / "flywheel_assets_tests" / "aws_calls_recorded.json"
REFERENCE = REPO / "flywheel_assets_tests" / "aws_iam_reference.json"
ACCOUNT = "123456789012"
AWS_PROFILES = ("dev", "prod")
SERVICES = (
    "s3",
    "glue",
    "athena",
    "sns",
    "logs",
    "cleanrooms",
    "entityresolution",
    "sts",
    "cloudformation",
)


def settings_of(profile: str) -> Settings:
    return load_settings(profile, environ={})


def recorded() -> list[dict]:
    return json.loads(RECORDED.read_text())


@cache
def reference() -> dict[str, dict]:
    return json.loads(REFERENCE.read_text())["actions"]


def statements(role: str, settings: Settings, account: str = ACCOUNT) -> list[dict]:
    return iam.policy(role, settings, account)["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


def arn_pattern(template: str) -> re.Pattern[str]:
    """A reference ARN format (``arn:${Partition}:glue:${Region}:...``) as a regex over
    the project's ARNs: a variable is one ARN field, the last one anything (names may
    hold ``/`` and end in ``*``)."""
    parts = re.split(r"\$\{[^}]+\}", template)
    if len(parts) == 1:
        return re.compile(re.escape(template))
    fields = "[^:]*?".join(re.escape(p) for p in parts[:-1])
    return re.compile(f"{fields}.*{re.escape(parts[-1])}")


# Actions the reference marks every resource type of as required although a request names
# one of them (Athena's tagging: a workgroup, a data catalog, a capacity reservation or a
# session); a statement must hit one.
ANY_ONE_OF = {"athena:TagResource", "athena:ListTagsForResource"}


def scope_problems(statement: dict) -> list[str]:
    """What is wrong with a statement against AWS's reference: unknown actions, actions
    none of whose resource types a resource matches, required resource types missing,
    condition keys the action does not know."""
    problems = []
    resources = as_list(statement["Resource"])
    for action in as_list(statement["Action"]):
        if action not in reference():
            problems.append(f"{action}: not in aws_iam_reference.json (gen_iam_reference.py)")
            continue
        known = reference()[action]
        types = known["resource_types"]
        if types:
            hits = {
                t["type"] for t in types for r in resources if arn_pattern(t["arn"]).fullmatch(r)
            }
            if not hits:
                problems.append(f"{statement['Sid']}: {action} matches none of {resources}")
            for t in types:
                if t["required"] and t["type"] not in hits and action not in ANY_ONE_OF:
                    problems.append(f"{statement['Sid']}: {action} needs a {t['type']} ARN")
        for keys in statement.get("Condition", {}).values():
            for key in keys:
                if not key.startswith("aws:") and key not in known["condition_keys"]:
                    problems.append(f"{statement['Sid']}: {action} has no condition {key}")
    return problems


# ---- the recorded calls ----------------------------------------------------------------------


def test_every_recorded_operation_is_allowed_by_its_roles_policy():
    entries = recorded()
    assert {e["role"] for e in entries} == {"glue_job", "dagster", "deployer"}
    missing = []
    for entry in entries:
        document = iam.policy(entry["role"], settings_of("dev"))
        for action in iam.required_actions(entry["service"], entry["operation"]):
            granted = any(
                matches(a, action, ignore_case=True)
                for s in document["Statement"]
                for a in as_list(s["Action"])
            )
            if not granted:
                missing.append(f"{entry['role']}: {action} ({', '.join(entry['issued_by'])})")
    assert missing == []


def test_the_recording_is_current_with_the_mapping():
    for entry in recorded():
        assert entry["actions"] == list(iam.required_actions(entry["service"], entry["operation"]))


@cache
def operation_names() -> dict[str, set[tuple[str, str]]]:
    """Client method name (``get_table``) -> the (service, Operation) pairs it may be."""
    session = botocore.session.get_session()
    methods: dict[str, set[tuple[str, str]]] = {}
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            methods.setdefault(xform_name(operation), set()).add((service, operation))
    return methods


CLIENT_RECEIVER = re.compile(r"(^|\.)(client|_client|s3|_s3|glue|logs|athena|sns)$")
# a module or, since the reconcile assets became a package, the package
PLAN_MODULES = ("flywheel_assets/cleanrooms/", "flywheel_assets/assets/cleanrooms")


def operations_in_code() -> dict[str, set[str]]:
    """``Operation`` -> modules, for every boto3 call the project's source names:
    ``<client>.<operation>(...)``, ``get_paginator("<operation>")`` and, in the Clean
    Rooms plan modules (which call ``getattr(client, operation)``), the operation names
    they hold as strings."""
    methods = operation_names()
    found: dict[str, set[str]] = {}
    for path in sorted([*REPO.glob("flywheel_assets/**/*.py"), *REPO.glob("glue_jobs/**/*.py")]):
        module = path.relative_to(REPO).as_posix()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = ast.unparse(node.func.value)
                if node.func.attr == "get_paginator" and node.args:
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        name = arg.value
                elif CLIENT_RECEIVER.search(receiver):
                    name = node.func.attr
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and module.startswith(PLAN_MODULES)
            ):
                name = node.value
            if name in methods:
                for _, operation in methods[name]:
                    found.setdefault(operation, set()).add(module)
    return found


def test_the_recording_holds_every_operation_the_code_calls():
    """A new client call fails here until ``scripts/record_aws_calls.py`` recorded it
    (and so until its action is in the policy, by the test above)."""
    seen = {e["operation"] for e in recorded()}
    in_code = operations_in_code()
    assert {"GetTable", "StartQueryExecution", "PutObject", "CreateJob"} <= set(in_code)
    assert {op: sorted(mods) for op, mods in in_code.items() if op not in seen} == {}


def test_a_role_holds_only_what_its_code_or_an_aws_service_calls():
    """Nothing granted for nothing: each action was seen in the role's recorded calls, or
    is one an AWS service issues with the role's credentials (``Grant.by_aws``)."""
    settings = settings_of("dev")
    for role in iam.ROLES:
        used = {a for e in recorded() if e["role"] == role for a in e["actions"]}
        by_aws = {a for g in iam.grants(role, settings) for a in g.by_aws}
        unexplained = sorted(set(iam.actions(role, settings)) - used - by_aws)
        assert unexplained == [], role


# ---- the documents ---------------------------------------------------------------------------


@pytest.mark.parametrize("profile", AWS_PROFILES)
@pytest.mark.parametrize("role", iam.ROLES)
def test_no_wildcard_action_and_star_resources_only_where_aws_requires_it(role, profile):
    for statement in statements(role, settings_of(profile)):
        actions = as_list(statement["Action"])
        assert all("*" not in a and "?" not in a for a in actions), statement["Sid"]
        resources = as_list(statement["Resource"])
        if "*" in resources:
            assert resources == ["*"], statement["Sid"]
            assert set(actions) <= set(iam.STAR_ONLY), statement["Sid"]
        else:
            assert not set(actions) & set(iam.STAR_ONLY), statement["Sid"]


def test_star_only_actions_have_no_resource_type_at_aws():
    for action in iam.STAR_ONLY:
        assert reference()[action]["resource_types"] == [], action


@pytest.mark.parametrize("role", iam.ROLES)
def test_every_action_exists_and_each_statement_scopes_it_to_its_resource_types(role):
    problems = [p for s in statements(role, settings_of("dev")) for p in scope_problems(s)]
    assert problems == []


def test_the_scope_check_catches_a_wrong_resource():
    table_only_database = {
        "Sid": "X",
        "Action": ["glue:GetTable", "glue:NoSuchThing"],
        "Resource": ["arn:aws:glue:us-east-1:1:catalog", "arn:aws:glue:us-east-1:1:database/d"],
        "Condition": {"StringEquals": {"s3:prefix": "a"}},
    }
    assert scope_problems(table_only_database) == [
        "X: glue:GetTable needs a table ARN",
        "X: glue:GetTable has no condition s3:prefix",
        "glue:NoSuchThing: not in aws_iam_reference.json (gen_iam_reference.py)",
    ]
    bucket_for_objects = {"Sid": "Y", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}
    assert scope_problems(bucket_for_objects) == [
        "Y: s3:GetObject matches none of ['arn:aws:s3:::b']"
    ]


def allowed_prefixes(settings: Settings, account: str) -> list[str]:
    """Every resource of a policy begins with one of these: the project's own."""
    where = f"{settings.region}:{account}"
    buckets = {settings.data_bucket, settings.glue_assets_bucket, settings.report_bucket}
    buckets.add(settings.athena_results.removeprefix("s3://").split("/", 1)[0])
    role_names = [names.role_name(settings, r) for r in iam.ROLES] + [names.LAKE_FORMATION_SLR]
    return [
        *(f"arn:aws:s3:::{b}" for b in sorted(buckets)),
        f"arn:aws:glue:{where}:catalog",
        f"arn:aws:glue:{where}:database/{settings.glue_database}",
        f"arn:aws:glue:{where}:table/{settings.glue_database}/",
        *(f"arn:aws:glue:{where}:job/{job.name(settings)}" for job in DEPLOYED_JOBS),
        f"arn:aws:logs:{where}:log-group:/aws-glue/",
        f"arn:aws:athena:{where}:workgroup/{settings.athena_workgroup}",
        settings.sns_topic_arn or f"arn:aws:sns:{where}:{names.topic_name(settings)}",
        *(f"arn:aws:iam::{account}:role/{name}" for name in role_names),
        f"arn:aws:cloudformation:{where}:stack/{names.project(settings)}-",
        f"arn:aws:cleanrooms:{where}:configuredtable/*",
        f"arn:aws:cleanrooms:{where}:membership/<membership-id>",
        f"arn:aws:entityresolution:{where}:schemamapping/ACX_SCHEMA_",
        f"arn:aws:entityresolution:{where}:idnamespace/ACX_NS_",
    ]


@pytest.mark.parametrize("profile", AWS_PROFILES)
@pytest.mark.parametrize("role", iam.ROLES)
def test_every_resource_is_the_projects(role, profile):
    settings = settings_of(profile)
    prefixes = allowed_prefixes(settings, ACCOUNT)
    strays = [
        r
        for s in statements(role, settings)
        for r in as_list(s["Resource"])
        if r != "*" and not any(r == p or r.startswith(p) for p in prefixes)
    ]
    assert strays == []
    other = "prod" if profile == "dev" else "dev"
    text = json.dumps(iam.policy(role, settings, ACCOUNT))
    assert f"-{other}" not in text and f"_{other}" not in text


def test_policies_take_the_account_and_the_configured_arns():
    settings = load_settings(
        "prod",
        environ={
            "FLYWHEEL_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:flywheel-alerts",
            "FLYWHEEL_CLEANROOMS_ROLE_ARN": "arn:aws:iam::111122223333:role/cr-reader",
            "FLYWHEEL_CLEANROOMS_MEMBERSHIP_ID": "m-123",
        },
    )
    text = json.dumps(iam.policy("dagster", settings, "111122223333"))
    assert "<" not in text  # no placeholder left
    assert "arn:aws:sns:us-east-1:111122223333:flywheel-alerts" in text
    assert "arn:aws:iam::111122223333:role/cr-reader" in text
    assert "arn:aws:cleanrooms:us-east-1:111122223333:membership/m-123" in text


def test_the_cli_prints_one_role_for_an_account(capsys):
    assert iam.main(["--env", "prod", "--account", "111122223333", "--role", "glue_job"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == iam.policy("glue_job", settings_of("prod"), "111122223333")


def load_doc_generator():
    spec = importlib.util.spec_from_file_location("gen_iam_doc", REPO / "scripts/gen_iam_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_show_the_generated_policies():
    generator = load_doc_generator()
    current = generator.DOC.read_text()
    assert current == generator.render(current), "stale: run scripts/gen_iam_doc.py"
    for role in iam.ROLES:
        assert json.dumps(iam.policy(role, settings_of("dev")), indent=2) in current


# ---- what each role can and cannot do ---------------------------------------------------------


def check(role: str, call: AwsCall, settings: Settings | None = None) -> list[str]:
    document = iam.policy(role, settings or settings_of("dev"), ACCOUNT)
    return denied(document, [call], "us-east-1", ACCOUNT)


def test_the_glue_job_writes_splits_but_not_raw_nor_the_catalog():
    s = settings_of("dev")
    part = f"{s.split_part_prefix}infobase_attributes/IBE_01_A/snapshot_dt=2025-01-15/x.parquet"
    raw = f"{s.raw_infobase_prefix}snapshot_dt=2025-01-15/part-0.parquet"
    put = AwsCall("glue_job", "s3", "PutObject", {"Bucket": s.data_bucket, "Key": part})
    assert check("glue_job", put) == []
    assert check(
        "glue_job", AwsCall("glue_job", "s3", "PutObject", {"Bucket": s.data_bucket, "Key": raw})
    )
    assert (
        check(
            "glue_job",
            AwsCall("glue_job", "s3", "GetObject", {"Bucket": s.data_bucket, "Key": raw}),
        )
        == []
    )
    table = AwsCall(
        "glue_job", "glue", "GetTable", {"DatabaseName": s.glue_database, "Name": "part_ibe_01_a"}
    )
    assert check("glue_job", table)
    whole_bucket = AwsCall("glue_job", "s3", "ListObjectsV2", {"Bucket": s.data_bucket})
    assert check("glue_job", whole_bucket)  # a listing without prefix is refused


def test_the_code_location_runs_only_the_projects_jobs_and_passes_roles_only_to_clean_rooms():
    s = settings_of("dev")
    own = AwsCall("dagster", "glue", "StartJobRun", {"JobName": DEPLOYED_JOBS[0].name(s)})
    other = AwsCall("dagster", "glue", "StartJobRun", {"JobName": "someone-elses-job"})
    assert check("dagster", own) == [] and check("dagster", other)
    association = {
        "membershipIdentifier": "<membership-id>",
        "configuredTableIdentifier": "ct-1",
        "name": "acx_part_ibe_01_a",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{names.role_name(s, 'cleanrooms_reader')}",
    }
    create = AwsCall("dagster", "cleanrooms", "CreateConfiguredTableAssociation", association)
    assert check("dagster", create) == []
    job = AwsCall(
        "dagster", "glue", "CreateJob", {"Name": own.params["JobName"], "Role": s.glue_role}
    )
    assert any("iam:PassRole" in d for d in check("dagster", job))  # the deployer's, not its
    assert check("deployer", job) == []
    drop = AwsCall("dagster", "glue", "DeleteTable", {"DatabaseName": "another_db", "Name": "t"})
    assert check("dagster", drop)


def test_the_compaction_jobs_and_their_builds_are_allowed_to_the_roles_that_use_them():
    """The deployer creates the two compaction jobs, Dagster runs them and audits, reads
    and retires their builds; the Glue job writes them and the bucketed split reads the
    compacted addressable ids. Nothing more: the reader never sees them, the Glue job
    still writes no raw."""
    s = settings_of("dev")
    build = "snapshot_dt=2025-01-15/build=20250115T000000Z-1a2b3c4d/"
    for job in COMPACTION_JOBS:
        name = job.name(s)
        for operation, params in (
            ("GetJob", {"JobName": name}),
            ("CreateJob", {"Name": name, "Role": s.glue_role}),
            ("UpdateJob", {"JobName": name, "JobUpdate": {"Role": s.glue_role}}),
        ):
            call = AwsCall("deployer", "glue", operation, params)
            assert check("deployer", call) == [], operation
        for operation in ("StartJobRun", "GetJobRun", "BatchStopJobRun"):
            call = AwsCall("dagster", "glue", operation, {"JobName": name})
            assert check("dagster", call) == [], operation
        prefix = s.compaction_prefix(job.source)
        listing = {"Bucket": s.data_bucket, "Prefix": prefix + "snapshot_dt=2025-01-15/"}
        for role in ("dagster", "glue_job"):
            assert check(role, AwsCall(role, "s3", "ListObjectsV2", listing)) == [], role
        for key in (build + "_flywheel_audit.json", build + "_manifest.json", build + "x.parquet"):
            target = {"Bucket": s.data_bucket, "Key": prefix + key}
            for operation in ("GetObject", "PutObject", "DeleteObject"):
                for role in ("dagster", "glue_job"):
                    call = AwsCall(role, "s3", operation, target)
                    assert check(role, call) == [], (role, operation, key)
            assert check("cleanrooms_reader", AwsCall("x", "s3", "GetObject", target))
    # the bucketed split (Glue job role) reads the compacted addressable ids
    compacted = s.compaction_prefix("addressable_ids") + build + "part-0.parquet"
    read = AwsCall("glue_job", "s3", "GetObject", {"Bucket": s.data_bucket, "Key": compacted})
    assert check("glue_job", read) == []
    # the Dagster role only records audits there: the data is the Glue job's to write
    upload = {"Bucket": s.data_bucket, "Key": compacted, "UploadId": "u"}
    assert check("dagster", AwsCall("dagster", "s3", "AbortMultipartUpload", upload))
    assert check("glue_job", AwsCall("glue_job", "s3", "AbortMultipartUpload", upload)) == []
    raw = {"Bucket": s.data_bucket, "Key": s.raw_addressable_prefix + "snapshot_dt=2025-01-15/a"}
    assert check("glue_job", AwsCall("glue_job", "s3", "PutObject", raw))
    other = AwsCall("dagster", "glue", "StartJobRun", {"JobName": "other-compaction"})
    assert check("dagster", other)


def test_the_clean_rooms_reader_reads_the_published_tables_and_nothing_else():
    s = settings_of("dev")
    registry = load_registry()
    config = CleanroomsConfig.from_settings(s)
    configured = desired_configured_tables(registry, config)
    assert len(configured) == len(list(registry))
    for desired in configured:
        table = registry.get(desired.slug)
        get = AwsCall(
            "x", "glue", "GetTable", {"DatabaseName": desired.database, "Name": desired.name}
        )
        assert check("cleanrooms_reader", get) == [], desired.name
        key = (
            f"{s.split_part_prefix}{table.source}/{table.name}/snapshot_dt=2025-01-15/"
            "build=20250115T000000Z-1a2b3c4d/id_bucket=7/part-0.parquet"
        )
        read = AwsCall("x", "s3", "GetObject", {"Bucket": s.data_bucket, "Key": key})
        assert check("cleanrooms_reader", read) == []
        for published in (table.er_table, table.bucketed_table):
            get = AwsCall(
                "x", "glue", "GetTable", {"DatabaseName": s.glue_database, "Name": published}
            )
            assert check("cleanrooms_reader", get) == [], published
        staging = AwsCall(
            "x", "glue", "GetTable", {"DatabaseName": s.glue_database, "Name": table.ext_table}
        )
        assert check("cleanrooms_reader", staging), table.ext_table
    raw = AwsCall(
        "x", "s3", "GetObject", {"Bucket": s.data_bucket, "Key": s.raw_infobase_prefix + "a"}
    )
    assert check("cleanrooms_reader", raw)
    write = AwsCall("x", "s3", "PutObject", {"Bucket": s.data_bucket, "Key": key})
    assert check("cleanrooms_reader", write)


def test_the_evaluator_reads_conditions_as_iam_does():
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLike": {"s3:prefix": ["raw*"]}},
            }
        ]
    }
    assert allows(document, "S3:listbucket", "arn:aws:s3:::b", {"s3:prefix": "raw/x/"})
    assert not allows(document, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "other/"})
    assert not allows(document, "s3:ListBucket", "arn:aws:s3:::b", {})  # no prefix given
    assert not allows(document, "s3:ListBucket", "arn:aws:s3:::bb", {"s3:prefix": "raw"})
