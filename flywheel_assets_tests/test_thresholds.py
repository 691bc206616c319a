"""Drift thresholds: the settings' defaults, per-table overrides, clear file:line errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flywheel_assets.config.registry import load_registry
from flywheel_assets.config.settings import load_settings
from flywheel_assets.config.thresholds import (
    HEADER,
    THRESHOLDS_CSV,
    DriftThresholds,
    default_thresholds,
    load_drift_thresholds,
)
from glue_jobs.registry import RegistryError

CONFIGURATION = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
FULL_HEADER = ",".join(HEADER)
SETTINGS = load_settings("local", environ={})
DEFAULTS = DriftThresholds(20.0, 50.0, 80.0, 25.0)


def thresholds_from(tmp_path, registry, text: str) -> dict[str, DriftThresholds]:
    path = tmp_path / THRESHOLDS_CSV
    path.write_text(text)
    return load_drift_thresholds(SETTINGS, registry, path)


def test_defaults_come_from_the_settings():
    assert default_thresholds(SETTINGS) == DEFAULTS
    stricter = dataclasses.replace(
        SETTINGS,
        drift_max_row_drop_pct=5.0,
        drift_max_row_rise_pct=10.0,
        drift_min_key_retention_pct=95.0,
        drift_null_rise_warn_points=1.0,
    )
    assert default_thresholds(stricter) == DriftThresholds(5.0, 10.0, 95.0, 1.0)


def test_without_a_file_every_registry_table_gets_the_defaults(tmp_path, small_registry):
    thresholds = load_drift_thresholds(SETTINGS, small_registry, tmp_path / THRESHOLDS_CSV)
    assert thresholds == {"IBE_01_A": DEFAULTS, "IBE_02_A": DEFAULTS, "addressable_ids": DEFAULTS}


def test_the_file_overrides_per_table_and_an_empty_cell_keeps_the_default(tmp_path, small_registry):
    text = f"{FULL_HEADER}\nibe_01_a,60,,50,\n\nADDRESSABLE_IDS,,200,,0\n"
    thresholds = thresholds_from(tmp_path, small_registry, text)
    assert thresholds["IBE_01_A"] == DriftThresholds(60.0, 50.0, 50.0, 25.0)
    assert thresholds["IBE_02_A"] == DEFAULTS
    assert thresholds["addressable_ids"] == DriftThresholds(20.0, 200.0, 80.0, 0.0)


def test_a_header_may_name_only_some_thresholds_in_any_order(tmp_path, small_registry):
    text = "min_key_retention_pct,Table_Name\n99.5,IBE_02_A\n"
    thresholds = thresholds_from(tmp_path, small_registry, text)
    assert thresholds["IBE_02_A"] == dataclasses.replace(DEFAULTS, min_key_retention_pct=99.5)


def test_the_file_is_read_from_the_registry_directory(tmp_path, monkeypatch, small_registry):
    (tmp_path / THRESHOLDS_CSV).write_text(f"{FULL_HEADER}\nIBE_01_A,1,2,3,4\n")
    monkeypatch.setenv("FLYWHEEL_REGISTRY_DIR", str(tmp_path))
    thresholds = load_drift_thresholds(SETTINGS, small_registry)
    assert thresholds["IBE_01_A"] == DriftThresholds(1.0, 2.0, 3.0, 4.0)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("NOPE_01_A,1,,,\n", r":2: table 'NOPE_01_A' is not in the registry"),
        ("IBE_01_A,1,,,\nibe_01_a,2,,,\n", r":3: table IBE_01_A already has a row \(line 2\)"),
        ("IBE_01_A,abc,,,\n", r":2: max_row_drop_pct='abc' is not a number"),
        ("IBE_01_A,,-1,,\n", r":2: max_row_rise_pct='-1': expected 0 or more"),
        ("IBE_01_A,,,100.5,\n", r":2: min_key_retention_pct='100.5': expected 0\.\.100"),
        ("IBE_01_A,101,,,\n", r":2: max_row_drop_pct='101': expected 0\.\.100"),
        ("IBE_01_A,,,,101\n", r":2: null_rise_warn_points='101': expected 0\.\.100"),
        ("IBE_01_A,,,,nan\n", r":2: null_rise_warn_points='nan': expected 0\.\.100"),
        ("\n\nIBE_01_A,1\n", r":4: expected 5 cells"),
    ],
)
def test_bad_rows_are_named_by_file_and_line(tmp_path, small_registry, rows, message):
    with pytest.raises(RegistryError, match=f"^{THRESHOLDS_CSV}{message}"):
        thresholds_from(tmp_path, small_registry, f"{FULL_HEADER}\n{rows}")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("table_name,max_row_drop_pct,max_drop", r":1: unknown column\(s\) \['max_drop'\]"),
        ("max_row_drop_pct", ":1: header .*: expected 'table_name'"),
        ("table_name,max_row_drop_pct,MAX_ROW_DROP_PCT", ":1: header .* each once"),
        ("", ":1: header .*: expected 'table_name'"),
    ],
)
def test_a_bad_header_is_an_error(tmp_path, small_registry, header, message):
    with pytest.raises(RegistryError, match=f"^{THRESHOLDS_CSV}{message}"):
        thresholds_from(tmp_path, small_registry, f"{header}\n")


def test_the_configuration_doc_shows_a_file_that_loads(tmp_path):
    text = CONFIGURATION.read_text()
    example = text.split("```csv\n", 1)[1].split("```", 1)[0]
    assert example.startswith(FULL_HEADER + "\n") and THRESHOLDS_CSV in text
    thresholds = thresholds_from(tmp_path, load_registry(), example)
    assert thresholds["IBE_01_A"] == dataclasses.replace(DEFAULTS, max_row_drop_pct=40.0)
