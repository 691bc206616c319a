"""Profiles: defaults from the reference, environment overrides, clear errors."""

from __future__ import annotations

import pytest

from flywheel_assets.config.settings import SettingsError, load_settings


def test_local_is_the_default_and_home_holds_all_state(tmp_path):
    settings = load_settings(environ={"FLYWHEEL_HOME": str(tmp_path)})
    assert settings.env == "local"
    assert settings.lake_root == tmp_path / "lake"
    assert settings.metastore_dir.parent == tmp_path
    assert settings.dagster_home.parent == tmp_path


def test_prod_profile_carries_the_reference_values(tmp_path):
    prod = load_settings("prod", environ={"FLYWHEEL_HOME": str(tmp_path)})
    assert prod.data_bucket == "omc-flywheel-data-us-east-1-prod"
    assert prod.glue_database == "omc_flywheel_prod"
    assert prod.glue_role == "omc_flywheel-prod-glue-role"
    assert (prod.glue_worker_type, prod.glue_number_of_workers) == ("G.4X", 10)
    assert prod.analysis_providers == ("921290734397", "657425294073")
    assert prod.report_bucket == "omc-flywheel-prod-analysis-data"
    assert prod.freshness_window_days == 45 and prod.auto_repair == "athena"


def test_environment_overrides_single_settings(tmp_path):
    settings = load_settings(
        "dev",
        environ={
            "FLYWHEEL_HOME": str(tmp_path),
            "FLYWHEEL_GLUE_DATABASE": "sandbox",
            "FLYWHEEL_BUCKET_COUNT": "64",
            "FLYWHEEL_ANALYSIS_PROVIDERS": "111111111111, 222222222222",
            "FLYWHEEL_COUNT_TOLERANCE_PCT": "0.5",
            "FLYWHEEL_STRICT_SNAPSHOT": "false",
        },
    )
    assert settings.glue_database == "sandbox"
    assert settings.bucket_count == 64
    assert settings.analysis_providers == ("111111111111", "222222222222")
    assert settings.count_tolerance_pct == 0.5
    assert settings.strict_snapshot is False
    assert settings.data_bucket == "omc-flywheel-data-us-east-1-dev"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FLYWHEEL_ENV": "staging"}, "expected one of local, dev, prod"),
        ({"FLYWHEEL_BUCKET_COUNT": "many"}, "FLYWHEEL_BUCKET_COUNT='many' is not an integer"),
        ({"FLYWHEEL_AUTO_REPAIR": "yes"}, "auto_repair='yes'"),
    ],
)
def test_bad_settings_fail_clearly(tmp_path, environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={"FLYWHEEL_HOME": str(tmp_path), **environ})


def test_local_driver_memory_is_sized_to_the_machine(tmp_path):
    from flywheel_assets.adapters.spark_session import driver_memory, spark_config

    assert load_settings("local", environ={}).spark_driver_memory == "auto"
    gib = 2**30
    assert driver_memory("auto", 24 * gib) == "9g"  # this kind of machine
    assert driver_memory("auto", 3 * gib) == "2g"  # never below 2g
    assert driver_memory("auto", 256 * gib) == "16g"  # nor above 16g
    assert driver_memory("6g", 24 * gib) == "6g"  # an explicit size is kept
    environ = {"FLYWHEEL_HOME": str(tmp_path), "FLYWHEEL_SPARK_DRIVER_MEMORY": "3g"}
    assert spark_config(load_settings("local", environ=environ))["spark.driver.memory"] == "3g"
