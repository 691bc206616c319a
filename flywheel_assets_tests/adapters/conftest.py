"""Every AWS request the adapter tests make is checked against the service model; the
moto Glue catalog the catalog tests share."""

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.adapters.glue_catalog import GlueCatalog
from flywheel_assets_tests.aws_contract import ContractRecorder, checked_clients

REGION = "us-east-1"
DB = "omc_flywheel_test"


@pytest.fixture(autouse=True)
def aws_contract(monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractRecorder]:
    yield from checked_clients(monkeypatch)


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def glue(fake_credentials: None) -> Iterator[Any]:
    """A Glue client on moto (the contract checker attached by ``aws_contract``)."""
    with mock_aws():
        yield aws_client("glue", REGION)


@pytest.fixture
def catalog(glue: Any) -> GlueCatalog:
    catalog = GlueCatalog(REGION, client=glue)
    catalog.ensure_database(DB)
    return catalog
