"""The `flywheel` command line, as a user runs it (a separate process and JVM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from flywheel_assets import cli
from flywheel_assets_tests.conftest import SMALL_ADDRESSABLE_CSV, SMALL_INFOBASE_CSV


@pytest.fixture
def cli_env(tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "infobase_table_split.csv").write_text(SMALL_INFOBASE_CSV)
    (registry / "addressable_ids_table_split.csv").write_text(SMALL_ADDRESSABLE_CSV)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "DAGSTER_"))}
    env.update(
        FLYWHEEL_HOME=str(tmp_path / "home"),
        FLYWHEEL_REGISTRY_DIR=str(registry),
        FLYWHEEL_SPARK_SHUFFLE_PARTITIONS="4",
    )
    return env


def flywheel(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flywheel_assets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_sample_data_run_json_and_sql(cli_env):
    made = flywheel(cli_env, "sample-data", "--snapshot", "2025-01-15", "--rows", "300")
    assert made.returncode == 0, made.stderr
    assert "infobase_attributes: 301 rows (1 exact duplicates)" in made.stdout

    selection = "key:split_part/ibe_01_a or key:part_ibe_01_a"
    run = flywheel(cli_env, "run", "--snapshot", "2025-01-15", "--select", selection, "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads(run.stdout)
    assert set(doc) == {"snapshot", "success", "assets", "checks"}
    assert doc["snapshot"] == "2025-01-15" and doc["success"] is True
    assets = {a["key"]: a for a in doc["assets"]}
    assert set(assets) == {"split_part/ibe_01_a", "part_ibe_01_a"}
    assert {a["status"] for a in assets.values()} == {"materialized"}
    assert assets["part_ibe_01_a"]["metadata"]["dagster/row_count"] == 300
    for check in doc["checks"]:
        assert set(check) == {"asset", "name", "passed", "severity", "metadata"}

    shown = flywheel(cli_env, "sql", "SHOW PARTITIONS part_ibe_01_a", "--json")
    assert shown.returncode == 0, shown.stderr[-3000:]
    partitions = json.loads(shown.stdout)
    assert len(partitions) == 256
    assert partitions[0] == {"partition": "id_bucket=0"}


def test_bad_snapshot_is_a_clear_error(cli_env):
    bad = flywheel(cli_env, "run", "--snapshot", "2025-13-01")
    assert bad.returncode == 2
    assert "snapshot_dt '2025-13-01' is not a valid date" in bad.stderr
    malformed = flywheel(cli_env, "sample-data", "--snapshot", "2025-1-5")
    assert malformed.returncode == 2
    assert "is not an ISO date (YYYY-MM-DD)" in malformed.stderr


def error_line(result: subprocess.CompletedProcess) -> str:
    """The whole of stderr, which must be one line: no traceback in front of the user."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize("command", ["run", "check"])
def test_a_selection_matching_nothing_fails_for_run_and_check(cli_env, command):
    # `check` used to print OK and exit 0 having checked nothing: a cron read it as all clear
    result = flywheel(cli_env, command, "--snapshot", "2025-01-15", "--select", "key:nope")
    assert error_line(result) == (
        "flywheel: error: selection 'key:nope' matches no materializable asset"
    )
    assert "OK" not in result.stdout


def test_check_of_assets_without_checks_fails(cli_env):
    result = flywheel(
        cli_env, "check", "--snapshot", "2025-01-15", "--select", "key:monitor_report"
    )
    assert error_line(result) == (
        "flywheel: error: selection 'key:monitor_report' matches no asset with checks"
    )


@pytest.mark.parametrize("command", ["run", "check"])
def test_an_unparsable_selection_is_one_line(cli_env, command):
    result = flywheel(cli_env, command, "--snapshot", "2025-01-15", "--select", "key:(")
    assert error_line(result).startswith("flywheel: error: selection 'key:(' does not parse")


def test_a_misspelt_boolean_stops_the_command_naming_the_variable(cli_env):
    cli_env["FLYWHEEL_RETENTION_DRY_RUN"] = "flase"
    result = flywheel(cli_env, "check", "--snapshot", "2025-01-15")
    assert error_line(result) == (
        "flywheel: error: FLYWHEEL_RETENTION_DRY_RUN='flase' is not a boolean "
        "(true/false, 1/0, yes/no)"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["sample-data", "--snapshot", "2025-01-15"],
        ["dev-setup", "--snapshot", "2025-01-15"],
        ["demo"],
    ],
)
@pytest.mark.parametrize(
    ("rows", "problem"),
    [("0", "0 is below 1"), ("-5", "-5 is below 1"), ("many", "'many' is not an integer")],
)
def test_fewer_than_one_sample_row_is_refused(capsys, command, rows, problem):
    with pytest.raises(SystemExit) as exited:
        cli.main([*command, "--rows", rows])
    assert exited.value.code == 2
    assert f"error: argument --rows: {problem}" in capsys.readouterr().err
