"""The desired state is pure and validated before anything could be sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel_assets.cleanrooms.desired import (
    CleanroomsConfig,
    DesiredStateError,
    allowed_columns,
    association_name,
    build_desired_state,
    desired_configured_tables,
    desired_schema_mapping,
    id_namespace_name,
    mapped_field,
    schema_mapping_name,
    select_er_fields,
    validate_schema_mapping,
)
from flywheel_assets.config.registry import load_registry
from flywheel_assets.config.settings import load_settings
from flywheel_assets_tests.cleanrooms.fakes import (
    ACCOUNT,
    MEMBERSHIP_ID,
    PROVIDERS,
    ROLE_ARN,
    aws_settings,
    settings_for,
)
from glue_jobs.registry import Registry, TableSpec

REGISTRY = load_registry()


def wide_table(attributes: int, name: str = "BIG_01_A") -> TableSpec:
    return TableSpec(
        name, "infobase_attributes", tuple(f"big_attr_{i:03d}" for i in range(attributes))
    )


@pytest.fixture
def config(tmp_path: Path) -> CleanroomsConfig:
    return CleanroomsConfig.from_settings(aws_settings(tmp_path))


def test_config_reads_the_settings_and_defaults_the_rest(tmp_path: Path) -> None:
    config = CleanroomsConfig.from_settings(aws_settings(tmp_path))
    assert config.database == "omc_flywheel_dev"
    assert config.analysis_providers == tuple(PROVIDERS)
    assert config.membership_id == MEMBERSHIP_ID
    assert config.er_role_arn == ROLE_ARN  # falls back to the Clean Rooms role
    assert config.er_max_match_fields == 59
    assert (config.allow_replace, config.delete_unmanaged) == (False, False)
    assert config.account_from_role() == ACCOUNT


def test_profile_settings_reach_the_config_through_env_overrides(tmp_path: Path) -> None:
    settings = load_settings(
        "local",
        environ={
            "FLYWHEEL_HOME": str(tmp_path),
            "FLYWHEEL_ER_MAX_MATCH_FIELDS": "3",
            "FLYWHEEL_CLEANROOMS_ALLOW_REPLACE": "true",
            "FLYWHEEL_CLEANROOMS_ASSOCIATION_PREFIX": "org_",
            "FLYWHEEL_ANALYSIS_PROVIDERS": "111111111111",
        },
    )
    config = CleanroomsConfig.from_settings(settings)
    assert (config.er_max_match_fields, config.allow_replace) == (3, True)
    assert config.analysis_providers == ("111111111111",)
    assert association_name(REGISTRY.get("IBE_01_A"), config.association_prefix) == (
        "org_part_ibe_01_a"
    )


def test_naming_conventions() -> None:
    table = REGISTRY.get("IBE_01_A")
    assert association_name(table) == "acx_part_ibe_01_a"
    assert schema_mapping_name(table) == "ACX_SCHEMA_IBE_01_A"
    assert id_namespace_name(REGISTRY.get("addressable_ids")) == "ACX_NS_ADDRESSABLE_IDS"


def test_er_fields_are_the_key_then_attributes_in_registry_order() -> None:
    table = REGISTRY.get("IBE_02_A")
    assert select_er_fields(table) == ("customer_user_id", *table.columns)
    assert select_er_fields(table, 2) == ("customer_user_id", *table.columns[:2])


def test_er_fields_stop_at_59_attributes_so_a_mapping_has_at_most_60() -> None:
    miacs = REGISTRY.get("MIACS_02_A")
    assert len(miacs.columns) == 99
    fields = select_er_fields(miacs)
    assert len(fields) == 60
    assert fields[1:] == miacs.columns[:59]


@pytest.mark.parametrize("bad", [0, 60, -1])
def test_er_field_count_setting_is_bounded(bad: int) -> None:
    with pytest.raises(DesiredStateError, match="er_max_match_fields"):
        select_er_fields(REGISTRY.get("IBE_01_A"), bad)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("customer_user_id", {"fieldName": "customer_user_id", "type": "UNIQUE_ID"}),
        ("maid", {"fieldName": "maid", "type": "MAID", "matchKey": "MAID"}),
        (
            "hashed_email",
            {
                "fieldName": "hashed_email",
                "type": "EMAIL_ADDRESS",
                "matchKey": "EMAIL",
                "hashed": True,
            },
        ),
        ("ip_address", {"fieldName": "ip_address", "type": "IPV4", "matchKey": "IP"}),
        ("home_phone", {"fieldName": "home_phone", "type": "PHONE_NUMBER", "matchKey": "PHONE"}),
        ("zip_code", {"fieldName": "zip_code", "type": "ADDRESS_POSTALCODE"}),
        ("ibe01_attr_01", {"fieldName": "ibe01_attr_01", "type": "STRING"}),
        ("id_type", {"fieldName": "id_type", "type": "STRING"}),
    ],
)
def test_fields_are_typed_by_the_documented_rule(column: str, expected: dict) -> None:
    assert mapped_field(column) == expected


def test_schema_mapping_document_matches_the_reference_layout() -> None:
    mapping = desired_schema_mapping(REGISTRY.get("addressable_ids"))
    assert mapping.filename == "part_addressable_ids_er_schema_mapping.json"
    assert mapping.document() == {
        "schemaName": "ACX_SCHEMA_ADDRESSABLE_IDS",
        "description": (
            "Entity Resolution schema for part_addressable_ids_er (customer_user_id as unique id)"
        ),
        "mappedInputFields": [
            {"fieldName": "customer_user_id", "type": "UNIQUE_ID"},
            {"fieldName": "maid", "type": "MAID", "matchKey": "MAID"},
            {
                "fieldName": "hashed_email",
                "type": "EMAIL_ADDRESS",
                "matchKey": "EMAIL",
                "hashed": True,
            },
            {"fieldName": "ip_address", "type": "IPV4", "matchKey": "IP"},
            {"fieldName": "id_type", "type": "STRING"},
        ],
    }


def test_a_table_with_only_the_key_cannot_be_mapped() -> None:
    with pytest.raises(DesiredStateError, match=r"part_lonely_er: .* 1 fields.*2 to 60"):
        desired_schema_mapping(TableSpec("LONELY", "infobase_attributes", ()))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([{"fieldName": "a", "type": "UNIQUE_ID"}, {"fieldName": "b.c", "type": "STRING"}], "b.c"),
        ([{"fieldName": "a", "type": "UNIQUE_ID"}, {"fieldName": "b", "type": "TEXT"}], "TEXT"),
        ([{"fieldName": "a", "type": "STRING"}, {"fieldName": "b", "type": "STRING"}], "UNIQUE_ID"),
        ([{"fieldName": "a", "type": "UNIQUE_ID"}, {"fieldName": "a", "type": "STRING"}], "twice"),
        ([{"fieldName": f"f{i}", "type": "STRING"} for i in range(61)], "61 fields"),
    ],
)
def test_schema_mapping_validation_rejects_what_the_service_rejects(
    fields: list, message: str
) -> None:
    document = {"schemaName": "ACX_SCHEMA_X", "mappedInputFields": fields}
    with pytest.raises(DesiredStateError, match=message):
        validate_schema_mapping(document, "part_x_er")


def test_allowed_columns_are_every_column_lowercase() -> None:
    table = TableSpec("T_A", "infobase_attributes", ("Mixed_Case", "b"))
    assert allowed_columns(table) == ("customer_user_id", "mixed_case", "b")
    miacs = REGISTRY.get("MIACS_02_A")
    assert allowed_columns(miacs) == miacs.all_columns  # exactly 100: at the limit, kept whole


def test_101_columns_fail_naming_the_table_never_truncated(config: CleanroomsConfig) -> None:
    registry = Registry((REGISTRY.get("IBE_01_A"), wide_table(100)))
    with pytest.raises(DesiredStateError) as raised:
        desired_configured_tables(registry, config)
    message = str(raised.value)
    assert "part_big_01_a" in message
    assert "101 columns" in message and "100" in message
    assert "never truncated" in message


def test_configured_table_requests_are_complete(config: CleanroomsConfig) -> None:
    (desired,) = desired_configured_tables([REGISTRY.get("IBE_01_A")], config)
    assert desired.create_table_params() == {
        "name": "part_ibe_01_a",
        "description": "omc_flywheel_dev.part_ibe_01_a (managed by flywheel)",
        "tableReference": {
            "glue": {"tableName": "part_ibe_01_a", "databaseName": "omc_flywheel_dev"}
        },
        "allowedColumns": ["customer_user_id", "ibe01_attr_01", "ibe01_attr_02", "ibe01_attr_03"],
        "analysisMethod": "DIRECT_QUERY",
    }
    assert desired.analysis_rule_params("x", desired.custom_policy()) == {
        "configuredTableIdentifier": "x",
        "analysisRuleType": "CUSTOM",
        "analysisRulePolicy": {
            "v1": {
                "custom": {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": PROVIDERS}
            }
        },
    }
    assert desired.create_association_params("x") == {
        "name": "acx_part_ibe_01_a",
        "description": "part_ibe_01_a in the collaboration (managed by flywheel)",
        "membershipIdentifier": MEMBERSHIP_ID,
        "configuredTableIdentifier": "x",
        "roleArn": ROLE_ARN,
    }


def test_without_membership_no_association_is_desired(tmp_path: Path) -> None:
    config = CleanroomsConfig.from_settings(settings_for(tmp_path, "local"))
    state = build_desired_state(REGISTRY, config)
    assert len(state.configured_tables) == 27
    assert all(d.association is None for d in state.configured_tables)
    assert any("cleanrooms_membership_id is not set" in n for n in state.notes)
    assert all("<aws_account_id>" in n.input_source_arn for n in state.id_namespaces)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"analysis_providers": ()}, "analysis_providers is empty"),
        ({"analysis_providers": ("12345",)}, "12-digit"),
        ({"analysis_providers": (PROVIDERS[0], PROVIDERS[0])}, "repeat"),
        ({"cleanrooms_membership_id": "membership-xyz"}, "not a membership id"),
        ({"cleanrooms_role_arn": ""}, "cleanrooms_role_arn must be an IAM role ARN"),
    ],
)
def test_bad_settings_fail_before_any_request(
    tmp_path: Path, overrides: dict, message: str
) -> None:
    config = CleanroomsConfig.from_settings(aws_settings(tmp_path, **overrides))
    with pytest.raises(DesiredStateError, match=message):
        build_desired_state(REGISTRY, config, ACCOUNT)


def test_id_namespaces_refer_to_the_er_glue_tables(config: CleanroomsConfig) -> None:
    state = build_desired_state(REGISTRY, config, ACCOUNT)
    namespace = state.id_namespaces[0]
    assert namespace.create_params() == {
        "idNamespaceName": "ACX_NS_IBE_01_A",
        "description": "Source: omc_flywheel_dev.part_ibe_01_a_er (managed by flywheel)",
        "inputSourceConfig": [
            {
                "inputSourceARN": (
                    f"arn:aws:glue:us-east-1:{ACCOUNT}:table/omc_flywheel_dev/part_ibe_01_a_er"
                ),
                "schemaName": "ACX_SCHEMA_IBE_01_A",
            }
        ],
        "type": "SOURCE",
        "roleArn": ROLE_ARN,
    }
    assert len(state.schema_mappings) == len(state.id_namespaces) == 27
