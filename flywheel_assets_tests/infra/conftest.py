"""The infra tests share the Glue tests' moto server and their AWS request contract:
every request to moto or a Stubber is checked against botocore's models and AWS limits."""

from collections.abc import Callable

import pytest

from flywheel_assets_tests.glue.conftest import aws_contract, aws_endpoint, clients
from flywheel_assets_tests.infra.helpers import infra_settings

__all__ = ["aws_contract", "aws_endpoint", "clients"]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``cli_env("dev")``: ``flywheel infra`` run in this process reads the profile as
    ``infra_settings`` does (its own Athena workgroup while profiles.toml says primary)."""

    def use(env: str) -> None:
        for name in ("FLYWHEEL_ENV", "FLYWHEEL_ATHENA_WORKGROUP", "FLYWHEEL_REGISTRY_DIR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("FLYWHEEL_ATHENA_WORKGROUP", infra_settings(env).athena_workgroup)

    return use
