"""A moto server standing in for every AWS endpoint, with fake credentials only."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets_tests.aws_contract import ContractRecorder, checked_clients

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_contract(monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractRecorder]:
    """Every AWS request these tests make is checked against the service model."""
    yield from checked_clients(monkeypatch)


@pytest.fixture
def aws_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A ``ThreadedMotoServer`` on a free port with empty backends; ``AWS_ENDPOINT_URL``
    points every boto3 client of this process (and of the subprocesses we start) at it."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset).close()  # moto's backends are per process, not per server
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    try:
        yield url
    finally:
        urllib.request.urlopen(reset).close()
        server.stop()


@pytest.fixture
def clients(aws_endpoint: str) -> Callable[[str], Any]:
    """``clients("s3")``: a client of the platform's kind, answered by the moto server."""
    return lambda service: aws_client(service, REGION)
