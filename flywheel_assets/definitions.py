"""The code location: ``defs`` for the active profile (``FLYWHEEL_ENV``, default local).

``defs`` is lazy (``@dg.definitions``): settings and the table registry are read when
Dagster loads the code location, never when a module is imported.
"""

from __future__ import annotations

import dagster as dg

from flywheel_assets.assets.bucketed import build_bucketed_defs
from flywheel_assets.assets.cleanrooms import build_cleanrooms_defs
from flywheel_assets.assets.compaction import build_compaction_defs
from flywheel_assets.assets.monitor import build_monitor_defs
from flywheel_assets.assets.partitioned import build_partitioned_defs
from flywheel_assets.assets.raw import raw_specs
from flywheel_assets.automation import build_automation_defs
from flywheel_assets.config.registry import Registries, as_registries, load_registries
from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.platform import Platform
from flywheel_assets.presentation import present
from flywheel_assets.resources import build_resources, platform_resource
from glue_jobs.registry import Registry


def build_definitions(
    settings: Settings | None = None,
    registry: Registry | Registries | None = None,
    platform: Platform | None = None,
) -> dg.Definitions:
    """The whole graph. With neither ``settings`` nor ``platform`` given (the code
    location), ``platform`` is the configurable :class:`PlatformResource`; otherwise
    the given (or built) :class:`Platform` is bound as is.

    ``registry``: each pipeline's (default: the platform's, else the settings'); a single
    :class:`Registry` serves both pipelines."""
    if platform is None and settings is None and registry is None:
        settings = load_settings()
        registries = load_registries(settings)
        bound = platform_resource(settings)
    else:
        settings = settings or (platform.settings if platform else load_settings())
        if registry is not None:
            registries = as_registries(registry)
        else:
            registries = platform.registries if platform else load_registries(settings)
        bound = platform or Platform(settings, registries)
    partitioned, bucketed = registries.split_part, registries.split_cluster
    merged = dg.Definitions.merge(
        dg.Definitions(assets=raw_specs()),
        build_partitioned_defs(partitioned),
        build_bucketed_defs(bucketed, settings),
        build_compaction_defs(settings),
        build_cleanrooms_defs(partitioned, settings),
        build_monitor_defs(registries, settings),
        build_automation_defs(registries, settings),
        dg.Definitions(
            resources=build_resources(bound),
            # local: one run = one process = one JVM (the embedded metastore allows one)
            executor=dg.in_process_executor if settings.is_local else None,
        ),
    )
    return present(merged, settings, registries)  # owners, tags, code references


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
