"""The code location: ``defs`` for the active profile (``FLYWHEEL_ENV``, default local)."""

from __future__ import annotations

import dagster as dg

from flywheel_assets.assets.bucketed import build_bucketed_defs
from flywheel_assets.assets.cleanrooms import build_cleanrooms_defs
from flywheel_assets.assets.monitor import build_monitor_defs
from flywheel_assets.assets.partitioned import build_partitioned_defs
from flywheel_assets.assets.raw import raw_specs
from flywheel_assets.automation import build_automation_defs
from flywheel_assets.config.registry import load_registry
from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.io_managers.catalog_table import CatalogTableIOManager
from flywheel_assets.io_managers.lake_dataset import LakeDatasetIOManager
from flywheel_assets.platform import Platform
from flywheel_assets.presentation import present
from flywheel_assets.publishing import PublishPolicy
from glue_jobs.registry import Registry


def build_definitions(
    settings: Settings | None = None,
    registry: Registry | None = None,
    platform: Platform | None = None,
) -> dg.Definitions:
    settings = settings or load_settings()
    registry = registry or load_registry()
    platform = platform or Platform(settings, registry)
    resources = {
        "platform": platform,
        "dataset_io_manager": LakeDatasetIOManager(platform),
        "catalog_io_manager": CatalogTableIOManager(platform),
        "publish_policy": PublishPolicy(),
    }
    merged = dg.Definitions.merge(
        dg.Definitions(assets=raw_specs()),
        build_partitioned_defs(registry),
        build_bucketed_defs(registry, settings.is_local),
        build_cleanrooms_defs(registry, settings),
        build_monitor_defs(registry, settings),
        build_automation_defs(registry, settings),
        dg.Definitions(
            resources=resources,
            # local: one run = one process = one JVM (the embedded metastore allows one)
            executor=dg.in_process_executor if settings.is_local else None,
        ),
    )
    return present(merged, settings, registry)  # owners, tags, code references


defs = build_definitions()
