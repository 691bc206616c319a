"""Desired Clean Rooms / Entity Resolution state, derived from the registry and settings.

Pure: no I/O, no clients. Everything the reconciler may send is built and validated
here first, so a bad table (101 columns, an illegal field name) fails with a message
naming the table before a single request leaves the process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flywheel_assets.config.settings import Settings
from glue_jobs.registry import KEY_COLUMN, MAX_ALLOWED_COLUMNS, Registry, TableSpec

# --- conventions (documented in docs/cleanrooms.md) -------------------------------------

ANALYSIS_METHOD = "DIRECT_QUERY"
ANALYSIS_RULE_TYPE = "CUSTOM"
DEFAULT_ALLOWED_ANALYSES = ("ANY_QUERY",)
DEFAULT_ASSOCIATION_PREFIX = "acx_"  # the reference's convention: acx_<part table>
SCHEMA_MAPPING_PREFIX = "ACX_SCHEMA_"  # the reference's generated mappings
ID_NAMESPACE_PREFIX = "ACX_NS_"
# Entity Resolution takes 2..60 mapped fields; one is the unique id, so at most 59 others.
ER_MIN_FIELDS = 2
ER_MAX_FIELDS = 60
DEFAULT_ER_MAX_MATCH_FIELDS = ER_MAX_FIELDS - 1
UNIQUE_ID_TYPE = "UNIQUE_ID"
DEFAULT_FIELD_TYPE = "STRING"
# Placeholder shown in local plans when the account cannot be known without AWS.
UNKNOWN_ACCOUNT = "<aws_account_id>"

# Legal values, from the service models (botocore's Stubber checks shapes, not patterns).
ER_FIELD_TYPES = frozenset(
    {
        "NAME",
        "NAME_FIRST",
        "NAME_MIDDLE",
        "NAME_LAST",
        "ADDRESS",
        "ADDRESS_STREET1",
        "ADDRESS_STREET2",
        "ADDRESS_STREET3",
        "ADDRESS_CITY",
        "ADDRESS_STATE",
        "ADDRESS_COUNTRY",
        "ADDRESS_POSTALCODE",
        "PHONE",
        "PHONE_NUMBER",
        "PHONE_COUNTRYCODE",
        "EMAIL_ADDRESS",
        "UNIQUE_ID",
        "DATE",
        "STRING",
        "PROVIDER_ID",
        "IPV4",
        "IPV6",
        "MAID",
    }
)
ER_FIELD_NAME = re.compile(r"^[a-zA-Z_0-9\- ]{1,255}$")
ER_RESOURCE_NAME = re.compile(r"^[a-zA-Z_0-9\-]{1,255}$")
CR_COLUMN = re.compile(r"^[a-z0-9_](([a-z0-9_ ]+-)*([a-z0-9_ ]+))?$")
CR_ASSOCIATION_NAME = re.compile(r"^[a-zA-Z0-9_](([a-zA-Z0-9_ ]+-)*([a-zA-Z0-9_ ]+))?$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
MEMBERSHIP_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/[\w+=./@-]+$")


class DesiredStateError(ValueError):
    """The registry or settings describe a state Clean Rooms / Entity Resolution rejects."""


@dataclass(frozen=True)
class FieldRule:
    """Columns whose name matches ``pattern`` get Entity Resolution ``type`` / ``match_key``."""

    pattern: str
    type: str
    match_key: str | None = None


# The typing rule, first match wins; anything else is a STRING attribute with no match key.
FIELD_TYPE_RULES: tuple[FieldRule, ...] = (
    FieldRule(r"email|(^|_)mail(_|$)", "EMAIL_ADDRESS", "EMAIL"),
    FieldRule(r"(^|_)maid(_|$)", "MAID", "MAID"),
    FieldRule(r"(^|_)ipv6(_|$)", "IPV6", "IP"),
    FieldRule(r"(^|_)ip(v4|_address|_addr)?(_|$)", "IPV4", "IP"),
    FieldRule(r"phone", "PHONE_NUMBER", "PHONE"),
    FieldRule(r"(^|_)(zip|postal)", "ADDRESS_POSTALCODE", None),
    FieldRule(r"(^|_)(dob|date)(_|$)", "DATE", None),
)
HASHED_PREFIXES = ("hashed_", "sha256_", "md5_")


@dataclass(frozen=True)
class CleanroomsConfig:
    """The settings this module reads."""

    database: str
    region: str
    analysis_providers: tuple[str, ...]
    membership_id: str = ""
    role_arn: str = ""
    er_role_arn: str = ""
    er_max_match_fields: int = DEFAULT_ER_MAX_MATCH_FIELDS
    association_prefix: str = DEFAULT_ASSOCIATION_PREFIX
    allowed_analyses: tuple[str, ...] = DEFAULT_ALLOWED_ANALYSES
    allow_replace: bool = False
    delete_unmanaged: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> CleanroomsConfig:
        return cls(
            database=settings.glue_database,
            region=settings.region,
            analysis_providers=settings.analysis_providers,
            membership_id=settings.cleanrooms_membership_id,
            role_arn=settings.cleanrooms_role_arn,
            er_role_arn=settings.entity_resolution_role_arn or settings.cleanrooms_role_arn,
            er_max_match_fields=settings.er_max_match_fields,
            association_prefix=settings.cleanrooms_association_prefix,
            allowed_analyses=settings.cleanrooms_allowed_analyses,
            allow_replace=settings.cleanrooms_allow_replace,
            delete_unmanaged=settings.cleanrooms_delete_unmanaged,
        )

    def account_from_role(self) -> str | None:
        """The account id embedded in a role ARN, so plans need no STS call when it is set."""
        for arn in (self.role_arn, self.er_role_arn):
            match = ROLE_ARN.match(arn or "")
            if match:
                return match.group(1)
        return None


# --- naming -----------------------------------------------------------------------------


def configured_table_name(table: TableSpec) -> str:
    """A configured table is named exactly like the Glue table it exposes."""
    return table.part_table


def association_name(table: TableSpec, prefix: str = DEFAULT_ASSOCIATION_PREFIX) -> str:
    """``acx_part_ibe_01_a``: the reference migrated every association to this form."""
    return f"{prefix}{table.part_table}"


def schema_mapping_name(table: TableSpec) -> str:
    """``ACX_SCHEMA_IBE_01_A`` for ``part_ibe_01_a_er``, as the reference generated them."""
    return f"{SCHEMA_MAPPING_PREFIX}{table.slug.upper()}"


def id_namespace_name(table: TableSpec) -> str:
    return f"{ID_NAMESPACE_PREFIX}{table.slug.upper()}"


def glue_table_arn(region: str, account_id: str, database: str, table: str) -> str:
    return f"arn:aws:glue:{region}:{account_id}:table/{database}/{table}"


def schema_mapping_filename(table: TableSpec) -> str:
    """``part_ibe_01_a_er_schema_mapping.json``, the reference's file name."""
    return f"{table.er_table}_schema_mapping.json"


