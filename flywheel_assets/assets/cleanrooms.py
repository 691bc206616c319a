"""Clean Rooms and Entity Resolution as declarative, reconciling assets.

* ``part_<table>_er`` (group ``entity_resolution``, partitioned by ``snapshot_dt``): the
  Entity Resolution view of each ``part_*`` table, published through the catalog port.
* ``er_schema_mapping/<table>`` and ``er_id_namespace/<table>``: one multi-asset that
  reconciles schema mappings and SOURCE ID namespaces.
* ``cleanrooms_table/<table>`` (group ``clean_rooms``): one multi-asset that reconciles
  configured tables, their CUSTOM analysis rules and their collaboration associations.
* ``cleanrooms_verification``: the reference's verify script as asset checks (the
  association check only when ``cleanrooms_membership_id`` is set: without a membership
  no association is desired, so there is nothing it could verify).
* ``cleanrooms_report``: the reference's JSON + two CSV report.

On the local profile nothing is sent to AWS: the control-plane assets materialize the
plan (the exact requests) as metadata and a JSON file. Other profiles read the actual
state, apply the plan and record what they did.
"""

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dagster as dg
from dagster import AssetCheckExecutionContext, AssetExecutionContext

from flywheel_assets.cleanrooms.desired import (
    UNKNOWN_ACCOUNT,
    CleanroomsConfig,
    DesiredConfiguredTable,
    configured_table_name,
    desired_configured_tables,
    desired_entity_resolution,
)
from flywheel_assets.cleanrooms.er_tables import publish_er_table
from flywheel_assets.cleanrooms.reconcile import (
    CLEANROOMS,
    ENTITY_RESOLUTION,
    ID_NAMESPACE,
    SCHEMA_MAPPING,
    CleanroomsActual,
    ClientFactory,
    EntityResolutionActual,
    Plan,
    apply_plan,
    plan_cleanrooms,
    plan_entity_resolution,
    planned_cleanrooms_state,
    planned_entity_resolution_state,
    read_cleanrooms,
    read_entity_resolution,
    read_membership,
)
from flywheel_assets.cleanrooms.report import (
    PLAN,
    REPORT,
    SCHEMA_MAPPING_FILE,
    ArtifactSink,
    GlueTable,
    LocalSink,
    S3Sink,
    build_report,
    report_files,
)
from flywheel_assets.keys import er_key, part_key
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from glue_jobs.registry import Registry, TableSpec

ER_GROUP = "entity_resolution"
CR_GROUP = "clean_rooms"
CHECK_PROVIDERS = "analysis_providers_match"
CHECK_COLUMNS = "allowed_columns_match_part_table"
CHECK_ASSOCIATION = "association_named_by_convention"
CHECK_NAMES = (CHECK_PROVIDERS, CHECK_COLUMNS, CHECK_ASSOCIATION)
CHECK_DESCRIPTIONS = {
    CHECK_PROVIDERS: "The CUSTOM rule allows exactly the configured providers.",
    CHECK_COLUMNS: "Allowed columns equal the part_* table's columns.",
    CHECK_ASSOCIATION: "The association exists and follows the naming convention.",
}
NO_MEMBERSHIP = "cleanrooms_membership_id is not set: no association is desired"
REPORT_KEY = dg.AssetKey(["cleanrooms_report"])
CLEANROOMS_PLAN_FILE = "cleanrooms_plan.json"
ENTITY_RESOLUTION_PLAN_FILE = "entity_resolution_plan.json"
LOCAL_MODE = "plan (local profile: nothing applied)"
APPLIED_MODE = "applied"


def configured_table_key(table: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["cleanrooms_table", table.slug])


def schema_mapping_key(table: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["er_schema_mapping", table.slug])


def id_namespace_key(table: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["er_id_namespace", table.slug])


def verification_check_names(membership_id: str) -> tuple[str, ...]:
    """The checks declared per configured table.

    Without a membership no association is desired (none is planned or applied), so the
    association check could never apply: it is not declared at all, rather than failing
    on every table of every run.
    """
    if membership_id:
        return CHECK_NAMES
    return tuple(name for name in CHECK_NAMES if name != CHECK_ASSOCIATION)


