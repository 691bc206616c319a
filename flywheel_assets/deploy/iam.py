"""The IAM policies of the principals Flywheel runs as, built from the profile's settings.

One place for least privilege: ``docs/deploy.md`` shows these documents (rendered by
``scripts/gen_iam_doc.py``; a test fails when the page is stale), the CloudFormation
stacks attach them to the roles they create (``flywheel_assets/deploy/infra/roles.py``),
a deployer prints them for an account with ``python -m flywheel_assets.deploy.iam --env
prod --account <id>``, and the tests check that every AWS operation the adapters issue is
allowed by the policy of the role that runs it (``flywheel_assets_tests/
test_iam_policies.py``, and the moto end-to-end runs in ``flywheel_assets_tests/glue/
test_glue_e2e.py`` and ``flywheel_assets_tests/infra/``, which check each recorded
request's resource ARN as well).

Principals (``ROLES``):

* ``glue_job``: the Glue split and compaction jobs' role (``glue_role``): reads raw
  snapshots and its code, writes the split datasets and the compacted builds (and reads
  the compacted addressable ids, the bucketed split's input), Pipes messages, logs and
  metrics. No catalog access: the job never touches the Glue Data Catalog (Dagster
  publishes).
* ``dagster``: the code location's role (ECS task role / Kubernetes service account):
  starts and watches the Glue runs, reads what they wrote (and audits, publishes and
  retires the compacted builds), publishes the catalog, runs
  Athena (and through Athena, which acts with the caller's permissions, reads the tables'
  data and writes the CTAS output and query results), alerts, reconciles Clean Rooms and
  Entity Resolution.
* ``cleanrooms_reader``: the role Clean Rooms (and Entity Resolution) reads with
  (``cleanrooms_role_arn``): the published ``part_*`` (``part_*_er``) and ``bucketed_*``
  tables and their data, read only.
* ``deployer``: whoever runs ``flywheel glue deploy`` and ``flywheel infra plan|apply``
  (CI): the artifacts, the jobs, the CloudFormation stacks and, because CloudFormation
  acts with the caller's credentials, what the stacks create.

Each statement names who needs it (``Grant.callers``, with the project files of
``SOURCES``) and which of its actions only an AWS service calls with the role's
credentials (``Grant.by_aws``: Spark's S3A on Glue, Glue's log shipping, Athena, Clean
Rooms, CloudFormation), which no recording of our clients can show. Resources are the
project's buckets and prefixes, Glue database and tables, job names, Athena workgroup,
SNS topic, roles and stacks; ``"*"`` only where the action has no resource-level
permission (``STAR_ONLY``, with the reason).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flywheel_assets.cleanrooms.desired import ID_NAMESPACE_PREFIX, SCHEMA_MAPPING_PREFIX
from flywheel_assets.config.settings import PROFILES, Settings, load_settings
from flywheel_assets.deploy import names
from flywheel_assets.deploy.jobs import ARTIFACT_PREFIX, DEPLOYED_JOBS, PIPES_PREFIX

ROLES = ("glue_job", "dagster", "cleanrooms_reader", "deployer")
TITLES = {
    "glue_job": "Glue job role",
    "dagster": "Dagster code location role",
    "cleanrooms_reader": "Clean Rooms reader role",
    "deployer": "Deployer",
}
ACCOUNT_PLACEHOLDER = "<account>"
# Glue writes a job's stdout/stderr (and so the Pipes messages) to these log groups
GLUE_LOG_GROUP_PREFIX = "/aws-glue/"
GLUE_OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
ATHENA_TEMP_PREFIX = "query-results/"  # fallback when a profile leaves athena_results empty

# The project files named in the statements' "needed by": one place to update when a
# module moves (the recorded calls, ``aws_calls_recorded.json``, name the real files).
SOURCES = {
    "glue_job_s3": "glue_jobs/s3_objects.py",
    "raw_files": "glue_jobs/raw_files.py",
    "glue_compute": "adapters/glue_compute.py",
    "s3_lake": "adapters/s3_lake.py",
    "glue_catalog": "adapters/glue_catalog.py",
    "athena_sql": "adapters/athena_sql.py",
    "sns_alerts": "adapters/sns_alerts.py",
    "monitor": "assets/monitor.py",
    "cleanrooms_report": "cleanrooms/report.py",
    "reconcile": "cleanrooms/read.py, cleanrooms/apply.py",
    "glue_deploy": "deploy/apply.py",
    "stacks": "deploy/infra/stacks.py",
}

_LF_ADMIN = "no resource type; Lake Formation scopes it to its data lake administrators"
# Actions that take no resource-level permission, so ``Resource: "*"`` is the only form
# AWS accepts (the Service Authorization Reference lists no resource type for them).
STAR_ONLY: dict[str, str] = {
    "cloudwatch:PutMetricData": "no resource type; narrowed by the cloudwatch:namespace condition",
    "cleanrooms:ListConfiguredTables": "a List action of the account, no resource type",
    "entityresolution:ListSchemaMappings": "a List action of the account, no resource type",
    "entityresolution:ListIdNamespaces": "a List action of the account, no resource type",
    "entityresolution:CreateSchemaMapping": "no resource type (the ARN does not exist yet)",
    "entityresolution:CreateIdNamespace": "no resource type (the ARN does not exist yet)",
    "lakeformation:GetDataAccess": (
        "no resource type; Lake Formation's grants decide which data it vends credentials for"
    ),
    "lakeformation:RegisterResource": _LF_ADMIN,
    "lakeformation:DeregisterResource": _LF_ADMIN,
    "lakeformation:DescribeResource": _LF_ADMIN,
    "lakeformation:GrantPermissions": _LF_ADMIN,
    "lakeformation:RevokePermissions": _LF_ADMIN,
    "lakeformation:ListPermissions": _LF_ADMIN,
}
# Operations whose IAM action is not ``<service>:<Operation>``; () = no permission needed.
ACTIONS_OF: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("sts", "GetCallerIdentity"): (),  # "No permissions are required" (STS API reference)
}
# botocore service name -> IAM service prefix, where they differ
IAM_PREFIX = {"monitoring": "cloudwatch"}


# Operations that hand a role to a service (a ``Role``/``roleArn`` parameter): the caller
# needs ``iam:PassRole`` on that role as well.
PASSES_ROLE = {
    ("glue", "CreateJob"),
    ("glue", "UpdateJob"),
    ("cleanrooms", "CreateConfiguredTableAssociation"),
    ("cleanrooms", "UpdateConfiguredTableAssociation"),
    ("entityresolution", "CreateIdNamespace"),
    ("entityresolution", "UpdateIdNamespace"),
}


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions an API operation (``glue``, ``GetTable``) is authorized by."""
    return ACTIONS_OF.get(
        (service, operation), (f"{IAM_PREFIX.get(service, service)}:{operation}",)
    )


