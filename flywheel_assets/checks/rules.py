"""The data monitor's rules as pure functions: observations in, :class:`RuleResult` out.

Each rule exists once and serves three callers: the Dagster asset checks on ``part_*``
tables, the write-audit-publish checks on ``split_part/<table>`` and the monitor
report. Nothing here touches a port, so every rule is unit-tested without Spark, AWS
or Dagster. Alert lines use the monitor spec's prefixes and formats (``[COUNT_MISMATCH]``,
``[PK_NULL]``, ``[PK_DUPES]``; ``[ALERT]`` for partition, schema, freshness and
file-size problems, as in the spec's troubleshooting section).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from flywheel_assets.snapshots import SnapshotError, parse_snapshot

# check names, one per rule (asset check names in Dagster, rule ids in the report)
CHECK_STORAGE = "storage_partitions_complete"
CHECK_CATALOG = "catalog_partitions_registered"
CHECK_FRESHNESS = "snapshot_fresh"
CHECK_SCHEMA = "schema_contract"
CHECK_COUNT = "count_matches_source"
CHECK_PK_NULL = "pk_not_null"
CHECK_PK_DUPES = "pk_unique"
CHECK_FILE_SIZE = "file_sizes_in_range"
CHECK_RAW_ROWS = "row_count_matches_raw"  # write-audit-publish only
CHECK_FILES = "files_complete"  # write-audit-publish only

ALERT = "[ALERT]"
COUNT_MISMATCH = "[COUNT_MISMATCH]"
PK_NULL = "[PK_NULL]"
PK_DUPES = "[PK_DUPES]"

PARTITION_KEY = "id_bucket"
PARTITION_KEY_TYPES = ("int", "integer")
EXTERNAL_TABLE = "EXTERNAL_TABLE"
MAX_EXAMPLES = 10
FILE_SIZE_SAMPLE_PARTITIONS = 5  # the spec: "samples files from up to 5 partitions"
FILE_SIZE_MAX_ISSUES = 20  # the spec: "sample of first 20 issues found"
MB = 1024 * 1024

_BUCKET_FOLDER = re.compile(rf"^{PARTITION_KEY}=(\d+)/?$")


class Severity(StrEnum):
    ERROR = "ERROR"
    WARN = "WARN"


Figure = int | float | str | bool | None


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict on one table, with the figures that justify it.

    ``observed`` / ``expected`` / ``threshold`` are what a reader compares first;
    ``figures`` holds the rest (also the report's per-table fields); ``examples`` lists
    up to 10 offending keys or partitions; ``alerts`` are the spec-format alert lines
    (empty when the rule passed).
    """

    check: str
    table: str
    passed: bool
    severity: Severity
    summary: str
    observed: Figure = None
    expected: Figure = None
    threshold: Figure = None
    figures: Mapping[str, Figure] = field(default_factory=dict)
    examples: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    details: str = ""  # Markdown, when a rule has more to show than figures


def not_evaluated(check: str, table: str, severity: Severity, reason: str) -> RuleResult:
    """A rule that could not run: a failure, never a silent pass."""
    return RuleResult(
        check=check,
        table=table,
        passed=False,
        severity=severity,
        summary=f"not evaluated: {reason}",
        alerts=(f"{ALERT} {table}: {check} not evaluated: {reason}",),
    )


# ---- storage partitions -------------------------------------------------------------


def parse_bucket_folders(folders: Iterable[str]) -> tuple[set[int], list[str]]:
    """``id_bucket=N/`` folder names -> bucket numbers, plus names that are not buckets.

    Hidden folders (``_temporary/``, ``.spark-staging/``) are ignored as readers do.
    """
    buckets: set[int] = set()
    other: list[str] = []
    for name in folders:
        if name.startswith(("_", ".")):
            continue
        match = _BUCKET_FOLDER.match(name)
        if match:
            buckets.add(int(match.group(1)))
        else:
            other.append(name.rstrip("/"))
    return buckets, sorted(other)


def _bucket_list(buckets: Sequence[int]) -> str:
    shown = ", ".join(str(b) for b in buckets[:MAX_EXAMPLES])
    return shown + (", ..." if len(buckets) > MAX_EXAMPLES else "")


