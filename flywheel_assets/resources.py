"""The code location's resources: the typed ``platform`` and what depends on it.

``platform`` is one resource type, :class:`PlatformResource`, whose configuration (the
profile and ``FLYWHEEL_HOME``) the UI shows and the launchpad can set. Both IO managers
declare it as a resource dependency that resolves to the same top-level key, so a run
builds one :class:`Platform` and every asset, check, sensor and IO manager uses it.

Tests that bring their own adapters pass a ready :class:`Platform` instead; it is
bound the same way (one object, shared by everything in the run).
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from pydantic import Field

from flywheel_assets.config.settings import Settings, SettingsError, load_settings
from flywheel_assets.io_managers.catalog_table import CatalogTableIOManager
from flywheel_assets.io_managers.lake_dataset import LakeDatasetIOManager
from flywheel_assets.platform import Platform
from flywheel_assets.publishing import PublishPolicy


class PlatformResource(dg.ConfigurableResource):
    """The ports' adapters for one profile (lake, catalog, SQL, compute, alerts).

    Configuration only: ``create_resource`` vends a :class:`Platform` (Dagster's
    documented pattern), which code takes as ``platform: dg.ResourceParam[Platform]``.
    """

    profile: str = Field(
        description="FLYWHEEL_ENV the code location was loaded with: local, dev or prod. "
        "The asset graph and executor are that profile's, so a different value is refused."
    )
    home: str = Field(
        description="FLYWHEEL_HOME: the local lake, metastore, reports and Dagster home."
    )

    def create_resource(self, context: dg.InitResourceContext) -> Platform:  # type: ignore[override]
        return Platform(self.settings())  # with the registries its settings name

    def settings(self) -> Settings:
        loaded = (os.environ.get("FLYWHEEL_ENV") or "local").lower()
        if self.profile.lower() != loaded:
            raise SettingsError(
                f"platform.profile={self.profile!r}: this code location was loaded with "
                f"FLYWHEEL_ENV={loaded!r} (set FLYWHEEL_ENV and reload it to run another "
                "profile)"
            )
        return load_settings(self.profile, {**os.environ, "FLYWHEEL_HOME": self.home})


def platform_resource(settings: Settings) -> Any:
    """``platform`` bound at launch: its defaults are the loaded settings' profile and
    home, and the IO managers resolve to whatever the run configures."""
    return PlatformResource.configure_at_launch(profile=settings.env, home=str(settings.home))


def build_resources(platform: Any) -> dict[str, Any]:
    """Every resource key, with both IO managers bound to ``platform`` (the resource
    above, or a ready :class:`Platform`)."""
    return {
        "platform": platform,
        "dataset_io_manager": LakeDatasetIOManager(platform=platform),
        "catalog_io_manager": CatalogTableIOManager(platform=platform),
        "publish_policy": PublishPolicy(),
    }
