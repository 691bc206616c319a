"""Retention: delete old snapshot directories, never one a catalog table still reads.

Every dataset keeps one immutable directory per snapshot (``.../snapshot_dt=D/``), so
rollback is cheap but storage grows. ``retention_job`` keeps the newest
``retention_snapshots`` complete snapshots of every dataset and deletes older ones,
except those any table or partition in the database points into (checked through the
catalog port at run time, so a rolled-back table protects its directory). Dry run is
the default on AWS profiles (``retention_dry_run``): the plan is logged and attached
as metadata, nothing is deleted.

Within a kept snapshot, superseded builds (``build=<id>/``: a rebuild of the month, or
a build whose audit failed) are deleted too, except the newest build (it may be in
progress or about to be published) and any build a table points into.

A deleted ``split_part`` snapshot leaves the table's history (``part_<table>_history``)
with it: its partitions of that month are dropped first, then its data. References from
history do not protect a whole snapshot (history holds what retention keeps), but they
do protect a superseded build an older month's history still reads.

Safety rules: folders that are not ``snapshot_dt=YYYY-MM-DD/`` are never touched;
incomplete snapshots (no manifest) neither count towards N nor get deleted when newer
than the kept ones (they may be in progress); a catalog that cannot be read fails the
job before anything is deleted.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import dagster as dg

from flywheel_assets import layout
from flywheel_assets.builds import list_builds
from flywheel_assets.compaction import dataset_name
from flywheel_assets.layout import build_folder
from flywheel_assets.platform import Platform
from flywheel_assets.snapshots import SnapshotError, snapshot_folder, snapshot_from_folder
from glue_jobs.registry import SOURCES
from glue_jobs.transforms import MANIFEST_NAME

RETENTION_JOB_NAME = "retention_job"


@dataclass(frozen=True)
class Dataset:
    """One dataset root holding ``snapshot_dt=D/`` directories."""

    name: str  # e.g. split_part/IBE_01_A
    root: str  # bucket-relative key ending with "/"
    has_manifest: bool  # split datasets write one; bucketed CTAS output does not
    history: str = ""  # the table whose partitions of a snapshot go with it (split_part)


@dataclass(frozen=True)
class SnapshotDir:
    dataset: str
    snapshot: str
    prefix: str
    uri: str
    history: str = ""  # drop this table's partitions of the snapshot before deleting


@dataclass
class RetentionPlan:
    keep: int
    kept: list[SnapshotDir] = field(default_factory=list)
    protected: list[tuple[SnapshotDir, tuple[str, ...]]] = field(default_factory=list)
    delete: list[SnapshotDir] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # folders that are not snapshots

    def summary(self) -> dict[str, object]:
        return {
            "keep": self.keep,
            "kept": len(self.kept),
            "protected": [
                {"dir": d.uri, "referenced_by": list(tables)} for d, tables in self.protected
            ],
            "delete": [d.uri for d in self.delete],
            "history": [f"{d.history}[snapshot_dt={d.snapshot}]" for d in self.delete if d.history],
            "ignored": self.ignored,
        }


def datasets(platform: Platform) -> list[Dataset]:
    """split_part roots of the partitioned pipeline's tables (with their history tables),
    split_cluster and bucketed roots of the bucketed pipeline's."""
    settings, registries = platform.settings, platform.registries
    found = [
        Dataset(
            f"split_part/{t.name}",
            layout.dataset_root(settings, "split_part", t),
            True,
            history=t.history_table,
        )
        for t in registries.split_part
    ]
    for table in registries.split_cluster:
        found.append(
            Dataset(
                f"split_cluster/{table.name}",
                layout.dataset_root(settings, "split_cluster", table),
                True,
            )
        )
        found.append(
            Dataset(f"bucketed/{table.slug}", f"{settings.bucketed_prefix}{table.slug}/", False)
        )
    # compacted/<source>: superseded builds go; a snapshot its *_compaction_cr table
    # lists stays (the table keeps every compacted month, as the crawler's did)
    for source in SOURCES:
        found.append(Dataset(dataset_name(source), layout.compaction_root(settings, source), True))
    return found