def required_actions(service: str, operation: str) -> tuple[str, ...]:
    """``iam_actions`` plus ``iam:PassRole`` for an operation that hands over a role."""
    passes = ("iam:PassRole",) if (service, operation) in PASSES_ROLE else ()
    return iam_actions(service, operation) + passes


@dataclass(frozen=True)
class Grant:
    """One policy statement and who needs it."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    callers: str
    condition: dict[str, dict[str, Any]] | None = None
    # actions of this statement no client of ours calls: an AWS service uses them with the
    # role's credentials (Spark's S3A on Glue, Athena, Clean Rooms, Glue's log shipping,
    # CloudFormation), so no recording can show them; ``callers`` says which
    by_aws: tuple[str, ...] = ()
    # the CloudFormation resource types CloudFormation creates with these actions (the
    # deployer's provisioning statements; a test matches them to the stacks' resources)
    provisions: tuple[str, ...] = ()

    def statement(self) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions) if len(self.actions) > 1 else self.actions[0],
            "Resource": list(self.resources) if len(self.resources) > 1 else self.resources[0],
        }
        if self.condition:
            statement["Condition"] = self.condition
        return statement


@dataclass(frozen=True)
class Arns:
    """ARNs of the project's resources in one account and region.

    ``placeholders`` (documentation) writes ``<membership-id>`` for a Clean Rooms
    membership the profile does not name yet; a deployable policy (the stacks') leaves it
    empty, so that statement matches no membership until one is configured.
    """

    settings: Settings
    account: str = ACCOUNT_PLACEHOLDER
    region: str = ""
    placeholders: bool = True

    @property
    def where(self) -> str:
        return f"{self.region or self.settings.region}:{self.account}"

    @staticmethod
    def bucket(name: str) -> str:
        return f"arn:aws:s3:::{name}"

    @staticmethod
    def objects(bucket: str, prefix: str = "") -> str:
        return f"arn:aws:s3:::{bucket}/{prefix}*"

    def data(self, prefix: str = "") -> str:
        return self.objects(self.settings.data_bucket, prefix)

    def assets(self, prefix: str = "") -> str:
        return self.objects(self.settings.glue_assets_bucket, prefix)

    def glue(self, resource: str) -> str:
        return f"arn:aws:glue:{self.where}:{resource}"

    def catalog(self, *tables: str) -> tuple[str, ...]:
        database = self.settings.glue_database
        return (
            self.glue("catalog"),
            self.glue(f"database/{database}"),
            *(self.glue(f"table/{database}/{t}") for t in tables or ("*",)),
        )

    def jobs(self) -> tuple[str, ...]:
        """The deployed Glue jobs: the four split and the two compaction jobs."""
        return tuple(self.glue(f"job/{job.name(self.settings)}") for job in DEPLOYED_JOBS)

    def log_group(self, name: str) -> str:
        return f"arn:aws:logs:{self.where}:log-group:{name}"

    def workgroup(self) -> str:
        return f"arn:aws:athena:{self.where}:workgroup/{self.settings.athena_workgroup}"

    def topic(self) -> str:
        return self.settings.sns_topic_arn or (
            f"arn:aws:sns:{self.where}:{names.topic_name(self.settings)}"
        )

    def role(self, role: str) -> str:
        """The ARN of one of ``ROLES`` (a configured ARN as it is)."""
        if role == "cleanrooms_reader" and self.settings.cleanrooms_role_arn:
            return self.settings.cleanrooms_role_arn
        return self.role_named(names.role_name(self.settings, role))

    def role_named(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"

    def stacks(self) -> str:
        return f"arn:aws:cloudformation:{self.where}:stack/{names.project(self.settings)}-*/*"

    def membership(self) -> str:
        unset = "<membership-id>" if self.placeholders else ""
        return self.settings.cleanrooms_membership_id or unset

    def cleanrooms(self, resource: str) -> str:
        return f"arn:aws:cleanrooms:{self.where}:{resource}"

    def entityresolution(self, resource: str) -> str:
        return f"arn:aws:entityresolution:{self.where}:{resource}"


def _folder(prefix: str) -> str:
    return prefix if prefix.endswith("/") or not prefix else prefix + "/"


def _listing(prefixes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``s3:ListBucket`` only below ``prefixes`` (a folder's own key, with or without its
    slash, lists too: S3A probes ``prefix/``)."""
    patterns = sorted({f"{p.rstrip('/')}*" for p in prefixes})
    return {"StringLike": {"s3:prefix": patterns}}


def results_location(settings: Settings) -> tuple[str, str]:
    """Bucket and prefix of Athena's query results."""
    location = settings.athena_results or f"s3://{settings.report_bucket}/{ATHENA_TEMP_PREFIX}"
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, _folder(prefix)


def compaction_prefixes(settings: Settings) -> tuple[str, ...]:
    """Where ``compacted/<source>`` builds lie (the reference's ``*_compaction_cr``)."""
    return (settings.compaction_infobase_prefix, settings.compaction_addressable_prefix)


def published_prefixes(settings: Settings) -> tuple[str, ...]:
    """Where the tables readers use keep their data: ``part_*`` (and ``part_*_er``, the
    same files) under the split_part prefix, ``bucketed_*`` under the bucketed one."""
    return (settings.split_part_prefix, settings.bucketed_prefix)


def _lake_formation_data_access(readers: str) -> Grant:
    return Grant(
        "LakeFormationDataAccess",
        ("lakeformation:GetDataAccess",),
        ("*",),
        f"{readers} reading tables whose data location is registered with Lake Formation "
        "(the stacks register the published prefixes; Lake Formation's grants decide what)",
        by_aws=("lakeformation:GetDataAccess",),
    )


# ---- the Glue job ------------------------------------------------------------------------------


def glue_job_grants(arns: Arns) -> list[Grant]:
    return _glue_job_data_grants(arns) + _glue_job_service_grants(arns)


def _glue_job_data_grants(arns: Arns) -> list[Grant]:
    s = arns.settings
    raw = (s.raw_infobase_prefix, s.raw_addressable_prefix)
    splits = (s.split_part_prefix, s.split_cluster_prefix)
    compacted = compaction_prefixes(s)
    return [
        Grant(
            "ListRawSplitsAndCompactions",
            ("s3:ListBucket",),
            (arns.bucket(s.data_bucket),),
            f"{SOURCES['glue_job_s3']} (snapshot folders, raw files, the raw marker, the "
            "compacted build's manifest the bucketed split waits for); Spark's S3A reading "
            "raw and compacted ids and writing the split and compaction directories",
            _listing(raw + splits + compacted),
        ),
        Grant(
            "ReadRaw",
            ("s3:GetObject",),
            tuple(arns.data(p) for p in raw),
            f"{SOURCES['raw_files']} (parquet footers), Spark reading the raw snapshot",
        ),
        Grant(
            "WriteSplits",
            (
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ),
            tuple(arns.data(p) for p in splits),
            "Spark's S3A writer and committer (multipart uploads, task files it removes); "
            f"{SOURCES['glue_job_s3']} (manifests, the reader marker of a hand-started run)",
            by_aws=("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
        ),
        Grant(
            "WriteCompactions",
            (
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ),
            tuple(arns.data(p) for p in compacted),
            "the compaction jobs: Spark's S3A writer and committer, "
            f"{SOURCES['glue_job_s3']} (the build's manifest); the bucketed split reading "
            "the compacted addressable ids (Spark, the manifest)",
            by_aws=("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
        ),
        Grant(
            "SplitUploads",
            ("s3:ListBucketMultipartUploads",),
            (arns.bucket(s.data_bucket),),
            "Spark's S3A committer aborting a failed task's pending uploads",
            by_aws=("s3:ListBucketMultipartUploads",),
        ),
    ]


def _glue_job_service_grants(arns: Arns) -> list[Grant]:
    logs = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
    return [
        Grant(
            "CodeAndPipesContext",
            ("s3:GetObject",),
            (arns.assets(ARTIFACT_PREFIX), arns.assets(PIPES_PREFIX)),
            "Glue loading the entry script and the --extra-py-files zip; dagster-pipes "
            "reading its context (PipesS3ContextLoader)",
        ),
        Grant(
            "PipesMessagesAndTemp",
            ("s3:PutObject",),
            (arns.assets(PIPES_PREFIX), arns.assets(f"{ARTIFACT_PREFIX}temp/")),
            "dagster-pipes' S3 message writer (messages='s3'); Glue's --TempDir",
        ),
        Grant(
            "GlueJobLogs",
            logs,
            (
                arns.log_group(f"{GLUE_LOG_GROUP_PREFIX}*"),
                arns.log_group(f"{GLUE_LOG_GROUP_PREFIX}*:log-stream:*"),
            ),
            "Glue shipping the job's stdout/stderr (the Pipes messages by default) to "
            f"{GLUE_OUTPUT_LOG_GROUP}",
            by_aws=logs,
        ),
        Grant(
            "GlueJobMetrics",
            ("cloudwatch:PutMetricData",),
            ("*",),
            "Glue's job metrics (--enable-metrics)",
            {"StringEquals": {"cloudwatch:namespace": "Glue"}},
            by_aws=("cloudwatch:PutMetricData",),
        ),
    ]


# ---- the code location -------------------------------------------------------------------------


def dagster_grants(arns: Arns) -> list[Grant]:
    return [
        *_split_run_grants(arns),
        *_lake_grants(arns),
        *_athena_storage_grants(arns),
        *_catalog_grants(arns),
        *_cleanrooms_grants(arns),
    ]


def _split_run_grants(arns: Arns) -> list[Grant]:
    compute = SOURCES["glue_compute"]
    return [
        Grant(
            "RunGlueJobs",
            ("glue:StartJobRun", "glue:GetJobRun", "glue:BatchStopJobRun"),
            arns.jobs(),
            f"{compute} (dagster-aws PipesGlueClient: start, poll, stop on termination; "
            "the split and compaction jobs)",
        ),
        Grant(
            "ReadGlueJobOutput",
            ("logs:GetLogEvents", "logs:DescribeLogStreams"),
            (
                arns.log_group(GLUE_OUTPUT_LOG_GROUP),
                arns.log_group(f"{GLUE_OUTPUT_LOG_GROUP}:log-stream:*"),
            ),
            f"{compute} (PipesCloudWatchMessageReader: the job's messages and log lines)",
        ),
        Grant(
            "PipesContext",
            ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
            (arns.assets(PIPES_PREFIX),),
            f"{compute} (PipesS3ContextInjector writes and removes the context; "
            "PipesS3MessageReader reads messages)",
        ),
    ]


def _lake_grants(arns: Arns) -> list[Grant]:
    s = arns.settings
    raw = (s.raw_infobase_prefix, s.raw_addressable_prefix)
    datasets = (s.split_part_prefix, s.split_cluster_prefix, s.bucketed_prefix)
    compacted = compaction_prefixes(s)
    lake = SOURCES["s3_lake"]
    return [
        Grant(
            "ListLake",
            ("s3:ListBucket",),
            (arns.bucket(s.data_bucket),),
            f"{lake} (snapshot folders, builds, manifests, retention); Athena listing a "
            "table's files for the caller",
            _listing(raw + datasets + compacted),
        ),
        Grant(
            "ReadLake",
            ("s3:GetObject",),
            tuple(arns.data(p) for p in raw + datasets + compacted),
            f"{lake} (raw footers, manifests, audit records, markers); Athena reading tables "
            "and audit relations for the caller",
        ),
        Grant(
            "WriteDatasets",
            (
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ),
            tuple(arns.data(p) for p in datasets),
            f"{lake} (audit records and figures, reader markers, CTAS leftovers, retention); "
            "Athena writing the CTAS output for the caller",
            by_aws=("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
        ),
        Grant(
            "WriteCompactionRecords",
            ("s3:PutObject", "s3:DeleteObject"),
            tuple(arns.data(p) for p in compacted),
            f"{lake} (the compacted builds' audit records, retention of old builds); "
            "the Glue compaction jobs write the data",
        ),
    ]


def _athena_storage_grants(arns: Arns) -> list[Grant]:
    s = arns.settings
    results_bucket, results_prefix = results_location(s)
    reports = sorted({_folder(s.report_prefix), _folder(s.cleanrooms_report_prefix)})
    result_actions = (
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    )
    return [
        Grant(
            "AthenaBuckets",
            ("s3:GetBucketLocation",),
            tuple(sorted({arns.bucket(s.data_bucket), arns.bucket(results_bucket)})),
            "Athena resolving the region of the data and results buckets for the caller",
            by_aws=("s3:GetBucketLocation",),
        ),
        Grant(
            "AthenaResults",
            result_actions,
            (arns.objects(results_bucket, results_prefix),),
            "Athena writing and reading query results for the caller (athena_results)",
            by_aws=result_actions,
        ),
        Grant(
            "Reports",
            ("s3:PutObject",),
            tuple(arns.objects(s.report_bucket, p) for p in reports),
            f"{SOURCES['monitor']} (monitor report), {SOURCES['cleanrooms_report']} "
            "(plans, mappings)",
        ),
    ]


def _catalog_grants(arns: Arns) -> list[Grant]:
    return [
        Grant(
            "Catalog",
            (
                "glue:GetDatabase",
                "glue:CreateDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:DeleteTable",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
                "glue:BatchCreatePartition",
                "glue:BatchUpdatePartition",
                "glue:BatchDeletePartition",
            ),
            arns.catalog(),
            f"{SOURCES['glue_catalog']} (publish, repoint, partitions, audit relations); "
            "Athena reading tables, CTAS (CreateTable), DROP TABLE and MSCK REPAIR "
            "(partitions) for the caller",
            by_aws=("glue:GetPartition", "glue:BatchGetPartition"),
        ),
        _lake_formation_data_access("Athena (for the caller)"),
        Grant(
            "Athena",
            (
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
            ),
            (arns.workgroup(),),
            f"{SOURCES['athena_sql']} (audits, monitor, CTAS, row counts, MSCK REPAIR)",
        ),
        Grant("Alerts", ("sns:Publish",), (arns.topic(),), SOURCES["sns_alerts"]),
    ]


def _cleanrooms_grants(arns: Arns) -> list[Grant]:
    membership = arns.membership()
    reconcile = SOURCES["reconcile"]
    return [
        Grant(
            "CleanRoomsConfiguredTables",
            (
                "cleanrooms:GetConfiguredTable",
                "cleanrooms:CreateConfiguredTable",
                "cleanrooms:UpdateConfiguredTable",
                "cleanrooms:DeleteConfiguredTable",
                "cleanrooms:GetConfiguredTableAnalysisRule",
                "cleanrooms:CreateConfiguredTableAnalysisRule",
                "cleanrooms:UpdateConfiguredTableAnalysisRule",
                "cleanrooms:DeleteConfiguredTableAnalysisRule",
            ),
            (arns.cleanrooms("configuredtable/*"),),
            f"{reconcile} (configured tables get service-generated ids: all of the "
            "account's, not one)",
        ),
        Grant(
            "CleanRoomsMembership",
            (
                "cleanrooms:GetMembership",
                "cleanrooms:ListConfiguredTableAssociations",
                "cleanrooms:GetConfiguredTableAssociation",
                "cleanrooms:CreateConfiguredTableAssociation",
                "cleanrooms:UpdateConfiguredTableAssociation",
                "cleanrooms:DeleteConfiguredTableAssociation",
            ),
            (
                arns.cleanrooms(f"membership/{membership}"),
                arns.cleanrooms(f"membership/{membership}/configuredtableassociation/*"),
                arns.cleanrooms("configuredtable/*"),
            ),
            f"{reconcile} (the collaboration membership's associations)",
        ),
        Grant(
            "EntityResolution",
            (
                "entityresolution:GetSchemaMapping",
                "entityresolution:UpdateSchemaMapping",
                "entityresolution:DeleteSchemaMapping",
                "entityresolution:GetIdNamespace",
                "entityresolution:UpdateIdNamespace",
                "entityresolution:DeleteIdNamespace",
            ),
            (
                arns.entityresolution(f"schemamapping/{SCHEMA_MAPPING_PREFIX}*"),
                arns.entityresolution(f"idnamespace/{ID_NAMESPACE_PREFIX}*"),
            ),
            f"{reconcile} (only the names Flywheel manages)",
        ),
        Grant(
            "AccountWideListsAndCreates",
            (
                "cleanrooms:ListConfiguredTables",
                "entityresolution:ListSchemaMappings",
                "entityresolution:ListIdNamespaces",
                "entityresolution:CreateSchemaMapping",
                "entityresolution:CreateIdNamespace",
            ),
            ("*",),
            f"{reconcile}; these actions have no resource-level permission",
        ),
        Grant(
            "HandReaderRolesToCleanRooms",
            ("iam:PassRole",),
            _reader_roles(arns),
            f"{reconcile} (roleArn of associations and ID namespaces)",
            {"StringEquals": {"iam:PassedToService": list(READER_SERVICES)}},
        ),
    ]


READER_SERVICES = ("cleanrooms.amazonaws.com", "entityresolution.amazonaws.com")


def _reader_roles(arns: Arns) -> tuple[str, ...]:
    """The Clean Rooms reader, and the Entity Resolution role when the profile names a
    separate one (else the reader serves Entity Resolution too)."""
    entity_resolution = arns.settings.entity_resolution_role_arn
    return tuple(sorted({arns.role("cleanrooms_reader"), entity_resolution or ""} - {""}))


# ---- the reader --------------------------------------------------------------------------------

READ_TABLE_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
)
READER_TABLE_PATTERNS = ("part_*", "bucketed_*")  # part_*_er is a part_* name


def cleanrooms_reader_grants(arns: Arns) -> list[Grant]:
    s = arns.settings
    published = published_prefixes(s)
    patterns = tuple(p.replace("part_", s.table_prefix, 1) for p in READER_TABLE_PATTERNS)
    reader = "AWS Clean Rooms and Entity Resolution"
    return [
        Grant(
            "ReadPublishedTables",
            READ_TABLE_ACTIONS,
            arns.catalog(*patterns),
            f"{reader} reading the published tables (part_*, part_*_er, bucketed_*)",
            by_aws=READ_TABLE_ACTIONS,
        ),
        Grant(
            "ListPublishedData",
            ("s3:ListBucket",),
            (arns.bucket(s.data_bucket),),
            f"{reader} listing the files of the served builds",
            _listing(published),
            by_aws=("s3:ListBucket",),
        ),
        Grant(
            "LocatePublishedData",
            ("s3:GetBucketLocation",),
            (arns.bucket(s.data_bucket),),
            f"{reader} resolving the data bucket's region",
            by_aws=("s3:GetBucketLocation",),
        ),
        Grant(
            "ReadPublishedData",
            ("s3:GetObject",),
            tuple(arns.data(p) for p in published),
            f"{reader} reading the served builds",
            by_aws=("s3:GetObject",),
        ),
        _lake_formation_data_access(reader),
    ]


# ---- the deployer ------------------------------------------------------------------------------


def deployer_grants(arns: Arns) -> list[Grant]:
    return [
        *_glue_deploy_grants(arns),
        *_stack_grants(arns),
        *_provisioning_grants(arns),
    ]


def _glue_deploy_grants(arns: Arns) -> list[Grant]:
    s = arns.settings
    deploy = SOURCES["glue_deploy"]
    return [
        Grant(
            "Artifacts",
            ("s3:GetObject", "s3:PutObject"),
            (arns.assets(ARTIFACT_PREFIX),),
            f"{deploy} (HeadObject tells unchanged from missing; PutObject)",
        ),
        Grant(
            "ArtifactListing",
            ("s3:ListBucket",),
            (arns.bucket(s.glue_assets_bucket),),
            "S3 answering 404, not 403, for a missing artifact (HeadObject)",
            _listing((ARTIFACT_PREFIX,)),
            by_aws=("s3:ListBucket",),
        ),
        Grant("Jobs", ("glue:GetJob", "glue:CreateJob", "glue:UpdateJob"), arns.jobs(), deploy),
        Grant(
            "PassJobRole",
            ("iam:PassRole",),
            (arns.role("glue_job"),),
            f"{deploy} (the jobs' Role)",
            {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
        ),
    ]


STACK_ACTIONS = (
    "cloudformation:DescribeStacks",
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DescribeStackEvents",
)


def _stack_grants(arns: Arns) -> list[Grant]:
    stacks = SOURCES["stacks"]
    return [
        Grant(
            "Stacks",
            STACK_ACTIONS,
            (arns.stacks(),),
            f"{stacks} (flywheel infra plan: change sets; apply: execute, wait, failure events)",
        ),
        Grant(
            "StackTemplates",
            ("s3:PutObject", "s3:GetObject"),
            (arns.assets(names.STACK_TEMPLATE_PREFIX),),
            f"{stacks} (a template over CloudFormation's inline 51,200 bytes goes by S3); "
            "CloudFormation reading it with the caller's credentials",
            by_aws=("s3:GetObject",),
        ),
    ]


def _provisioned(types: str) -> str:
    return f"CloudFormation creating and updating the stacks' {types} with the caller's credentials"


def _provisioning_grants(arns: Arns) -> list[Grant]:
    """What CloudFormation does with the deployer's credentials when it executes a change
    set: the actions of each resource type's handlers, on the project's resources only."""
    s = arns.settings
    return [
        *_bucket_provisioning(arns),
        _provisioning(
            "ProvisionDatabase",
            ("glue:CreateDatabase", "glue:GetDatabase", "glue:UpdateDatabase"),
            arns.catalog()[:2],
            ("AWS::Glue::Database",),
        ),
        _provisioning(
            "ProvisionWorkGroup",
            (
                "athena:CreateWorkGroup",
                "athena:GetWorkGroup",
                "athena:UpdateWorkGroup",
                "athena:TagResource",
                "athena:ListTagsForResource",
            ),
            (arns.workgroup(),),
            ("AWS::Athena::WorkGroup",),
        ),
        _provisioning(
            "ProvisionTopic",
            (
                "sns:CreateTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:TagResource",
                "sns:ListTagsForResource",
            ),
            (arns.topic(),),
            ("AWS::SNS::Topic",),
        ),
        _provisioning(
            "ProvisionRoles",
            (
                "iam:CreateRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:TagRole",
                "iam:UntagRole",
            ),
            # not the deployer's own role: an administrator applies the bootstrap stack
            tuple(arns.role(r) for r in ROLES if r != "deployer" and names.role_name(s, r)),
            ("AWS::IAM::Role",),
        ),
        *_lake_formation_provisioning(arns),
    ]


def _provisioning(
    sid: str, actions: tuple[str, ...], resources: tuple[str, ...], types: tuple[str, ...]
) -> Grant:
    return Grant(
        sid, actions, resources, _provisioned(", ".join(types)), by_aws=actions, provisions=types
    )


def _bucket_provisioning(arns: Arns) -> list[Grant]:
    s = arns.settings
    buckets = tuple(
        arns.bucket(b) for b in sorted({s.data_bucket, s.glue_assets_bucket, s.report_bucket})
    )
    bucket_actions = (
        "s3:CreateBucket",
        "s3:PutBucketTagging",
        "s3:GetBucketTagging",
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketVersioning",
        "s3:GetBucketVersioning",
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    )
    policy_actions = ("s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy")
    return [
        _provisioning("ProvisionBuckets", bucket_actions, buckets, ("AWS::S3::Bucket",)),
        _provisioning(
            "ProvisionBucketPolicies", policy_actions, buckets, ("AWS::S3::BucketPolicy",)
        ),
    ]


def _lake_formation_provisioning(arns: Arns) -> list[Grant]:
    lake_formation = (
        "lakeformation:RegisterResource",
        "lakeformation:DeregisterResource",
        "lakeformation:DescribeResource",
        "lakeformation:GrantPermissions",
        "lakeformation:RevokePermissions",
        "lakeformation:ListPermissions",
    )
    service_role = (arns.role_named(names.LAKE_FORMATION_SLR),)
    why = (
        "Lake Formation creating its data-access service-linked role, and adding each "
        "location CloudFormation registers to its policy (UseServiceLinkedRole)"
    )
    return [
        _provisioning(
            "ProvisionLakeFormation",
            lake_formation,
            ("*",),
            ("AWS::LakeFormation::Resource", "AWS::LakeFormation::PrincipalPermissions"),
        ),
        Grant(
            "LakeFormationServiceRole",
            ("iam:CreateServiceLinkedRole",),
            service_role,
            why,
            {"StringEquals": {"iam:AWSServiceName": "lakeformation.amazonaws.com"}},
            by_aws=("iam:CreateServiceLinkedRole",),
            provisions=("AWS::LakeFormation::Resource",),
        ),
        Grant(
            "LakeFormationServiceRolePolicy",
            ("iam:GetRole", "iam:PutRolePolicy"),
            service_role,
            why,
            by_aws=("iam:GetRole", "iam:PutRolePolicy"),
            provisions=("AWS::LakeFormation::Resource",),
        ),
    ]


GRANTS = {
    "glue_job": glue_job_grants,
    "dagster": dagster_grants,
    "cleanrooms_reader": cleanrooms_reader_grants,
    "deployer": deployer_grants,
}


def grants(role: str, settings: Settings, account: str = ACCOUNT_PLACEHOLDER) -> list[Grant]:
    return GRANTS[role](Arns(settings, account))


def document(role_grants: Iterable[Grant]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [g.statement() for g in role_grants]}


def policy(role: str, settings: Settings, account: str = ACCOUNT_PLACEHOLDER) -> dict[str, Any]:
    """The IAM policy document of ``role``."""
    return document(grants(role, settings, account))


def actions(role: str, settings: Settings) -> list[str]:
    """Every action ``role``'s policy allows, sorted."""
    return sorted({a for g in grants(role, settings) for a in g.actions})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flywheel_assets.deploy.iam",
        description="Print the IAM policy documents of a profile for an account.",
    )
    parser.add_argument("--env", choices=[p for p in PROFILES if p != "local"], default="dev")
    parser.add_argument("--account", default=ACCOUNT_PLACEHOLDER, help="AWS account id")
    parser.add_argument("--role", choices=ROLES, help="one role (default: all, by role)")
    args = parser.parse_args(argv)
    settings = load_settings(args.env)
    roles = [args.role] if args.role else list(ROLES)
    documents = {role: policy(role, settings, args.account) for role in roles}
    out = documents[args.role] if args.role else documents
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
