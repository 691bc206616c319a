"""The publish gate: what must hold before a catalog table is repointed.

Dagster's blocking checks stop a table in the run that audited its build; these rules
also hold for any other run (a table materialized on its own, a run queued behind
another on the metastore lock):

* the build was audited and the audit passed (``builds.require_passed_audit``);
* a table never goes back to an older month unless the run asks for a rollback.

``PublishPolicy`` is the run's say: drift accepted for named tables, rollback allowed.
It is a resource, so the UI's launchpad takes it as run config
(``resources: publish_policy: config: {accept_drift: [IBE_01_A], rollback: true}``)
and ``flywheel run --accept-drift/--rollback`` sets the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from flywheel_assets.config.registry import Registries, as_registries
from flywheel_assets.ports.catalog import TableDefinition, TableInfo
from glue_jobs.registry import Registry, TableSpec

POLICY_TAG_ACCEPT = "flywheel/accept_drift"
POLICY_TAG_ROLLBACK = "flywheel/rollback"


class OlderSnapshotError(RuntimeError):
    """Publishing would replace a newer month in service with an older one."""


class PublishPolicy(dg.ConfigurableResource):
    """Decisions a person makes for one run; the defaults publish only clean, newer
    months."""

    accept_drift: list[str] = []  # registry table names (IBE_01_A) or slugs (ibe_01_a)
    rollback: bool = False  # allow repointing tables to an older month

    def accepts_drift(self, table: TableSpec) -> bool:
        wanted = {name.strip().lower() for name in self.accept_drift}
        return table.name.lower() in wanted or table.slug in wanted

    def unknown_tables(self, registry: Registry | Registries) -> list[str]:
        """Names in neither pipeline's registry (drift is accepted per table name, for
        the audits of both pipelines)."""
        tables = as_registries(registry).union
        known = {t.name.lower() for t in tables} | {t.slug for t in tables}
        return sorted(n for n in self.accept_drift if n.strip().lower() not in known)


def parse_table_list(text: str, registry: Registry | Registries, option: str) -> list[str]:
    """``IBE_01_A,ibe_02_a`` -> registry names (of either pipeline); an unknown name is an
    error naming it."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"{option}: name at least one table")
    unknown = PublishPolicy(accept_drift=names).unknown_tables(registry)
    if unknown:
        raise ValueError(f"{option}: not in the table registry: {', '.join(unknown)}")
    tables = as_registries(registry).union
    return [tables.get(n).name for n in names]


def require_in_order(current: TableInfo | None, snapshot: str, rollback: bool) -> None:
    """Refuse to replace a newer month in service with an older one, unless asked."""
    if current is None or rollback:
        return
    served = current.parameters.get("snapshot_dt", "")
    if served and served > snapshot:
        raise OlderSnapshotError(
            f"{current.name} serves snapshot_dt={served}, newer than {snapshot}: publishing "
            f"would roll it back. To do that on purpose, run with --rollback (run config "
            f"resources.publish_policy.config.rollback: true)"
        )


@dataclass(frozen=True)
class Publication:
    """A table definition to publish, and the reader markers to write once it is:
    ``lake key -> text`` (the source's ``metadata/snapshot_dt.txt``)."""

    definition: TableDefinition
    markers: dict[str, str]


@dataclass(frozen=True)
class PartitionGroup:
    """One group of a two-key table to publish (``part_*_history``: one snapshot):
    ``definition.partitions`` maps the second key's value to its location; the table's
    other groups stay as they are."""

    definition: TableDefinition
    leading: str  # the first key's value, e.g. the snapshot_dt


def names(tables: Iterable[TableSpec]) -> str:
    return ",".join(t.name for t in tables)