# --- Entity Resolution field rule ---------------------------------------------------------


def select_er_fields(
    table: TableSpec, max_match_fields: int = DEFAULT_ER_MAX_MATCH_FIELDS
) -> tuple[str, ...]:
    """The ``_er`` table's columns: the unique id, then up to N attributes in registry order.

    Registry order is the order the business already curated in the split CSVs; N
    defaults to 59 so that a mapping never exceeds Entity Resolution's 60 fields.
    """
    if not 1 <= max_match_fields <= ER_MAX_FIELDS - 1:
        raise DesiredStateError(
            f"er_max_match_fields={max_match_fields}: must be 1..{ER_MAX_FIELDS - 1} so a "
            f"schema mapping has {ER_MIN_FIELDS}..{ER_MAX_FIELDS} fields"
        )
    return (KEY_COLUMN, *table.columns[:max_match_fields])


def mapped_field(column: str, rules: Iterable[FieldRule] = FIELD_TYPE_RULES) -> dict[str, Any]:
    """One ``mappedInputFields`` entry: the key is UNIQUE_ID, the rest typed by ``rules``."""
    if column == KEY_COLUMN:
        return {"fieldName": column, "type": UNIQUE_ID_TYPE}
    entry: dict[str, Any] = {"fieldName": column, "type": DEFAULT_FIELD_TYPE}
    for rule in rules:
        if re.search(rule.pattern, column):
            entry["type"] = rule.type
            if rule.match_key:
                entry["matchKey"] = rule.match_key
            break
    if column.startswith(HASHED_PREFIXES):
        entry["hashed"] = True
    return entry


