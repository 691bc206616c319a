"""``newest_modified``: the optional lake capability behind the quiet-period mode."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.adapters.local_lake import LocalLake
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.automation.raw_sensor import SupportsNewestModified

BUCKET = "omc-flywheel-data-us-east-1-test"
REGION = "us-east-1"
RAW = "opus/infobase_attributes/raw_input/"


def test_local_lake_reports_the_newest_file_below_a_folder(tmp_path) -> None:
    lake = LocalLake(tmp_path)
    lake.write_text(f"{RAW}snapshot_dt=2025-01-15/a/part-0.parquet", "x")
    lake.write_text(f"{RAW}snapshot_dt=2025-01-15/part-1.parquet", "x")
    lake.write_text(f"{RAW}snapshot_dt=2025-01-1/newer.parquet", "x")  # sibling, not below
    os.utime(lake.path(f"{RAW}snapshot_dt=2025-01-15/a/part-0.parquet"), (1000, 1000))
    os.utime(lake.path(f"{RAW}snapshot_dt=2025-01-15/part-1.parquet"), (2000, 2000))
    os.utime(lake.path(f"{RAW}snapshot_dt=2025-01-1/newer.parquet"), (9000, 9000))

    assert isinstance(lake, SupportsNewestModified)
    assert lake.newest_modified(f"{RAW}snapshot_dt=2025-01-15/") == 2000
    assert lake.newest_modified(f"{RAW}snapshot_dt=2025-01-15/a/part-0.parquet") == 1000
    assert lake.newest_modified(f"{RAW}snapshot_dt=2099-01-01/") is None


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = aws_client("s3", REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_s3_lake_reports_the_newest_last_modified_below_a_folder(s3: Any) -> None:
    lake = S3Lake(BUCKET, REGION, client=s3, page_size=2)
    before = dt.datetime.now(dt.UTC).timestamp() - 1
    for key in ("part-0.parquet", "part-1.parquet", "part-2.parquet", "sub/"):
        s3.put_object(Bucket=BUCKET, Key=f"{RAW}snapshot_dt=2025-01-15/{key}", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key=f"{RAW}snapshot_dt=2025-01-1/other.parquet", Body=b"x")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{RAW}snapshot_dt=2025-01-15/")
    expected = max(
        o["LastModified"].timestamp() for o in listed["Contents"] if not o["Key"].endswith("/")
    )

    assert isinstance(lake, SupportsNewestModified)
    newest = lake.newest_modified(f"{RAW}snapshot_dt=2025-01-15/")
    assert newest == expected
    assert newest >= before
    assert lake.newest_modified(f"{RAW}snapshot_dt=2099-01-01/") is None
