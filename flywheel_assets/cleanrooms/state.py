"""The actual Clean Rooms / Entity Resolution state that a plan is diffed against.

On AWS ``read.py`` fills these from the services; on the local profile
``planned_cleanrooms_state`` / ``planned_entity_resolution_state`` stand in for them with
what applying the desired state would leave, so checks and the report work offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flywheel_assets.cleanrooms.desired import (
    ANALYSIS_RULE_TYPE,
    DesiredConfiguredTable,
    DesiredIdNamespace,
    DesiredSchemaMapping,
)


@dataclass(frozen=True)
class ActualConfiguredTable:
    id: str
    name: str
    allowed_columns: tuple[str, ...] = ()
    table_reference: dict[str, Any] = field(default_factory=dict)
    analysis_method: str = ""
    description: str = ""
    analysis_rule_types: tuple[str, ...] = ()
    custom_policy: dict[str, Any] | None = None  # analysisRule.policy.v1.custom


@dataclass(frozen=True)
class ActualAssociation:
    id: str
    name: str
    configured_table_id: str
    membership_id: str
    role_arn: str = ""
    description: str = ""


@dataclass
class CleanroomsActual:
    configured_tables: dict[str, ActualConfiguredTable] = field(default_factory=dict)
    summaries: list[dict[str, Any]] = field(default_factory=list)  # every configured table
    associations: list[ActualAssociation] = field(default_factory=list)  # in the membership
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # name -> ids not chosen

    def association_for(self, table_id: str) -> ActualAssociation | None:
        return next((a for a in self.associations if a.configured_table_id == table_id), None)


@dataclass(frozen=True)
class ActualSchemaMapping:
    name: str
    description: str = ""
    fields: tuple[dict[str, Any], ...] = ()
    has_workflows: bool = False
    arn: str = ""


@dataclass(frozen=True)
class ActualIdNamespace:
    name: str
    type: str = ""
    description: str = ""
    input_source_config: tuple[dict[str, Any], ...] = ()
    role_arn: str = ""
    arn: str = ""


@dataclass
class EntityResolutionActual:
    schema_mappings: dict[str, ActualSchemaMapping] = field(default_factory=dict)
    id_namespaces: dict[str, ActualIdNamespace] = field(default_factory=dict)
    schema_mapping_names: list[str] = field(default_factory=list)  # every mapping
    id_namespace_names: list[str] = field(default_factory=list)  # every namespace


# --- local profile: the state a plan would leave -------------------------------------------


def planned_cleanrooms_state(desired: Sequence[DesiredConfiguredTable]) -> CleanroomsActual:
    """What Clean Rooms would hold after applying ``desired`` (ids are placeholders)."""
    actual = CleanroomsActual()
    for d in desired:
        table_id = f"planned:{d.name}"
        actual.configured_tables[d.name] = ActualConfiguredTable(
            id=table_id,
            name=d.name,
            allowed_columns=d.allowed_columns,
            table_reference=d.table_reference,
            analysis_method=d.analysis_method,
            description=d.description,
            analysis_rule_types=(ANALYSIS_RULE_TYPE,),
            custom_policy=d.custom_policy(),
        )
        actual.summaries.append({"id": table_id, "name": d.name})
        if d.association:
            actual.associations.append(
                ActualAssociation(
                    id=f"planned:{d.association.name}",
                    name=d.association.name,
                    configured_table_id=table_id,
                    membership_id=d.association.membership_id,
                    role_arn=d.association.role_arn,
                    description=d.association.description,
                )
            )
    return actual


def planned_entity_resolution_state(
    mappings: Sequence[DesiredSchemaMapping], namespaces: Sequence[DesiredIdNamespace]
) -> EntityResolutionActual:
    """What Entity Resolution would hold after applying ``mappings`` and ``namespaces``."""
    actual = EntityResolutionActual()
    for m in mappings:
        actual.schema_mappings[m.name] = ActualSchemaMapping(m.name, m.description, m.fields)
        actual.schema_mapping_names.append(m.name)
    for n in namespaces:
        actual.id_namespaces[n.name] = ActualIdNamespace(
            n.name, n.type, n.description, tuple(n.input_source_config()), n.role_arn
        )
        actual.id_namespace_names.append(n.name)
    return actual
