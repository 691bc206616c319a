"""What one Clean Rooms run needs, and the plan-or-apply step both reconciling assets share.

On the local profile nothing is sent to AWS: a plan is only written down (a JSON file and
asset metadata). Other profiles apply it and write down what they did.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from flywheel_assets.adapters.aws_clients import cached_clients, client_factory
from flywheel_assets.cleanrooms.apply import ClientFactory, apply_plan
from flywheel_assets.cleanrooms.desired import UNKNOWN_ACCOUNT, CleanroomsConfig
from flywheel_assets.cleanrooms.plan import Plan
from flywheel_assets.cleanrooms.report import PLAN, ArtifactSink, GlueTable, LocalSink, S3Sink
from flywheel_assets.platform import Platform
from glue_jobs.registry import TableSpec

LOCAL_MODE = "plan (local profile: nothing applied)"
APPLIED_MODE = "applied"


class CleanroomsSession:
    """Config, one client per service, the account id and where files go, for one run.

    ``factory(service) -> boto3 client`` defaults to the platform's AWS clients; tests
    pass moto or Stubber-backed clients.
    """

    def __init__(self, platform: Platform, factory: ClientFactory | None) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.config = CleanroomsConfig.from_settings(self.settings)
        self.client = cached_clients(factory or client_factory(self.settings.region))

    @property
    def local(self) -> bool:
        return self.settings.is_local

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


def plan_metadata(plan: Plan, mode: str, plan_uri: str, run: Plan) -> dict[str, Any]:
    """One asset's part of ``run`` (``plan``) as materialization metadata."""
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


def execute_plan(
    context: AssetExecutionContext, session: CleanroomsSession, plan: Plan, plan_file: str
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