def default_client_factory(region: str) -> ClientFactory:
    """boto3 clients with the platform's retry config, imported only when a run needs one."""

    def factory(service: str) -> Any:
        from flywheel_assets.adapters.aws_clients import aws_client

        return aws_client(service, region)

    return factory


class _Session:
    """What one run needs: config, cached clients, the account id and where files go."""

    def __init__(self, platform: Platform, client_factory: ClientFactory | None) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.config = CleanroomsConfig.from_settings(self.settings)
        self._factory = client_factory or default_client_factory(self.settings.region)
        self._clients: dict[str, Any] = {}

    @property
    def local(self) -> bool:
        return self.settings.is_local

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def account_id(self) -> str:
        """From the role ARN when set; STS on AWS; a visible placeholder locally."""
        account = self.config.account_from_role()
        if account:
            return account
        if self.local:
            return UNKNOWN_ACCOUNT
        return self.client("sts").get_caller_identity()["Account"]

    def sink(self) -> ArtifactSink:
        if self.local:
            return LocalSink(self.settings.report_root)
        return S3Sink(
            self.client("s3"), self.settings.report_bucket, self.settings.cleanrooms_report_prefix
        )

    def glue_table(self, table: TableSpec) -> GlueTable:
        info = self.platform.catalog.get_table(self.settings.glue_database, table.part_table)
        if info is None:
            return GlueTable(table.part_table, exists=False)
        return GlueTable(
            table.part_table,
            exists=True,
            columns=tuple(c.name for c in info.columns),
            partition_keys=tuple(c.name for c in info.partition_keys),
            location=info.location,
        )


def _plan_metadata(plan: Plan, mode: str, plan_uri: str, run: Plan) -> dict[str, Any]:
    counts = plan.counts()
    return {
        "mode": mode,
        **{key: dg.MetadataValue.int(value) for key, value in counts.items()},
        "requests": dg.MetadataValue.json([r.to_json() for r in plan.requests]),
        "blocked_details": dg.MetadataValue.json([o.to_json() for o in plan.blocked]),
        "summary": dg.MetadataValue.md(plan.markdown()),
        "plan_file": dg.MetadataValue.url(plan_uri),
        "run_counts": dg.MetadataValue.json(run.counts()),
    }


def _execute(
    context: AssetExecutionContext, session: _Session, plan: Plan, plan_file: str
) -> tuple[str, str]:
    """Local: write the plan only. AWS: apply it, then write what was applied."""
    if session.local:
        mode = LOCAL_MODE
    else:
        done = apply_plan(plan, session.client)
        context.log.info(f"applied {len(done)} requests")
        mode = APPLIED_MODE
    document = {"mode": mode, **plan.to_json()}
    uri = session.sink().write(PLAN, plan_file, json.dumps(document, indent=2))
    context.log.info(f"{mode}: {plan.counts()}; plan written to {uri}\n{plan.markdown()}")
    return mode, uri


