"""What users meet in the UI: owners, tags, descriptions and code references on every
asset, while checks, jobs, sensors and schedules survive the mapping."""

import dataclasses
import warnings
from pathlib import Path

import dagster as dg
import pytest

from flywheel_assets.config.settings import SettingsError, load_settings
from flywheel_assets.definitions import build_definitions
from flywheel_assets.presentation import CODE_REFERENCES, is_valid_owner, present, tag_value

REPO = Path(__file__).resolve().parents[1]


def settings(env: str = "local", **changes):
    return dataclasses.replace(load_settings(env, environ={}), **changes)


@pytest.fixture(scope="module")
def local_defs() -> dg.Definitions:
    return build_definitions(settings=settings())


def code_reference(node) -> dg.LocalFileCodeReference:
    refs = node.metadata[CODE_REFERENCES].code_references
    assert len(refs) == 1
    return refs[0]


def test_every_asset_has_owner_env_tag_description_and_source_link(local_defs):
    graph = local_defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert len(keys) > 100
    for key in keys:
        node = graph.get(key)
        assert node.description, key
        assert node.owners.count("team:data-engineering") == 1, (key, node.owners)
        assert node.tags["env"] == "local", key
        ref = code_reference(node)
        path = Path(ref.file_path)
        assert path.is_file() and REPO in path.parents, (key, ref)
        assert 0 < ref.line_number <= len(path.read_text().splitlines())


def test_code_references_point_at_the_asset_factories(local_defs):
    graph = local_defs.resolve_asset_graph()
    expected = {
        "raw/infobase_attributes": "flywheel_assets/assets/raw.py",
        "split_part/ibe_01_a": "flywheel_assets/assets/split.py",
        "part_ibe_01_a": "flywheel_assets/assets/catalog_table.py",
        "ext_ibe_01_a": "flywheel_assets/assets/catalog_table.py",
        "bucketed_ibe_01_a": "flywheel_assets/assets/bucketed.py",
        "monitor_report": "flywheel_assets/assets/monitor.py",
    }
    for key, file in expected.items():
        ref = code_reference(graph.get(dg.AssetKey.from_user_string(key)))
        assert Path(ref.file_path) == REPO / file, key


def test_table_and_source_tags_follow_the_registry(local_defs):
    graph = local_defs.resolve_asset_graph()
    split = graph.get(dg.AssetKey(["split_part", "ibe_01_a"]))
    assert (split.tags["table"], split.tags["source"]) == ("IBE_01_A", "infobase_attributes")
    assert "dagster/kind/spark" in split.tags  # kinds are tags too and must survive
    raw = graph.get(dg.AssetKey(["raw", "addressable_ids"]))
    assert raw.tags["source"] == "addressable_ids" and "table" not in raw.tags
    # one tag selects a table in every stage, Clean Rooms and Entity Resolution included
    selected = dg.AssetSelection.from_string("tag:table=IBE_01_A").resolve(graph)
    assert {k.to_user_string() for k in selected} == {
        "split_part/ibe_01_a",
        "part_ibe_01_a",
        "part_ibe_01_a_history",
        "split_cluster/ibe_01_a",
        "ext_ibe_01_a",
        "bucketed_ibe_01_a",
        "part_ibe_01_a_er",
        "er_schema_mapping/ibe_01_a",
        "er_id_namespace/ibe_01_a",
        "cleanrooms_table/ibe_01_a",
    }
    untagged = {
        k.to_user_string() for k in graph.get_all_asset_keys() if "table" not in graph.get(k).tags
    }
    # per source, not per table: the raw snapshots, their compaction and both tables
    per_source = {
        "raw/infobase_attributes",
        "raw/addressable_ids",
        "compacted/infobase_attributes",
        "compacted/addressable_ids",
        "infobase_attributes_raw_input",
        "addressable_raw_input",
        "infobase_attributes_compaction_cr",
        "addressable_ids_compaction_cr",
    }
    assert untagged == {*per_source, "monitor_report", "cleanrooms_report"}
    assert all(graph.get(dg.AssetKey.from_user_string(k)).tags["source"] for k in per_source)