def canonical(uri: str) -> str:
    """Location in one spelling: ``s3a://``/``s3n://`` -> ``s3://``, Hadoop's ``file:/x``
    -> ``file:///x``, always ending with ``/`` so prefix tests stop at folder bounds."""
    for scheme in ("s3a://", "s3n://"):
        if uri.startswith(scheme):
            uri = "s3://" + uri[len(scheme) :]
    if uri.startswith("file:") and not uri.startswith("file:///"):
        uri = "file:///" + uri[len("file:") :].lstrip("/")
    return uri.rstrip("/") + "/"


def catalog_locations(platform: Platform) -> dict[str, list[str]]:
    """Canonical location -> tables (and partitions) that point there, whole database."""
    catalog, database = platform.catalog, platform.database
    found: dict[str, list[str]] = {}
    for name in catalog.list_tables(database):
        info = catalog.get_table(database, name)
        if info is None:
            continue
        if info.location:
            found.setdefault(canonical(info.location), []).append(name)
        if info.partition_keys:
            keys = [c.name for c in info.partition_keys]
            for value, location in catalog.list_partitions(database, name).items():
                if location:  # list_partitions joins a multi-key table's values with "/"
                    pairs = zip(keys, value.split("/"), strict=True)
                    spec = "/".join(f"{k}={v}" for k, v in pairs)
                    found.setdefault(canonical(location), []).append(f"{name}[{spec}]")
    return found


def referencing(directory: str, locations: dict[str, list[str]]) -> tuple[str, ...]:
    """Tables whose location lies in ``directory`` (a canonical folder URI)."""
    tables = {t for loc, names in locations.items() if loc.startswith(directory) for t in names}
    return tuple(sorted(tables))


def _snapshots(platform: Platform, dataset: Dataset, ignored: list[str]) -> Iterator[str]:
    for folder in platform.lake.list_folders(dataset.root):
        try:
            yield snapshot_from_folder(folder)
        except SnapshotError:
            ignored.append(f"{platform.lake.uri(dataset.root + folder)} (not a snapshot folder)")


def _complete(platform: Platform, dataset: Dataset, prefix: str) -> bool:
    """A snapshot counts towards N once one of its builds (or the pre-build layout)
    holds a manifest; bucketed CTAS output has none and always counts."""
    lake = platform.lake
    if not dataset.has_manifest or lake.exists(prefix + MANIFEST_NAME):
        return True
    return any(
        lake.exists(prefix + build_folder(b) + MANIFEST_NAME) for b in list_builds(lake, prefix)
    )


def superseded_builds(
    platform: Platform, entry: SnapshotDir, locations: dict[str, list[str]]
) -> list[SnapshotDir]:
    """Builds of a kept snapshot nobody needs: not the newest, not pointed into."""
    lake = platform.lake
    old = list_builds(lake, entry.prefix)[:-1]
    found = []
    for build in old:
        prefix = entry.prefix + build_folder(build)
        uri = lake.uri(prefix)
        if not referencing(canonical(uri), locations):
            found.append(SnapshotDir(entry.dataset, entry.snapshot, prefix, uri))
    return found


