"""The data and analysis buckets: encrypted, private, TLS only, with lifecycle rules.

From the reference's infrastructure overview: server-side encryption, "Lifecycle
Policies: automatic cleanup of temporary files", "Storage Classes: Intelligent tiering
for cost optimization". One bucket resource per distinct bucket name of the profile (the
dev and prod profiles keep the Glue assets, reports and Athena results in one analysis
bucket); each gets the lifecycle rules of the prefixes that live in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy import names
from flywheel_assets.deploy.iam import results_location
from flywheel_assets.deploy.infra.cfn import logical_id, resource, tags
from flywheel_assets.deploy.jobs import ARTIFACT_PREFIX, PIPES_PREFIX

# Days before S3 removes what nobody reads again (choices, not AWS limits):
TEMPORARY_DAYS = 7  # Glue --TempDir, Pipes context/messages, templates sent by S3
QUERY_RESULT_DAYS = 7  # Athena results: the adapters read them right after the query
REPORT_DAYS = 400  # monitor and Clean Rooms reports: a year of months, compared year on year
DATA_NONCURRENT_DAYS = 30  # an overwritten or deleted data object can be restored this long
ANALYSIS_NONCURRENT_DAYS = 7
ABORT_UPLOAD_DAYS = 7  # multipart uploads a failed Spark task or Athena query left open


@dataclass(frozen=True)
class Expiry:
    rule_id: str
    prefix: str
    days: int
    why: str


def bucket_ids(settings: Settings) -> dict[str, str]:
    """Bucket name -> logical id, named by the first purpose that uses the bucket."""
    results_bucket, _ = results_location(settings)
    purposes = (
        ("Data", settings.data_bucket),
        ("Analysis", settings.report_bucket),
        ("GlueAssets", settings.glue_assets_bucket),
        ("AthenaResults", results_bucket),
    )
    ids: dict[str, str] = {}
    for purpose, bucket in purposes:
        if bucket and bucket not in ids:
            ids[bucket] = logical_id(purpose, "bucket")
    return ids


def expiries(settings: Settings) -> dict[str, list[Expiry]]:
    """Bucket name -> the prefixes S3 expires there."""
    results_bucket, results_prefix = results_location(settings)
    assets = settings.glue_assets_bucket
    rules = [
        (
            assets,
            Expiry("ExpireGlueTemp", f"{ARTIFACT_PREFIX}temp/", TEMPORARY_DAYS, "Glue --TempDir"),
        ),
        (assets, Expiry("ExpirePipes", PIPES_PREFIX, TEMPORARY_DAYS, "Pipes context and messages")),
        (
            assets,
            Expiry(
                "ExpireTemplates", names.STACK_TEMPLATE_PREFIX, TEMPORARY_DAYS, "templates by S3"
            ),
        ),
        (
            results_bucket,
            Expiry("ExpireQueryResults", results_prefix, QUERY_RESULT_DAYS, "Athena query results"),
        ),
    ]
    reports = sorted({settings.report_prefix, settings.cleanrooms_report_prefix})
    rules += [
        (settings.report_bucket, Expiry(logical_id("expire", p), p, REPORT_DAYS, "reports"))
        for p in reports
    ]
    found: dict[str, list[Expiry]] = {}
    for bucket, rule in rules:
        found.setdefault(bucket, []).append(rule)
    return found


def lifecycle_rules(settings: Settings, bucket: str) -> list[dict[str, Any]]:
    data = bucket == settings.data_bucket
    rules: list[dict[str, Any]] = [
        {
            "Id": "Housekeeping",
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_UPLOAD_DAYS},
            "NoncurrentVersionExpiration": {
                "NoncurrentDays": DATA_NONCURRENT_DAYS if data else ANALYSIS_NONCURRENT_DAYS
            },
            "ExpiredObjectDeleteMarker": True,
        }
    ]
    if data:
        # raw snapshots and served builds are read monthly or less once the month is
        # published; Intelligent-Tiering moves them down without retrieval fees (no
        # archive tiers: Athena and Clean Rooms cannot read archived objects)
        rules.append(
            {
                "Id": "IntelligentTiering",
                "Status": "Enabled",
                "Transitions": [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}],
            }
        )
    rules += [
        {"Id": e.rule_id, "Status": "Enabled", "Prefix": e.prefix, "ExpirationInDays": e.days}
        for e in expiries(settings).get(bucket, [])
    ]
    return rules


def bucket_policy(bucket_id: str) -> dict[str, Any]:
    """TLS only (and TLS 1.2 or newer), whoever the caller."""
    resources = [{"Fn::GetAtt": [bucket_id, "Arn"]}, {"Fn::Sub": f"${{{bucket_id}.Arn}}/*"}]
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                **deny,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOutdatedTls",
                **deny,
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            },
        ],
    }


ACCESS_LOGS_WAIVER = (
    "S3 server access logs need a log bucket outside this stack; object-level audit is "
    "CloudTrail data events, an account-level trail the stacks do not own"
)


def bucket_resources(settings: Settings) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for bucket, bucket_id in bucket_ids(settings).items():
        properties = {
            "BucketName": bucket,
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": lifecycle_rules(settings, bucket)},
            "Tags": tags(settings),
        }
        found[bucket_id] = resource(
            "AWS::S3::Bucket", properties, retain=True, waivers={"CKV_AWS_18": ACCESS_LOGS_WAIVER}
        )
        found[f"{bucket_id}Policy"] = resource(
            "AWS::S3::BucketPolicy",
            {"Bucket": {"Ref": bucket_id}, "PolicyDocument": bucket_policy(bucket_id)},
        )
    return found