def storage_partitions(table: str, folders: Iterable[str], bucket_count: int) -> RuleResult:
    """All ``bucket_count`` ``id_bucket=*`` folders exist (from one delimited listing)."""
    found, other = parse_bucket_folders(folders)
    expected = set(range(bucket_count))
    missing = sorted(expected - found)
    unexpected = [f"{PARTITION_KEY}={b}" for b in sorted(found - expected)] + other
    present = len(found & expected)
    alerts = []
    if missing:
        alerts.append(
            f"{ALERT} {table}: S3 missing {len(missing)} partitions "
            f"({PARTITION_KEY}={_bucket_list(missing)})"
        )
    if unexpected:
        alerts.append(
            f"{ALERT} {table}: {len(unexpected)} unexpected folders beside the "
            f"{bucket_count} partitions ({', '.join(unexpected[:MAX_EXAMPLES])})"
        )
    summary = (
        f"{present}/{bucket_count} {PARTITION_KEY} partitions in storage"
        + (f", missing {PARTITION_KEY}={_bucket_list(missing)}" if missing else "")
        + (f", {len(unexpected)} unexpected folders" if unexpected else "")
    )
    return RuleResult(
        check=CHECK_STORAGE,
        table=table,
        passed=not missing and not unexpected,
        severity=Severity.ERROR,
        summary=summary,
        observed=present,
        expected=bucket_count,
        threshold=0,
        figures={
            "s3_partitions": present,
            "missing_partitions": len(missing),
            "unexpected_folders": len(unexpected),
        },
        examples=tuple(f"{PARTITION_KEY}={b}" for b in missing[:MAX_EXAMPLES])
        + tuple(unexpected[: max(0, MAX_EXAMPLES - len(missing))]),
        alerts=tuple(alerts),
    )


# ---- catalog partitions -------------------------------------------------------------


def normalize_location(uri: str) -> str:
    """Locations compare modulo Hadoop's ``file:/`` spelling, ``s3a``/``s3`` and the
    trailing slash (the catalogs store all of these variants)."""
    uri = uri.strip()
    if uri.startswith("s3a://"):
        uri = "s3://" + uri[len("s3a://") :]
    if uri.startswith("file:///"):
        uri = "file:/" + uri[len("file:///") :]
    return uri.rstrip("/")


@dataclass(frozen=True)
class PartitionGaps:
    """How the registered partitions compare with the snapshot's bucket directories."""

    registered: int  # partitions registered at all (any location)
    unregistered: tuple[int, ...]  # expected buckets without a registration
    stale: tuple[int, ...]  # registered, but pointing outside the snapshot directory
    repairable: tuple[int, ...]  # unregistered buckets whose directory exists in storage

    @property
    def ok(self) -> bool:
        return not self.unregistered and not self.stale


def partition_gaps(
    registered: Mapping[str, str],
    expected_locations: Mapping[int, str],
    storage_buckets: Collection[int],
) -> PartitionGaps:
    """Compare ``value -> location`` registrations with ``bucket -> location`` wanted."""
    by_bucket: dict[int, str] = {}
    for value, location in registered.items():
        try:
            by_bucket[int(value)] = location
        except ValueError:
            continue
    unregistered = tuple(b for b in sorted(expected_locations) if b not in by_bucket)
    stale = tuple(
        b
        for b in sorted(expected_locations)
        if b in by_bucket
        and normalize_location(by_bucket[b]) != normalize_location(expected_locations[b])
    )
    return PartitionGaps(
        registered=len(registered),
        unregistered=unregistered,
        stale=stale,
        repairable=tuple(b for b in unregistered if b in storage_buckets),
    )


