"""The monitor inside the pipeline run: audits and part_* checks recorded per snapshot."""

from __future__ import annotations

import dagster as dg

from flywheel_assets.checks import rules
from flywheel_assets.checks.audit import audit_checks
from flywheel_assets.checks.selection import monitor_check_names
from flywheel_assets_tests.monitor.conftest import ROWS, SNAPSHOT, TABLES


def test_healthy_snapshot_passes_every_audit_and_monitor_check(built):
    summary = built.summary
    assert summary.exit_code == 0, summary.to_json()
    checks = {(c["asset"], c["name"]): c for c in summary.checks}
    for slug in TABLES:
        for kind in ("split_part", "split_cluster"):
            for name in audit_checks(kind):
                check = checks[(f"{kind}/{slug}", name)]
                assert check["passed"], check
        for name in monitor_check_names(built.platform.settings):
            check = checks[(f"part_{slug}", name)]
            assert check["passed"], check
        counted = checks[(f"part_{slug}", rules.CHECK_COUNT)]["metadata"]
        assert counted["observed"] == counted["expected"] == ROWS
        assert counted["source"] == f"{built.platform.database}.ext_{slug}"
        storage = checks[(f"part_{slug}", rules.CHECK_STORAGE)]["metadata"]
        assert (storage["observed"], storage["expected"], storage["threshold"]) == (256, 256, 0)
        raw = checks[(f"split_part/{slug}", rules.CHECK_RAW_ROWS)]["metadata"]
        assert raw["observed"] == ROWS and raw["raw_rows"] == ROWS + 3
        assert raw["duplicates_dropped"] == 3


def test_check_history_is_kept_per_snapshot_partition(built):
    storage = built.instance.event_log_storage
    # the first run writes and audits the datasets, the second publishes and monitors
    write_audit, publish = built.summary.run_ids[:2]
    for slug in TABLES:
        recorded = {
            (("split_part", slug), rules.CHECK_PK_DUPES): write_audit,
            (("split_cluster", slug), rules.CHECK_FILES): write_audit,
            ((f"part_{slug}",), rules.CHECK_PK_DUPES): publish,
        }
        for (path, name), run_id in recorded.items():
            key = dg.AssetCheckKey(dg.AssetKey(list(path)), name)
            history = storage.get_asset_check_execution_history(key, limit=50)
            (record,) = [r for r in history if r.run_id == run_id]
            assert record.partition == SNAPSHOT, key
            assert record.event.dagster_event.event_specific_data.passed, key
