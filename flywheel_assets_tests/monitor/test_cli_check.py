"""``flywheel check --snapshot D --json``: the monitor for a snapshot without a rebuild."""

from __future__ import annotations

import json

from flywheel_assets import cli
from flywheel_assets.builds import read_audit
from flywheel_assets.checks import rules
from flywheel_assets_tests.monitor.conftest import SNAPSHOT, TABLES, rewritten_keys

TABLE = TABLES[0]
SELECT = f"key:part_{TABLE} or key:split_part/{TABLE}"  # one table keeps the two runs short


def flywheel_check(built, monkeypatch, capsys) -> tuple[int, dict]:
    """Run the CLI in this process against the package's snapshot (its catalog lives in
    this test session's one JVM, so a subprocess could not see it)."""
    platform = built.platform
    monkeypatch.setenv("FLYWHEEL_HOME", str(platform.settings.home))
    monkeypatch.setenv("FLYWHEEL_GLUE_DATABASE", platform.database)
    monkeypatch.setenv("DAGSTER_HOME", str(platform.settings.dagster_home))
    monkeypatch.setattr("flywheel_assets.cli._platform", lambda: platform)
    capsys.readouterr()
    code = cli.main(["check", "--snapshot", SNAPSHOT, "--select", SELECT, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_flywheel_check_reports_checks_and_exits_1_on_an_error(built, monkeypatch, capsys):
    code, report = flywheel_check(built, monkeypatch, capsys)
    assert code == 0 and report["success"] is True and report["assets"] == []
    assert set(report) == {"snapshot", "success", "assets", "checks"}
    names = {(c["asset"], c["name"]) for c in report["checks"]}
    assert (f"part_{TABLE}", rules.CHECK_PK_DUPES) in names
    assert (f"split_part/{TABLE}", rules.CHECK_RAW_ROWS) in names
    assert all(c["passed"] for c in report["checks"])

    with rewritten_keys(built, TABLE, 5, lambda keys: [None, *keys[1:]]):
        code, report = flywheel_check(built, monkeypatch, capsys)
    assert code == 1 and report["success"] is False
    failed = sorted((c["asset"], c["name"]) for c in report["checks"] if not c["passed"])
    # the same files back the dataset (audit) and the published table (monitor); the
    # audit also sees that the rewritten file is no longer the one its manifest recorded
    assert failed == [
        (f"part_{TABLE}", rules.CHECK_PK_NULL),
        (f"split_part/{TABLE}", rules.CHECK_FILES),
        (f"split_part/{TABLE}", rules.CHECK_PK_NULL),
    ]

    # the check audited the build in service: its record says so until the next audit
    platform, table = built.platform, built.table(TABLE)
    build = built.served_build(TABLE)
    record = read_audit(platform.lake, platform.settings, "split_part", table, SNAPSHOT, build)
    assert not record.passed
    assert sorted(record.failed_checks) == [rules.CHECK_FILES, rules.CHECK_PK_NULL]

    code, report = flywheel_check(built, monkeypatch, capsys)  # the file is restored
    assert code == 0 and all(c["passed"] for c in report["checks"])
    record = read_audit(platform.lake, platform.settings, "split_part", table, SNAPSHOT, build)
    assert record.passed and record.failed_checks == []
