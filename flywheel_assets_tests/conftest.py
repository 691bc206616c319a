"""Shared fixtures: one SparkSession per test session, small registries and lakes.

Every test that needs a catalog gets its own FLYWHEEL_HOME (lake, reports) and its own
database name, while all of them share the session's one JVM and metastore.
"""

from __future__ import annotations

import itertools
import os
import warnings
from pathlib import Path

import dagster as dg
import pytest

from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.platform import Platform
from glue_jobs.registry import Registry, build_registry

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

SMALL_INFOBASE_CSV = """table_name,column_name
IBE_01_A,IBE01_Attr_01
IBE_01_A,IBE01_Attr_02
IBE_02_A,IBE02_Attr_01
IBE_02_A,IBE02_Attr_02
IBE_02_A,IBE02_Attr_03
"""
SMALL_ADDRESSABLE_CSV = """table_name,column_name
addressable_ids,Maid
addressable_ids,Hashed_Email
"""

_counter = itertools.count()


@pytest.fixture(scope="session")
def small_registry() -> Registry:
    """Three tables (two infobase, addressable ids): the shape of the real 27, small."""
    return build_registry(
        [
            ("infobase_attributes", "small_infobase.csv", SMALL_INFOBASE_CSV),
            ("addressable_ids", "small_addressable.csv", SMALL_ADDRESSABLE_CSV),
        ]
    )


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("flywheel_session")


@pytest.fixture(scope="session")
def spark(session_home):
    """The one SparkSession (and Derby metastore) of the test session."""
    from flywheel_assets.adapters.spark_session import local_spark_session

    settings = load_settings("local", environ={"FLYWHEEL_HOME": str(session_home)})
    session = local_spark_session(settings)
    yield session
    session.stop()


def make_settings(home: Path, env: str = "local", **overrides: str) -> Settings:
    environ = {
        "FLYWHEEL_HOME": str(home),
        "FLYWHEEL_GLUE_DATABASE": f"test_db_{os.getpid()}_{next(_counter)}",
        "FLYWHEEL_SPARK_SHUFFLE_PARTITIONS": "4",
    }
    environ.update({f"FLYWHEEL_{k.upper()}": str(v) for k, v in overrides.items()})
    return load_settings(env, environ=environ)


@pytest.fixture
def local_platform(tmp_path, spark, small_registry):
    """A local Platform on a fresh lake and database, sharing the session's Spark."""

    def build(registry: Registry | None = None, **overrides: str) -> Platform:
        platform = Platform(
            make_settings(tmp_path / "home", **overrides), registry or small_registry
        )
        platform.__dict__["spark"] = spark
        return platform

    return build


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst
