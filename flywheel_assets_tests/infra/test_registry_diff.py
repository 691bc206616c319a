"""A table added to the registry CSV is a reviewable template diff: its three reader
grants in the table-grants stack, and nothing else anywhere."""

from __future__ import annotations

import difflib

from flywheel_assets.deploy import names
from flywheel_assets_tests.infra.helpers import (
    by_key,
    infra_settings,
    registry_with_extra_table,
    stacks_of,
)

NEW_TABLE = "IBE_99_A"


def test_a_new_table_adds_its_grants_and_changes_nothing_else(tmp_path):
    before = by_key(stacks_of("dev"))
    registry = registry_with_extra_table(tmp_path, NEW_TABLE, ["IBE99_Attr_01", "IBE99_Attr_02"])
    assert NEW_TABLE in {t.name for t in registry}
    after = by_key(stacks_of("dev", registry))

    assert [k for k in before if before[k].body() != after[k].body()] == ["table-grants"]
    old, new = before["table-grants"].resources, after["table-grants"].resources
    assert set(old) - set(new) == set()
    assert all(old[k] == new[k] for k in old)
    added = {k: new[k] for k in set(new) - set(old)}
    assert set(added) == {"ReaderPartIbe99A", "ReaderPartIbe99AEr", "ReaderBucketedIbe99A"}
    settings = infra_settings("dev")
    reader = names.role_name(settings, "cleanrooms_reader")
    granted = {}
    for grant in added.values():
        p = grant["Properties"]
        assert p["Principal"]["DataLakePrincipalIdentifier"]["Fn::Sub"].endswith(f"role/{reader}")
        assert p["Permissions"] == ["DESCRIBE", "SELECT"]
        assert p["PermissionsWithGrantOption"] == []
        granted[p["Resource"]["Table"]["Name"]] = p["Resource"]["Table"]["DatabaseName"]
    assert granted == {
        "part_ibe_99_a": settings.glue_database,
        "part_ibe_99_a_er": settings.glue_database,
        "bucketed_ibe_99_a": settings.glue_database,
    }

    # as a reviewer reads it: only added lines
    diff = difflib.unified_diff(
        before["table-grants"].body().splitlines(),
        after["table-grants"].body().splitlines(),
        lineterm="",
        n=0,
    )
    changed = [line for line in diff if not line.startswith(("---", "+++", "@@"))]
    assert changed and all(line.startswith("+") for line in changed)
    assert sum(line.startswith("+  Reader") for line in changed) == 3
