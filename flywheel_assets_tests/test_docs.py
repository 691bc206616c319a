"""The docs stay true: every setting documented with its real defaults, the runbook
covers every alert and automation object, and every `make` target they name exists."""

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

from flywheel_assets.checks import rules
from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.definitions import build_definitions

REPO = Path(__file__).resolve().parents[1]
CONFIGURATION = REPO / "docs" / "configuration.md"
OPERATIONS = REPO / "docs" / "operations.md"


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "gen_config_doc", REPO / "scripts/gen_config_doc.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Settings)])
def test_every_setting_is_documented_with_its_variable(name):
    text = CONFIGURATION.read_text()
    row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row, f"docs/configuration.md has no row for {name}: run scripts/gen_config_doc.py"
    assert f"`FLYWHEEL_{name.upper()}`" in row


def test_settings_table_matches_profiles_and_defaults():
    generator = load_generator()
    current = CONFIGURATION.read_text()
    assert current == generator.render(current), "stale: run scripts/gen_config_doc.py"


def test_settings_table_shows_profile_values():
    table = load_generator().settings_table()
    row = next(line for line in table.splitlines() if line.startswith("| `glue_database` |"))
    expected = [f"`{load_settings(p, environ={}).glue_database}`" for p in ("local", "dev", "prod")]
    assert [cell.strip() for cell in row.split("|")[3:6]] == expected


def test_generator_refuses_a_setting_without_meaning(monkeypatch):
    generator = load_generator()
    monkeypatch.delitem(generator.MEANINGS, "owners")
    with pytest.raises(SystemExit, match="owners"):
        generator.settings_table()


def test_runbook_covers_every_alert_check_and_automation_object():
    text = OPERATIONS.read_text()
    alerts = [rules.COUNT_MISMATCH, rules.PK_NULL, rules.PK_DUPES, rules.ALERT]
    checks = [
        rules.CHECK_STORAGE,
        rules.CHECK_CATALOG,
        rules.CHECK_FRESHNESS,
        rules.CHECK_SCHEMA,
        rules.CHECK_COUNT,
        rules.CHECK_PK_NULL,
        rules.CHECK_PK_DUPES,
        rules.CHECK_FILE_SIZE,
        rules.CHECK_RAW_ROWS,
    ]
    defs = build_definitions(settings=load_settings("local", environ={}))
    automation = [
        *(s.name for s in defs.sensors),
        *(s.name for s in defs.schedules),
        "snapshot_pipeline",
        "snapshot_build",
        "monitor_checks",
        "retention_job",
    ]
    groups = {defs.resolve_asset_graph().get(k).group_name for k in defs.resolve_all_asset_keys()}
    missing = [word for word in [*alerts, *checks, *automation, *groups] if word not in text]
    assert missing == []


def test_make_targets_named_in_docs_exist():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9_-]*):", makefile, flags=re.M))
    named = set()
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        named |= {(doc.name, t) for t in re.findall(r"`make ([a-z][a-z0-9_-]*)", doc.read_text())}
    assert {"dev", "e2e", "smoke"} <= {t for _, t in named}
    assert sorted((d, t) for d, t in named if t not in targets) == []