def test_checks_and_automation_survive(local_defs):
    graph = local_defs.resolve_asset_graph()
    part_checks = {k.name for k in graph.asset_check_keys if k.asset_key.path == ["part_ibe_01_a"]}
    assert {"pk_not_null", "pk_unique", "count_matches_source"} <= part_checks
    audits = [k for k in graph.asset_check_keys if k.asset_key.path[0] == "split_part"]
    assert audits and all(graph.get_check_spec(k).blocking for k in audits)
    split = local_defs.get_assets_def(dg.AssetKey(["split_part", "ibe_01_a"]))
    assert split.can_subset
    assert {s.name for s in local_defs.sensors} >= {"raw_snapshot_sensor", "run_failure_alerts"}
    assert [s.name for s in local_defs.schedules] == ["monitor_schedule"]
    assert local_defs.resolve_job_def("snapshot_pipeline").asset_layer is not None


def test_present_keeps_own_owners_and_tags_and_other_definitions():
    @dg.multi_asset(
        specs=[
            dg.AssetSpec("a", owners=["team:data-engineering"], tags={"env": "mine"}),
            dg.AssetSpec("b", owners=["ops@example.com"], metadata={"table": "has space"}),
        ],
        can_subset=True,
    )
    def ab(): ...

    @dg.asset_check(asset="a", blocking=True)
    def a_ok() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    job = dg.define_asset_job("j", selection="a")

    @dg.sensor(job=job)
    def s(): ...

    defs = dg.Definitions(
        assets=[ab, dg.AssetSpec("external")],
        asset_checks=[a_ok],
        jobs=[job],
        sensors=[s],
        resources={"r": dg.ResourceDefinition.none_resource()},
    )
    out = present(defs, settings("dev", owners=("team:data-engineering", "dq@example.com")))
    graph = out.resolve_asset_graph()
    a, b = graph.get(dg.AssetKey("a")), graph.get(dg.AssetKey("b"))
    assert a.owners == ["team:data-engineering", "dq@example.com"]
    assert b.owners == ["ops@example.com", "team:data-engineering", "dq@example.com"]
    assert a.tags["env"] == "mine" and b.tags["env"] == "dev"
    assert "table" not in b.tags  # "has space" is no valid tag value
    assert graph.get(dg.AssetKey("external")).tags == {"env": "dev"}
    assert (
        CODE_REFERENCES in a.metadata
        and CODE_REFERENCES not in graph.get(dg.AssetKey("external")).metadata
    )  # no declaring function registered for ungrouped specs
    assert {k.name for k in graph.asset_check_keys} == {"a_ok"}
    assert graph.get_check_spec(next(iter(graph.asset_check_keys))).blocking
    assert out.get_assets_def(dg.AssetKey("a")).can_subset
    assert [x.name for x in out.sensors] == ["s"] and "r" in out.resources


def test_present_emits_no_preview_or_beta_warnings():
    defs = dg.Definitions(assets=[dg.AssetSpec("x")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        present(defs, settings())
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("owner", ["data-engineering", "team:", "someone@nowhere"])
def test_invalid_owner_is_a_settings_error(owner):
    assert not is_valid_owner(owner)
    with pytest.raises(SettingsError, match="FLYWHEEL_OWNERS"):
        present(dg.Definitions(), settings(owners=(owner,)))


def test_aws_profile_tags_its_environment():
    graph = build_definitions(settings=settings("prod")).resolve_asset_graph()
    assert {graph.get(k).tags["env"] for k in graph.get_all_asset_keys()} == {"prod"}


def test_owners_from_environment_reach_every_asset(tmp_path):
    env = {"FLYWHEEL_HOME": str(tmp_path), "FLYWHEEL_OWNERS": "team:platform,a.b@example.com"}
    defs = build_definitions(settings=load_settings("local", environ=env))
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["part_ibe_01_a"]))
    assert node.owners == ["team:platform", "a.b@example.com"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("IBE_01_A", "IBE_01_A"), ("a b", None), ("x" * 64, None), ("v1.2-x", "v1.2-x")],
)
def test_tag_value(value, expected):
    assert tag_value(value) == expected
