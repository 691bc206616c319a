"""Names of the AWS resources a profile deploys that ``Settings`` do not name itself.

The IAM policies (``iam.py``) and the CloudFormation stacks (``infra/``) both take
these, so a policy names exactly the role, topic or stack the stacks create. Everything
derives from the profile's Glue database (``omc_flywheel_dev`` -> ``omc-flywheel-dev``),
which is unique per environment; a name the profile does set (``glue_role``,
``sns_topic_arn``, ``cleanrooms_role_arn``) wins.
"""

from __future__ import annotations

from flywheel_assets.config.settings import Settings

# the data location Lake Formation uses when a location is registered with its
# service-linked role (RegisterResource UseServiceLinkedRole=true)
LAKE_FORMATION_SLR = (
    "aws-service-role/lakeformation.amazonaws.com/AWSServiceRoleForLakeFormationDataAccess"
)
STACK_TEMPLATE_PREFIX = "flywheel/cloudformation/"  # templates too big to send inline


def project(settings: Settings) -> str:
    """``omc-flywheel-dev``: the prefix of every derived name of the environment."""
    return settings.glue_database.replace("_", "-")


def _last(arn: str) -> str:
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def role_name(settings: Settings, role: str) -> str:
    """The IAM role name of ``role`` (one of ``iam.ROLES``)."""
    if role == "glue_job":
        return settings.glue_role
    if role == "cleanrooms_reader" and settings.cleanrooms_role_arn:
        return _last(settings.cleanrooms_role_arn)
    suffix = {
        "dagster": "dagster",
        "cleanrooms_reader": "cleanrooms-reader",
        "deployer": "deployer",
    }[role]
    return f"{project(settings)}-{suffix}-role"


def topic_name(settings: Settings) -> str:
    return (
        _last(settings.sns_topic_arn) if settings.sns_topic_arn else f"{project(settings)}-alerts"
    )


def stack_name(settings: Settings, stack: str) -> str:
    """``omc-flywheel-dev-storage``: CloudFormation stack names per environment."""
    return f"{project(settings)}-{stack}"
