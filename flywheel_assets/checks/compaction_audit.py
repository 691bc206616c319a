"""Write-audit-publish for ``compacted/<source>``: the blocking audit of a compaction build.

Compaction promises the raw snapshot's rows in the reference's number of files; before
anything reads a build (the bucketed pipeline's addressable split, the
``*_compaction_cr`` table) its audit checks exactly that:

* ``row_count_matches_raw``: the rows in the build's parquet footers equal the raw rows
  the writer counted, and the manifest says the same (compaction drops nothing, not even
  exact duplicates);
* ``files_complete``: the build holds exactly the parquet files (count, bytes) its
  manifest recorded;
* ``file_count_sized``: the manifest's target is the reference's sizing of the raw
  snapshot as it lies now (2 files per GB, 1..256) and the build holds 1..target files.

Everything is read from listings and parquet footers (a few KB a file), through the
lake port, so the audit is the same on the local lake and on S3 and never scans data.
The verdict is written beside the manifest (``builds.AuditRecord``), as the split
audits do, and readers require it (``compaction.published_build``).
"""

from __future__ import annotations

from functools import partial

from flywheel_assets import builds, layout
from flywheel_assets.checks import rules
from flywheel_assets.checks.audit import audit_record
from flywheel_assets.checks.rules import RuleResult, Severity
from flywheel_assets.checks.selection import guarded
from flywheel_assets.compaction import dataset_name
from flywheel_assets.platform import Platform
from glue_jobs.raw_files import RawFile, data_files, read_footer
from glue_jobs.transforms import MANIFEST_NAME, Manifest, target_file_count

CHECK_FILE_COUNT = "file_count_sized"
COMPACTION_CHECKS = (rules.CHECK_RAW_ROWS, rules.CHECK_FILES, CHECK_FILE_COUNT)
DESCRIPTIONS = {
    rules.CHECK_RAW_ROWS: "Audit before anything reads the build: the rows in its parquet "
    "footers equal the raw snapshot's rows (compaction keeps every row) and the manifest's "
    "count. ERROR, blocking.",
    rules.CHECK_FILES: "Audit before anything reads the build: it holds exactly the parquet "
    "files (count, bytes) its manifest recorded. ERROR, blocking.",
    CHECK_FILE_COUNT: "Audit before anything reads the build: 1..target files, the target "
    "being the reference's sizing of the raw snapshot (2 files per GB, at most 256). ERROR, "
    "blocking.",
}


def file_count_sized(label: str, files: int, target: int, expected_target: int) -> RuleResult:
    """The build holds 1..``target`` files and ``target`` is the sizing of the raw input
    (a file per target partition; Spark writes none for an empty partition)."""
    passed = target == expected_target and 1 <= files <= target
    summary = f"{files} files for a target of {target}" + (
        "" if target == expected_target else f", the raw snapshot's sizing gives {expected_target}"
    )
    return RuleResult(
        check=CHECK_FILE_COUNT,
        table=label,
        passed=passed,
        severity=Severity.ERROR,
        summary=summary,
        observed=files,
        expected=expected_target,
        threshold=0,
        figures={"target_files": target},
        alerts=() if passed else (f"{rules.ALERT} {label}: file count: {summary}",),
    )


def footer_rows(platform: Platform, prefix: str) -> tuple[int, list[int]]:
    """Rows (from the footers) and sizes of the parquet files under a build."""
    lake = platform.lake
    parquet = [o for o in lake.list_objects(prefix) if o.key.endswith(".parquet")]
    footers = [
        read_footer(RawFile(lake.uri(o.key), o.size, partial(lake.read_range, o.key)))
        for o in parquet
    ]
    return sum(f.rows for f in footers), [o.size for o in parquet]


def raw_bytes(platform: Platform, source: str, snapshot: str) -> int:
    """Bytes of the data files of the raw snapshot (one listing), as the writer sized them."""
    prefix = layout.raw_snapshot_prefix(platform.settings, source, snapshot)
    listing = ((o.key, o.size) for o in platform.lake.list_objects(prefix))
    return sum(size for _, size in data_files(prefix, listing))


def audit_compaction(
    platform: Platform, source: str, snapshot: str, run_id: str = ""
) -> list[RuleResult]:
    """Audit the newest complete build of ``snapshot`` and record the verdict beside it."""
    settings, lake = platform.settings, platform.lake
    label = dataset_name(source)
    snapshot_prefix = layout.compaction_snapshot_prefix(settings, source, snapshot)
    build = builds.newest_complete_build(lake, snapshot_prefix)
    if build is None:
        reason = f"no complete build under {lake.uri(snapshot_prefix)}: it was not written"
        return [rules.not_evaluated(c, label, Severity.ERROR, reason) for c in COMPACTION_CHECKS]
    prefix = snapshot_prefix + layout.build_folder(build)
    manifest = Manifest.from_json(lake.read_text(prefix + MANIFEST_NAME))

    def observe() -> list[RuleResult]:
        counted, sizes = footer_rows(platform, prefix)
        # no exact duplicates are dropped: every raw row must be there
        rows = rules.raw_row_count(label, counted, manifest.row_count, manifest.raw_rows, 0)
        files = rules.files_complete(
            label, manifest.files, manifest.bytes, sizes, manifest.row_count
        )
        target = target_file_count(raw_bytes(platform, source, snapshot))
        sized = file_count_sized(label, len(sizes), manifest.target_files, target)
        return [rows, files, sized]

    results = guarded(COMPACTION_CHECKS, label, observe)
    record = audit_record(label, snapshot, build, results, {}, run_id)
    lake.write_text(prefix + builds.AUDIT_NAME, record.to_json())
    return results