def catalog_partitions(
    table: str,
    bucket_count: int,
    before: PartitionGaps,
    after: PartitionGaps,
    auto_repair: str,
    snapshot: str,
    served_snapshot: str | None,
) -> RuleResult:
    """Every bucket is registered and points into the snapshot directory, after the
    optional repair. ``missing_glue_count`` is the spec's figure (in storage, not in the
    catalog) as found *before* the repair; ``repaired`` says what the repair fixed."""
    repaired = len(before.unregistered) - len(after.unregistered)
    ok_now = bucket_count - len(after.unregistered) - len(after.stale)
    alerts = []
    if after.unregistered:
        alerts.append(f"{ALERT} {table}: Glue missing {len(after.unregistered)} partitions")
    if after.stale:
        serves = f" (table serves snapshot_dt={served_snapshot})" if served_snapshot else ""
        alerts.append(
            f"{ALERT} {table}: {len(after.stale)} partitions point outside "
            f"snapshot_dt={snapshot}{serves}"
        )
    parts = [f"{ok_now}/{bucket_count} partitions registered for snapshot_dt={snapshot}"]
    if after.unregistered:
        parts.append(f"unregistered {PARTITION_KEY}={_bucket_list(list(after.unregistered))}")
    if after.stale:
        parts.append(f"{len(after.stale)} point elsewhere (serves {served_snapshot or '?'})")
    if repaired:
        parts.append(f"auto_repair={auto_repair} registered {repaired}")
    return RuleResult(
        check=CHECK_CATALOG,
        table=table,
        passed=after.ok,
        severity=Severity.ERROR,
        summary=", ".join(parts),
        observed=ok_now,
        expected=bucket_count,
        threshold=0,
        figures={
            "glue_partitions": before.registered,
            "missing_glue_count": len(before.repairable),
            "unregistered_before_repair": len(before.unregistered),
            "repaired": repaired,
            "unregistered": len(after.unregistered),
            "stale": len(after.stale),
            "auto_repair": auto_repair,
            "projection": False,
        },
        examples=tuple(
            f"{PARTITION_KEY}={b}" for b in (after.unregistered + after.stale)[:MAX_EXAMPLES]
        ),
        alerts=tuple(alerts),
    )


def projection_enabled(parameters: Mapping[str, str]) -> bool:
    return str(parameters.get("projection.enabled", "")).strip().lower() == "true"


def projection_partitions(
    table: str,
    parameters: Mapping[str, str],
    bucket_count: int,
    table_location: str,
    snapshot_location: str,
) -> RuleResult:
    """Partition projection (virtual partitions): the projection parameters must
    describe exactly ``0..bucket_count-1`` integer buckets inside the snapshot."""
    key = f"projection.{PARTITION_KEY}"
    problems = []
    kind = parameters.get(f"{key}.type", "")
    if kind.strip().lower() != "integer":
        problems.append(f"{key}.type={kind!r}, expected 'integer'")
    raw_range = parameters.get(f"{key}.range", "")
    projected = 0
    try:
        low, high = (int(v) for v in raw_range.split(","))
        projected = max(0, high - low + 1)
        if (low, high) != (0, bucket_count - 1):
            problems.append(f"{key}.range={raw_range!r}, expected '0,{bucket_count - 1}'")
    except ValueError:
        problems.append(f"{key}.range={raw_range!r} is not 'low,high'")
    template = parameters.get("storage.location.template")
    if template is not None:
        placeholder = "${" + PARTITION_KEY + "}"
        wanted = f"{snapshot_location.rstrip('/')}/{PARTITION_KEY}={placeholder}"
        if normalize_location(template) != normalize_location(wanted):
            problems.append(f"storage.location.template={template!r}, expected {wanted!r}")
    elif normalize_location(table_location) != normalize_location(snapshot_location):
        problems.append(f"table location {table_location!r} is not the snapshot directory")
    alerts = tuple(f"{ALERT} {table}: partition projection: {p}" for p in problems)
    return RuleResult(
        check=CHECK_CATALOG,
        table=table,
        passed=not problems,
        severity=Severity.ERROR,
        summary="partition projection "
        + ("valid" if not problems else "invalid: " + "; ".join(problems)),
        observed=projected,
        expected=bucket_count,
        threshold=0,
        figures={
            "glue_partitions": projected,
            "missing_glue_count": 0,
            "repaired": 0,
            "projection": True,
        },
        alerts=alerts,
    )