def validate_schema_mapping(document: dict[str, Any], table: str) -> None:
    """Reject what Entity Resolution would reject, naming the table."""
    name = document.get("schemaName", "")
    if not ER_RESOURCE_NAME.match(name):
        raise DesiredStateError(f"{table}: schema mapping name {name!r} is not legal")
    fields = document.get("mappedInputFields", [])
    if not ER_MIN_FIELDS <= len(fields) <= ER_MAX_FIELDS:
        raise DesiredStateError(
            f"{table}: schema mapping {name} has {len(fields)} fields; Entity Resolution "
            f"takes {ER_MIN_FIELDS} to {ER_MAX_FIELDS}"
        )
    seen: set[str] = set()
    for entry in fields:
        field_name = entry.get("fieldName", "")
        if not ER_FIELD_NAME.match(field_name):
            raise DesiredStateError(f"{table}: field name {field_name!r} is not legal")
        if field_name in seen:
            raise DesiredStateError(f"{table}: field {field_name!r} is mapped twice")
        seen.add(field_name)
        if entry.get("type") not in ER_FIELD_TYPES:
            raise DesiredStateError(
                f"{table}: field {field_name!r} has type {entry.get('type')!r}, not one of "
                f"{sorted(ER_FIELD_TYPES)}"
            )
        match_key = entry.get("matchKey")
        if match_key is not None and not ER_FIELD_NAME.match(match_key):
            raise DesiredStateError(f"{table}: match key {match_key!r} is not legal")
    unique = [e["fieldName"] for e in fields if e["type"] == UNIQUE_ID_TYPE]
    if len(unique) != 1:
        raise DesiredStateError(
            f"{table}: schema mapping {name} needs exactly one UNIQUE_ID field, has {unique}"
        )


# --- desired resources --------------------------------------------------------------------


@dataclass(frozen=True)
class DesiredAssociation:
    name: str
    membership_id: str
    role_arn: str
    description: str


@dataclass(frozen=True)
class DesiredConfiguredTable:
    """One configured table with its CUSTOM analysis rule and (optional) association."""

    slug: str
    name: str
    database: str
    allowed_columns: tuple[str, ...]
    allowed_analyses: tuple[str, ...]
    providers: tuple[str, ...]
    description: str
    association: DesiredAssociation | None
    analysis_method: str = ANALYSIS_METHOD

    @property
    def table_reference(self) -> dict[str, Any]:
        return {"glue": {"tableName": self.name, "databaseName": self.database}}

    def custom_policy(self) -> dict[str, Any]:
        return {
            "allowedAnalyses": list(self.allowed_analyses),
            "allowedAnalysisProviders": list(self.providers),
        }

    def create_table_params(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tableReference": self.table_reference,
            "allowedColumns": list(self.allowed_columns),
            "analysisMethod": self.analysis_method,
        }

    def analysis_rule_params(self, table_id: Any, custom: dict[str, Any]) -> dict[str, Any]:
        return {
            "configuredTableIdentifier": table_id,
            "analysisRuleType": ANALYSIS_RULE_TYPE,
            "analysisRulePolicy": {"v1": {"custom": custom}},
        }

    def create_association_params(self, table_id: Any) -> dict[str, Any]:
        assert self.association is not None
        return {
            "name": self.association.name,
            "description": self.association.description,
            "membershipIdentifier": self.association.membership_id,
            "configuredTableIdentifier": table_id,
            "roleArn": self.association.role_arn,
        }


@dataclass(frozen=True)
class DesiredSchemaMapping:
    slug: str
    er_table: str
    name: str
    description: str
    fields: tuple[dict[str, Any], ...]
    filename: str

    def document(self) -> dict[str, Any]:
        """The create request body, also the JSON file written next to the plan."""
        return {
            "schemaName": self.name,
            "description": self.description,
            "mappedInputFields": [dict(f) for f in self.fields],
        }

    @property
    def unique_id(self) -> str:
        return next(f["fieldName"] for f in self.fields if f["type"] == UNIQUE_ID_TYPE)


