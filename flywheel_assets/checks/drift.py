"""Drift rules: a new month against the month in service, as pure functions.

Every other rule compares a month with itself (or with tables built from the same
delivery), so a consistent but wrong delivery passes them all: half the rows missing,
the key re-encoded upstream, a column arriving entirely null, a column dropped or
retyped. These rules compare the figures the audit keeps per snapshot (the manifest's
``row_count``, ``distinct_keys``, ``column_nulls``, ``key_sketch``; see
``glue_jobs.transforms.Manifest``) of the new month with those of the month in service:

- ``row_count_drift``: a drop of more than ``max_row_drop_pct`` or a rise of more than
  ``max_row_rise_pct`` blocks (ERROR);
- ``key_retention``: the share of the served month's distinct keys still present, from
  two bottom-k key sketches; below ``min_key_retention_pct`` blocks (ERROR);
- ``null_fraction_drift``: a column's null share rising by more than
  ``null_rise_warn_points`` warns (WARN); a column entirely null where it was not
  blocks (ERROR);
- ``schema_drift``: columns added, removed or retyped are named; removed or retyped
  blocks (ERROR), added passes.

The first snapshot of a table (no month in service, also a table new in the registry)
passes with "no previous snapshot". A figure the served snapshot did not measure (an
older manifest) makes its rule pass saying so; a new snapshot without the figure fails
as not evaluated, because the build always measures it. ``drift_results(...,
accepted=True)`` is the run's ``--accept-drift``: blocking failures pass, marked.
Alert lines start with ``[DRIFT]`` and name the table.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flywheel_assets.checks.rules import (
    MAX_EXAMPLES,
    Figure,
    RuleResult,
    Severity,
    markdown_table,
)
from flywheel_assets.config.thresholds import DriftThresholds

if TYPE_CHECKING:
    from glue_jobs.transforms import Manifest

# check names, one per rule (asset check names in Dagster, rule ids in the report)
CHECK_ROW_DRIFT = "row_count_drift"
CHECK_KEY_RETENTION = "key_retention"
CHECK_NULL_DRIFT = "null_fraction_drift"
CHECK_SCHEMA_DRIFT = "schema_drift"
DRIFT_CHECKS = (CHECK_ROW_DRIFT, CHECK_KEY_RETENTION, CHECK_NULL_DRIFT, CHECK_SCHEMA_DRIFT)

DRIFT = "[DRIFT]"
ACCEPTED = "drift accepted by the run (--accept-drift): "
NO_PREVIOUS = "no previous snapshot"
NOT_MEASURED = "not measured in the served snapshot"
MAX_DETAIL_ROWS = 20  # columns listed in the null drift's details table


# ---- figures per snapshot -----------------------------------------------------------


@dataclass(frozen=True)
class SnapshotFigures:
    """What the drift rules know of one snapshot (the manifest's drift figures).

    ``-1`` / empty means not measured (manifests written before the drift audit):
    ``distinct_keys=-1``, ``column_nulls={}``, ``sketch_k=0``. ``key_sketch`` holds the
    ``sketch_k`` smallest distinct 64-bit signed key hashes, ascending; fewer than
    ``sketch_k`` hashes means the sketch holds every key's hash (it is complete).
    """

    snapshot_dt: str
    row_count: int
    distinct_keys: int = -1
    columns: tuple[tuple[str, str], ...] = ()  # (name, type) as written
    column_nulls: Mapping[str, int] = field(default_factory=dict)  # column -> null rows
    key_sketch: tuple[int, ...] = ()
    sketch_k: int = 0

    def __post_init__(self) -> None:
        # the estimator relies on an ascending, distinct sketch; lists from JSON become
        # tuples so the figures stay immutable
        object.__setattr__(self, "key_sketch", tuple(sorted({int(h) for h in self.key_sketch})))
        object.__setattr__(self, "columns", tuple((str(c), str(t)) for c, t in self.columns))
        object.__setattr__(
            self, "column_nulls", {str(c): int(n) for c, n in self.column_nulls.items()}
        )

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> SnapshotFigures:
        return cls(
            snapshot_dt=manifest.snapshot_dt,
            row_count=int(manifest.row_count),
            distinct_keys=int(manifest.distinct_keys),
            columns=tuple(tuple(column) for column in manifest.columns),
            column_nulls=manifest.column_nulls,
            key_sketch=tuple(manifest.key_sketch),
            sketch_k=int(manifest.sketch_k),
        )

    @property
    def has_sketch(self) -> bool:
        """The key sketch was measured (it may be empty: a snapshot without keys)."""
        return self.sketch_k > 0

    @property
    def sketch_complete(self) -> bool:
        """The sketch holds every distinct key's hash (fewer than ``sketch_k`` of them)."""
        return self.has_sketch and len(self.key_sketch) < self.sketch_k

    @property
    def has_null_figures(self) -> bool:
        return self.row_count >= 0 and bool(self.column_nulls)

    def null_fraction(self, column: str) -> float | None:
        """Null rows / rows of ``column``; None when not measured. A snapshot without
        rows holds no null (0.0): the row count rule is the one that sees it."""
        nulls = self.column_nulls.get(column)
        if nulls is None or self.row_count < 0:
            return None
        return nulls / self.row_count if self.row_count else 0.0

    def entirely_null(self, column: str) -> bool:
        """Every row of ``column`` is null (and there are rows)."""
        return self.row_count > 0 and self.column_nulls.get(column) == self.row_count


def bottom_k(hashes: Iterable[int], k: int) -> tuple[int, ...]:
    """The ``k`` smallest distinct hashes, ascending: a bottom-k sketch of a key set.

    Streams with O(k) memory. Sketches merge: the sketch of a union is
    ``bottom_k(chain(sketch_a, sketch_b), k)``, so partial sketches (per task, per file)
    combine into the table's.
    """
    if k < 1:
        raise ValueError(f"a bottom-k sketch needs k >= 1, got {k}")
    heap: list[int] = []  # negated: heap[0] is minus the largest kept hash
    kept: set[int] = set()
    for value in hashes:
        h = int(value)
        if h in kept:
            continue
        if len(heap) < k:
            heapq.heappush(heap, -h)
            kept.add(h)
        elif h < -heap[0]:
            kept.discard(-heapq.heappushpop(heap, -h))
            kept.add(h)
    return tuple(sorted(kept))


# ---- key retention estimate ---------------------------------------------------------


@dataclass(frozen=True)
class RetentionSample:
    """The served keys sampled by the common sketch threshold and how many the new
    month still has."""

    sampled: int  # served hashes at or below the threshold
    retained: int  # of those, present in the new sketch
    exact: bool  # both sketches complete: every served key was compared

    @property
    def fraction(self) -> float:
        return self.retained / self.sampled

    @property
    def std_error(self) -> float:
        """``sqrt(p(1-p)/n)`` over the ``n`` sampled keys; 0 when exact."""
        if self.exact:
            return 0.0
        p = self.fraction
        return math.sqrt(p * (1 - p) / self.sampled)


def _threshold(figures: SnapshotFigures) -> float:
    """The largest hash a sketch is sure to hold every key's hash up to: its k-th
    smallest, or +inf for a complete sketch."""
    if figures.sketch_complete:
        return math.inf
    return figures.key_sketch[figures.sketch_k - 1]


def retention_sample(served: SnapshotFigures, new: SnapshotFigures) -> RetentionSample | None:
    """The sample behind :func:`estimate_retention`; None when not measurable: either
    sketch missing, the served sketch empty, or no served hash below the threshold."""
    if not served.has_sketch or not new.has_sketch or not served.key_sketch:
        return None
    limit = min(_threshold(served), _threshold(new))
    served_part = {h for h in served.key_sketch[: served.sketch_k] if h <= limit}
    if not served_part:
        return None
    new_part = {h for h in new.key_sketch[: new.sketch_k] if h <= limit}
    return RetentionSample(
        sampled=len(served_part),
        retained=len(served_part & new_part),
        exact=served.sketch_complete and new.sketch_complete,
    )


def estimate_retention(served: SnapshotFigures, new: SnapshotFigures) -> float | None:
    """Share (0..1) of the served month's distinct keys present in the new month.

    Consistent hash sampling over the two bottom-k sketches: with ``t`` the smaller of
    the two sketches' k-th smallest hashes (+inf for a complete sketch, one holding
    fewer than k hashes), each sketch holds *every* hash of its key set up to ``t``, so
    ``A_t = {h in A, h <= t}`` is a uniform random sample of the served keys and
    membership in the new month is known exactly for each of them::

        retention ~= |A_t & B_t| / |A_t|

    Exact when both sketches are complete. Otherwise ``|A_t|`` is about ``k`` for two
    months of similar size, and the standard error is about ``sqrt(p(1-p)/k)`` (at most
    ``0.5/sqrt(k)``): k=4096 gives 0.6 points at p=0.8 and 0.78 at p=0.5, an accuracy
    that does not depend on the table's size (less than that: sampling without
    replacement). Hashes are 64-bit, so collisions are negligible below billions of
    keys. Both sketches must use the same hash of the key.

    None when not measurable: a sketch missing (an older manifest), the served month
    without keys, or (a tiny served month against a huge new one) no served hash below
    ``t``. A new month without keys retains 0.
    """
    sample = retention_sample(served, new)
    return None if sample is None else sample.fraction


# ---- shared pieces ------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value:.2f}%"


def _base_figures(served: SnapshotFigures | None, new: SnapshotFigures) -> dict[str, Figure]:
    return {
        "snapshot_dt": new.snapshot_dt,
        "served_snapshot_dt": served.snapshot_dt if served else None,
        "previous_snapshot": served is not None,
    }


def _vs(served: SnapshotFigures) -> str:
    return f"vs served snapshot_dt={served.snapshot_dt}"


def _first_snapshot(
    check: str, table: str, new: SnapshotFigures, observed: Figure, figures: dict[str, Figure]
) -> RuleResult:
    """Nothing in service to compare with: a pass that says so, never a silent skip."""
    return RuleResult(
        check=check,
        table=table,
        passed=True,
        severity=Severity.ERROR,
        summary=f"{NO_PREVIOUS}: snapshot_dt={new.snapshot_dt} is the first of {table} "
        "to be served, nothing to compare with",
        observed=observed,
        figures={**_base_figures(None, new), **figures, "severity": Severity.ERROR.value},
    )


def _served_not_measured(
    check: str,
    table: str,
    served: SnapshotFigures,
    new: SnapshotFigures,
    what: str,
    figures: dict[str, Figure],
) -> RuleResult:
    """The month in service predates the figure (an older manifest): reported, passed."""
    return RuleResult(
        check=check,
        table=table,
        passed=True,
        severity=Severity.ERROR,
        summary=f"{NOT_MEASURED} (snapshot_dt={served.snapshot_dt} has no {what}); "
        "nothing compared",
        figures={
            **_base_figures(served, new),
            **figures,
            "served_measured": False,
            "severity": Severity.ERROR.value,
        },
    )


def _not_evaluated(
    check: str,
    table: str,
    served: SnapshotFigures,
    new: SnapshotFigures,
    what: str,
) -> RuleResult:
    """The new snapshot lacks a figure the build always measures: a blocking failure."""
    reason = f"snapshot_dt={new.snapshot_dt} has no {what} (the build always measures it)"
    return RuleResult(
        check=check,
        table=table,
        passed=False,
        severity=Severity.ERROR,
        summary=f"not evaluated: {reason}",
        figures={
            **_base_figures(served, new),
            "new_measured": False,
            "severity": Severity.ERROR.value,
        },
        alerts=(f"{DRIFT} {table}: {check} not evaluated: {reason}",),
    )


# ---- row count ----------------------------------------------------------------------


def row_count_change_pct(served_rows: int, new_rows: int) -> float | None:
    """``(new - served) * 100 / served``. A served month of 0 rows has no baseline:
    0.0 for another empty month, None (no percentage) for any rows, which is never a
    drop and is not held against the rise limit (a month in service with no rows is
    itself the defect; blocking its replacement would keep it in service)."""
    if served_rows == 0:
        return 0.0 if new_rows == 0 else None
    return (new_rows - served_rows) * 100 / served_rows


def row_count_drift(
    table: str,
    served: SnapshotFigures | None,
    new: SnapshotFigures,
    thresholds: DriftThresholds,
) -> RuleResult:
    """Rows vs the month in service: a drop of more than ``max_row_drop_pct`` % or a rise
    of more than ``max_row_rise_pct`` % blocks (exactly at the limit passes)."""
    drop, rise = thresholds.max_row_drop_pct, thresholds.max_row_rise_pct
    limits: dict[str, Figure] = {"max_row_drop_pct": drop, "max_row_rise_pct": rise}
    if served is None:
        return _first_snapshot(
            CHECK_ROW_DRIFT,
            table,
            new,
            observed=new.row_count,
            figures={"row_count": new.row_count, "row_count_change_pct": None, **limits},
        )
    if new.row_count < 0:
        return _not_evaluated(CHECK_ROW_DRIFT, table, served, new, "row count")
    if served.row_count < 0:
        return _served_not_measured(
            CHECK_ROW_DRIFT, table, served, new, "row count", {"row_count": new.row_count}
        )
    change = row_count_change_pct(served.row_count, new.row_count)
    dropped = change is not None and change < -drop
    rose = change is not None and change > rise
    passed = not dropped and not rose
    moved = f"{served.row_count} → {new.row_count} rows"
    if change is None:
        summary = (
            f"{moved} {_vs(served)}: the served month has no rows, no baseline "
            "(not a drop; no rise percentage)"
        )
    else:
        summary = f"{moved} ({change:+.2f}%) {_vs(served)}"
        if dropped:
            summary += f": a drop of more than {drop}% blocks"
        elif rose:
            summary += f": a rise of more than {rise}% blocks"
        else:
            summary += f", within -{drop}%/+{rise}%"
    return RuleResult(
        check=CHECK_ROW_DRIFT,
        table=table,
        passed=passed,
        severity=Severity.ERROR,
        summary=summary,
        observed=new.row_count,
        expected=served.row_count,
        threshold=rise if change is not None and change > 0 else drop,
        figures={
            **_base_figures(served, new),
            "row_count": new.row_count,
            "served_row_count": served.row_count,
            "row_count_change": new.row_count - served.row_count,
            "row_count_change_pct": None if change is None else round(change, 4),
            **limits,
            "severity": Severity.ERROR.value,
        },
        alerts=() if passed else (f"{DRIFT} {table}: row count {summary}",),
    )


# ---- key retention ------------------------------------------------------------------


def key_retention(
    table: str,
    served: SnapshotFigures | None,
    new: SnapshotFigures,
    thresholds: DriftThresholds,
) -> RuleResult:
    """Share of the served month's distinct keys still present (estimated from the key
    sketches, see :func:`estimate_retention`): below ``min_key_retention_pct`` blocks.
    A re-encoded key keeps the row count and loses every key."""
    minimum = thresholds.min_key_retention_pct
    keys: dict[str, Figure] = {"distinct_keys": new.distinct_keys}
    if served is None:
        return _first_snapshot(
            CHECK_KEY_RETENTION,
            table,
            new,
            observed=None,
            figures={**keys, "key_retention_pct": None, "min_key_retention_pct": minimum},
        )
    if not new.has_sketch:
        return _not_evaluated(CHECK_KEY_RETENTION, table, served, new, "key sketch")
    if not served.has_sketch:
        return _served_not_measured(CHECK_KEY_RETENTION, table, served, new, "key sketch", keys)
    figures: dict[str, Figure] = {
        **_base_figures(served, new),
        **keys,
        "served_distinct_keys": served.distinct_keys,
        "sketch_k": new.sketch_k,
        "served_sketch_k": served.sketch_k,
        "min_key_retention_pct": minimum,
    }
    if not served.key_sketch:
        return _nothing_to_retain(table, served, figures)
    sample = retention_sample(served, new)
    if sample is None:
        return _retention_not_measurable(table, served, new, minimum, figures)
    return _retention_measured(table, served, sample, minimum, figures)


def _nothing_to_retain(
    table: str, served: SnapshotFigures, figures: dict[str, Figure]
) -> RuleResult:
    """The served month had no keys: nothing can be lost, the rule passes."""
    return RuleResult(
        check=CHECK_KEY_RETENTION,
        table=table,
        passed=True,
        severity=Severity.ERROR,
        summary=f"served snapshot_dt={served.snapshot_dt} has no keys: nothing to retain",
        figures={**figures, "key_retention_pct": None, "severity": Severity.ERROR.value},
    )


def _retention_not_measurable(
    table: str,
    served: SnapshotFigures,
    new: SnapshotFigures,
    minimum: float,
    figures: dict[str, Figure],
) -> RuleResult:
    """No served hash below the sketches' common threshold (a tiny served month against a
    huge new one): retention cannot be measured, which blocks."""
    reason = (
        f"no key of served snapshot_dt={served.snapshot_dt} hashes below the sketches' "
        f"common threshold ({len(served.key_sketch)} served hashes, new month of "
        f"{new.distinct_keys} keys); retention not measurable"
    )
    return RuleResult(
        check=CHECK_KEY_RETENTION,
        table=table,
        passed=False,
        severity=Severity.ERROR,
        summary=f"not evaluated: {reason}",
        threshold=minimum,
        figures={**figures, "key_retention_pct": None, "severity": Severity.ERROR.value},
        alerts=(f"{DRIFT} {table}: {CHECK_KEY_RETENTION} not evaluated: {reason}",),
    )


def _retention_measured(
    table: str,
    served: SnapshotFigures,
    sample: RetentionSample,
    minimum: float,
    figures: dict[str, Figure],
) -> RuleResult:
    """The estimate against ``minimum``, with its standard error (0 when exact)."""
    retention = sample.retained * 100 / sample.sampled
    error = sample.std_error * 100
    passed = retention >= minimum
    how = (
        f"exact, {sample.sampled} keys"
        if sample.exact
        else f"± {error:.2f} from {sample.sampled} sampled keys"
    )
    summary = (
        f"{_pct(retention)} of the keys of served snapshot_dt={served.snapshot_dt} still "
        f"present ({how})"
        + ("" if passed else f": below {minimum}% blocks (key re-encoded or rows lost?)")
    )
    estimated = round(sample.fraction * served.distinct_keys) if served.distinct_keys >= 0 else None
    return RuleResult(
        check=CHECK_KEY_RETENTION,
        table=table,
        passed=passed,
        severity=Severity.ERROR,
        summary=summary,
        observed=round(retention, 4),
        expected=100.0,
        threshold=minimum,
        figures={
            **figures,
            "key_retention_pct": round(retention, 4),
            "key_retention_std_error_pct": round(error, 4),
            "key_retention_exact": sample.exact,
            "keys_sampled": sample.sampled,
            "keys_sampled_retained": sample.retained,
            "keys_retained_estimate": estimated,
            "severity": Severity.ERROR.value,
        },
        alerts=() if passed else (f"{DRIFT} {table}: key retention {summary}",),
    )


# ---- null fractions -----------------------------------------------------------------


@dataclass(frozen=True)
class _NullChange:
    column: str
    served_pct: float
    new_pct: float
    all_null: bool  # entirely null now, not in the served month

    @property
    def rise(self) -> float:
        return self.new_pct - self.served_pct

    def __str__(self) -> str:
        return f"{self.column} {_pct(self.served_pct)}→{_pct(self.new_pct)}"


def _null_changes(served: SnapshotFigures, new: SnapshotFigures) -> list[_NullChange]:
    """Columns measured in both snapshots, in the new snapshot's column order."""
    names = [c for c, _ in new.columns if c in new.column_nulls]
    names += [c for c in new.column_nulls if c not in set(names)]
    changes = []
    for column in names:
        if column not in served.column_nulls:
            continue
        changes.append(
            _NullChange(
                column=column,
                served_pct=_null_pct(served, column),
                new_pct=_null_pct(new, column),
                all_null=new.entirely_null(column) and not served.entirely_null(column),
            )
        )
    return changes


def _null_pct(figures: SnapshotFigures, column: str) -> float:
    """Null share in % (``nulls * 100 / rows``, one rounding: 2500 of 10000 is 25.0)."""
    rows = figures.row_count
    return figures.column_nulls[column] * 100 / rows if rows else 0.0


def null_fraction_drift(
    table: str,
    served: SnapshotFigures | None,
    new: SnapshotFigures,
    thresholds: DriftThresholds,
) -> RuleResult:
    """Per column, the null share against the month in service: a column entirely null
    where it was not blocks (ERROR); a share rising by more than
    ``null_rise_warn_points`` percentage points warns (WARN, not blocking). Columns
    measured in only one snapshot are schema drift's business."""
    points = thresholds.null_rise_warn_points
    if served is None:
        return _first_snapshot(
            CHECK_NULL_DRIFT,
            table,
            new,
            observed=None,
            figures={
                "columns_measured": len(new.column_nulls),
                "max_null_rise_points": None,
                "null_rise_warn_points": points,
            },
        )
    if not new.has_null_figures:
        return _not_evaluated(CHECK_NULL_DRIFT, table, served, new, "null counts per column")
    if not served.has_null_figures:
        return _served_not_measured(
            CHECK_NULL_DRIFT,
            table,
            served,
            new,
            "null counts per column",
            {"columns_measured": len(new.column_nulls)},
        )
    return _null_drift_result(table, served, new, _null_changes(served, new), points)


def _null_drift_problems(
    all_null: list[_NullChange], rising: list[_NullChange], points: float
) -> list[str]:
    """One line per kind of problem, each naming its columns (empty: none)."""
    parts = []
    if all_null:
        parts.append("entirely null: " + ", ".join(str(c) for c in all_null))
    if rising:
        parts.append(
            f"null share up more than {points} points: " + ", ".join(str(c) for c in rising)
        )
    return parts


def _null_details(changes: list[_NullChange], rising: list[_NullChange]) -> str:
    """The Markdown table of the columns, largest rise first, at most
    :data:`MAX_DETAIL_ROWS` of them (empty: nothing compared)."""
    ordered = sorted(changes, key=lambda c: c.rise, reverse=True)
    if not ordered:
        return ""
    details = markdown_table(
        ("column", "served null %", "new null %", "rise (points)", "flag"),
        [
            (
                c.column,
                f"{c.served_pct:.2f}",
                f"{c.new_pct:.2f}",
                f"{c.rise:+.2f}",
                "entirely null" if c.all_null else ("rise" if c in rising else ""),
            )
            for c in ordered[:MAX_DETAIL_ROWS]
        ],
    )
    if len(ordered) > MAX_DETAIL_ROWS:
        details += f"\n\n{len(ordered) - MAX_DETAIL_ROWS} more columns rose less."
    return details


def _null_drift_result(
    table: str,
    served: SnapshotFigures,
    new: SnapshotFigures,
    changes: list[_NullChange],
    points: float,
) -> RuleResult:
    """The verdict on the compared columns: an entirely null one blocks, a rise beyond
    ``points`` alone warns."""
    all_null = [c for c in changes if c.all_null]
    rising = [c for c in changes if not c.all_null and c.rise > points]
    top = max(changes, key=lambda c: c.rise, default=None)
    passed = not all_null and not rising
    severity = Severity.WARN if rising and not all_null else Severity.ERROR
    parts = _null_drift_problems(all_null, rising, points)
    if passed:
        worst = f", largest rise {top.rise:+.2f} points ({top})" if top else ""
        summary = (
            f"{len(changes)} columns compared {_vs(served)}, none entirely null, none up more "
            f"than {points} points{worst}"
        )
    else:
        summary = "; ".join(parts) + f" ({_vs(served)})"
    max_rise = round(top.rise, 4) if top else None
    return RuleResult(
        check=CHECK_NULL_DRIFT,
        table=table,
        passed=passed,
        severity=severity,
        summary=summary,
        observed=max_rise,
        expected=0.0,
        threshold=points,
        figures={
            **_base_figures(served, new),
            "columns_compared": len(changes),
            "max_null_rise_points": max_rise,
            "max_null_rise_column": top.column if top else None,
            "columns_null_rise": len(rising),
            "columns_entirely_null": len(all_null),
            "null_rise_warn_points": points,
            "severity": severity.value,
        },
        examples=tuple(str(c) for c in [*all_null, *rising][:MAX_EXAMPLES]),
        alerts=() if passed else tuple(f"{DRIFT} {table}: {p} ({_vs(served)})" for p in parts),
        details=_null_details(changes, rising),
    )


# ---- schema -------------------------------------------------------------------------


def _type(kind: str) -> str:
    return "".join(kind.split()).lower()


def schema_drift(
    table: str,
    served: SnapshotFigures | None,
    new: SnapshotFigures,
    thresholds: DriftThresholds,
) -> RuleResult:
    """Columns against the month in service, named: added (reported, passes), removed
    or retyped (ERROR, blocks). Names compare case-insensitively, as the catalogs do;
    types modulo case and spaces. ``thresholds`` is unused (no threshold: any removed
    or retyped column blocks) and kept for a uniform signature."""
    del thresholds
    if served is None:
        return _first_snapshot(
            CHECK_SCHEMA_DRIFT,
            table,
            new,
            observed=0,
            figures={"columns": len(new.columns), "columns_added": 0},
        )
    if not new.columns:
        return _not_evaluated(CHECK_SCHEMA_DRIFT, table, served, new, "column list")
    if not served.columns:
        return _served_not_measured(
            CHECK_SCHEMA_DRIFT, table, served, new, "column list", {"columns": len(new.columns)}
        )
    old = {name.lower(): (name, kind) for name, kind in served.columns}
    now = {name.lower(): (name, kind) for name, kind in new.columns}
    added = [f"{name} {kind}" for key, (name, kind) in now.items() if key not in old]
    removed = [f"{name} {kind}" for key, (name, kind) in old.items() if key not in now]
    retyped = [
        f"{name} {kind}→{now[key][1]}"
        for key, (name, kind) in old.items()
        if key in now and _type(kind) != _type(now[key][1])
    ]
    passed = not removed and not retyped
    parts = [
        f"{label} {', '.join(names)}"
        for label, names in (("removed", removed), ("retyped", retyped), ("added", added))
        if names
    ]
    summary = (
        "; ".join(parts) if parts else f"{len(now)} columns, unchanged"
    ) + f" ({_vs(served)})"
    return RuleResult(
        check=CHECK_SCHEMA_DRIFT,
        table=table,
        passed=passed,
        severity=Severity.ERROR,
        summary=summary,
        observed=len(removed) + len(retyped),
        expected=0,
        threshold=0,
        figures={
            **_base_figures(served, new),
            "columns": len(now),
            "served_columns": len(old),
            "columns_added": len(added),
            "columns_removed": len(removed),
            "columns_retyped": len(retyped),
            "added_columns": ", ".join(added),
            "removed_columns": ", ".join(removed),
            "retyped_columns": ", ".join(retyped),
            "severity": Severity.ERROR.value,
        },
        examples=tuple(
            [f"removed {c}" for c in removed]
            + [f"retyped {c}" for c in retyped]
            + [f"added {c}" for c in added]
        )[:MAX_EXAMPLES],
        alerts=() if passed else (f"{DRIFT} {table}: schema drift: {summary}",),
    )


# ---- all four, and the override -----------------------------------------------------


def accept_drift(result: RuleResult) -> RuleResult:
    """The run's ``--accept-drift``: a blocking (ERROR) failure passes, marked as
    accepted in its summary, its figures (``drift_accepted``) and its alert lines (kept,
    so the alert still names the table). Passes and warnings are returned unchanged."""
    if result.passed or result.severity is not Severity.ERROR:
        return result

    def accepted(line: str) -> str:
        rest = line[len(DRIFT) :].lstrip() if line.startswith(DRIFT) else line
        return f"{DRIFT} accepted {rest}"

    return dataclasses.replace(
        result,
        passed=True,
        summary=ACCEPTED + result.summary,
        figures={**result.figures, "drift_accepted": True},
        alerts=tuple(accepted(line) for line in result.alerts),
    )


def drift_results(
    table: str,
    served: SnapshotFigures | None,
    new: SnapshotFigures,
    thresholds: DriftThresholds,
    accepted: bool = False,
) -> list[RuleResult]:
    """Every drift rule on ``new`` against ``served`` (None: nothing in service), in
    :data:`DRIFT_CHECKS` order; ``accepted`` applies :func:`accept_drift` to each."""
    results = [
        rule(table, served, new, thresholds)
        for rule in (row_count_drift, key_retention, null_fraction_drift, schema_drift)
    ]
    return [accept_drift(r) for r in results] if accepted else results