# ---- freshness ----------------------------------------------------------------------


def freshness(
    table: str,
    marker_text: str | None,
    latest_raw_snapshot: str | None,
    as_of: dt.date,
    window_days: int,
    strict: bool,
) -> RuleResult:
    """``snapshot_dt.txt`` present, a valid date, at most ``window_days`` old on
    ``as_of`` and not behind the newest complete raw input snapshot. ``strict`` makes a
    failure an ERROR (the spec's ``--strict_snapshot``), otherwise a WARN."""
    severity = Severity.ERROR if strict else Severity.WARN
    problems: list[str] = []
    value = marker_text.strip() if marker_text is not None else None
    processed: dt.date | None = None
    if value is None:
        problems.append("snapshot_dt.txt is missing")
    else:
        try:
            processed = parse_snapshot(value)
        except SnapshotError:
            problems.append(f"snapshot_dt.txt holds {value!r}, not a YYYY-MM-DD date")
    age = (as_of - processed).days if processed else None
    if age is not None and age > window_days:
        problems.append(f"snapshot {value} is {age} days old (window {window_days} days)")
    if processed and latest_raw_snapshot and parse_snapshot(latest_raw_snapshot) > processed:
        problems.append(f"snapshot {value} is behind raw input snapshot {latest_raw_snapshot}")
    alerts = (
        (f"{ALERT} {table}: processed snapshot too old/missing: " + "; ".join(problems),)
        if problems
        else ()
    )
    return RuleResult(
        check=CHECK_FRESHNESS,
        table=table,
        passed=not problems,
        severity=severity,
        summary="; ".join(problems) or f"snapshot {value} is {age} days old",
        observed=value if processed else None,
        expected=latest_raw_snapshot,
        threshold=window_days,
        figures={
            "raw_input_snapshot_dt": value,
            "age_days": age,
            "as_of": as_of.isoformat(),
            "latest_raw_snapshot_dt": latest_raw_snapshot,
            "strict_snapshot": strict,
        },
        alerts=alerts,
    )


# ---- schema contract ----------------------------------------------------------------


@dataclass(frozen=True)
class TableShape:
    """The parts of a catalog table the schema contract looks at."""

    table_type: str
    serde: str
    input_format: str
    data_columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]


def schema_contract(table: str, shape: TableShape | None, pk_column: str) -> RuleResult:
    """EXTERNAL_TABLE, parquet SerDe and input format (``table_type_ok``);
    ``pk_column`` a data column and ``id_bucket`` the only partition key, INT
    (``contract_ok``)."""
    if shape is None:
        return RuleResult(
            check=CHECK_SCHEMA,
            table=table,
            passed=False,
            severity=Severity.ERROR,
            summary="table is not in the catalog",
            observed=1,
            expected=0,
            threshold=0,
            figures={"table_type_ok": False, "contract_ok": False},
            alerts=(f"{ALERT} {table}: schema: table is not in the catalog",),
        )
    data_names = [c for c, _ in shape.data_columns]
    keys = [(c, t.lower()) for c, t in shape.partition_keys]
    requirements = [
        # (requirement, expected, actual, ok, part of the table-type half)
        ("table type", EXTERNAL_TABLE, shape.table_type, shape.table_type == EXTERNAL_TABLE, True),
        ("SerDe", "parquet", shape.serde, "parquet" in shape.serde.lower(), True),
        (
            "input format",
            "parquet",
            shape.input_format,
            "parquet" in shape.input_format.lower(),
            True,
        ),
        (
            f"{pk_column} data column",
            "present",
            "present" if pk_column in data_names else "absent",
            pk_column in data_names,
            False,
        ),
        (
            "partition keys",
            f"{PARTITION_KEY} int",
            ", ".join(f"{c} {t}" for c, t in keys) or "(none)",
            len(keys) == 1 and keys[0][0] == PARTITION_KEY and keys[0][1] in PARTITION_KEY_TYPES,
            False,
        ),
    ]
    failed = [r for r in requirements if not r[3]]
    table_type_ok = all(r[3] for r in requirements if r[4])
    contract_ok = all(r[3] for r in requirements if not r[4])
    problems = [f"{name} is {actual!r}, expected {want}" for name, want, actual, _, _ in failed]
    return RuleResult(
        check=CHECK_SCHEMA,
        table=table,
        passed=not failed,
        severity=Severity.ERROR,
        summary="; ".join(problems) or "EXTERNAL_TABLE, parquet, contract holds",
        observed=len(failed),
        expected=0,
        threshold=0,
        figures={
            "table_type_ok": table_type_ok,
            "contract_ok": contract_ok,
            "table_type": shape.table_type,
            "serde": shape.serde,
            "input_format": shape.input_format,
        },
        alerts=tuple(f"{ALERT} {table}: schema: {p}" for p in problems),
        details=markdown_table(
            ("requirement", "expected", "actual", "ok"),
            [(n, w, a, "yes" if ok else "NO") for n, w, a, ok, _ in requirements],
        ),
    )


