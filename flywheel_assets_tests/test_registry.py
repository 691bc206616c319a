"""The table registry: the shipped sample and every validation error."""

from __future__ import annotations

import re

import pytest

from flywheel_assets.config.registry import load_registry, load_registry_files
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
