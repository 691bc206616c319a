"""Builds of a snapshot: where each one is written, which one is newest, whether its
audit passed and which one a table serves.

Every write of a dataset snapshot goes to a fresh ``build=<id>/`` directory under
``snapshot_dt=D/`` (ids sort by time), so a rebuild of the month in service never
touches the directory readers use. The audit leaves ``_flywheel_audit.json`` in the
build; publishing refuses a build without a passing one, whichever run asks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from flywheel_assets import layout
from flywheel_assets.config.settings import Settings
from flywheel_assets.ports.catalog import TableInfo
from flywheel_assets.ports.lake import LakePort
from glue_jobs.build_ids import BUILD_LEVEL, is_build_id, new_build_id
from glue_jobs.registry import TableSpec
from glue_jobs.transforms import MANIFEST_NAME

__all__ = ["is_build_id", "new_build_id"]

AUDIT_NAME = "_flywheel_audit.json"
BUILD_PARAMETER = "flywheel_build"  # table parameter: the build a table serves


class UnauditedBuildError(RuntimeError):
    """Publishing was asked for a build whose audit did not pass (or never ran)."""


def list_builds(lake: LakePort, snapshot_prefix: str) -> list[str]:
    """Build ids under a ``snapshot_dt=D/`` prefix, oldest first (one listing)."""
    level = f"{BUILD_LEVEL}="
    folders = lake.list_folders(snapshot_prefix)
    ids = [f[len(level) :].rstrip("/") for f in folders if f.startswith(level)]
    return sorted(i for i in ids if is_build_id(i))


def newest_complete_build(lake: LakePort, snapshot_prefix: str) -> str | None:
    """The newest build under a ``snapshot_dt=D/`` prefix whose manifest was written
    (complete data)."""
    for build in reversed(list_builds(lake, snapshot_prefix)):
        if lake.exists(snapshot_prefix + layout.build_folder(build) + MANIFEST_NAME):
            return build
    return None


def latest_build(
    lake: LakePort, settings: Settings, kind: str, table: TableSpec, snapshot: str
) -> str | None:
    """The newest build of ``snapshot`` whose manifest was written (complete data)."""
    return newest_complete_build(
        lake, layout.dataset_snapshot_prefix(settings, kind, table, snapshot)
    )


def build_of(location: str) -> str:
    """The ``build=<id>`` level of a dataset location ("" for the pre-build layout)."""
    for part in reversed(location.rstrip("/").split("/")):
        if part.startswith(f"{BUILD_LEVEL}="):
            return part.split("=", 1)[1]
    return ""


def served_build(info: TableInfo | None) -> str | None:
    """The build a catalog table serves (None: not published by a build)."""
    if info is None:
        return None
    build = info.parameters.get(BUILD_PARAMETER, "")
    return build if is_build_id(build) else None


@dataclass(frozen=True)
class AuditRecord:
    """The audit's verdict on one build, written beside its manifest."""

    dataset: str  # e.g. split_part/ibe_01_a
    snapshot_dt: str
    build: str
    passed: bool
    audited_at: str
    failed_checks: list[str] = field(default_factory=list)
    accepted_drift: bool = False
    run_id: str = ""
    # the drift figures against the month that was in service, and the drift alert
    # lines: the monitor report shows them for the snapshot's newest build
    drift: dict[str, float | int | str | bool | None] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    # the month in service when the build was first audited ({}: none): a re-audit of
    # the build once it is itself in service compares with the same month again
    compared_with: dict[str, str] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AuditRecord:
        doc = json.loads(text)
        return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})


def audit_key(settings: Settings, kind: str, table: TableSpec, snapshot: str, build: str) -> str:
    return layout.dataset_build_prefix(settings, kind, table, snapshot, build) + AUDIT_NAME


def read_audit_at(lake: LakePort, build_prefix: str) -> AuditRecord | None:
    try:
        return AuditRecord.from_json(lake.read_text(build_prefix + AUDIT_NAME))
    except FileNotFoundError:
        return None


def read_audit(
    lake: LakePort, settings: Settings, kind: str, table: TableSpec, snapshot: str, build: str
) -> AuditRecord | None:
    return read_audit_at(lake, layout.dataset_build_prefix(settings, kind, table, snapshot, build))


def require_passed_audit(
    lake: LakePort, settings: Settings, kind: str, table: TableSpec, snapshot: str, build: str
) -> AuditRecord:
    """The gate every publish goes through, also outside the run that audited."""
    prefix = layout.dataset_build_prefix(settings, kind, table, snapshot, build)
    return require_passed_audit_at(lake, prefix, f"{kind}/{table.slug}", snapshot, build)


def require_passed_audit_at(
    lake: LakePort, build_prefix: str, dataset: str, snapshot: str, build: str
) -> AuditRecord:
    """:func:`require_passed_audit` for the build at ``build_prefix`` of ``dataset``."""
    record = read_audit_at(lake, build_prefix)
    if record is None:
        raise UnauditedBuildError(
            f"{dataset} snapshot {snapshot} build {build} has no audit: materialize "
            f"{dataset} with its checks (they gate publishing) before publishing it"
        )
    if not record.passed:
        raise UnauditedBuildError(
            f"{dataset} snapshot {snapshot} build {build} failed its audit "
            f"({', '.join(record.failed_checks)}); the table keeps the snapshot in service"
        )
    return record
