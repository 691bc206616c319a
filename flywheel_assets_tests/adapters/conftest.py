"""Every AWS request the adapter tests make is checked against the service model."""

from collections.abc import Iterator

import pytest

from flywheel_assets_tests.aws_contract import ContractRecorder, checked_clients


@pytest.fixture(autouse=True)
def aws_contract(monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractRecorder]:
    yield from checked_clients(monkeypatch)
