"""S3Lake against moto: pagination, folder semantics, missing keys, batch deletes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.server import ThreadedMotoServer

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.ports.lake import ObjectInfo
from glue_jobs import s3_objects

BUCKET = "omc-flywheel-data-us-east-1-test"
REGION = "us-east-1"
RAW = "opus/infobase_attributes/raw_input/"


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def s3(fake_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = aws_client("s3", REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def record_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """API parameters of every ``operation`` call the client makes from now on."""
    calls: list[dict[str, Any]] = []
    service = client.meta.service_model.service_id.hyphenize()

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    client.meta.events.register(f"before-parameter-build.{service}.{operation}", record)
    return calls


def put(client: Any, *keys: str, body: bytes = b"x") -> None:
    for key in keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=body)


def test_uris_name_the_bucket_and_key(s3: Any) -> None:
    lake = S3Lake(BUCKET, REGION, client=s3)
    assert lake.uri("a/b.parquet") == f"s3://{BUCKET}/a/b.parquet"
    assert lake.spark_uri("a/b/") == f"s3a://{BUCKET}/a/b/"


def test_list_folders_is_one_delimited_listing_over_several_pages(s3: Any) -> None:
    dates = ["2025-01-15", "2025-02-15", "2025-03-15", "2025-04-15", "2025-05-15"]
    for d in dates:
        put(s3, f"{RAW}snapshot_dt={d}/part-0.csv", f"{RAW}snapshot_dt={d}/_SUCCESS")
    put(s3, f"{RAW}README.txt", "opus/infobase_attributes/raw_input_old/snapshot_dt=1999-01-01/x")
    calls = record_calls(s3, "ListObjectsV2")
    lake = S3Lake(BUCKET, REGION, client=s3, page_size=2)

    folders = lake.list_folders(RAW.rstrip("/"))  # trailing slash is optional

    assert folders == [f"snapshot_dt={d}/" for d in dates]
    # 5 common prefixes + 1 loose object, 2 entries a page: 3 pages, all delimited.
    assert len(calls) == 3
    assert all(c["Delimiter"] == "/" and c["Prefix"] == RAW for c in calls)
    assert all(c["MaxKeys"] == 2 for c in calls)
    assert "ContinuationToken" not in calls[0] and "ContinuationToken" in calls[2]


def test_list_folders_of_missing_prefix_is_empty(s3: Any) -> None:
    assert S3Lake(BUCKET, REGION, client=s3).list_folders("nothing/here/") == []


def test_list_objects_pages_sorts_and_keeps_folder_semantics(s3: Any) -> None:
    prefix = "split_part/part_ibe_01/snapshot_dt=2025-01-1"
    keys = [f"{prefix}/id_bucket={n}/part-0.parquet" for n in (3, 0, 2, 1, 4, 10, 7)]
    for i, key in enumerate(keys):
        put(s3, key, body=b"y" * (i + 1))
    put(s3, f"{prefix}/")  # a console-made folder marker: not an object of the table
    put(s3, "split_part/part_ibe_01/snapshot_dt=2025-01-15/part-0.parquet")  # sibling
    calls = record_calls(s3, "ListObjectsV2")
    lake = S3Lake(BUCKET, REGION, client=s3, page_size=2)

    objects = lake.list_objects(prefix)

    assert [o.key for o in objects] == sorted(keys)
    assert ObjectInfo(keys[0], 1) in objects and ObjectInfo(keys[-1], 7) in objects
    assert len(calls) >= 4  # 9 keys under the raw prefix, 2 a page
    assert lake.total_size(prefix) == sum(range(1, 8))


def test_list_objects_limit_stops_listing_early(s3: Any) -> None:
    keys = [f"data/f{n:02d}.parquet" for n in range(9)]
    put(s3, *reversed(keys))
    calls = record_calls(s3, "ListObjectsV2")
    lake = S3Lake(BUCKET, REGION, client=s3, page_size=2)

    objects = lake.list_objects("data/", limit=3)

    assert [o.key for o in objects] == keys[:3]
    assert len(calls) == 2  # stopped after the page that held the third key


def test_list_objects_of_a_single_key_returns_that_object(s3: Any) -> None:
    put(s3, "meta/snapshot_dt.txt", "meta/snapshot_dt.txt.bak")
    lake = S3Lake(BUCKET, REGION, client=s3)
    assert lake.list_objects("meta/snapshot_dt.txt") == [ObjectInfo("meta/snapshot_dt.txt", 1)]


def test_exists_for_objects_folders_and_missing_keys(s3: Any) -> None:
    put(s3, f"{RAW}snapshot_dt=2025-01-15/_SUCCESS")
    lake = S3Lake(BUCKET, REGION, client=s3)
    assert lake.exists(f"{RAW}snapshot_dt=2025-01-15/_SUCCESS")
    assert lake.exists(f"{RAW}snapshot_dt=2025-01-15/")
    assert lake.exists(f"{RAW}snapshot_dt=2025-01-15")
    assert not lake.exists(f"{RAW}snapshot_dt=2025-01-15/_FAILED")
    assert not lake.exists(f"{RAW}snapshot_dt=2025-01-1")


def test_write_then_read_text_round_trips_utf8(s3: Any) -> None:
    lake = S3Lake(BUCKET, REGION, client=s3)
    lake.write_text("reports/x.txt", "Δ=0.005000% — ok\n")
    assert lake.read_text("reports/x.txt") == "Δ=0.005000% — ok\n"
    head = s3.head_object(Bucket=BUCKET, Key="reports/x.txt")
    assert head["ContentType"].startswith("text/plain")


def test_read_text_of_missing_key_raises_file_not_found(s3: Any) -> None:
    lake = S3Lake(BUCKET, REGION, client=s3)
    with pytest.raises(FileNotFoundError, match=f"s3://{BUCKET}/missing/key.txt"):
        lake.read_text("missing/key.txt")


def test_delete_prefix_deletes_in_batches_and_spares_siblings(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert s3_objects.DELETE_BATCH_SIZE == 1000  # DeleteObjects' limit
    monkeypatch.setattr(s3_objects, "DELETE_BATCH_SIZE", 2)
    doomed = [f"t/snapshot_dt=2024-10-15/id_bucket={n}/p.parquet" for n in range(5)]
    put(s3, *doomed, "t/snapshot_dt=2024-10-15_x/keep.parquet", "t/snapshot_dt=2025-01-15/k")
    calls = record_calls(s3, "DeleteObjects")
    lake = S3Lake(BUCKET, REGION, client=s3, page_size=2)

    assert lake.delete_prefix("t/snapshot_dt=2024-10-15") == 5

    assert [len(c["Delete"]["Objects"]) for c in calls] == [2, 2, 1]
    remaining = [o.key for o in lake.list_objects("t/")]
    assert remaining == ["t/snapshot_dt=2024-10-15_x/keep.parquet", "t/snapshot_dt=2025-01-15/k"]
    assert lake.delete_prefix("t/snapshot_dt=2024-10-15/") == 0


def test_delete_prefix_refuses_the_whole_bucket(s3: Any) -> None:
    put(s3, "a/b")
    lake = S3Lake(BUCKET, REGION, client=s3)
    with pytest.raises(ValueError, match="whole bucket"):
        lake.delete_prefix("")
    assert lake.exists("a/b")


def test_delete_prefix_reports_objects_s3_would_not_delete() -> None:
    client = boto3.client(
        "s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": "old/a", "Size": 1}], "KeyCount": 1, "IsTruncated": False},
            {"Bucket": BUCKET, "Prefix": "old/", "MaxKeys": 1000},
        )
        stub.add_response(
            "delete_objects",
            {"Errors": [{"Key": "old/a", "Code": "AccessDenied", "Message": "no"}]},
            {"Bucket": BUCKET, "Delete": {"Objects": [{"Key": "old/a"}], "Quiet": True}},
        )
        with pytest.raises(OSError, match="old/a: AccessDenied"):
            S3Lake(BUCKET, REGION, client=client).delete_prefix("old/")


def test_default_client_retries_throttling_and_honours_endpoint_url(
    fake_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    client = S3Lake(BUCKET, REGION).client
    assert client.meta.endpoint_url == "http://127.0.0.1:5999"
    # botocore's ``max_attempts`` counts retries: 8 retries = 9 attempts in all.
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 9}


def test_moto_server_stands_in_through_aws_endpoint_url(
    fake_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        lake = S3Lake(BUCKET, REGION)
        lake.client.create_bucket(Bucket=BUCKET)
        lake.write_text(f"{RAW}snapshot_dt=2025-01-15/_SUCCESS", "")
        assert lake.list_folders(RAW) == ["snapshot_dt=2025-01-15/"]
    finally:
        server.stop()