def plan_retention(platform: Platform, keep: int) -> RetentionPlan:
    """What to keep, protect and delete; reads the lake and the catalog, changes nothing."""
    if keep < 1:
        raise ValueError(f"retention_snapshots={keep}: keep at least the snapshot in service")
    lake = platform.lake
    plan = RetentionPlan(keep=keep)
    cache: list[dict[str, list[str]]] = []  # the catalog, read once and only when needed

    def locations() -> dict[str, list[str]]:
        if not cache:
            cache.append(catalog_locations(platform))
        return cache[0]

    for dataset in datasets(platform):
        newest_first = sorted(_snapshots(platform, dataset, plan.ignored), reverse=True)
        complete_seen = 0
        for snapshot in newest_first:
            prefix = dataset.root + snapshot_folder(snapshot)
            entry = SnapshotDir(dataset.name, snapshot, prefix, lake.uri(prefix))
            if complete_seen < keep:
                plan.kept.append(entry)  # newest N complete, and anything newer
                complete_seen += _complete(platform, dataset, prefix)
                if len(list_builds(lake, prefix)) > 1:
                    plan.delete += superseded_builds(platform, entry, locations())
                continue
            # history goes with the snapshot: only other tables protect it
            tables = tuple(
                t
                for t in referencing(canonical(entry.uri), locations())
                if not (dataset.history and t.startswith(f"{dataset.history}["))
            )
            if tables:
                plan.protected.append((entry, tables))
            else:
                plan.delete.append(replace(entry, history=dataset.history))
    return plan


def apply_retention(platform: Platform, plan: RetentionPlan, dry_run: bool, log) -> int:
    """Delete the planned directories (unless ``dry_run``); return objects deleted."""
    deleted = 0
    for entry in plan.delete:
        history = f"{entry.history}[snapshot_dt={entry.snapshot}]"
        if dry_run:
            if entry.history:
                log.info(f"[dry run] would drop the partitions of {history}")
            log.info(f"[dry run] would delete {entry.uri}")
            continue
        if entry.history:  # first: a history partition never points at deleted data
            dropped = platform.catalog.drop_partition_group(
                platform.database, entry.history, entry.snapshot
            )
            log.info(f"dropped {dropped} partitions of {history}")
        count = platform.lake.delete_prefix(entry.prefix)
        deleted += count
        log.info(f"deleted {entry.uri} ({count} objects)")
    for entry, tables in plan.protected:
        log.info(f"kept {entry.uri}: still referenced by {', '.join(tables)}")
    return deleted


class RetentionConfig(dg.Config):
    """Overrides for one run; unset values come from the profile."""

    dry_run: bool | None = None
    keep: int | None = None


@dg.op(
    description="Plan and apply the snapshot retention policy (see flywheel_assets.automation).",
)
def enforce_retention(
    context: dg.OpExecutionContext, config: RetentionConfig, platform: dg.ResourceParam[Platform]
) -> dg.Output[dict]:
    settings = platform.settings
    keep = config.keep if config.keep is not None else settings.retention_snapshots
    dry_run = config.dry_run if config.dry_run is not None else settings.retention_dry_run
    plan = plan_retention(platform, keep)
    deleted = apply_retention(platform, plan, dry_run, context.log)
    summary = {**plan.summary(), "dry_run": dry_run, "objects_deleted": deleted}
    rows = ["| directory | action |", "| --- | --- |"]
    action = "would delete (dry run)" if dry_run else "deleted"
    rows += [
        f"| {d.uri} | {action}"
        + (f", with {d.history}'s partitions of it" if d.history else "")
        + " |"
        for d in plan.delete
    ]
    rows += [f"| {d.uri} | kept: {', '.join(t)} |" for d, t in plan.protected]
    return dg.Output(
        summary,
        metadata={
            "dry_run": dry_run,
            "keep": keep,
            "directories_kept": len(plan.kept),
            "directories_protected": len(plan.protected),
            "directories_to_delete" if dry_run else "directories_deleted": len(plan.delete),
            "objects_deleted": deleted,
            "plan": dg.MetadataValue.md("\n".join(rows)),
            "details": dg.MetadataValue.json(summary),
        },
    )


@dg.job(
    name=RETENTION_JOB_NAME,
    description=(
        "Delete snapshot directories older than the newest retention_snapshots of each "
        "dataset unless a catalog table points into them (dry run on AWS by default)."
    ),
    tags={"flywheel/kind": "retention"},
)
def retention_job() -> None:
    enforce_retention()
