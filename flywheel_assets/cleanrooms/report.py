"""The Clean Rooms report (the reference's ``generate-cleanrooms-report``) and file output.

``build_report`` is pure: it turns actual (or, locally, planned) state into the
reference's JSON document; ``table_rows`` / ``identity_resolution_rows`` flatten it
into the two CSVs. ``ArtifactSink`` writes reports, plans and schema-mapping files to
the local report directory or to S3, depending on the profile.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flywheel_assets.cleanrooms.desired import (
    UNIQUE_ID_TYPE,
    DesiredConfiguredTable,
    DesiredIdNamespace,
)
from flywheel_assets.cleanrooms.state import CleanroomsActual, EntityResolutionActual

REPORT_PREFIX = "ACX_Cleanroom_Report"
NA = "N/A"

TABLES_CSV_FIELDS = (
    "collaboration_name",
    "table_name",
    "glue_exists",
    "glue_column_count",
    "glue_partition_keys",
    "configured_table_exists",
    "configured_table_id",
    "configured_table_name",
    "allowed_columns_count",
    "analysis_method",
    "analysis_rule_exists",
    "analysis_providers",
    "association_exists",
    "association_name",
    "in_collaboration",
    "table_status",
    "ready_for_analysis",
)
IDENTITY_RESOLUTION_CSV_FIELDS = (
    "collaboration_name",
    "id_namespace",
    "id_namespace_type",
    "source_db",
    "region",
    "table",
    "schema_mapping",
    "unique_id",
    "input_field",
    "field_type",
    "match_key",
)


@dataclass(frozen=True)
class GlueTable:
    """What the catalog says about one ``part_*`` table (``exists=False`` when absent)."""

    name: str
    exists: bool
    columns: tuple[str, ...] = ()
    partition_keys: tuple[str, ...] = ()
    location: str = ""


def report_basename(generated_at: dt.datetime) -> str:
    return f"{REPORT_PREFIX}_{generated_at:%Y%m%d_%H%M%S}"


def _table_status(configured: bool, rule: bool, providers: Sequence[str], assoc: bool) -> str:
    if not configured:
        return "NOT_CONFIGURED"
    if not rule:
        return "NO_ANALYSIS_RULE"
    if not providers:
        return "NO_ANALYSIS_PROVIDERS"
    if not assoc:
        return "NOT_ASSOCIATED"
    return "READY"


def build_report(
    *,
    generated_at: dt.datetime,
    database: str,
    membership: Mapping[str, Any],
    glue_tables: Mapping[str, GlueTable],
    configured: Sequence[DesiredConfiguredTable],
    cleanrooms: CleanroomsActual,
    namespaces: Sequence[DesiredIdNamespace],
    entity_resolution: EntityResolutionActual,
    state_source: str,
) -> dict[str, Any]:
    """The report document: one entry per ``part_*`` table and per ID namespace."""
    tables = [_table_entry(d, glue_tables, cleanrooms) for d in configured]
    identity = [_identity_entry(n, entity_resolution) for n in namespaces]
    return {
        "generated_at": generated_at.isoformat(),
        "state_source": state_source,
        "database": database,
        "membership_id": membership.get("membership_id", ""),
        "collaboration_id": membership.get("collaboration_id", ""),
        "collaboration_name": membership.get("collaboration_name", "") or NA,
        "summary": _summary(glue_tables, cleanrooms, tables, identity),
        "tables": tables,
        "identity_resolution": identity,
    }


def _table_entry(
    d: DesiredConfiguredTable, glue_tables: Mapping[str, GlueTable], cleanrooms: CleanroomsActual
) -> dict[str, Any]:
    """One ``part_*`` table: catalog, configured table, rule, association and readiness."""
    glue = glue_tables.get(d.name, GlueTable(d.name, exists=False))
    actual = cleanrooms.configured_tables.get(d.name)
    assoc = cleanrooms.association_for(actual.id) if actual else None
    custom = actual.custom_policy if actual else None
    providers = list((custom or {}).get("allowedAnalysisProviders") or [])
    status = _table_status(actual is not None, custom is not None, providers, bool(assoc))
    return {
        "table_name": d.name,
        "glue_table": {
            "exists": glue.exists,
            "location": glue.location,
            "column_count": len(glue.columns),
            "partition_keys": list(glue.partition_keys),
            "columns": list(glue.columns),
        },
        "configured_table": {
            "exists": actual is not None,
            "id": actual.id if actual else None,
            "name": actual.name if actual else None,
            "allowed_columns_count": len(actual.allowed_columns) if actual else 0,
            "allowed_columns": list(actual.allowed_columns) if actual else [],
            "analysis_method": actual.analysis_method if actual else NA,
        },
        "analysis_rule": {
            "exists": custom is not None,
            "type": "CUSTOM" if custom is not None else None,
            "allowed_analysis_providers": providers,
        },
        "association": {
            "exists": assoc is not None,
            "name": assoc.name if assoc else None,
            "expected_name": d.association.name if d.association else None,
        },
        "status": {
            "table_status": status,
            "in_collaboration": assoc is not None,
            "ready_for_analysis": status == "READY",
        },
    }


def _identity_entry(
    n: DesiredIdNamespace, entity_resolution: EntityResolutionActual
) -> dict[str, Any]:
    """One ID namespace with the schema mapping its (first) input source names."""
    actual_ns = entity_resolution.id_namespaces.get(n.name)
    sources = list(actual_ns.input_source_config) if actual_ns else []
    source = sources[0] if sources else {}
    mapping = entity_resolution.schema_mappings.get(source.get("schemaName", ""))
    return {
        "name": n.name,
        "exists": actual_ns is not None,
        "type": actual_ns.type if actual_ns else None,
        "input_source_arn": source.get("inputSourceARN", ""),
        "schema_name": source.get("schemaName", ""),
        "schema_mapping": {
            "exists": mapping is not None,
            "mappedInputFields": [dict(f) for f in mapping.fields] if mapping else [],
        },
    }


def _summary(
    glue_tables: Mapping[str, GlueTable],
    cleanrooms: CleanroomsActual,
    tables: Sequence[Mapping[str, Any]],
    identity: Sequence[Mapping[str, Any]],
) -> dict[str, int]:
    return {
        "glue_tables_count": sum(g.exists for g in glue_tables.values()),
        "configured_tables_count": len(cleanrooms.configured_tables),
        "associations_count": sum(
            cleanrooms.association_for(t.id) is not None
            for t in cleanrooms.configured_tables.values()
        ),
        "id_namespaces_count": sum(i["exists"] for i in identity),
        "schema_mappings_count": sum(i["schema_mapping"]["exists"] for i in identity),
        "ready_for_analysis": sum(t["status"]["ready_for_analysis"] for t in tables),
        "tables": len(tables),
    }


def summary_markdown(report: Mapping[str, Any]) -> str:
    """The table the Dagster UI shows for a report: status, association and providers."""
    lines = ["| table | status | association | providers |", "| --- | --- | --- | --- |"]
    for t in report["tables"]:
        providers = ", ".join(t["analysis_rule"]["allowed_analysis_providers"]) or "-"
        lines.append(
            f"| {t['table_name']} | {t['status']['table_status']} | "
            f"{t['association']['name'] or '-'} | {providers} |"
        )
    return "\n".join(lines)


def _yes(value: bool) -> str:
    return "Yes" if value else "No"


def table_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    collaboration = report["collaboration_name"]
    rows = []
    for t in report["tables"]:
        rows.append(
            {
                "collaboration_name": collaboration,
                "table_name": t["table_name"],
                "glue_exists": _yes(t["glue_table"]["exists"]),
                "glue_column_count": t["glue_table"]["column_count"],
                "glue_partition_keys": ", ".join(t["glue_table"]["partition_keys"]),
                "configured_table_exists": _yes(t["configured_table"]["exists"]),
                "configured_table_id": t["configured_table"]["id"] or NA,
                "configured_table_name": t["configured_table"]["name"] or NA,
                "allowed_columns_count": t["configured_table"]["allowed_columns_count"],
                "analysis_method": t["configured_table"]["analysis_method"],
                "analysis_rule_exists": _yes(t["analysis_rule"]["exists"]),
                "analysis_providers": ", ".join(t["analysis_rule"]["allowed_analysis_providers"])
                or NA,
                "association_exists": _yes(t["association"]["exists"]),
                "association_name": t["association"]["name"] or NA,
                "in_collaboration": _yes(t["status"]["in_collaboration"]),
                "table_status": t["status"]["table_status"],
                "ready_for_analysis": _yes(t["status"]["ready_for_analysis"]),
            }
        )
    return rows


def _split_glue_arn(arn: str) -> tuple[str, str, str]:
    """``arn:aws:glue:<region>:<acct>:table/<db>/<table>`` -> (region, db, table)."""
    if ":table/" not in arn:
        return NA, NA, NA
    region = arn.split(":")[3] or NA
    db, _, table = arn.split(":table/", 1)[1].partition("/")
    return region, db or NA, table or NA


def identity_resolution_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per matched input field (match key) of each namespace, or one N/A row."""
    collaboration = report["collaboration_name"]
    rows = []
    for ns in report["identity_resolution"]:
        region, db, table = _split_glue_arn(ns["input_source_arn"])
        fields = ns["schema_mapping"]["mappedInputFields"]
        unique = next((f["fieldName"] for f in fields if f["type"] == UNIQUE_ID_TYPE), NA)
        base = {
            "collaboration_name": collaboration,
            "id_namespace": ns["name"] if ns["exists"] else f"{ns['name']} (missing)",
            "id_namespace_type": ns["type"] or NA,
            "source_db": db,
            "region": region,
            "table": table,
            "schema_mapping": ns["schema_name"] or NA,
            "unique_id": unique,
        }
        matched = [f for f in fields if f.get("matchKey")]
        if not matched:
            rows.append({**base, "input_field": NA, "field_type": NA, "match_key": NA})
        for f in matched:
            rows.append(
                {
                    **base,
                    "input_field": f["fieldName"],
                    "field_type": f["type"],
                    "match_key": f["matchKey"],
                }
            )
    return rows


