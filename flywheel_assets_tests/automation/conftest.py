"""Fixtures for automation tests: a Platform on a temporary local lake, no Spark."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.platform import Platform
from flywheel_assets_tests.automation.fakes import FakeCatalog, RecordingAlerts
from flywheel_assets_tests.conftest import make_settings
from glue_jobs.registry import Registry


@pytest.fixture
def lake_platform(tmp_path: Path, small_registry: Registry) -> Callable[..., Platform]:
    """A Platform whose lake is a temp directory, with a fake catalog and alerts.

    ``platform.spark`` is None: anything that would start a JVM fails loudly.
    """

    def build(env: str = "local", **overrides: str) -> Platform:
        settings = make_settings(tmp_path / "home", env=env, **overrides)
        platform = Platform(
            settings,
            small_registry,
            lake=LocalLake(settings.lake_root),
            catalog=FakeCatalog(),
            alerts=RecordingAlerts(),
        )
        platform.__dict__["spark"] = None
        return platform

    return build
