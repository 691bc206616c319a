"""Profiles: defaults from the reference, environment overrides, clear errors."""

from __future__ import annotations

import pytest

from flywheel_assets.config import settings as settings_module
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


def load(**variables: str):
    """The local profile with ``FLYWHEEL_<NAME>`` overrides given as ``name=value``."""
    environ = {f"FLYWHEEL_{name.upper()}": value for name, value in variables.items()}
    return load_settings("local", environ=environ)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("Yes", True), ("1", True)]
    + [("false", False), ("No", False), ("0", False)],
)
def test_booleans_take_the_six_spellings_in_any_case(raw, expected):
    assert load(retention_dry_run=raw).retention_dry_run is expected


@pytest.mark.parametrize("raw", ["flase", "", "2", "on", "y", "truee"])
def test_a_misspelt_boolean_fails_naming_the_variable(raw):
    # it once read as false, which turned the retention dry run into real deletion
    with pytest.raises(SettingsError, match=f"FLYWHEEL_RETENTION_DRY_RUN='{raw}' is not a boolean"):
        load(retention_dry_run=raw)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("count_tolerance_pct", "abc", "is not a number"),
        ("count_tolerance_pct", "nan", r"count_tolerance_pct=nan: expected 0\.\.100"),
        ("drift_max_row_rise_pct", "inf", r"drift_max_row_rise_pct=inf: expected 0 or more"),
        ("max_tables", "1.5", "is not an integer"),
        ("glue_timeout_minutes", "", "is not an integer"),
    ],
)
def test_numbers_that_do_not_parse_fail_naming_the_variable(name, raw, message):
    with pytest.raises(SettingsError, match=message) as caught:
        load(**{name: raw})
    assert name in str(caught.value).lower()


# Every tolerance and threshold with a value just outside its range; the message names it.
OUT_OF_RANGE = [
    ("count_tolerance_pct", "-0.1", r"0\.\.100"),
    ("count_tolerance_pct", "100.5", r"0\.\.100"),
    ("freshness_window_days", "-1", "0 or more"),
    ("file_size_min_mb", "-1", "0 or more"),
    ("file_size_max_mb", "-1", "0 or more"),
    ("retention_snapshots", "0", "1 or more"),
    ("snapshot_quiet_seconds", "-1", "0 or more"),
    ("max_tables", "-1", "0 or more"),
    ("glue_timeout_minutes", "0", "1 or more"),
    ("glue_max_retries", "-1", "0 or more"),
    ("er_max_match_fields", "0", r"1\.\.59"),
    ("er_max_match_fields", "60", r"1\.\.59"),
    ("drift_max_row_drop_pct", "-1", r"0\.\.100"),
    ("drift_max_row_drop_pct", "100.1", r"0\.\.100"),
    ("drift_max_row_rise_pct", "-0.5", "0 or more"),
    ("drift_min_key_retention_pct", "-1", r"0\.\.100"),
    ("drift_min_key_retention_pct", "101", r"0\.\.100"),
    ("drift_null_rise_warn_points", "-1", r"0\.\.100"),
    ("drift_null_rise_warn_points", "100.01", r"0\.\.100"),
]


@pytest.mark.parametrize(("name", "raw", "expected"), OUT_OF_RANGE)
def test_tolerances_and_thresholds_outside_their_range_fail(name, raw, expected):
    with pytest.raises(SettingsError, match=f"^{name}=.*: expected {expected}$"):
        load(**{name: raw})


@pytest.mark.parametrize(
    "variables",
    [
        {"count_tolerance_pct": "0", "drift_min_key_retention_pct": "100"},
        {"count_tolerance_pct": "100", "drift_max_row_drop_pct": "0"},
        {"retention_snapshots": "1", "glue_timeout_minutes": "1", "er_max_match_fields": "59"},
        {"drift_max_row_rise_pct": "400", "drift_null_rise_warn_points": "100"},
        {"file_size_min_mb": "0", "file_size_max_mb": "0", "max_tables": "0"},
    ],
)
def test_values_at_the_edges_of_their_range_load(variables):
    settings = load(**variables)
    for name, raw in variables.items():
        assert getattr(settings, name) == float(raw)


def test_smallest_file_size_above_the_largest_fails():
    with pytest.raises(SettingsError, match="file_size_min_mb=2048 is above file_size_max_mb=1024"):
        load(file_size_min_mb="2048")


def test_drift_thresholds_are_settings_with_the_issue_defaults():
    for profile in ("local", "dev", "prod"):
        settings = load_settings(profile, environ={})
        assert settings.drift_max_row_drop_pct == 20.0
        assert settings.drift_max_row_rise_pct == 50.0
        assert settings.drift_min_key_retention_pct == 80.0
        assert settings.drift_null_rise_warn_points == 25.0
    assert load(drift_max_row_drop_pct="12.5").drift_max_row_drop_pct == 12.5


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    """Edit a copy of the shipped ``profiles.toml``: ``edit(old_line, new_line)``."""
    shipped = settings_module.PROFILES_FILE.read_text()
    copy = tmp_path / "profiles.toml"
    monkeypatch.setattr(settings_module, "PROFILES_FILE", copy)

    def edit(old: str, new: str) -> None:
        assert shipped.count(old) == 1, old
        copy.write_text(shipped.replace(old, new))

    return edit


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "retention_dry_run = true",
            'retention_dry_run = "false"',
            r"profiles.toml \[defaults\] retention_dry_run = 'false': expected a boolean",
        ),
        (
            "max_tables = 0 ",
            'max_tables = "5" ',
            r"\[defaults\] max_tables = '5': expected an integer",
        ),
        ("max_tables = 0 ", "max_tables = 1.5 ", r"max_tables = 1.5: expected an integer"),
        ("retention_snapshots = 3", "retention_snapshots = true", "expected an integer"),
        (
            "count_tolerance_pct = 0.0",
            'count_tolerance_pct = "0.5"',
            r"count_tolerance_pct = '0.5': expected a number",
        ),
        (
            'owners = ["team:data-engineering"]',
            'owners = "team:data-engineering"',
            "owners = 'team:data-engineering': expected a list of strings",
        ),
        (
            'glue_worker_type = "local"',
            "glue_worker_type = 1",
            r"profiles.toml \[local\] glue_worker_type = 1: expected a string",
        ),
        ("max_tables = 0 ", "max_tabels = 0 ", r"\[defaults\]: unknown settings \['max_tabels'\]"),
        (
            'glue_role = ""\nglue_worker_type = "local"',
            'glue_worker_type = "local"',
            r"profiles.toml \[local\]: missing settings \['glue_role'\]",
        ),
    ],
)
def test_profiles_values_of_the_wrong_type_fail_naming_the_setting(profiles, old, new, message):
    profiles(old, new)
    with pytest.raises(SettingsError, match=message):
        load()


def test_an_integer_is_a_number_in_profiles(profiles):
    profiles("count_tolerance_pct = 0.0", "count_tolerance_pct = 2")
    assert load().count_tolerance_pct == 2.0
