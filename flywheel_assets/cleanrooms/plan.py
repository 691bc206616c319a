"""What a reconcile plan is: the exact requests to send and what is left alone.

A ``Plan`` is data, built by ``plan_cleanrooms`` / ``plan_entity_resolution`` and sent by
``apply_plan``; the local profile only writes it down. A request may name the id of a
resource that an earlier request of the same plan creates (``Ref``), filled in by apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CLEANROOMS = "cleanrooms"
ENTITY_RESOLUTION = "entityresolution"
CONFIGURED_TABLE = "configured_table"
ANALYSIS_RULE = "analysis_rule"
ASSOCIATION = "association"
SCHEMA_MAPPING = "schema_mapping"
ID_NAMESPACE = "id_namespace"
CREATE, UPDATE, DELETE = "create", "update", "delete"


@dataclass(frozen=True)
class Ref:
    """The id that an earlier request of the same plan returns (a table not created yet)."""

    key: str

    def __str__(self) -> str:
        return "${" + self.key + ".id}"


@dataclass(frozen=True)
class Request:
    """One exact boto3 call: ``clients(service).<operation>(**params)``."""

    service: str
    operation: str
    params: dict[str, Any]
    action: str
    resource: str
    table: str
    name: str
    reason: str = ""
    binds: str | None = None  # Ref key that this request's response id fills

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "params": render(self.params),
            "action": self.action,
            "resource": self.resource,
            "table": self.table,
            "name": self.name,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Outcome:
    """A resource the plan leaves alone: unchanged, blocked (with why) or kept."""

    resource: str
    table: str
    name: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "resource": self.resource,
            "table": self.table,
            "name": self.name,
            "detail": self.detail,
        }


@dataclass
class Plan:
    requests: list[Request] = field(default_factory=list)
    unchanged: list[Outcome] = field(default_factory=list)
    blocked: list[Outcome] = field(default_factory=list)
    kept: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "created": sum(r.action == CREATE for r in self.requests),
            "updated": sum(r.action == UPDATE for r in self.requests),
            "deleted": sum(r.action == DELETE for r in self.requests),
            "unchanged": len(self.unchanged),
            "blocked": len(self.blocked),
            "unmanaged_kept": len(self.kept),
        }

    def for_table(self, slug: str) -> Plan:
        return Plan(
            [r for r in self.requests if r.table == slug],
            [o for o in self.unchanged if o.table == slug],
            [o for o in self.blocked if o.table == slug],
            [o for o in self.kept if o.table == slug],
            list(self.notes),
        )

    def extend(self, other: Plan) -> Plan:
        return Plan(
            self.requests + other.requests,
            self.unchanged + other.unchanged,
            self.blocked + other.blocked,
            self.kept + other.kept,
            self.notes + [n for n in other.notes if n not in self.notes],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "requests": [r.to_json() for r in self.requests],
            "unchanged": [o.to_json() for o in self.unchanged],
            "blocked": [o.to_json() for o in self.blocked],
            "unmanaged_kept": [o.to_json() for o in self.kept],
            "notes": list(self.notes),
        }

    def markdown(self, limit: int = 200) -> str:
        """A table a user reads in the Dagster UI before (local) or after (AWS) the change."""
        counts = ", ".join(f"{k}: {v}" for k, v in self.counts().items())
        lines = [f"**{counts}**", "", "| action | resource | table | name | detail |"]
        lines.append("| --- | --- | --- | --- | --- |")
        rows = [(r.action, r.resource, r.table, r.name, r.reason) for r in self.requests]
        rows += [("blocked", o.resource, o.table, o.name, o.detail) for o in self.blocked]
        rows += [("kept", o.resource, o.table, o.name, o.detail) for o in self.kept]
        rows += [("unchanged", o.resource, o.table, o.name, o.detail) for o in self.unchanged]
        for row in rows[:limit]:
            lines.append("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |")
        if len(rows) > limit:
            lines.append(f"| ... | {len(rows) - limit} more rows | | | |")
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def render(value: Any) -> Any:
    """JSON-ready params: a Ref shows as ``${configured_table:<name>.id}``."""
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, Mapping):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v) for v in value]
    return value


def resolve(value: Any, bindings: Mapping[str, str]) -> Any:
    """``value`` with every Ref replaced by the id its creating request returned."""
    if isinstance(value, Ref):
        if value.key not in bindings:
            raise KeyError(f"{value} is used before the request that creates it")
        return bindings[value.key]
    if isinstance(value, Mapping):
        return {k: resolve(v, bindings) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, bindings) for v in value]
    return value