# ---- counts and keys ----------------------------------------------------------------


def count_diff_pct(count_part: int, count_src: int) -> float:
    """The spec's ``|count_part - count_src| * 100 / count_src``; an empty source is
    0% off an empty table and 100% off anything else (the spec leaves it undefined)."""
    if count_src == 0:
        return 0.0 if count_part == 0 else 100.0
    return abs(count_part - count_src) * 100 / count_src


def count_match(
    table: str,
    part_fqn: str,
    source_fqn: str,
    count_part: int,
    count_src: int,
    tolerance_pct: float,
) -> RuleResult:
    diff = count_diff_pct(count_part, count_src)
    passed = diff <= tolerance_pct
    figures = {
        "count_part": count_part,
        "count_src": count_src,
        "count_diff_pct": f"{diff:.6f}",
        "difference": count_part - count_src,
        "source": source_fqn,
    }
    line = f"{part_fqn}={count_part} vs {source_fqn}={count_src} (Δ={diff:.6f}%)"
    return RuleResult(
        check=CHECK_COUNT,
        table=table,
        passed=passed,
        severity=Severity.ERROR,
        summary=line + ("" if passed else f" exceeds tolerance {tolerance_pct}%"),
        observed=count_part,
        expected=count_src,
        threshold=float(tolerance_pct),
        figures=figures,
        alerts=() if passed else (f"{COUNT_MISMATCH} {table}: {line}",),
    )


def count_source_missing(table: str, source_fqn: str) -> RuleResult:
    """No source table to compare with: reported (WARN), never a silent pass."""
    return RuleResult(
        check=CHECK_COUNT,
        table=table,
        passed=False,
        severity=Severity.WARN,
        summary=f"count source {source_fqn} is not in the catalog; nothing compared",
        observed=None,
        expected=None,
        figures={"count_src": None, "count_diff_pct": "", "source": source_fqn},
        alerts=(f"{ALERT} {table}: count source {source_fqn} not found, count not compared",),
    )


def pk_nulls(
    table: str, pk_column: str, nulls: int, count_part: int, examples: Sequence[str] = ()
) -> RuleResult:
    """The spec's ``COUNT(*) WHERE pk IS NULL`` must be 0."""
    passed = nulls == 0
    return RuleResult(
        check=CHECK_PK_NULL,
        table=table,
        passed=passed,
        severity=Severity.ERROR,
        summary=f"{pk_column} NULL rows={nulls} of {count_part}",
        observed=nulls,
        expected=0,
        threshold=0,
        figures={"pk_nulls": nulls, "count_part": count_part, "pk_column": pk_column},
        examples=tuple(examples[:MAX_EXAMPLES]),
        alerts=() if passed else (f"{PK_NULL} {table}: {pk_column} NULL rows={nulls}",),
    )


