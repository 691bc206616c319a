"""The table registry: the shipped sample and every validation error."""

from __future__ import annotations

import re

import pytest

from flywheel_assets.config.registry import (
    load_registries,
    load_registry,
    load_registry_files,
    packaged_split_csvs,
)
from flywheel_assets.config.settings import SettingsError
from flywheel_assets.definitions import build_definitions
from flywheel_assets.publishing import parse_table_list
from flywheel_assets.sample_data import source_columns
from flywheel_assets_tests.conftest import make_settings
from glue_jobs.registry import RegistryError, build_registry, normalize_column


def registry_from(csv_text: str, source: str = "infobase_attributes", max_columns: int = 100):
    return build_registry([(source, "split.csv", csv_text)], max_columns=max_columns)


def test_shipped_registry_has_26_infobase_tables_and_addressable_ids():
    registry = load_registry()
    assert len(registry) == 27
    assert len(registry.for_source("infobase_attributes")) == 26
    assert [t.name for t in registry.for_source("addressable_ids")] == ["addressable_ids"]
    names = {t.name for t in registry}
    assert {"IBE_01_A", "IBE_02_A", "MIACS_01_A", "MIACS_02_A"} <= names
    # the reference's widest table sits exactly at the Clean Rooms quota
    assert len(registry.get("MIACS_02_A").all_columns) == 100
    assert registry.get("ibe_01_a").part_table == "part_ibe_01_a"


def test_columns_are_normalised_and_key_is_implicit():
    registry = registry_from("table_name,column_name\nIBE_01_A,IBE01 Attr.01\n")
    table = registry.get("IBE_01_A")
    assert table.columns == ("ibe01_attr_01",)
    assert table.all_columns == ("customer_user_id", "ibe01_attr_01")
    assert normalize_column("Customer_User_id") == "customer_user_id"


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("table,column\nA,b\n", "header must be 'table_name,column_name'"),
        ("table_name,column_name\nA,b,c\n", r"split.csv:2: expected 'table_name,column_name'"),
        ("table_name,column_name\nA,x\nB,x\n", r"split.csv:3: column 'x' of B is already in A"),
        ("table_name,column_name\nA,9lives\n", r"split.csv:2: column '9lives' .* not a legal"),
        ("table_name,column_name\nA,col$\n", r"split.csv:2: column 'col\$'"),
        ("table_name,column_name\nBAD-TABLE!,x\n", r"split.csv:2: table name 'BAD-TABLE!'"),
        ("table_name,column_name\nA,Customer_User_Id\n", r"split.csv:2: .* is reserved"),
        ("table_name,column_name\nA,id_bucket\n", r"split.csv:2: .* is reserved"),
        ("table_name,column_name\n", r"^split.csv: holds no tables \(a header and no table row\)"),
        ("table_name,column_name\n\n,\n", r"^split.csv: holds no tables"),
    ],
)
def test_bad_rows_are_named_in_the_error(csv_text, message):
    with pytest.raises(RegistryError, match=message):
        registry_from(csv_text)


def test_table_over_the_allow_list_quota_is_rejected_at_its_row():
    rows = "\n".join(f"WIDE_01_A,attr_{i:03d}" for i in range(100))
    with pytest.raises(RegistryError, match=r"split.csv:101: table WIDE_01_A has more than 100"):
        registry_from("table_name,column_name\n" + rows + "\n")


def test_tables_filter_follows_the_reference():
    registry = load_registry()
    assert len(registry.filtered(None)) == 27
    assert len(registry.filtered(["_NONE_"])) == 27
    assert [t.name for t in registry.filtered(["ibe_01_a", "addressable_ids"])] == [
        "IBE_01_A",
        "addressable_ids",
    ]
    with pytest.raises(KeyError, match="nope"):
        registry.filtered(["nope"])


def test_definitions_refuse_to_load_a_bad_registry(tmp_path):
    bad = tmp_path / "split.csv"
    bad.write_text("table_name,column_name\nA,x\nA,X\n")
    with pytest.raises(RegistryError, match=r"split.csv:3: column 'x' of A is already in A"):
        load_registry_files({"infobase_attributes": bad})


def split_files(tmp_path, infobase: str, addressable: str | None):
    """The two split CSVs in ``tmp_path``; ``addressable=None`` leaves that file out."""
    files = {
        "infobase_attributes": tmp_path / "infobase_table_split.csv",
        "addressable_ids": tmp_path / "addressable_ids_table_split.csv",
    }
    files["infobase_attributes"].write_text(infobase)
    if addressable is not None:
        files["addressable_ids"].write_text(addressable)
    return files


def test_a_split_csv_with_only_a_header_is_an_error_naming_it(tmp_path):
    # the other source's tables would load, and this source would silently split nothing
    files = split_files(tmp_path, "table_name,column_name\nA,x\n", "table_name,column_name\n")
    with pytest.raises(RegistryError, match=r"^addressable_ids_table_split.csv: holds no tables"):
        load_registry_files(files)


def test_a_missing_split_csv_is_an_error_naming_it(tmp_path):
    files = split_files(tmp_path, "table_name,column_name\nA,x\n", None)
    missing = str(files["addressable_ids"])
    with pytest.raises(RegistryError, match=f"^{re.escape(missing)}: registry file not found"):
        load_registry_files(files)