@dataclass(frozen=True)
class DesiredIdNamespace:
    slug: str
    name: str
    description: str
    input_source_arn: str
    schema_name: str
    role_arn: str
    type: str = "SOURCE"

    def input_source_config(self) -> list[dict[str, str]]:
        return [{"inputSourceARN": self.input_source_arn, "schemaName": self.schema_name}]

    def create_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "idNamespaceName": self.name,
            "description": self.description,
            "inputSourceConfig": self.input_source_config(),
            "type": self.type,
        }
        if self.role_arn:
            params["roleArn"] = self.role_arn
        return params


@dataclass(frozen=True)
class DesiredState:
    configured_tables: tuple[DesiredConfiguredTable, ...] = ()
    schema_mappings: tuple[DesiredSchemaMapping, ...] = ()
    id_namespaces: tuple[DesiredIdNamespace, ...] = ()
    notes: tuple[str, ...] = field(default=())


# --- builders ---------------------------------------------------------------------------


def allowed_columns(table: TableSpec) -> tuple[str, ...]:
    """Every column of the ``part_*`` table, lowercase; over the quota is an error, never a cut.

    The reference silently truncated ``part_miacs_02_a`` at 100 columns; here the
    registry must be split instead.
    """
    columns = tuple(c.lower() for c in table.all_columns)
    if len(columns) > MAX_ALLOWED_COLUMNS:
        raise DesiredStateError(
            f"{table.part_table}: {len(columns)} columns exceed the Clean Rooms limit of "
            f"{MAX_ALLOWED_COLUMNS} allowed columns per configured table; split the table in "
            "the registry (columns are never truncated)"
        )
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise DesiredStateError(f"{table.part_table}: duplicate columns {duplicates}")
    illegal = [c for c in columns if not CR_COLUMN.match(c) or len(c) > 128]
    if illegal:
        raise DesiredStateError(f"{table.part_table}: illegal Clean Rooms column names {illegal}")
    return columns


def _validate_config(config: CleanroomsConfig) -> list[str]:
    notes: list[str] = []
    if not config.analysis_providers:
        raise DesiredStateError(
            "analysis_providers is empty: a configured table needs at least one analysis "
            "provider account to be ready for analysis"
        )
    bad = [p for p in config.analysis_providers if not ACCOUNT_ID.match(p)]
    if bad:
        raise DesiredStateError(f"analysis_providers {bad} are not 12-digit account ids")
    if len(set(config.analysis_providers)) != len(config.analysis_providers):
        raise DesiredStateError(f"analysis_providers {config.analysis_providers} repeat an id")
    bad = [
        a
        for a in config.allowed_analyses
        if a not in ("ANY_QUERY", "ANY_JOB") and not a.startswith("arn:aws:cleanrooms:")
    ]
    if bad or not config.allowed_analyses:
        raise DesiredStateError(
            f"cleanrooms_allowed_analyses {config.allowed_analyses}: need ANY_QUERY, ANY_JOB "
            "or analysis template ARNs"
        )
    if config.membership_id:
        if not MEMBERSHIP_ID.match(config.membership_id):
            raise DesiredStateError(
                f"cleanrooms_membership_id {config.membership_id!r} is not a membership id "
                "(a lowercase UUID)"
            )
        if not ROLE_ARN.match(config.role_arn):
            raise DesiredStateError(
                "cleanrooms_role_arn must be an IAM role ARN when cleanrooms_membership_id is "
                f"set (associations need it), got {config.role_arn!r}"
            )
    else:
        notes.append("cleanrooms_membership_id is not set: no associations are desired")
    if config.er_role_arn and not ROLE_ARN.match(config.er_role_arn):
        raise DesiredStateError(f"entity resolution role {config.er_role_arn!r} is not a role ARN")
    if not CR_ASSOCIATION_NAME.match(config.association_prefix + "x"):
        raise DesiredStateError(f"association prefix {config.association_prefix!r} is not legal")
    return notes


