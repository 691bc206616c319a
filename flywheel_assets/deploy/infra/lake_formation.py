"""Lake Formation: the published data registered, writers and readers kept apart.

The reference's Lake Formation module separated the writers (its Glue roles) from the
Clean Rooms consumers, and had to fix the Athena CTAS path ("Source Data Path Fix ...
ext_* tables for CTAS"). Here:

* the three table families' data locations (``split_part/``: ``part_*`` and
  ``part_*_er``; ``split_cluster/``: ``ext_*``; ``bucketed/``: ``bucketed_*``) are
  registered, so Lake Formation vends the credentials Athena and Clean Rooms read them
  with. Raw snapshots are not: no reader ever gets them.
* the Dagster role publishes: CREATE_TABLE on the database, every table permission on
  its tables (it creates, repoints and drops them, and the audits' and the CTAS's
  temporary tables), DATA_LOCATION_ACCESS on the three locations (a table, or a CTAS
  ``external_location``, may point there). The CTAS that builds ``bucketed_*`` runs as
  this role: SELECT on the ``ext_*`` source and CREATE_TABLE plus the bucketed location
  for its target are all in these grants (``ctas_permissions`` says which).
* the Glue job role gets nothing: it writes the split datasets to S3 by path, which IAM
  alone governs, and never calls the catalog.
* the Clean Rooms reader gets SELECT and DESCRIBE on each published table of the
  registry (``part_*``, ``part_*_er``, ``bucketed_*``) by name, never ``ext_*`` staging
  nor the temporary tables, and no data location. A table added to the registry adds its
  three grants to the ``table-grants`` stack.

Grants on named tables need the tables to exist, so the reader's grants live in their own
stack, applied after the first publish (``docs/deploy.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flywheel_assets.config.registry import Registries, as_registries
from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy.infra.cfn import deployable, logical_id, resource
from flywheel_assets.deploy.infra.roles import stack_arns
from glue_jobs.registry import Registry, TableSpec

WRITER_TABLE_PERMISSIONS = ("ALTER", "DELETE", "DESCRIBE", "DROP", "INSERT", "SELECT")
READER_PERMISSIONS = ("DESCRIBE", "SELECT")
NOT_GRANTED = {
    "glue_job": "writes the split datasets to S3 by path (IAM alone governs that) and never "
    "calls the catalog",
    "deployer": "creates the grants; Lake Formation needs it as a data lake administrator "
    "(an account setting, see docs/deploy.md), not as a grantee",
}


@dataclass(frozen=True)
class LfGrant:
    """One Lake Formation grant: a role, a catalog resource or data location, and why."""

    logical_id: str
    role: str  # one of iam.ROLES
    resource: dict[str, Any]  # Lake Formation's Resource, without CatalogId
    permissions: tuple[str, ...]
    why: str

    @property
    def table(self) -> str | None:
        return self.resource.get("Table", {}).get("Name")


def locations(settings: Settings) -> dict[str, str]:
    """Logical id -> S3 ARN of each registered data location."""
    bucket = settings.data_bucket
    families = {
        "SplitPartLocation": settings.split_part_prefix,
        "SplitClusterLocation": settings.split_cluster_prefix,
        "BucketedLocation": settings.bucketed_prefix,
    }
    return {k: f"arn:aws:s3:::{bucket}/{p.rstrip('/')}" for k, p in families.items()}


def writer_grants(settings: Settings) -> list[LfGrant]:
    database = settings.glue_database
    grants = [
        LfGrant(
            "DagsterDatabase",
            "dagster",
            {"Database": {"Name": database}},
            ("CREATE_TABLE", "DESCRIBE"),
            "publishing creates part_*, part_*_er, ext_*, bucketed_* and temporary tables",
        ),
        LfGrant(
            "DagsterTables",
            "dagster",
            {"Table": {"DatabaseName": database, "TableWildcard": {}}},
            WRITER_TABLE_PERMISSIONS,
            "publish and repoint tables, register partitions, drop staging and audit tables; "
            "SELECT on ext_* for the CTAS that builds bucketed_*",
        ),
    ]
    grants += [
        LfGrant(
            f"Dagster{location_id}",
            "dagster",
            {"DataLocation": {"ResourceArn": arn}},
            ("DATA_LOCATION_ACCESS",),
            "tables and CTAS external_location pointing into the registered location",
        )
        for location_id, arn in locations(settings).items()
    ]
    return grants


def published_tables(table: TableSpec) -> tuple[str, ...]:
    """The tables of ``table`` readers use (never ``ext_*`` staging), when one registry
    feeds both pipelines."""
    return (table.part_table, table.er_table, table.bucketed_table)


def reader_tables(registries: Registry | Registries) -> list[str]:
    """Every published table name: ``part_*`` and ``part_*_er`` of the partitioned
    pipeline's registry, ``bucketed_*`` of the bucketed one's; by table, so that the
    order of a registry CSV's rows is no template change."""
    both = as_registries(registries)
    named = [(t.slug, 0, t.part_table) for t in both.split_part]
    named += [(t.slug, 1, t.er_table) for t in both.split_part]
    named += [(t.slug, 2, t.bucketed_table) for t in both.split_cluster]
    return [name for _, _, name in sorted(named)]


