"""S3 objects with folder semantics: the one boto3 wrapper of the Glue job and the lake.

A prefix names a folder (with or without the trailing ``/``) or a single object, never
"every key that happens to start with these characters" (``snapshot_dt=2025-01-1``
must not match ``snapshot_dt=2025-01-15/``), as in a local directory, so the Glue job,
the code location's S3 lake (``flywheel_assets/adapters/s3_lake.py``) and the local
lake agree on what lies under a prefix. Listings go through boto3 paginators.

Two ways to address the same calls: :class:`S3Bucket` takes keys relative to one bucket
(the lake's), :class:`S3Objects` takes ``s3://`` URIs (the Glue job's arguments). It runs
on AWS Glue, so it imports nothing from Dagster or ``flywheel_assets``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from glue_jobs.raw_files import read_s3_range

S3_URI = re.compile(r"^s3a?://(?P<bucket>[^/]+)/?(?P<key>.*)$")
# DeleteObjects takes at most 1000 keys a request.
DELETE_BATCH_SIZE = 1000
NOT_FOUND = ("404", "NoSuchKey", "NotFound")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` (or ``s3a://``) URI."""
    match = S3_URI.match(uri)
    if not match:
        raise ValueError(f"{uri!r} is not an s3:// path")
    return match.group("bucket"), match.group("key")


def as_folder(prefix: str) -> str:
    """``prefix`` ending with ``/``; the empty prefix (the bucket's top) stays empty."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in NOT_FOUND


class S3Bucket:
    """The S3 calls on keys of one bucket. ``page_size`` None leaves listing pages at
    S3's default (1000 keys); smaller pages are for tests."""

    def __init__(self, client: Any, bucket: str, page_size: int | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.page_size = page_size

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def pages(self, prefix: str, **extra: Any) -> Iterator[dict[str, Any]]:
        """Every ``ListObjectsV2`` page of ``prefix`` (``extra``: e.g. ``Delimiter``)."""
        if self.page_size is not None:
            extra["PaginationConfig"] = {"PageSize": self.page_size}
        paginator = self.client.get_paginator("list_objects_v2")
        yield from paginator.paginate(Bucket=self.bucket, Prefix=prefix, **extra)

    def objects_under(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Objects that are ``prefix`` itself or lie below it as a folder, in key order."""
        folder = as_folder(prefix)
        for page in self.pages(prefix):
            for obj in page.get("Contents", []):
                if obj["Key"] == prefix or obj["Key"].startswith(folder):
                    yield obj

    def list_folders(self, prefix: str) -> list[str]:
        """One delimited listing (all pages): the S3 equivalent of ``ls -d prefix/*/``."""
        folder = as_folder(prefix)
        names: list[str] = []
        for page in self.pages(folder, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"][len(folder) :])
        return sorted(names)

    def list_objects(self, prefix: str, limit: int | None = None) -> list[tuple[str, int]]:
        """``(key, size)`` under ``prefix``, sorted. S3 lists in UTF-8 byte order (= code
        point order), so stopping early at ``limit`` keeps the same first objects a full
        sorted listing would give. Zero-byte "folder marker" keys (ending with ``/``) are
        skipped: a local directory has no such objects."""
        if limit is not None and limit <= 0:
            return []
        found: list[tuple[str, int]] = []
        for obj in self.objects_under(prefix):
            if obj["Key"].endswith("/"):
                continue
            found.append((obj["Key"], int(obj["Size"])))
            if limit is not None and len(found) >= limit:
                break
        return sorted(found)

    def _first_key(self, prefix: str) -> list[dict[str, Any]]:
        """The first object of one key-ordered listing of ``prefix`` (or none)."""
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        return listing.get("Contents", [])

    def has_object(self, key: str) -> bool:
        """An object named exactly ``key``, asked with a listing (``s3:ListBucket``): the
        Glue job's marker probe, which needs no read permission on the object."""
        return any(obj["Key"] == key for obj in self._first_key(key))

    def exists(self, key: str) -> bool:
        """True for an object or for a non-empty folder (as in a local directory)."""
        if key and not key.endswith("/"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
                return True
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
        return bool(self._first_key(as_folder(key)))

    def read_text(self, key: str) -> str:
        """A small UTF-8 object; a missing one raises botocore's ``ClientError``."""
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")

    def read_range(self, key: str, start: int, length: int) -> bytes:
        return read_s3_range(self.client, self.bucket, key, start, length)

    def write_text(self, key: str, text: str, content_type: str | None = None) -> None:
        """A small UTF-8 object, written whole (markers, manifests, audit records)."""
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), **extra)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Batch-delete everything under ``prefix`` (1000 keys a request); return how
        many. An empty prefix is refused: it would empty the whole bucket."""
        if not prefix.strip("/"):
            raise ValueError(f"refusing to delete the whole bucket s3://{self.bucket}/")
        keys = [obj["Key"] for obj in self.objects_under(prefix)]
        for start in range(0, len(keys), DELETE_BATCH_SIZE):
            batch = keys[start : start + DELETE_BATCH_SIZE]
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            errors = response.get("Errors", [])
            if errors:
                sample = ", ".join(f"{e.get('Key')}: {e.get('Code')}" for e in errors[:5])
                raise OSError(
                    f"could not delete {len(errors)} object(s) under {self.uri(prefix)}: {sample}"
                )
        return len(keys)


class S3Objects:
    """The Glue job's view: the same calls on ``s3://`` URIs (listings, markers and
    manifests, written outside Spark so they land exactly where and when the job
    decides). A URI ending with ``/`` or not names the same folder."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _at(self, uri: str) -> tuple[S3Bucket, str]:
        bucket, key = split_s3_uri(uri)
        return S3Bucket(self.client, bucket), key

    def list_folders(self, uri: str) -> list[str]:
        bucket, prefix = self._at(uri)
        return bucket.list_folders(prefix)

    def list_objects(self, uri: str) -> list[tuple[str, int]]:
        bucket, prefix = self._at(uri)
        return bucket.list_objects(as_folder(prefix))

    def exists(self, uri: str) -> bool:
        bucket, key = self._at(uri)
        return bucket.has_object(key)

    def read_text(self, uri: str) -> str:
        bucket, key = self._at(uri)
        return bucket.read_text(key)

    def write_text(self, uri: str, text: str) -> None:
        bucket, key = self._at(uri)
        bucket.write_text(key, text)

    def delete(self, uri: str) -> None:
        """Unused by the job today; the Glue role's ``s3:DeleteObject`` grant and the
        AWS contract test (``test_glue_job_s3_calls``) still exercise it."""
        bucket, key = self._at(uri)
        bucket.delete(key)

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        bucket, key = self._at(uri)
        return bucket.read_range(key, start, length)
