"""The monitor's observer: what one published ``part_*`` table looks like, judged by the rules.

:class:`TableMonitor` gathers what the rules in :mod:`flywheel_assets.checks.rules`
need for one ``part_*`` table and one snapshot: one delimited listing of the snapshot
directory, the catalog's view of the table, one SQL statement for counts and keys, and
returns a :class:`TableEvaluation`. The monitor's asset checks and its report both call
it, so every figure is computed by the same code wherever it is shown. Which tables and
rules a run selects is ``checks/selection.py``; the gate that audits a build before it
is published is ``checks/audit.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property, partial

from flywheel_assets import builds, layout
from flywheel_assets.builds import AuditRecord
from flywheel_assets.checks import rules
from flywheel_assets.checks.rules import RuleResult, Severity
from flywheel_assets.checks.selection import KEY_CHECKS, MONITOR_ORDER, guarded, rule_severity
from flywheel_assets.checks.sql import (
    KeyProfile,
    key_examples,
    key_profile_sql,
    parse_key_profile,
    table_name,
)
from flywheel_assets.config.settings import Settings
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import TableInfo
from flywheel_assets.ports.lake import LakePort
from flywheel_assets.snapshots import SnapshotError, parse_snapshot, snapshot_from_folder
from glue_jobs.registry import PARTITION_COLUMN, TableSpec

_SNAPSHOT_IN_LOCATION = re.compile(r"snapshot_dt=(\d{4}-\d{2}-\d{2})")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def served_snapshot(info: TableInfo) -> str | None:
    """The snapshot a table serves: its ``snapshot_dt`` parameter, else its location."""
    if info.parameters.get("snapshot_dt"):
        return info.parameters["snapshot_dt"]
    match = _SNAPSHOT_IN_LOCATION.search(info.location)
    return match.group(1) if match else None


def latest_raw_snapshot(lake: LakePort, settings: Settings, source: str) -> str | None:
    """Newest complete raw snapshot of ``source``: one delimited listing, then a
    marker lookup from the newest folder down (a delivery still in flight is skipped)."""
    snapshots = []
    for folder in lake.list_folders(settings.raw_prefix(source)):
        try:
            snapshots.append(snapshot_from_folder(folder))
        except SnapshotError:
            continue
    for snapshot in sorted(snapshots, reverse=True):
        prefix = layout.raw_snapshot_prefix(settings, source, snapshot)
        if lake.exists(prefix + settings.snapshot_marker):
            return snapshot
    return None


def freshness_as_of(settings: Settings, latest_raw: str | None, now: dt.datetime) -> dt.date:
    """The day freshness is judged on: today on AWS profiles. The local lake replays
    dated sample snapshots (the demo's is 2025-01-15), so there "today" is the newest
    raw snapshot; otherwise every local run would be stale by construction."""
    if settings.is_local and latest_raw:
        return parse_snapshot(latest_raw)
    return now.astimezone(dt.UTC).date()


def bucket_location(lake: LakePort, snapshot_prefix: str, bucket: int) -> str:
    return lake.uri(f"{snapshot_prefix}{PARTITION_COLUMN}={bucket}/")


@dataclass(frozen=True)
class TableEvaluation:
    """Every applicable rule's result for one table and snapshot."""

    table: str
    snapshot: str
    location: str
    checked_at: str
    results: tuple[RuleResult, ...]
    audit: AuditRecord | None = None  # the snapshot's newest split_part build's audit

    def get(self, check: str) -> RuleResult | None:
        return next((r for r in self.results if r.check == check), None)

    @property
    def alerts(self) -> list[str]:
        """The rules' alert lines, then the drift audit's (a blocked or accepted month
        is named in the report and its alert, not only in the check failure alert)."""
        drifted = list(self.audit.alerts) if self.audit is not None else []
        return [a for r in self.results for a in r.alerts] + drifted


class TableMonitor:
    """The monitor for one ``part_*`` table and one snapshot; observations are cached,
    so each port call happens once however many rules use it."""

    def __init__(
        self, platform: Platform, table: TableSpec, snapshot: str, now: dt.datetime
    ) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.table = table
        self.snapshot = snapshot
        self.now = now
        self.name = table.part_table

    # ---- observations -------------------------------------------------------------

    @cached_property
    def snapshot_prefix(self) -> str:
        """The build the table serves when it serves this snapshot, else the newest
        build of the snapshot (what would be published), else the pre-build layout."""
        settings, lake = self.settings, self.platform.lake
        build = builds.served_build(self.info) if self.served == self.snapshot else None
        build = build or builds.latest_build(
            lake, settings, "split_part", self.table, self.snapshot
        )
        return layout.dataset_build_prefix(settings, "split_part", self.table, self.snapshot, build)

    @cached_property
    def info(self) -> TableInfo | None:
        return self.platform.catalog.get_table(self.platform.database, self.name)

    @cached_property
    def folders(self) -> list[str]:
        """One delimited listing of the snapshot directory (not every object)."""
        return self.platform.lake.list_folders(self.snapshot_prefix)

    @cached_property
    def storage_buckets(self) -> set[int]:
        return rules.parse_bucket_folders(self.folders)[0]

    @property
    def served(self) -> str | None:
        return served_snapshot(self.info) if self.info is not None else None

    def _not_in_service(self) -> str | None:
        if self.info is None:
            return f"{self.platform.database}.{self.name} is not in the catalog"
        if self.served != self.snapshot:
            return f"{self.name} serves snapshot_dt={self.served}, not {self.snapshot}"
        return None

    # ---- rules --------------------------------------------------------------------

    def storage(self) -> RuleResult:
        return rules.storage_partitions(self.name, self.folders, self.settings.bucket_count)

    def catalog(self) -> RuleResult:
        """Registered partitions, repaired first when ``auto_repair`` allows it. A table
        serving another snapshot is never repaired (its partitions are not missing,
        they belong to the snapshot in service)."""
        info, settings, catalog = self.info, self.settings, self.platform.catalog
        if info is None:
            return rules.not_evaluated(
                rules.CHECK_CATALOG, self.name, Severity.ERROR, self._not_in_service() or ""
            )
        lake, database, count = self.platform.lake, self.platform.database, settings.bucket_count
        if rules.projection_enabled(info.parameters):
            return rules.projection_partitions(
                self.name,
                info.parameters,
                count,
                info.location,
                lake.uri(self.snapshot_prefix),
            )
        expected = {b: bucket_location(lake, self.snapshot_prefix, b) for b in range(count)}
        before = rules.partition_gaps(
            catalog.list_partitions(database, self.name), expected, self.storage_buckets
        )
        after = before
        mode = settings.auto_repair
        if mode != "off" and before.repairable and not before.stale and not self._not_in_service():
            if mode == "athena":
                self.platform.sql.msck_repair(database, self.name)
            else:  # glue: register exactly the missing ones, in batches of 100
                catalog.add_partitions(
                    database, self.name, {str(b): expected[b] for b in before.repairable}
                )
            after = rules.partition_gaps(
                catalog.list_partitions(database, self.name), expected, self.storage_buckets
            )
        return rules.catalog_partitions(
            self.name, count, before, after, mode, self.snapshot, self.served
        )

    def freshness(self) -> RuleResult:
        settings, lake = self.settings, self.platform.lake
        marker = layout.snapshot_marker_key(settings, "split_part", self.table.source)
        try:
            text: str | None = lake.read_text(marker)
        except FileNotFoundError:
            text = None
        latest = latest_raw_snapshot(lake, settings, self.table.source)
        return rules.freshness(
            self.name,
            text,
            latest,
            freshness_as_of(settings, latest, self.now),
            settings.freshness_window_days,
            settings.strict_snapshot,
        )

    def schema(self) -> RuleResult:
        info = self.info
        shape = (
            None
            if info is None
            else rules.TableShape(
                table_type=info.table_type,
                serde=info.serde,
                input_format=info.input_format,
                data_columns=tuple((c.name, c.type) for c in info.columns),
                partition_keys=tuple((c.name, c.type) for c in info.partition_keys),
            )
        )
        return rules.schema_contract(self.name, shape, self.settings.pk_column)

    def _source(self) -> tuple[str, bool]:
        settings = self.settings
        database = settings.compare_database or self.platform.database
        name = f"{settings.compare_source_type}_{self.table.slug}"
        try:
            exists = self.platform.catalog.get_table(database, name) is not None
        except LookupError:  # e.g. the compare database itself is missing
            exists = False
        return table_name(database, name), exists

    def keys(self, wanted: Collection[str]) -> list[RuleResult]:
        """Counts, NULL keys and duplicates from one statement over the pk column (the
        source's COUNT(*) joined in); example keys only when a problem exists."""
        reason = self._not_in_service()
        if reason:  # the SQL would read another snapshot's rows
            return [rules.not_evaluated(c, self.name, Severity.WARN, reason) for c in wanted]
        settings, sql = self.settings, self.platform.sql
        pk = settings.pk_column
        relation = table_name(self.platform.database, self.name)
        source, source_exists = self._source() if rules.CHECK_COUNT in wanted else (None, False)
        profile: KeyProfile = parse_key_profile(
            sql.query(key_profile_sql(relation, pk, source if source_exists else None))
        )
        results = []
        if rules.CHECK_COUNT in wanted:
            assert source is not None
            results.append(
                rules.count_match(
                    self.name,
                    relation,
                    source,
                    profile.count_part,
                    int(profile.count_src or 0),
                    settings.count_tolerance_pct,
                )
                if source_exists
                else rules.count_source_missing(self.name, source)
            )
        nulls, dupes = key_examples(
            sql.query,
            relation,
            pk,
            profile,
            nulls=rules.CHECK_PK_NULL in wanted,
            dupes=rules.CHECK_PK_DUPES in wanted,
        )
        if rules.CHECK_PK_NULL in wanted:
            results.append(
                rules.pk_nulls(self.name, pk, profile.pk_nulls, profile.count_part, nulls)
            )
        if rules.CHECK_PK_DUPES in wanted:
            results.append(
                rules.pk_dupes(self.name, pk, profile.pk_dupes, profile.count_part, dupes)
            )
        return results

    def file_sizes(self) -> RuleResult:
        """Files of the first (up to) 5 bucket folders, hidden files excluded."""
        settings, lake, prefix = self.settings, self.platform.lake, self.snapshot_prefix
        sampled = sorted(self.storage_buckets)[: rules.FILE_SIZE_SAMPLE_PARTITIONS]
        files = []
        for bucket in sampled:
            for obj in lake.list_objects(f"{prefix}{PARTITION_COLUMN}={bucket}/"):
                if not obj.key.rsplit("/", 1)[-1].startswith(("_", ".")):
                    files.append((obj.key[len(prefix) :], obj.size))
        return rules.file_sizes(
            self.name, files, settings.file_size_min_mb, settings.file_size_max_mb, len(sampled)
        )

    # ---- all together -------------------------------------------------------------

    def evaluate(self, checks: Collection[str]) -> TableEvaluation:
        """Apply ``checks`` in the monitor's order: storage before catalog (the repair
        needs the listing), catalog before the SQL (a repair makes rows visible)."""
        single = {
            rules.CHECK_STORAGE: self.storage,
            rules.CHECK_CATALOG: self.catalog,
            rules.CHECK_FRESHNESS: self.freshness,
            rules.CHECK_SCHEMA: self.schema,
            rules.CHECK_FILE_SIZE: self.file_sizes,
        }
        results: list[RuleResult] = []
        wanted_keys = [c for c in KEY_CHECKS if c in checks]
        severity = partial(rule_severity, settings=self.settings)
        for check in MONITOR_ORDER:
            if check not in checks:
                continue
            if check in single:
                results += guarded([check], self.name, lambda c=check: [single[c]()], severity)
            elif check == wanted_keys[0]:
                results += guarded(wanted_keys, self.name, lambda: self.keys(wanted_keys), severity)
        try:
            info = self.info
        except Exception:  # noqa: BLE001 - already reported by the rules that needed it
            info = None
        return TableEvaluation(
            table=self.name,
            snapshot=self.snapshot,
            location=info.location if info is not None else "",
            checked_at=iso_utc(self.now),
            results=tuple(results),
            audit=self.audit(),
        )

    def audit(self) -> AuditRecord | None:
        """The audit of the snapshot's newest build (None: none written or audited)."""
        settings, lake = self.settings, self.platform.lake
        try:
            build = builds.latest_build(lake, settings, "split_part", self.table, self.snapshot)
            if build is None:
                return None
            return builds.read_audit(lake, settings, "split_part", self.table, self.snapshot, build)
        except Exception:  # noqa: BLE001 - the report still lists the table's rules
            return None
