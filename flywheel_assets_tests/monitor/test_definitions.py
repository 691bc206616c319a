"""What build_monitor_defs declares: which checks exist, on which assets, how they run."""

from __future__ import annotations

import dataclasses

import dagster as dg

from flywheel_assets.assets.monitor import MONITOR_GROUP, MONITOR_REPORT_KEY, build_monitor_defs
from flywheel_assets.checks import drift, rules
from flywheel_assets.checks.audit import audit_checks
from flywheel_assets.config.settings import load_settings
from flywheel_assets.definitions import build_definitions
from flywheel_assets.keys import ext_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.publishing import PublishPolicy


def settings(**changes):
    return dataclasses.replace(load_settings("local", environ={}), **changes)


def monitor_defs(registry, **changes) -> dg.Definitions:
    """The monitor's definitions with a stand-in platform (nothing here runs); the audits
    also take the run's publish policy."""
    defs = build_monitor_defs(registry, settings(**changes))
    resources = {"platform": "not used", "publish_policy": PublishPolicy()}
    return dg.Definitions.merge(defs, dg.Definitions(resources=resources))


def check_keys(defs: dg.Definitions) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for key in defs.resolve_asset_graph().asset_check_keys:
        found.setdefault(key.asset_key.to_user_string(), set()).add(key.name)
    return found


def test_checks_on_every_part_table_and_audits_on_every_dataset(small_registry):
    defs = monitor_defs(small_registry)
    found = check_keys(defs)
    for table in small_registry:
        assert found[table.part_table] == {
            rules.CHECK_STORAGE,
            rules.CHECK_CATALOG,
            rules.CHECK_FRESHNESS,
            rules.CHECK_SCHEMA,
            rules.CHECK_COUNT,
            rules.CHECK_PK_NULL,
            rules.CHECK_PK_DUPES,
        }
        drift_rules = {
            drift.CHECK_ROW_DRIFT,
            drift.CHECK_KEY_RETENTION,
            drift.CHECK_NULL_DRIFT,
            drift.CHECK_SCHEMA_DRIFT,
        }
        integrity = {
            rules.CHECK_PK_NULL,
            rules.CHECK_PK_DUPES,
            rules.CHECK_RAW_ROWS,
            rules.CHECK_FILES,
        }
        # both datasets of every table carry the publish gate; only split_part has buckets
        assert found[f"split_part/{table.slug}"] == integrity | {rules.CHECK_STORAGE} | drift_rules
        assert found[f"split_cluster/{table.slug}"] == integrity | drift_rules
        for kind in ("split_part", "split_cluster"):
            assert set(audit_checks(kind)) == found[f"{kind}/{table.slug}"]
    graph = defs.resolve_asset_graph()
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        assert spec.partitions_def == SNAPSHOT_PARTITIONS
        assert spec.blocking is key.asset_key.path[0].startswith(("split_part", "split_cluster"))
        if key.name == rules.CHECK_COUNT:
            assert {d.asset_key for d in spec.additional_deps} == {
                ext_key(small_registry.get(key.asset_key.path[0][len("part_") :]))
            }
    report = graph.get(MONITOR_REPORT_KEY)
    assert report.group_name == MONITOR_GROUP
    assert report.partitions_def == SNAPSHOT_PARTITIONS
    assert {k.to_user_string() for k in report.parent_keys} == {
        t.part_table for t in small_registry
    }


def test_settings_shape_the_monitor(small_registry):
    defs = monitor_defs(
        small_registry, count_check_enabled=False, file_size_check=True, table_prefix="part_ibe_"
    )
    found = check_keys(defs)
    monitored = sorted(k for k in found if k.startswith("part_"))
    assert monitored == ["part_ibe_01_a", "part_ibe_02_a"]
    assert rules.CHECK_COUNT not in found["part_ibe_01_a"]
    assert rules.CHECK_FILE_SIZE in found["part_ibe_01_a"]
    # the publish gate is not a monitor setting
    assert "split_part/addressable_ids" in found and "split_cluster/addressable_ids" in found
    limited = check_keys(monitor_defs(small_registry, max_tables=1))
    assert sorted(k for k in limited if k.startswith("part_")) == ["part_ibe_01_a"]


def test_code_location_loads_with_the_monitor(small_registry, tmp_path):
    from flywheel_assets_tests.conftest import make_settings

    defs = build_definitions(make_settings(tmp_path), small_registry)
    graph = defs.resolve_asset_graph()
    assert graph.has(MONITOR_REPORT_KEY)
    assert dg.AssetCheckKey(dg.AssetKey(["part_ibe_01_a"]), rules.CHECK_PK_DUPES) in (
        graph.asset_check_keys
    )
    defs.resolve_all_job_defs()


def test_check_metadata_keeps_numbers_numbers():
    from flywheel_assets.checks.asset_checks import check_result

    result = rules.count_match("part_x", "db.part_x", "db.ext_x", 999950, 1000000, 0.0)
    evaluation = check_result(dg.AssetKey(["part_x"]), result)
    metadata = evaluation.metadata
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert isinstance(metadata["observed"], dg.IntMetadataValue)
    assert metadata["observed"].value == 999950 and metadata["expected"].value == 1000000
    assert isinstance(metadata["threshold"], dg.FloatMetadataValue)
    assert metadata["count_diff_pct"].value == "0.005000"
    assert "| count_src | 1000000 |" in metadata["figures"].value
    assert metadata["alerts"].value == list(result.alerts)