def desired_configured_tables(
    tables: Iterable[TableSpec], config: CleanroomsConfig
) -> tuple[DesiredConfiguredTable, ...]:
    """Configured tables + CUSTOM rules + associations; every table is validated first."""
    _validate_config(config)
    result = []
    for table in tables:
        columns = allowed_columns(table)
        association = None
        if config.membership_id:
            name = association_name(table, config.association_prefix)
            if not CR_ASSOCIATION_NAME.match(name) or len(name) > 128:
                raise DesiredStateError(f"{table.part_table}: association name {name!r} is illegal")
            association = DesiredAssociation(
                name=name,
                membership_id=config.membership_id,
                role_arn=config.role_arn,
                description=f"{table.part_table} in the collaboration (managed by flywheel)",
            )
        result.append(
            DesiredConfiguredTable(
                slug=table.slug,
                name=configured_table_name(table),
                database=config.database,
                allowed_columns=columns,
                allowed_analyses=config.allowed_analyses,
                providers=config.analysis_providers,
                description=f"{config.database}.{table.part_table} (managed by flywheel)",
                association=association,
            )
        )
    return tuple(result)


def desired_schema_mapping(
    table: TableSpec,
    max_match_fields: int = DEFAULT_ER_MAX_MATCH_FIELDS,
    rules: Iterable[FieldRule] = FIELD_TYPE_RULES,
) -> DesiredSchemaMapping:
    rules = tuple(rules)
    fields = tuple(mapped_field(c, rules) for c in select_er_fields(table, max_match_fields))
    mapping = DesiredSchemaMapping(
        slug=table.slug,
        er_table=table.er_table,
        name=schema_mapping_name(table),
        description=f"Entity Resolution schema for {table.er_table} ({KEY_COLUMN} as unique id)",
        fields=fields,
        filename=schema_mapping_filename(table),
    )
    validate_schema_mapping(mapping.document(), table.er_table)
    return mapping


def desired_entity_resolution(
    tables: Iterable[TableSpec],
    config: CleanroomsConfig,
    account_id: str,
    rules: Iterable[FieldRule] = FIELD_TYPE_RULES,
) -> tuple[tuple[DesiredSchemaMapping, ...], tuple[DesiredIdNamespace, ...]]:
    """One schema mapping and one SOURCE ID namespace per ``_er`` table."""
    rules = tuple(rules)
    mappings, namespaces = [], []
    for table in tables:
        mapping = desired_schema_mapping(table, config.er_max_match_fields, rules)
        namespace = DesiredIdNamespace(
            slug=table.slug,
            name=id_namespace_name(table),
            description=f"Source: {config.database}.{table.er_table} (managed by flywheel)",
            input_source_arn=glue_table_arn(
                config.region, account_id, config.database, table.er_table
            ),
            schema_name=mapping.name,
            role_arn=config.er_role_arn,
        )
        if not ER_RESOURCE_NAME.match(namespace.name):
            raise DesiredStateError(f"{table.er_table}: ID namespace {namespace.name!r} is illegal")
        mappings.append(mapping)
        namespaces.append(namespace)
    return tuple(mappings), tuple(namespaces)


def build_desired_state(
    registry: Registry | Iterable[TableSpec],
    config: CleanroomsConfig,
    account_id: str = UNKNOWN_ACCOUNT,
    rules: Iterable[FieldRule] = FIELD_TYPE_RULES,
) -> DesiredState:
    """The whole desired state; raises DesiredStateError before anything is sent."""
    tables = list(registry)
    notes = _validate_config(config)
    if account_id == UNKNOWN_ACCOUNT:
        notes.append(
            "AWS account id unknown (no role ARN set, local profile): ID namespace input "
            f"sources show {UNKNOWN_ACCOUNT}"
        )
    if not config.er_role_arn:
        notes.append("no Entity Resolution role ARN set: ID namespaces are planned without one")
    configured = desired_configured_tables(tables, config)
    mappings, namespaces = desired_entity_resolution(tables, config, account_id, rules)
    return DesiredState(configured, mappings, namespaces, tuple(notes))
