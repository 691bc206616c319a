"""One place that creates boto3 clients, so every AWS adapter retries the same way."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling (ThrottlingException, SlowDown, 429, ...) and transient
# 5xx errors with jittered exponential back-off; Glue and Athena throttle bursts of
# partition and query calls, so the adapters rely on this instead of hand-written loops
# (dagster-aws's Pipes client and readers are handed these clients too). A constant, not a
# setting: the bound only caps how long one throttled request keeps trying (at most about
# 90 s of jittered back-off, each delay capped at 20 s), which no profile needs to change.
# In this legacy key ``max_attempts`` counts retries: 8 retries, 9 attempts in all.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


def aws_client(service: str, region: str) -> Any:
    """A boto3 client for ``service`` in ``region`` with the platform's retry policy.

    A fresh session per client keeps client creation thread-safe (the default session is
    not). ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` are honoured by boto3
    itself, which is how a moto server stands in for AWS without code changes.
    """
    # a copy: botocore rewrites the retries dict it is given in place
    # (max_attempts -> total_max_attempts), which would change RETRY_CONFIG for everyone
    config = Config(retries=dict(RETRY_CONFIG.retries))
    return boto3.session.Session().client(service, region_name=region, config=config)


def client_factory(region: str) -> Callable[[str], Any]:
    """``service -> aws_client(service, region)``, for code that is handed a factory (tests
    hand it moto or Stubber-backed clients instead); a client is made only when asked."""
    return functools.partial(aws_client, region=region)


def cached_clients(factory: Callable[[str], Any]) -> Callable[[str], Any]:
    """``factory`` that makes one client per service and hands it out again: a run asks
    for the same service many times, and each new boto3 client loads its service model."""
    return functools.cache(factory)
