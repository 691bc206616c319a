"""``platform`` is one typed, configurable resource, and the IO managers use the run's.

The code location binds ``platform`` at launch; overriding it once (launchpad run
config) must reach both IO managers, not only the assets that take it as a parameter.
No Spark here: the dataset IO manager's ``load_input`` reads a manifest through the lake.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from flywheel_assets import layout
from flywheel_assets.config.registry import load_registry
from flywheel_assets.config.settings import SettingsError, load_settings
from flywheel_assets.definitions import build_definitions
from flywheel_assets.keys import split_part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.resources import PlatformResource
from glue_jobs.registry import TableSpec
from glue_jobs.transforms import MANIFEST_NAME, Manifest

SNAPSHOT = "2025-01-15"
BUILD = "20250115T103000Z-abcdef12"


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    loaded, override = tmp_path / "loaded", tmp_path / "override"
    monkeypatch.delenv("FLYWHEEL_ENV", raising=False)
    monkeypatch.setenv("FLYWHEEL_HOME", str(loaded))
    return loaded, override


def write_manifest(home: Path, rows: int) -> TableSpec:
    """A complete ``split_part`` build of the first registry table under ``home``."""
    settings = load_settings("local", {"FLYWHEEL_HOME": str(home)})
    table = load_registry().tables[0]
    key = layout.manifest_key(settings, "split_part", table, SNAPSHOT, BUILD)
    path = settings.lake_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(table.name, "split_part", SNAPSHOT, str(path.parent), rows, rows, 0, 1, [])
    path.write_text(manifest.to_json())
    assert key.endswith(MANIFEST_NAME)
    return table


def probe(table: TableSpec, seen: dict) -> dg.AssetsDefinition:
    """Loads ``split_part/<table>`` through the dataset IO manager; records what it got."""

    @dg.asset(
        ins={
            "manifest": dg.AssetIn(
                key=split_part_key(table), input_manager_key="dataset_io_manager"
            )
        },
        partitions_def=SNAPSHOT_PARTITIONS,
        io_manager_key="mem",
    )
    def platform_probe(manifest: Manifest, platform: dg.ResourceParam[Platform]) -> None:
        seen["manifest"], seen["platform"] = manifest, platform

    return platform_probe


def run_probe(defs: dg.Definitions, table: TableSpec, run_config: dict) -> dict:
    seen: dict = {}
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [SNAPSHOT])
    upstream = dg.AssetSpec(split_part_key(table), partitions_def=SNAPSHOT_PARTITIONS)
    result = dg.materialize(
        [probe(table, seen), upstream],
        resources={**defs.resources, "mem": dg.InMemoryIOManager()},
        instance=instance,
        partition_key=SNAPSHOT,
        run_config=run_config,
        selection=[dg.AssetKey("platform_probe")],
    )
    assert result.success
    return seen


def test_one_override_of_platform_reaches_the_io_managers(homes):
    loaded, override = homes
    write_manifest(loaded, rows=1)
    table = write_manifest(override, rows=7)
    defs = build_definitions()  # the code location's path: platform bound at launch
    assert defs.resources["platform"].resource_cls is PlatformResource  # bound at launch

    default = run_probe(defs, table, {})
    assert default["platform"].settings.home == loaded.resolve()
    assert default["manifest"].row_count == 1

    config = {"resources": {"platform": {"config": {"home": str(override)}}}}
    seen = run_probe(defs, table, config)
    assert seen["platform"].settings.home == override.resolve()
    assert seen["manifest"].row_count == 7  # read by the IO manager from the override


def test_both_io_managers_depend_on_the_platform_key(homes):
    defs = build_definitions()
    repo = defs.get_repository_def()
    resource_defs = repo.get_top_level_resources()
    for key in ("dataset_io_manager", "catalog_io_manager"):
        required = resource_defs[key].get_required_resource_keys(resource_defs)
        assert required == {"platform"}, key


def test_a_ready_platform_is_shared_by_assets_and_io_managers(homes):
    loaded, _ = homes
    table = write_manifest(loaded, rows=3)
    given = Platform(load_settings("local", {"FLYWHEEL_HOME": str(loaded)}), load_registry())
    seen = run_probe(build_definitions(platform=given), table, {})
    assert seen["platform"] is given
    assert seen["manifest"].row_count == 3


def test_a_profile_other_than_the_loaded_one_is_refused(homes):
    loaded, _ = homes
    resource = PlatformResource(profile="dev", home=str(loaded))
    with pytest.raises(SettingsError, match=r"platform\.profile='dev'.*FLYWHEEL_ENV='local'"):
        resource.settings()
