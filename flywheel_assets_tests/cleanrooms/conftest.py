"""Fake AWS credentials for every Clean Rooms test: no test may reach a real account.
Every request a test makes is checked against the service model (aws_contract.py)."""

from collections.abc import Iterator

import pytest

from flywheel_assets_tests.aws_contract import ContractRecorder, checked_clients


@pytest.fixture(autouse=True)
def aws_contract(monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractRecorder]:
    yield from checked_clients(monkeypatch)


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
