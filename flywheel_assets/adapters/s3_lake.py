"""Lake port on S3: keys are relative to the data bucket, exactly as in the local lake.

The S3 calls and their folder-vs-prefix semantics are ``glue_jobs/s3_objects.py``'s,
shared with the Glue job so both read the lake the same way; this adapter adds what the
port promises on top (``ObjectInfo``, ``FileNotFoundError``, a text content type).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.ports.lake import LakePort, ObjectInfo
from glue_jobs.s3_objects import S3Bucket, is_not_found

# ListObjectsV2 returns at most 1000 keys a page; smaller pages are for tests.
DEFAULT_PAGE_SIZE = 1000
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


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
        self.objects = S3Bucket(self.client, bucket, page_size)

    def uri(self, key: str) -> str:
        return self.objects.uri(key)

    def spark_uri(self, key: str) -> str:
        return f"s3a://{self.bucket}/{key}"

    def list_folders(self, prefix: str) -> list[str]:
        return self.objects.list_folders(prefix)

    def list_objects(self, prefix: str, limit: int | None = None) -> list[ObjectInfo]:
        return [ObjectInfo(key, size) for key, size in self.objects.list_objects(prefix, limit)]

    def newest_modified(self, prefix: str) -> float | None:
        """Newest ``LastModified`` (epoch seconds) of the objects under ``prefix``.

        Optional lake capability used by the raw-snapshot sensor's quiet-period mode;
        one listing of that one folder. ``None`` when nothing is there.
        """
        stamps = [
            obj["LastModified"].timestamp()
            for obj in self.objects.objects_under(prefix)
            if not obj["Key"].endswith("/")
        ]
        return max(stamps) if stamps else None

    def exists(self, key: str) -> bool:
        """True for an object or for a non-empty folder (as in the local lake)."""
        return self.objects.exists(key)

    def read_text(self, key: str) -> str:
        try:
            return self.objects.read_text(key)
        except ClientError as exc:
            if is_not_found(exc):
                raise FileNotFoundError(f"{self.uri(key)} does not exist") from exc
            raise

    def read_range(self, key: str, start: int, length: int) -> bytes:
        return self.objects.read_range(key, start, length)

    def write_text(self, key: str, text: str) -> None:
        self.objects.write_text(key, text, content_type=TEXT_CONTENT_TYPE)

    def delete_prefix(self, prefix: str) -> int:
        return self.objects.delete_prefix(prefix)
