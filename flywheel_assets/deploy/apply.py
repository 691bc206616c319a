"""``flywheel glue deploy``: upload the package, then create or update the Glue jobs (the
split and compaction jobs of ``deploy/jobs.py``'s ``DEPLOYED_JOBS``).

Idempotent: an artifact is uploaded only when S3 lacks that exact content (the zip is
content-addressed, a script carries its sha256 in the object metadata), and a job is
written only when GetJob shows a managed field that differs from the profile: CreateJob
when it is missing, UpdateJob when it differs, nothing otherwise. A CreateJob that meets
AlreadyExists (another deploy got there first) reads the job again and converges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy.jobs import (
    DEPLOYED_JOBS,
    assets_uri,
    job_definition,
    library_key,
    script_key,
)
from flywheel_assets.deploy.package import GluePackage


class DeployError(ValueError):
    """The profile cannot be deployed (local profile, no role); shown as a CLI error."""


@dataclass
class DeployReport:
    uploaded: list[str] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)  # job name -> created|updated|unchanged
    changes: dict[str, list[str]] = field(default_factory=dict)  # job name -> fields changed

    def lines(self) -> list[str]:
        out = [f"uploaded {uri}" for uri in self.uploaded]
        for name, action in self.jobs.items():
            detail = f" ({', '.join(self.changes[name])})" if self.changes.get(name) else ""
            out.append(f"{action:<9} {name}{detail}")
        return out


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _role_name(role: str) -> str:
    """Glue takes a role name or ARN; compare by name either way."""
    return role.rsplit("/", 1)[-1]


def changed_fields(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Managed fields whose value in GetJob differs from ``desired``.

    Nested objects are compared on the keys we set (AWS may add its own), except
    ``DefaultArguments``, which we own whole: an argument added by hand is reverted.
    """
    changed = []
    for name, want in desired.items():
        have = current.get(name)
        if name == "Role":
            same = _role_name(str(have or "")) == _role_name(want)
        elif isinstance(want, dict) and name != "DefaultArguments":
            same = isinstance(have, dict) and all(have.get(k) == v for k, v in want.items())
        else:
            same = have == want
        if not same:
            changed.append(name)
    return changed


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload_if_changed(
    s3: Any, bucket: str, key: str, data: bytes, content_type: str, dry_run: bool
) -> bool:
    """Put the object unless S3 already holds this content (sha256 in its metadata)."""
    digest = _sha256(data)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        if head.get("Metadata", {}).get("sha256") == digest:
            return False
    except ClientError as exc:
        if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
    if not dry_run:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            Metadata={"sha256": digest},
        )
    return True


def deploy_glue_jobs(
    settings: Settings,
    package: GluePackage,
    *,
    glue: Any | None = None,
    s3: Any | None = None,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> DeployReport:
    if settings.is_local:
        raise DeployError(
            "the local profile runs Spark in process: deploy with FLYWHEEL_ENV=dev or prod"
        )
    if not settings.glue_role:
        raise DeployError(f"profile {settings.env!r} has no glue_role")
    glue = glue if glue is not None else aws_client("glue", settings.region)
    s3 = s3 if s3 is not None else aws_client("s3", settings.region)
    bucket = settings.glue_assets_bucket
    report = DeployReport()

    library = library_key(package.zip_path.name)
    artifacts = [(library, package.zip_path.read_bytes(), "application/zip")]
    artifacts += [
        (script_key(name), path.read_bytes(), "text/x-python")
        for name, path in sorted(package.scripts.items())
    ]
    for key, data, content_type in artifacts:
        if upload_if_changed(s3, bucket, key, data, content_type, dry_run):
            report.uploaded.append(assets_uri(settings, key))

    for job in DEPLOYED_JOBS:
        name = job.name(settings)
        desired = job_definition(settings, job, assets_uri(settings, library))
        try:
            current = glue.get_job(JobName=name)["Job"]
        except ClientError as exc:
            if _code(exc) != "EntityNotFoundException":
                raise
            current = None
        if current is None:
            try:
                if not dry_run:
                    glue.create_job(Name=name, **desired)
                report.jobs[name] = "created"
                continue
            except ClientError as exc:
                if _code(exc) != "AlreadyExistsException":
                    raise
            # created since GetJob (a concurrent deploy): converge by comparing it as well
            current = glue.get_job(JobName=name)["Job"]
        changes = changed_fields(current, desired)
        report.jobs[name] = "updated" if changes else "unchanged"
        if changes:
            report.changes[name] = changes
            if not dry_run:
                glue.update_job(JobName=name, JobUpdate=desired)
    for line in report.lines():
        log(("[dry-run] " if dry_run else "") + line)
    return report