def pk_dupes(
    table: str, pk_column: str, dupes: int, count_part: int, examples: Sequence[str] = ()
) -> RuleResult:
    """The spec's duplicate figure, ``SUM(c)`` over keys seen more than once (SQL
    groups NULLs together, so two NULL keys count as duplicates too, as in the spec)."""
    passed = dupes == 0
    return RuleResult(
        check=CHECK_PK_DUPES,
        table=table,
        passed=passed,
        severity=Severity.ERROR,
        summary=f"{pk_column} duplicate rows={dupes} of {count_part}",
        observed=dupes,
        expected=0,
        threshold=0,
        figures={"pk_dupes": dupes, "count_part": count_part, "pk_column": pk_column},
        examples=tuple(examples[:MAX_EXAMPLES]),
        alerts=() if passed else (f"{PK_DUPES} {table}: {pk_column} duplicate rows={dupes}",),
    )


def raw_row_count(
    table: str, counted: int, manifest_rows: int, raw_rows: int, duplicates_dropped: int
) -> RuleResult:
    """Write-audit-publish: the written rows equal the raw rows less the exact
    duplicates dropped, counted from the files and as the manifest recorded."""
    expected = raw_rows - duplicates_dropped
    passed = counted == expected and manifest_rows == expected
    summary = (
        f"{counted} rows written, raw {raw_rows} - {duplicates_dropped} exact duplicates "
        f"= {expected}" + ("" if manifest_rows == counted else f", manifest says {manifest_rows}")
    )
    return RuleResult(
        check=CHECK_RAW_ROWS,
        table=table,
        passed=passed,
        severity=Severity.ERROR,
        summary=summary,
        observed=counted,
        expected=expected,
        threshold=0,
        figures={
            "raw_rows": raw_rows,
            "duplicates_dropped": duplicates_dropped,
            "manifest_row_count": manifest_rows,
        },
        alerts=() if passed else (f"{ALERT} {table}: row count: {summary}",),
    )


def files_complete(
    table: str, manifest_files: int, manifest_bytes: int, found: Sequence[int], rows: int
) -> RuleResult:
    """Write-audit-publish: the build holds exactly the parquet files its manifest
    recorded (count and bytes), and rows imply at least one file."""
    files, size = len(found), sum(found)
    passed = files == manifest_files and size == manifest_bytes and (files > 0 or rows == 0)
    summary = f"{files} parquet files ({size} bytes) in the build, manifest says " + (
        f"{manifest_files} ({manifest_bytes} bytes)"
    )
    return RuleResult(
        check=CHECK_FILES,
        table=table,
        passed=passed,
        severity=Severity.ERROR,
        summary=summary,
        observed=files,
        expected=manifest_files,
        threshold=0,
        figures={"bytes": size, "manifest_bytes": manifest_bytes},
        alerts=() if passed else (f"{ALERT} {table}: files: {summary}",),
    )


# ---- file sizes ---------------------------------------------------------------------


def file_sizes(
    table: str,
    files: Sequence[tuple[str, int]],
    min_mb: float,
    max_mb: float,
    partitions_sampled: int,
) -> RuleResult:
    """Files of the sampled partitions lie within ``[min_mb, max_mb]``; the first 20
    issues become the report's ``file_issues_sample``."""
    issues = []
    for name, size in files:
        size_mb = size / MB
        if size_mb < min_mb:
            issues.append(f"{name}={size_mb:.3f}MB<{min_mb}MB")
        elif size_mb > max_mb:
            issues.append(f"{name}={size_mb:.3f}MB>{max_mb}MB")
    sample = "; ".join(issues[:FILE_SIZE_MAX_ISSUES])
    passed = not issues
    return RuleResult(
        check=CHECK_FILE_SIZE,
        table=table,
        passed=passed,
        severity=Severity.WARN,
        summary=f"{len(issues)} of {len(files)} files in {partitions_sampled} sampled "
        f"partitions outside {min_mb}-{max_mb} MB",
        observed=len(issues),
        expected=0,
        threshold=f"{min_mb}-{max_mb} MB",
        figures={
            "file_issues_sample": sample,
            "files_sampled": len(files),
            "partitions_sampled": partitions_sampled,
            "min_mb": min_mb,
            "max_mb": max_mb,
        },
        examples=tuple(issues[:MAX_EXAMPLES]),
        alerts=() if passed else (f"{ALERT} {table}: file size issues: {sample}",),
    )


# ---- presentation -------------------------------------------------------------------


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