def render_csv(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def report_files(report: Mapping[str, Any], generated_at: dt.datetime) -> dict[str, str]:
    """File name -> content: the JSON plus ``_Tables.csv`` and ``_IdentityResolution.csv``."""
    base = report_basename(generated_at)
    return {
        f"{base}.json": json.dumps(report, indent=2, default=str),
        f"{base}_Tables.csv": render_csv(table_rows(report), TABLES_CSV_FIELDS),
        f"{base}_IdentityResolution.csv": render_csv(
            identity_resolution_rows(report), IDENTITY_RESOLUTION_CSV_FIELDS
        ),
    }


# --- where files go -----------------------------------------------------------------------

REPORT, PLAN, SCHEMA_MAPPING_FILE = "report", "plan", "schema_mapping"


class ArtifactSink(Protocol):
    def write(self, kind: str, name: str, text: str) -> str:
        """Write one file of ``kind`` (report, plan, schema_mapping); return its URI."""
        ...


class LocalSink:
    """``<report_root>/cleanrooms-reports/`` for reports, ``<report_root>/cleanrooms/``
    for plans and schema mappings."""

    def __init__(self, report_root: Path) -> None:
        self.folders = {
            REPORT: report_root / "cleanrooms-reports",
            PLAN: report_root / "cleanrooms",
            SCHEMA_MAPPING_FILE: report_root / "cleanrooms" / "schema_mappings",
        }

    def write(self, kind: str, name: str, text: str) -> str:
        path = self.folders[kind] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path.resolve().as_uri()


class S3Sink:
    """``s3://<report_bucket>/<cleanrooms_report_prefix>`` (plans and mappings below it)."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket = client, bucket
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        self.prefixes = {
            REPORT: prefix,
            PLAN: f"{prefix}plans/",
            SCHEMA_MAPPING_FILE: f"{prefix}schema_mappings/",
        }

    def write(self, kind: str, name: str, text: str) -> str:
        key = self.prefixes[kind] + name
        content_type = "application/json" if name.endswith(".json") else "text/csv"
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=text.encode(), ContentType=content_type
        )
        return f"s3://{self.bucket}/{key}"
