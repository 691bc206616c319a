"""Lake port on S3: keys are relative to the data bucket, exactly as in the local lake.

Prefix semantics follow the local directory adapter so assets behave the same on both:
a prefix names a folder (with or without the trailing ``/``) or a single object, never
"every key that happens to start with these characters" (``snapshot_dt=2025-01-1``
must not match ``snapshot_dt=2025-01-15/``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.ports.lake import LakePort, ObjectInfo
from glue_jobs.raw_files import read_s3_range

# DeleteObjects takes at most 1000 keys a request.
DELETE_BATCH_SIZE = 1000
# ListObjectsV2 returns at most 1000 keys a page; smaller pages are for tests.
DEFAULT_PAGE_SIZE = 1000


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Lake(LakePort):
    def __init__(
        self,
        bucket: str,
        region: str,
        client: Any | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.bucket = bucket
        self.region = region
        self.client = client if client is not None else aws_client("s3", region)
        self.page_size = page_size

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def spark_uri(self, key: str) -> str:
        return f"s3a://{self.bucket}/{key}"

    def _pages(self, prefix: str, **extra: Any) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        yield from paginator.paginate(
            Bucket=self.bucket,
            Prefix=prefix,
            PaginationConfig={"PageSize": self.page_size},
            **extra,
        )

    def _keys_under(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Objects that are ``prefix`` itself or lie below it as a folder, in key order."""
        folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        for page in self._pages(prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key == prefix or key.startswith(folder):
                    yield obj

    def list_folders(self, prefix: str) -> list[str]:
        """One delimited listing (all pages): the S3 equivalent of ``ls -d prefix/*/``."""
        folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        names: list[str] = []
        for page in self._pages(folder, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"][len(folder) :])
        return sorted(names)

    def list_objects(self, prefix: str, limit: int | None = None) -> list[ObjectInfo]:
        """S3 lists in UTF-8 byte order (= code point order), so stopping early at
        ``limit`` keeps the same first objects a full sorted listing would give.

        Zero-byte "folder marker" keys (ending with ``/``) are skipped: the local lake
        has no such objects.
        """
        if limit is not None and limit <= 0:
            return []
        found: list[ObjectInfo] = []
        for obj in self._keys_under(prefix):
            if obj["Key"].endswith("/"):
                continue
            found.append(ObjectInfo(obj["Key"], int(obj["Size"])))
            if limit is not None and len(found) >= limit:
                break
        return sorted(found, key=lambda o: o.key)

    def newest_modified(self, prefix: str) -> float | None:
        """Newest ``LastModified`` (epoch seconds) of the objects under ``prefix``.

        Optional lake capability used by the raw-snapshot sensor's quiet-period mode;
        one listing of that one folder. ``None`` when nothing is there.
        """
        stamps = [
            obj["LastModified"].timestamp()
            for obj in self._keys_under(prefix)
            if not obj["Key"].endswith("/")
        ]
        return max(stamps) if stamps else None

    def exists(self, key: str) -> bool:
        """True for an object or for a non-empty folder (as in the local lake)."""
        if key and not key.endswith("/"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
                return True
            except ClientError as exc:
                if _error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                    raise
        folder = key if not key or key.endswith("/") else key + "/"
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=folder, MaxKeys=1)
        return bool(listing.get("Contents"))

    def read_text(self, key: str) -> str:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(f"{self.uri(key)} does not exist") from exc
            raise
        return response["Body"].read().decode("utf-8")

    def read_range(self, key: str, start: int, length: int) -> bytes:
        return read_s3_range(self.client, self.bucket, key, start, length)

    def write_text(self, key: str, text: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=text.encode("utf-8"),
            ContentType="text/plain; charset=utf-8",
        )

    def delete_prefix(self, prefix: str) -> int:
        """Batch-delete everything under ``prefix`` (1000 keys a request).

        An empty prefix is refused: it would empty the whole data bucket.
        """
        if not prefix.strip("/"):
            raise ValueError(f"refusing to delete the whole bucket s3://{self.bucket}/")
        keys = [obj["Key"] for obj in self._keys_under(prefix)]
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
