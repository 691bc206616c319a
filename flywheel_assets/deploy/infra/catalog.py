"""The Glue database, the Athena workgroup and the alerts topic of an environment."""

from __future__ import annotations

from typing import Any

from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy import names
from flywheel_assets.deploy.iam import results_location
from flywheel_assets.deploy.infra.cfn import InfraError, resource, tags

# Athena cancels a query that scans more (AWS's minimum is 10 MB). The largest statement
# the platform sends is a CTAS reading one ext_* table in full; 1 TiB is far above one
# table of the reference's (tens of GB) and stops a runaway query. Not a profile setting
# yet: add ``athena_bytes_scanned_cutoff`` to profiles.toml when an environment needs
# another value.
BYTES_SCANNED_CUTOFF = 1024**4
ATHENA_ENGINE = "Athena engine version 3"
DEFAULT_WORKGROUP = "primary"
ENFORCE_WAIVER = (
    "Athena fails a CTAS with external_location in a workgroup that enforces its settings, "
    "and bucketed_* is built that way; query results are encrypted at rest by the results "
    "bucket's default encryption whatever a client sends"
)


def glue_database(settings: Settings) -> dict[str, Any]:
    """Kept on stack deletion (the tables in it are the published data's catalog).
    ``CreateTableDefaultPermissions: []``: tables created in it get no
    IAM_ALLOWED_PRINCIPALS grant, so Lake Formation's grants alone decide who reads
    them (``lake_formation.py``)."""
    return resource(
        "AWS::Glue::Database",
        {
            "CatalogId": {"Ref": "AWS::AccountId"},
            "DatabaseInput": {
                "Name": settings.glue_database,
                "Description": (
                    f"Flywheel {settings.env}: part_*, part_*_er, ext_* and bucketed_* "
                    "tables, published by the Dagster code location"
                ),
                "CreateTableDefaultPermissions": [],
            },
        },
        retain=True,
    )


def athena_workgroup(settings: Settings) -> dict[str, Any]:
    """The workgroup the code location's Athena statements run in.

    ``EnforceWorkGroupConfiguration`` stays false: Athena fails a CTAS that names an
    ``external_location`` in a workgroup that enforces its result location, and the
    bucketed rebuild writes each build to its own location that way. The result
    location here is the one the adapter sends (``athena_results``) anyway.
    """
    if settings.athena_workgroup == DEFAULT_WORKGROUP:
        raise InfraError(
            f"athena_workgroup = {DEFAULT_WORKGROUP!r} is every account's default workgroup, "
            "which CloudFormation cannot own (nor set its scan cutoff): name the "
            f"environment's own, e.g. FLYWHEEL_ATHENA_WORKGROUP={names.project(settings)} "
            "(or athena_workgroup in profiles.toml)"
        )
    bucket, prefix = results_location(settings)
    return resource(
        "AWS::Athena::WorkGroup",
        {
            "Name": settings.athena_workgroup,
            "Description": f"Flywheel {settings.env}: audits, monitor, CTAS, MSCK REPAIR",
            "State": "ENABLED",
            "RecursiveDeleteOption": False,
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": False,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": BYTES_SCANNED_CUTOFF,
                "EngineVersion": {"SelectedEngineVersion": ATHENA_ENGINE},
                "ResultConfiguration": {
                    "OutputLocation": f"s3://{bucket}/{prefix}",
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                },
            },
            "Tags": tags(settings),
        },
        waivers={"CKV_AWS_82": ENFORCE_WAIVER},
    )


def alerts_topic(settings: Settings) -> dict[str, Any]:
    """Encrypted with the AWS managed key: the Dagster role publishes within the account,
    which that key's policy allows (an AWS service publishing, e.g. a CloudWatch alarm,
    would need a customer managed key)."""
    return resource(
        "AWS::SNS::Topic",
        {
            "TopicName": names.topic_name(settings),
            "DisplayName": f"Flywheel {settings.env} alerts",
            "KmsMasterKeyId": "alias/aws/sns",
            "Tags": tags(settings),
        },
    )