def _er_table_asset(table: TableSpec, owners: Sequence[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=er_key(table),
        deps=[part_key(table)],
        partitions_def=SNAPSHOT_PARTITIONS,
        group_name=ER_GROUP,
        kinds={"glue"},
        owners=list(owners),
        required_resource_keys={"platform"},
        description=(
            f"Entity Resolution view of {table.part_table}: same location and partitions, "
            "only the unique id and the matching columns declared (no data copy)."
        ),
    )
    def _asset(context: AssetExecutionContext) -> dg.MaterializeResult:
        platform: Platform = context.resources.platform
        config = CleanroomsConfig.from_settings(platform.settings)
        definition = publish_er_table(
            platform.catalog,
            platform.settings.glue_database,
            table,
            context.partition_key,
            config.er_max_match_fields,
        )
        return dg.MaterializeResult(
            metadata={
                "table": f"{definition.database}.{definition.name}",
                "location": definition.location,
                "columns": dg.MetadataValue.json([c.name for c in definition.columns]),
                "column_count": len(definition.columns),
                "partition_count": len(definition.partitions),
                "source_table": table.part_table,
            }
        )

    return _asset


def build_cleanrooms_defs(
    registry: Registry,
    settings: Any,
    *,
    client_factory: ClientFactory | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> dg.Definitions:
    """The ``_er`` tables, ER resources, configured tables, their checks and the report.

    ``client_factory(service) -> boto3 client`` defaults to the platform's AWS clients;
    tests pass moto or Stubber-backed clients. ``clock`` stamps report names.
    """
    tables = list(registry)
    owners = settings.owners
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    all_names = [configured_table_name(t) for t in tables]
    all_slugs = [t.slug for t in tables]

    er_assets = [_er_table_asset(t, owners) for t in tables]

    # --- Entity Resolution: schema mappings + SOURCE ID namespaces ----------------------
    er_specs = []
    for t in tables:
        er_specs.append(
            dg.AssetSpec(
                schema_mapping_key(t),
                deps=[er_key(t)],
                group_name=ER_GROUP,
                kinds={"entityresolution"},
                owners=list(owners),
                description=f"Entity Resolution schema mapping of {t.er_table}.",
            )
        )
        er_specs.append(
            dg.AssetSpec(
                id_namespace_key(t),
                deps=[schema_mapping_key(t), er_key(t)],
                group_name=ER_GROUP,
                kinds={"entityresolution"},
                owners=list(owners),
                description=f"SOURCE ID namespace over the Glue table {t.er_table}.",
            )
        )

    @dg.multi_asset(
        name="entity_resolution_resources",
        specs=er_specs,
        can_subset=True,
        required_resource_keys={"platform"},
    )
    def entity_resolution_resources(
        context: AssetExecutionContext,
    ) -> Iterator[dg.MaterializeResult]:
        session = _Session(context.resources.platform, client_factory)
        selected = context.selected_asset_keys
        wanted = [t for t in tables if {schema_mapping_key(t), id_namespace_key(t)} & set(selected)]
        # Validate every mapping before anything (even an STS lookup) is sent.
        desired_entity_resolution(wanted, session.config, UNKNOWN_ACCOUNT)
        mappings, namespaces = desired_entity_resolution(
            wanted, session.config, session.account_id()
        )
        mappings = tuple(
            m for m, t in zip(mappings, wanted, strict=True) if schema_mapping_key(t) in selected
        )
        namespaces = tuple(
            n for n, t in zip(namespaces, wanted, strict=True) if id_namespace_key(t) in selected
        )
        if session.local:
            actual = EntityResolutionActual()
        else:
            actual = read_entity_resolution(
                session.client(ENTITY_RESOLUTION),
                [m.name for m in mappings],
                [n.name for n in namespaces],
            )
        plan = plan_entity_resolution(
            mappings,
            namespaces,
            actual,
            managed_slugs=all_slugs,
            allow_replace=session.config.allow_replace,
            delete_unmanaged=session.config.delete_unmanaged,
        )
        sink = session.sink()
        files = {
            m.slug: sink.write(SCHEMA_MAPPING_FILE, m.filename, json.dumps(m.document(), indent=2))
            for m in mappings
        }
        mode, uri = _execute(context, session, plan, ENTITY_RESOLUTION_PLAN_FILE)
        for t in wanted:
            table_plan = plan.for_table(t.slug)
            for key, resource in (
                (schema_mapping_key(t), SCHEMA_MAPPING),
                (id_namespace_key(t), ID_NAMESPACE),
            ):
                if key not in selected:
                    continue
                part = Plan(
                    [r for r in table_plan.requests if r.resource == resource],
                    [o for o in table_plan.unchanged if o.resource == resource],
                    [o for o in table_plan.blocked if o.resource == resource],
                    [],
                    table_plan.notes,
                )
                metadata = _plan_metadata(part, mode, uri, plan)
                if resource == SCHEMA_MAPPING:
                    metadata["schema_mapping_file"] = dg.MetadataValue.url(files[t.slug])
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)

    # --- Clean Rooms: configured tables, CUSTOM rules, associations ---------------------
    cr_specs = [
        dg.AssetSpec(
            configured_table_key(t),
            deps=[part_key(t)],
            group_name=CR_GROUP,
            kinds={"cleanrooms"},
            owners=list(owners),
            description=(
                f"Clean Rooms configured table over {t.part_table} with its CUSTOM analysis "
                "rule and its association to the collaboration membership."
            ),
        )
        for t in tables
    ]

    @dg.multi_asset(
        name="cleanrooms_configured_tables",
        specs=cr_specs,
        can_subset=True,
        required_resource_keys={"platform"},
    )
    def cleanrooms_configured_tables(
        context: AssetExecutionContext,
    ) -> Iterator[dg.MaterializeResult]:
        session = _Session(context.resources.platform, client_factory)
        selected = [t for t in tables if configured_table_key(t) in context.selected_asset_keys]
        desired = desired_configured_tables(selected, session.config)  # validates first
        if session.local:
            actual = CleanroomsActual()
        else:
            actual = read_cleanrooms(
                session.client(CLEANROOMS), [d.name for d in desired], session.config.membership_id
            )
        plan = plan_cleanrooms(
            desired,
            actual,
            managed_names=all_names,
            allow_replace=session.config.allow_replace,
            delete_unmanaged=session.config.delete_unmanaged,
        )
        mode, uri = _execute(context, session, plan, CLEANROOMS_PLAN_FILE)
        for t in selected:
            yield dg.MaterializeResult(
                asset_key=configured_table_key(t),
                metadata=_plan_metadata(plan.for_table(t.slug), mode, uri, plan),
            )

    # --- verification (the reference's verify-collaboration-table-config) ---------------
    check_names = verification_check_names(settings.cleanrooms_membership_id)
    check_specs = [
        dg.AssetCheckSpec(name, asset=configured_table_key(t), description=CHECK_DESCRIPTIONS[name])
        for t in tables
        for name in check_names
    ]

    @dg.multi_asset_check(
        name="cleanrooms_verification",
        specs=check_specs,
        can_subset=True,
        required_resource_keys={"platform"},
    )
    def cleanrooms_verification(
        context: AssetCheckExecutionContext,
    ) -> Iterator[dg.AssetCheckResult]:
        session = _Session(context.resources.platform, client_factory)
        selected = context.selected_asset_check_keys
        wanted = [
            t for t in tables if any(k.asset_key == configured_table_key(t) for k in selected)
        ]
        desired = desired_configured_tables(wanted, session.config)
        if session.local:
            actual, source = planned_cleanrooms_state(desired), "planned (local profile)"
        else:
            actual = read_cleanrooms(
                session.client(CLEANROOMS), [d.name for d in desired], session.config.membership_id
            )
            source = "actual"
        for t, d in zip(wanted, desired, strict=True):
            key = configured_table_key(t)
            for name in check_names:
                if dg.AssetCheckKey(key, name) in selected:
                    yield _verify(name, key, t, d, actual, session, source)

    # --- report ---------------------------------------------------------------------------

    @dg.asset(
        key=REPORT_KEY,
        deps=[configured_table_key(t) for t in tables] + [id_namespace_key(t) for t in tables],
        group_name=CR_GROUP,
        kinds={"cleanrooms"},
        owners=list(owners),
        required_resource_keys={"platform"},
        description=(
            "ACX_Cleanroom_Report_<UTC timestamp>: JSON, _Tables.csv and "
            "_IdentityResolution.csv (table status, associations, providers, readiness; "
            "ID namespaces, schema mappings, unique id, input fields, match keys)."
        ),
    )
    def cleanrooms_report(context: AssetExecutionContext) -> dg.MaterializeResult:
        session = _Session(context.resources.platform, client_factory)
        config = session.config
        desired = desired_configured_tables(tables, config)
        mappings, namespaces = desired_entity_resolution(tables, config, session.account_id())
        if session.local:
            cleanrooms = planned_cleanrooms_state(desired)
            entity_resolution = planned_entity_resolution_state(mappings, namespaces)
            membership = {"membership_id": config.membership_id}
            source = "planned (local profile: nothing applied)"
        else:
            cleanrooms = read_cleanrooms(
                session.client(CLEANROOMS), all_names, config.membership_id
            )
            entity_resolution = read_entity_resolution(
                session.client(ENTITY_RESOLUTION),
                [m.name for m in mappings],
                [n.name for n in namespaces],
            )
            membership = read_membership(session.client(CLEANROOMS), config.membership_id)
            source = "actual"
        generated_at = now()
        report = build_report(
            generated_at=generated_at,
            database=session.settings.glue_database,
            membership=membership,
            glue_tables={t.part_table: session.glue_table(t) for t in tables},
            configured=desired,
            cleanrooms=cleanrooms,
            namespaces=namespaces,
            entity_resolution=entity_resolution,
            state_source=source,
        )
        sink = session.sink()
        uris = {
            name: sink.write(REPORT, name, text)
            for name, text in report_files(report, generated_at).items()
        }
        summary = report["summary"]
        lines = ["| table | status | association | providers |", "| --- | --- | --- | --- |"]
        for t in report["tables"]:
            providers = ", ".join(t["analysis_rule"]["allowed_analysis_providers"]) or "-"
            lines.append(
                f"| {t['table_name']} | {t['status']['table_status']} | "
                f"{t['association']['name'] or '-'} | {providers} |"
            )
        return dg.MaterializeResult(
            metadata={
                "state_source": source,
                "ready_for_analysis": dg.MetadataValue.int(summary["ready_for_analysis"]),
                "tables": dg.MetadataValue.int(summary["tables"]),
                "id_namespaces": dg.MetadataValue.int(summary["id_namespaces_count"]),
                "files": dg.MetadataValue.json(uris),
                "summary": dg.MetadataValue.md("\n".join(lines)),
            }
        )

    return dg.Definitions(
        assets=[
            *er_assets,
            entity_resolution_resources,
            cleanrooms_configured_tables,
            cleanrooms_report,
        ],
        asset_checks=[cleanrooms_verification],
    )


def _verify(
    name: str,
    key: dg.AssetKey,
    table: TableSpec,
    desired: DesiredConfiguredTable,
    actual: CleanroomsActual,
    session: _Session,
    source: str,
) -> dg.AssetCheckResult:
    """One verification result; every failure says what was expected and what was found."""
    current = actual.configured_tables.get(desired.name)
    base = {"state_source": source}
    if current is None:
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=False,
            description=f"configured table {desired.name} does not exist",
            metadata=base,
        )
    if name == CHECK_PROVIDERS:
        found = sorted((current.custom_policy or {}).get("allowedAnalysisProviders") or [])
        expected = sorted(desired.providers)
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=found == expected,
            metadata={
                **base,
                "expected": dg.MetadataValue.json(expected),
                "found": dg.MetadataValue.json(found),
                "missing": dg.MetadataValue.json(sorted(set(expected) - set(found))),
                "extra": dg.MetadataValue.json(sorted(set(found) - set(expected))),
            },
        )
    if name == CHECK_COLUMNS:
        glue = session.glue_table(table)
        expected_cols = glue.columns if glue.exists else desired.allowed_columns
        expected_set = {c.lower() for c in expected_cols}
        found_set = set(current.allowed_columns)
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=found_set == expected_set and len(current.allowed_columns) == len(found_set),
            metadata={
                **base,
                "expected_from": "catalog" if glue.exists else "registry",
                "expected_count": len(expected_set),
                "found_count": len(current.allowed_columns),
                "missing": dg.MetadataValue.json(sorted(expected_set - found_set)),
                "extra": dg.MetadataValue.json(sorted(found_set - expected_set)),
            },
        )
    if desired.association is None:
        # Only reachable when the definitions were built with a membership and the run's
        # settings have none: nothing to verify, so not applicable rather than failed.
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=True,
            description=f"not applicable: {NO_MEMBERSHIP}",
            metadata={**base, "applicable": False},
        )
    assoc = actual.association_for(current.id)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=assoc is not None and assoc.name == desired.association.name,
        metadata={
            **base,
            "expected_name": desired.association.name,
            "found_name": assoc.name if assoc else "(no association)",
            "membership_id": desired.association.membership_id,
        },
    )
