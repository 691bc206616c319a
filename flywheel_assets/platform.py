"""The platform: one adapter per port, chosen by the active profile.

Adapters are built lazily so that loading definitions never starts a JVM or opens an
AWS connection; tests pass their own adapters in. The platform also carries the table
registry of each pipeline (``registries``): what is looked up at run time by table name
(a dataset's manifest, retention, the audit's thresholds) takes it from the pipeline the
asset belongs to.
"""

from __future__ import annotations

from functools import cached_property

from flywheel_assets.config.registry import Registries, as_registries, load_registries
from flywheel_assets.config.settings import Settings
from flywheel_assets.ports import AlertsPort, CatalogPort, LakePort, SqlPort
from glue_jobs.registry import Registry


class Platform:
    def __init__(
        self,
        settings: Settings,
        registry: Registry | Registries | None = None,
        *,
        lake: LakePort | None = None,
        catalog: CatalogPort | None = None,
        sql: SqlPort | None = None,
        alerts: AlertsPort | None = None,
        compute=None,
    ) -> None:
        self.settings = settings
        # None: the registries the settings name; one Registry: shared by both pipelines
        self.registries = load_registries(settings) if registry is None else as_registries(registry)
        given = {"lake": lake, "catalog": catalog, "sql": sql, "alerts": alerts, "compute": compute}
        for name, value in given.items():
            if value is not None:
                self.__dict__[name] = value  # pre-empt the cached_property

    @property
    def registry(self) -> Registry:
        """The partitioned pipeline's registry (``load_registry()``); anything of the
        bucketed pipeline takes ``registries.split_cluster``."""
        return self.registries.split_part

    @property
    def database(self) -> str:
        return self.settings.glue_database

    @cached_property
    def spark(self):
        """The local profile's one SparkSession (embedded Hive metastore)."""
        from flywheel_assets.adapters.spark_session import local_spark_session

        return local_spark_session(self.settings)

    @cached_property
    def compute(self):
        """Split jobs on dev/prod: AWS Glue through Dagster Pipes (local runs in process)."""
        if self.settings.is_local:
            raise RuntimeError("the local profile splits in process; it has no Glue compute")
        from flywheel_assets.adapters.glue_compute import GlueCompute

        return GlueCompute(self.settings)

    @cached_property
    def lake(self) -> LakePort:
        if self.settings.is_local:
            from flywheel_assets.adapters.local_lake import LocalLake

            return LocalLake(self.settings.lake_root)
        from flywheel_assets.adapters.s3_lake import S3Lake

        return S3Lake(self.settings.data_bucket, self.settings.region)

    @cached_property
    def catalog(self) -> CatalogPort:
        if self.settings.is_local:
            from flywheel_assets.adapters.hive_catalog import HiveCatalog

            return HiveCatalog(self.spark)
        from flywheel_assets.adapters.glue_catalog import GlueCatalog

        return GlueCatalog(self.settings.region)

    @cached_property
    def sql(self) -> SqlPort:
        if self.settings.is_local:
            from flywheel_assets.adapters.spark_sql import SparkSql

            return SparkSql(self.spark)
        from flywheel_assets.adapters.athena_sql import AthenaSql

        return AthenaSql(
            workgroup=self.settings.athena_workgroup,
            output_location=self.settings.athena_results,
            database=self.settings.glue_database,
            region=self.settings.region,
        )

    @cached_property
    def alerts(self) -> AlertsPort:
        if self.settings.is_local or not self.settings.sns_topic_arn:
            from flywheel_assets.adapters.local_alerts import LocalAlerts

            return LocalAlerts(self.settings.report_root / "alerts.log")
        from flywheel_assets.adapters.sns_alerts import SnsAlerts

        return SnsAlerts(self.settings.sns_topic_arn, self.settings.region)
