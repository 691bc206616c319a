"""The drift rules as pure functions: each at, just inside and just outside its default
threshold, custom thresholds, the first snapshot, older manifests, the key retention
estimate and the --accept-drift override. No Spark, no Dagster."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from itertools import chain

import pytest

from flywheel_assets.checks import drift
from flywheel_assets.checks.drift import SnapshotFigures, bottom_k, estimate_retention
from flywheel_assets.checks.rules import Severity
from flywheel_assets.config.thresholds import DriftThresholds
from glue_jobs.transforms import Manifest

T = "part_ibe_01_a"
SERVED_DT = "2025-01-15"
NEW_DT = "2025-02-15"
VS = f"vs served snapshot_dt={SERVED_DT}"
DEFAULT = DriftThresholds()
ROWS = 10_000
COLUMNS = (("customer_user_id", "string"), ("age", "int"), ("email", "string"))
NULLS = {"customer_user_id": 0, "age": 100, "email": 0}


def hashes(count: int, seed: int) -> list[int]:
    """Distinct random 64-bit signed ints, as a key hash would give."""
    rng = random.Random(seed)
    seen: set[int] = set()
    while len(seen) < count:
        seen.add(rng.getrandbits(64) - 2**63)
    return list(seen)


KEYS = hashes(ROWS, seed=1)
OTHER_KEYS = hashes(ROWS, seed=2)  # disjoint from KEYS (2^-64 per pair)
COMPLETE_K = 16_384  # more than ROWS: the sketches hold every key, the estimate is exact


def snap(
    snapshot_dt: str = NEW_DT,
    rows: int = ROWS,
    *,
    columns: tuple[tuple[str, str], ...] = COLUMNS,
    nulls: dict[str, int] | None = None,
    keys: list[int] | None = None,
    k: int = COMPLETE_K,
) -> SnapshotFigures:
    keys = KEYS if keys is None else keys
    return SnapshotFigures(
        snapshot_dt=snapshot_dt,
        row_count=rows,
        distinct_keys=len(keys),
        columns=columns,
        column_nulls=NULLS if nulls is None else nulls,
        key_sketch=bottom_k(keys, k) if k else (),
        sketch_k=k,
    )


SERVED = snap(SERVED_DT)


# ---- row count ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "passed", "change"),
    [
        (8_000, True, -20.0),  # exactly a 20 % drop: at the limit passes
        (7_999, False, -20.01),  # just above a 20 % drop blocks
        (15_000, True, 50.0),  # exactly a 50 % rise passes
        (15_001, False, 50.01),  # just above a 50 % rise blocks
        (10_500, True, 5.0),  # an ordinary month
        (10_000, True, 0.0),
        (0, False, -100.0),  # an empty delivery
    ],
)
def test_row_count_drift_at_and_around_the_default_limits(rows, passed, change):
    result = drift.row_count_drift(T, SERVED, snap(rows=rows), DEFAULT)
    assert result.check == drift.CHECK_ROW_DRIFT and result.severity is Severity.ERROR
    assert result.passed is passed
    assert result.figures["row_count_change_pct"] == pytest.approx(change)
    assert result.observed == rows and result.expected == ROWS
    assert result.threshold == (50.0 if change > 0 else 20.0)
    assert result.figures["served_row_count"] == ROWS and result.figures["row_count"] == rows
    assert result.figures["severity"] == "ERROR"
    assert bool(result.alerts) is not passed


def test_row_count_drop_alert_line_names_table_counts_change_and_limit():
    result = drift.row_count_drift(T, SERVED, snap(rows=6_000), DEFAULT)
    assert result.summary == f"10000 → 6000 rows (-40.00%) {VS}: a drop of more than 20.0% blocks"
    assert result.alerts == (
        f"[DRIFT] {T}: row count 10000 → 6000 rows (-40.00%) {VS}: "
        "a drop of more than 20.0% blocks",
    )


def test_row_count_rise_alert_line():
    result = drift.row_count_drift(T, SERVED, snap(rows=16_000), DEFAULT)
    assert result.alerts == (
        f"[DRIFT] {T}: row count 10000 → 16000 rows (+60.00%) {VS}: "
        "a rise of more than 50.0% blocks",
    )


@pytest.mark.parametrize(
    ("rows", "passed"), [(9_500, True), (9_499, False), (11_000, True), (11_001, False)]
)
def test_row_count_drift_custom_thresholds(rows, passed):
    strict = DriftThresholds(max_row_drop_pct=5.0, max_row_rise_pct=10.0)
    result = drift.row_count_drift(T, SERVED, snap(rows=rows), strict)
    assert result.passed is passed
    assert result.figures["max_row_drop_pct"] == 5.0 and result.figures["max_row_rise_pct"] == 10.0


def test_row_count_a_served_month_without_rows_is_no_baseline():
    # any rows after an empty month are not a drop, and have no rise percentage
    result = drift.row_count_drift(T, snap(SERVED_DT, rows=0), snap(rows=300), DEFAULT)
    assert result.passed and result.figures["row_count_change_pct"] is None
    assert "no baseline" in result.summary and not result.alerts
    both_empty = drift.row_count_drift(T, snap(SERVED_DT, rows=0), snap(rows=0), DEFAULT)
    assert both_empty.passed and both_empty.figures["row_count_change_pct"] == 0.0


def test_row_count_change_pct():
    assert drift.row_count_change_pct(10_000, 8_000) == -20.0
    assert drift.row_count_change_pct(10_000, 15_000) == 50.0
    assert drift.row_count_change_pct(0, 0) == 0.0
    assert drift.row_count_change_pct(0, 5) is None


# ---- key retention: the estimator ---------------------------------------------------


def test_bottom_k_is_the_k_smallest_distinct_ascending():
    assert bottom_k([5, -3, 5, 9, -3, 0, 7], 3) == (-3, 0, 5)
    assert bottom_k([2, 1, 2], 10) == (1, 2)  # fewer than k: every hash (complete)
    assert bottom_k([], 4) == ()
    population = hashes(5_000, seed=3)
    assert bottom_k(population, 100) == tuple(sorted(population)[:100])
    # sketches merge: the sketch of a union is the bottom-k of the two sketches
    a, b = population[:3_000], population[2_000:]
    assert bottom_k(chain(bottom_k(a, 100), bottom_k(b, 100)), 100) == bottom_k(population, 100)
    with pytest.raises(ValueError, match="k >= 1"):
        bottom_k([1], 0)


def test_retention_exact_on_small_complete_sets():
    served = snap(SERVED_DT, keys=[1, 2, 3, 4, 5], k=8)
    assert estimate_retention(served, snap(keys=[1, 2, 3, 4, 5], k=8)) == 1.0
    assert estimate_retention(served, snap(keys=[1, 2, 3, 4, 9, 10], k=8)) == 0.8
    assert estimate_retention(served, snap(keys=[6, 7], k=8)) == 0.0
    sample = drift.retention_sample(served, snap(keys=[2, 4, 11], k=8))
    assert sample == drift.RetentionSample(sampled=5, retained=2, exact=True)
    assert sample.std_error == 0.0


def test_retention_not_measurable_is_none_and_no_keys_retains_nothing():
    assert estimate_retention(snap(SERVED_DT, k=0), snap()) is None  # older manifest
    assert estimate_retention(SERVED, snap(k=0)) is None
    assert estimate_retention(snap(SERVED_DT, keys=[], k=8), snap()) is None  # nothing served
    assert estimate_retention(SERVED, snap(keys=[], k=8)) == 0.0  # the new month has no keys


def test_retention_of_an_unchanged_population_is_exactly_one_from_partial_sketches():
    population = hashes(50_000, seed=4)
    sample = drift.retention_sample(
        snap(SERVED_DT, keys=population, k=1024), snap(keys=population[::-1], k=1024)
    )
    assert sample.fraction == 1.0 and sample.sampled == 1024 and not sample.exact


def _population(total: int, retained: float, seed: int) -> tuple[list[int], list[int]]:
    """A served month of ``total`` keys and a new month of the same size keeping
    ``retained`` of them (the rest new keys)."""
    rng = random.Random(seed)
    both = hashes(2 * total, seed=seed)
    served, fresh = both[:total], both[total:]
    kept = rng.sample(served, round(total * retained))
    return served, kept + fresh[: total - len(kept)]


def test_retention_estimate_on_a_large_population_is_within_a_few_standard_errors():
    k = 4096
    served_keys, new_keys = _population(200_000, 0.70, seed=5)
    served = snap(SERVED_DT, rows=200_000, keys=served_keys, k=k)
    new = snap(rows=200_000, keys=new_keys, k=k)
    sample = drift.retention_sample(served, new)
    standard_error = math.sqrt(0.7 * 0.3 / k)  # 0.72 points
    assert not sample.exact and k // 2 <= sample.sampled <= k
    assert abs(estimate_retention(served, new) - 0.70) < 4 * standard_error
    assert sample.std_error == pytest.approx(standard_error, rel=0.2)

    result = drift.key_retention(T, served, new, DEFAULT)
    assert not result.passed and result.severity is Severity.ERROR  # 70 % < 80 %
    assert result.figures["key_retention_exact"] is False
    assert result.figures["keys_sampled"] == sample.sampled
    assert result.figures["key_retention_std_error_pct"] == pytest.approx(0.72, rel=0.2)
    assert abs(result.figures["keys_retained_estimate"] - 140_000) < 4 * standard_error * 200_000


def test_retention_estimate_is_unbiased_over_many_samples():
    # 40 independent months of 20,000 keys, 80 % retained, k=256: the mean estimate lies
    # within 3 standard errors of the mean (SE 0.025 per estimate / sqrt(40))
    estimates = []
    for seed in range(40):
        served_keys, new_keys = _population(20_000, 0.80, seed=100 + seed)
        estimates.append(
            estimate_retention(snap(SERVED_DT, keys=served_keys, k=256), snap(keys=new_keys, k=256))
        )
    mean = sum(estimates) / len(estimates)
    assert abs(mean - 0.80) < 3 * math.sqrt(0.8 * 0.2 / 256) / math.sqrt(len(estimates))


def test_retention_with_sketches_of_different_k():
    served_keys, new_keys = _population(100_000, 0.9, seed=6)
    estimate = estimate_retention(
        snap(SERVED_DT, keys=served_keys, k=1024), snap(keys=new_keys, k=4096)
    )
    assert abs(estimate - 0.9) < 4 * math.sqrt(0.9 * 0.1 / 1024)


def test_re_encoded_keys_estimate_near_zero_and_block():
    served_keys, _ = _population(200_000, 0.0, seed=7)
    re_encoded = hashes(200_000, seed=8)  # same count, other keys
    served = snap(SERVED_DT, rows=200_000, keys=served_keys, k=4096)
    new = snap(rows=200_000, keys=re_encoded, k=4096)
    assert estimate_retention(served, new) < 0.01
    result = drift.key_retention(T, served, new, DEFAULT)
    assert not result.passed and result.observed < 1.0
    # the row count alone sees nothing
    assert drift.row_count_drift(T, served, new, DEFAULT).passed
    assert result.alerts[0].startswith(f"[DRIFT] {T}: key retention 0.00% of the keys of ")


# ---- key retention: the rule --------------------------------------------------------


@pytest.mark.parametrize(
    ("kept", "passed", "pct"),
    [
        (8_000, True, 80.0),  # exactly 80 % passes
        (7_999, False, 79.99),  # just below blocks
        (8_001, True, 80.01),
        (10_000, True, 100.0),
    ],
)
def test_key_retention_at_and_around_the_default_limit(kept, passed, pct):
    new = snap(keys=KEYS[:kept] + OTHER_KEYS[: ROWS - kept])
    result = drift.key_retention(T, SERVED, new, DEFAULT)
    assert result.check == drift.CHECK_KEY_RETENTION and result.severity is Severity.ERROR
    assert result.passed is passed
    assert result.observed == pytest.approx(pct) and result.threshold == 80.0
    assert result.figures["key_retention_pct"] == pytest.approx(pct)
    assert result.figures["key_retention_exact"] is True
    assert result.figures["key_retention_std_error_pct"] == 0.0
    assert result.figures["keys_retained_estimate"] == kept
    assert bool(result.alerts) is not passed


def test_key_retention_alert_line():
    new = snap(keys=KEYS[:5_000] + OTHER_KEYS[:5_000])
    result = drift.key_retention(T, SERVED, new, DEFAULT)
    assert result.alerts == (
        f"[DRIFT] {T}: key retention 50.00% of the keys of served snapshot_dt={SERVED_DT} "
        "still present (exact, 10000 keys): below 80.0% blocks (key re-encoded or rows lost?)",
    )


def test_key_retention_custom_threshold():
    new = snap(keys=KEYS[:8_500] + OTHER_KEYS[:1_500])
    assert drift.key_retention(T, SERVED, new, DEFAULT).passed
    strict = DriftThresholds(min_key_retention_pct=90.0)
    result = drift.key_retention(T, SERVED, new, strict)
    assert not result.passed and result.threshold == 90.0


def test_key_retention_served_without_keys_has_nothing_to_retain():
    result = drift.key_retention(T, snap(SERVED_DT, rows=0, keys=[]), snap(), DEFAULT)
    assert result.passed and "has no keys" in result.summary


# ---- null fractions -----------------------------------------------------------------


def nulls(**changed: int) -> dict[str, int]:
    return {**NULLS, **changed}


@pytest.mark.parametrize(
    ("email_nulls", "passed", "points"),
    [
        (2_500, True, 25.0),  # exactly 25 points passes
        (2_501, False, 25.01),  # just above warns
        (2_499, True, 24.99),
        (0, True, 0.0),
    ],
)
def test_null_rise_at_and_around_the_default_limit(email_nulls, passed, points):
    result = drift.null_fraction_drift(T, SERVED, snap(nulls=nulls(email=email_nulls)), DEFAULT)
    assert result.check == drift.CHECK_NULL_DRIFT and result.passed is passed
    # a rise warns (WARN does not block downstream); a pass is the blocking check's ERROR
    assert result.severity is (Severity.ERROR if passed else Severity.WARN)
    assert result.figures["max_null_rise_points"] == pytest.approx(points)
    if points:
        assert result.figures["max_null_rise_column"] == "email"
    assert result.observed == pytest.approx(points) and result.threshold == 25.0
    assert result.figures["columns_compared"] == 3


def test_null_rise_names_the_columns_with_old_and_new_shares():
    new = snap(nulls=nulls(email=4_000, age=3_700))
    result = drift.null_fraction_drift(T, SERVED, new, DEFAULT)
    assert not result.passed and result.severity is Severity.WARN
    assert result.examples == ("age 1.00%→37.00%", "email 0.00%→40.00%")
    assert result.figures["columns_null_rise"] == 2
    assert result.figures["columns_entirely_null"] == 0
    assert result.summary == (
        f"null share up more than 25.0 points: age 1.00%→37.00%, email 0.00%→40.00% ({VS})"
    )
    assert result.alerts == (
        f"[DRIFT] {T}: null share up more than 25.0 points: age 1.00%→37.00%, "
        f"email 0.00%→40.00% ({VS})",
    )
    assert "| email | 0.00 | 40.00 | +40.00 | rise |" in result.details


def test_a_falling_null_share_passes():
    result = drift.null_fraction_drift(T, SERVED, snap(nulls=nulls(age=0)), DEFAULT)
    assert result.passed and result.figures["max_null_rise_points"] == 0.0


def test_a_column_entirely_null_where_it_was_not_blocks():
    result = drift.null_fraction_drift(T, SERVED, snap(nulls=nulls(email=ROWS)), DEFAULT)
    assert not result.passed and result.severity is Severity.ERROR
    assert result.figures["columns_entirely_null"] == 1
    assert result.examples == ("email 0.00%→100.00%",)
    assert result.alerts == (f"[DRIFT] {T}: entirely null: email 0.00%→100.00% ({VS})",)


def test_entirely_null_and_a_rise_block_together_and_name_both():
    result = drift.null_fraction_drift(T, SERVED, snap(nulls=nulls(email=ROWS, age=5_000)), DEFAULT)
    assert not result.passed and result.severity is Severity.ERROR
    assert result.examples == ("email 0.00%→100.00%", "age 1.00%→50.00%")
    assert len(result.alerts) == 2


def test_almost_entirely_null_only_warns_and_still_null_is_no_drift():
    almost = drift.null_fraction_drift(T, SERVED, snap(nulls=nulls(email=ROWS - 1)), DEFAULT)
    assert not almost.passed and almost.severity is Severity.WARN
    # a column already entirely null in the served month is not "null where it was not"
    served = snap(SERVED_DT, nulls=nulls(email=ROWS))
    still = drift.null_fraction_drift(
        T, served, snap(rows=9_000, nulls=nulls(email=9_000)), DEFAULT
    )
    assert still.passed and still.figures["columns_entirely_null"] == 0


def test_null_rise_custom_threshold():
    strict = DriftThresholds(null_rise_warn_points=10.0)
    assert drift.null_fraction_drift(T, SERVED, snap(nulls=nulls(email=1_000)), strict).passed
    result = drift.null_fraction_drift(T, SERVED, snap(nulls=nulls(email=1_001)), strict)
    assert not result.passed and result.severity is Severity.WARN and result.threshold == 10.0


def test_null_shares_compare_across_different_row_counts():
    # 100 of 10,000 (1 %) -> 2,600 of 9,000 (28.89 %): 27.89 points
    result = drift.null_fraction_drift(T, SERVED, snap(rows=9_000, nulls=nulls(age=2_600)), DEFAULT)
    assert not result.passed
    assert result.figures["max_null_rise_points"] == pytest.approx(2_600 / 90 - 1)


def test_null_fraction_helper():
    figures = snap(rows=200, nulls={"age": 50})
    assert figures.null_fraction("age") == 0.25
    assert figures.null_fraction("email") is None  # not measured
    assert snap(rows=0, nulls={"age": 0}).null_fraction("age") == 0.0
    assert snap(rows=200, nulls={"age": 200}).entirely_null("age")
    assert not snap(rows=0, nulls={"age": 0}).entirely_null("age")


# ---- schema -------------------------------------------------------------------------


def test_schema_unchanged_passes():
    result = drift.schema_drift(T, SERVED, snap(), DEFAULT)
    assert result.passed and result.observed == 0 and not result.alerts
    assert result.summary == f"3 columns, unchanged ({VS})"


def test_schema_added_column_is_reported_by_name_and_passes():
    new = snap(columns=(*COLUMNS, ("city", "string")))
    result = drift.schema_drift(T, SERVED, new, DEFAULT)
    assert result.passed and not result.alerts
    assert result.summary == f"added city string ({VS})"
    assert result.figures["columns_added"] == 1 and result.figures["added_columns"] == "city string"
    assert result.examples == ("added city string",)


def test_schema_removed_column_blocks_naming_it():
    new = snap(columns=COLUMNS[:2])
    result = drift.schema_drift(T, SERVED, new, DEFAULT)
    assert not result.passed and result.severity is Severity.ERROR
    assert result.figures["columns_removed"] == 1 and result.observed == 1
    assert result.alerts == (f"[DRIFT] {T}: schema drift: removed email string ({VS})",)


def test_schema_retyped_column_blocks_naming_old_and_new_type():
    new = snap(columns=(("customer_user_id", "bigint"), *COLUMNS[1:], ("city", "string")))
    result = drift.schema_drift(T, SERVED, new, DEFAULT)
    assert not result.passed and result.severity is Severity.ERROR
    assert result.figures["columns_retyped"] == 1
    assert result.figures["retyped_columns"] == "customer_user_id string→bigint"
    assert result.summary == f"retyped customer_user_id string→bigint; added city string ({VS})"
    assert result.examples == ("retyped customer_user_id string→bigint", "added city string")


def test_schema_names_compare_case_insensitively_types_modulo_case_and_spaces():
    new = snap(columns=(("Customer_User_Id", "STRING"), ("age", "INT"), ("email", "string")))
    assert drift.schema_drift(T, SERVED, new, DEFAULT).passed
    served = snap(SERVED_DT, columns=(("m", "map<string, int>"),))
    assert drift.schema_drift(T, served, snap(columns=(("m", "map<string,int>"),)), DEFAULT).passed


# ---- first snapshot, older manifests, missing figures -------------------------------


@pytest.mark.parametrize("table", [T, "part_new_table_in_registry"])
def test_first_snapshot_passes_every_rule_with_no_previous_snapshot(table):
    # also a table new in the registry: nothing in service either
    results = drift.drift_results(table, None, snap(), DEFAULT)
    assert [r.check for r in results] == list(drift.DRIFT_CHECKS)
    for result in results:
        assert result.passed and result.table == table and not result.alerts
        assert result.summary.startswith("no previous snapshot")
        assert result.figures["previous_snapshot"] is False
        assert result.figures["served_snapshot_dt"] is None
        assert result.figures["snapshot_dt"] == NEW_DT


def test_drift_checks_order():
    assert drift.DRIFT_CHECKS == (
        "row_count_drift",
        "key_retention",
        "null_fraction_drift",
        "schema_drift",
    )


OLD_MANIFEST = {
    # a manifest written before the drift figures existed
    "table": "IBE_01_A",
    "kind": "split_part",
    "snapshot_dt": SERVED_DT,
    "location": "lake/split_part/IBE_01_A/snapshot_dt=2025-01-15",
    "row_count": ROWS,
    "raw_rows": ROWS,
    "duplicates_dropped": 0,
    "target_files": 1,
    "columns": [list(c) for c in COLUMNS],
}


def test_served_manifest_without_figures_passes_saying_not_measured():
    served = SnapshotFigures.from_manifest(Manifest.from_json(json.dumps(OLD_MANIFEST)))
    assert served.sketch_k == 0 and served.distinct_keys == -1 and not served.column_nulls
    results = {r.check: r for r in drift.drift_results(T, served, snap(), DEFAULT)}
    for check in (drift.CHECK_KEY_RETENTION, drift.CHECK_NULL_DRIFT):
        assert results[check].passed
        assert results[check].summary.startswith("not measured in the served snapshot")
        assert results[check].figures["served_measured"] is False
    # the row count and the columns every manifest has: compared as usual
    assert results[drift.CHECK_ROW_DRIFT].figures["row_count_change_pct"] == 0.0
    assert results[drift.CHECK_SCHEMA_DRIFT].summary == f"3 columns, unchanged ({VS})"
    assert all(r.passed for r in results.values())


def test_a_new_snapshot_lacking_figures_is_not_evaluated_and_blocks():
    lacking = SnapshotFigures(snapshot_dt=NEW_DT, row_count=ROWS)  # no sketch, nulls, columns
    results = {r.check: r for r in drift.drift_results(T, SERVED, lacking, DEFAULT)}
    for check in (drift.CHECK_KEY_RETENTION, drift.CHECK_NULL_DRIFT, drift.CHECK_SCHEMA_DRIFT):
        assert not results[check].passed and results[check].severity is Severity.ERROR
        assert results[check].summary.startswith("not evaluated: ")
        assert results[check].alerts[0].startswith(f"[DRIFT] {T}: {check} not evaluated: ")
    assert results[drift.CHECK_ROW_DRIFT].passed


def test_from_manifest_reads_the_drift_figures():
    manifest = Manifest.from_json(
        json.dumps(
            {
                **OLD_MANIFEST,
                "distinct_keys": 3,
                "column_nulls": {"age": 1},
                "key_sketch": [9, -4, 2],
                "sketch_k": 2,
            }
        )
    )
    figures = SnapshotFigures.from_manifest(manifest)
    assert figures.key_sketch == (-4, 2, 9) and figures.sketch_k == 2
    assert figures.columns == COLUMNS and figures.column_nulls == {"age": 1}
    assert figures.distinct_keys == 3 and figures.row_count == ROWS
    assert not figures.sketch_complete and figures.has_sketch


# ---- all four, and --accept-drift ---------------------------------------------------


def test_a_month_with_a_five_percent_change_passes_every_rule():
    new = snap(
        rows=10_500,
        keys=KEYS[:9_800] + OTHER_KEYS[:700],
        nulls=nulls(age=600),
    )
    results = drift.drift_results(T, SERVED, new, DEFAULT)
    assert all(r.passed for r in results) and not any(r.alerts for r in results)


def _drifted() -> SnapshotFigures:
    """60 % of the rows, half the keys, a column entirely null, a column removed."""
    return snap(
        rows=6_000,
        keys=KEYS[:3_000] + OTHER_KEYS[:3_000],
        nulls={"customer_user_id": 0, "age": 6_000},
        columns=COLUMNS[:2],
    )


def test_drifted_month_blocks_on_every_rule():
    results = drift.drift_results(T, SERVED, _drifted(), DEFAULT)
    assert [r.passed for r in results] == [False] * 4
    assert all(r.severity is Severity.ERROR for r in results)
    assert all(line.startswith(f"[DRIFT] {T}: ") for r in results for line in r.alerts)


def test_accept_drift_publishes_and_records_the_override():
    refused = drift.drift_results(T, SERVED, _drifted(), DEFAULT)
    accepted = drift.drift_results(T, SERVED, _drifted(), DEFAULT, accepted=True)
    for before, after in zip(refused, accepted, strict=True):
        assert after.passed and after.severity is Severity.ERROR
        assert after.summary == "drift accepted by the run (--accept-drift): " + before.summary
        assert after.figures == {**before.figures, "drift_accepted": True}
        assert after.observed == before.observed and after.threshold == before.threshold
        assert after.alerts == tuple(
            line.replace("[DRIFT] ", "[DRIFT] accepted ", 1) for line in before.alerts
        )
    assert accepted[0].alerts[0].startswith(f"[DRIFT] accepted {T}: row count 10000 → 6000")


def test_accept_drift_leaves_passes_and_warnings_alone():
    new = snap(nulls=nulls(email=4_000))  # only a null rise: a WARN
    accepted = drift.drift_results(T, SERVED, new, DEFAULT, accepted=True)
    assert accepted == drift.drift_results(T, SERVED, new, DEFAULT)
    warn = accepted[2]
    assert not warn.passed and warn.severity is Severity.WARN
    assert "drift_accepted" not in warn.figures
    assert all(r.passed and "drift_accepted" not in r.figures for r in accepted if r is not warn)


def test_accept_drift_on_a_not_evaluated_result_keeps_the_alert_named():
    lacking = dataclasses.replace(SERVED, snapshot_dt=NEW_DT, key_sketch=(), sketch_k=0)
    result = drift.drift_results(T, SERVED, lacking, DEFAULT, accepted=True)[1]
    assert result.passed and result.figures["drift_accepted"] is True
    assert result.alerts[0].startswith(f"[DRIFT] accepted {T}: key_retention not evaluated")