# --- one registry per pipeline -------------------------------------------------------------

SHARED_INFOBASE = "table_name,column_name\nIBE_01_A,a1\nIBE_01_A,a2\nIBE_02_A,b1\n"
# the bucketed pipeline groups the same raw columns its own way, plus one of its own
LOWERCASE_INFOBASE = "table_name,column_name\nibe_01,a1\nibe_01,b1\nibe_02,a2\nibe_02,c1\n"


@pytest.fixture
def registry_folder(tmp_path, monkeypatch):
    """The shared split CSVs and a bucketed-pipeline infobase CSV, as FLYWHEEL_REGISTRY_DIR."""
    folder = tmp_path / "registry"
    folder.mkdir()
    split_files(folder, SHARED_INFOBASE, "table_name,column_name\naddressable_ids,maid\n")
    (folder / "infobase_lowercase.csv").write_text(LOWERCASE_INFOBASE)
    monkeypatch.setenv("FLYWHEEL_REGISTRY_DIR", str(folder))
    return folder


def two_pipelines(tmp_path, **files: str):
    return make_settings(
        tmp_path / "home", split_cluster_infobase_csv="infobase_lowercase.csv", **files
    )


def test_two_registries_give_each_pipeline_its_own_tables(tmp_path, registry_folder):
    settings = two_pipelines(tmp_path)
    registries = load_registries(settings)
    graph = build_definitions(settings, registries).resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}

    def named(prefix: str) -> set[str]:
        return {k for k in keys if k.startswith(prefix)}

    assert named("part_") == {
        *(
            f"part_{t}{s}"
            for t in ("ibe_01_a", "ibe_02_a", "addressable_ids")
            for s in ("", "_er", "_history")
        )
    }
    assert named("split_part/") == {
        "split_part/ibe_01_a",
        "split_part/ibe_02_a",
        "split_part/addressable_ids",
    }
    assert named("ext_") == {"ext_ibe_01", "ext_ibe_02", "ext_addressable_ids"}
    assert named("bucketed_") == {"bucketed_ibe_01", "bucketed_ibe_02", "bucketed_addressable_ids"}
    assert named("split_cluster/") == {
        "split_cluster/ibe_01",
        "split_cluster/ibe_02",
        "split_cluster/addressable_ids",
    }
    audited = {c.asset_key.to_user_string() for c in graph.asset_check_keys}
    assert named("split_cluster/") <= audited and named("split_part/") <= audited
    # load_registry() is the partitioned pipeline's; names of either are accepted
    assert [t.name for t in load_registry(settings)] == ["IBE_01_A", "IBE_02_A", "addressable_ids"]
    assert parse_table_list("ibe_02,IBE_01_A", registries, "--accept-drift") == [
        "ibe_02",
        "IBE_01_A",
    ]
    # sample data carries every column either pipeline needs, once
    assert source_columns(registries, "infobase_attributes") == ["a1", "a2", "b1", "c1"]
    assert packaged_split_csvs(settings)["split_csvs/split_cluster/infobase_attributes.csv"] == (
        registry_folder / "infobase_lowercase.csv"
    )
    assert packaged_split_csvs(settings)["split_csvs/split_part/infobase_attributes.csv"] == (
        registry_folder / "infobase_table_split.csv"
    )


def test_unset_settings_share_one_registry(tmp_path, registry_folder):
    registries = load_registries(make_settings(tmp_path / "home"))
    assert registries.split_part is registries.split_cluster


def test_a_bad_pipeline_registry_names_the_setting_and_the_line(tmp_path, registry_folder):
    (registry_folder / "infobase_lowercase.csv").write_text(LOWERCASE_INFOBASE + "ibe_03,a1\n")
    expected = (
        r"^split_cluster registry \(split_cluster_infobase_csv='infobase_lowercase.csv'\): "
        r"infobase_lowercase.csv:6: column 'a1' of ibe_03 is already in ibe_01"
    )
    with pytest.raises(RegistryError, match=expected):
        load_registries(two_pipelines(tmp_path))


def test_a_missing_pipeline_registry_names_the_setting_and_the_file(tmp_path, registry_folder):
    settings = two_pipelines(tmp_path, split_part_addressable_csv="addressable_part.csv")
    missing = re.escape(str(registry_folder / "addressable_part.csv"))
    expected = (
        r"^split_part registry \(split_part_addressable_csv='addressable_part.csv'\): "
        f"{missing}: registry file not found"
    )
    with pytest.raises(RegistryError, match=expected):
        load_registries(settings)


@pytest.mark.parametrize("value", ["../infobase.csv", "infobase.txt", "/etc/infobase.csv"])
def test_a_pipeline_registry_setting_is_a_file_name_in_the_registry_folder(tmp_path, value):
    with pytest.raises(SettingsError, match=f"^split_part_infobase_csv={re.escape(repr(value))}"):
        make_settings(tmp_path / "home", split_part_infobase_csv=value)


def test_a_table_named_like_a_derived_table_is_refused():
    text = "table_name,column_name\nIBE_01_A,a\nIBE_01_A_HISTORY,b\n"
    with pytest.raises(
        RegistryError, match=r"split.csv:3: table 'IBE_01_A_HISTORY' would be named"
    ):
        registry_from(text)