def reader_grants(settings: Settings, registries: Registry | Registries) -> list[LfGrant]:
    return [
        LfGrant(
            logical_id("reader", name),
            "cleanrooms_reader",
            {"Table": {"DatabaseName": settings.glue_database, "Name": name}},
            READER_PERMISSIONS,
            f"Clean Rooms / Entity Resolution reading {name}",
        )
        for name in reader_tables(registries)
    ]


def ctas_permissions(settings: Settings, table: TableSpec) -> list[tuple[str, dict[str, Any]]]:
    """What Lake Formation checks for the CTAS that rebuilds ``bucketed_<table>`` from
    ``ext_<table>``: (permission, resource) pairs the role running it must hold."""
    database = settings.glue_database
    bucketed = locations(settings)["BucketedLocation"]
    return [
        ("SELECT", {"Table": {"DatabaseName": database, "Name": table.ext_table}}),
        ("CREATE_TABLE", {"Database": {"Name": database}}),
        ("DATA_LOCATION_ACCESS", {"DataLocation": {"ResourceArn": bucketed}}),
        ("DROP", {"Table": {"DatabaseName": database, "Name": table.bucketed_table}}),
        ("ALTER", {"Table": {"DatabaseName": database, "Name": table.bucketed_table}}),
    ]


def location_resources(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        location_id: resource(
            "AWS::LakeFormation::Resource",
            {"ResourceArn": deployable(arn), "UseServiceLinkedRole": True},
        )
        for location_id, arn in locations(settings).items()
    }


def _with_catalog(lf_resource: dict[str, Any]) -> dict[str, Any]:
    ((kind, body),) = lf_resource.items()
    return {kind: {"CatalogId": {"Ref": "AWS::AccountId"}, **deployable(body)}}


def grant_resources(settings: Settings, grants: list[LfGrant]) -> dict[str, dict[str, Any]]:
    arns = stack_arns(settings)
    registered = locations(settings)
    found: dict[str, dict[str, Any]] = {}
    for grant in grants:
        arn = grant.resource.get("DataLocation", {}).get("ResourceArn")
        depends = [k for k, v in registered.items() if v == arn]
        found[grant.logical_id] = resource(
            "AWS::LakeFormation::PrincipalPermissions",
            {
                "Principal": {"DataLakePrincipalIdentifier": deployable(arns.role(grant.role))},
                "Resource": _with_catalog(grant.resource),
                "Permissions": list(grant.permissions),
                "PermissionsWithGrantOption": [],
            },
            depends_on=depends or None,
        )
    return found
