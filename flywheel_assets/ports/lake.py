"""Lake port: object storage addressed by keys relative to the data bucket."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class LakePort(ABC):
    """Keys are bucket-relative (``omc_cleanroom_data/split_part/...``), never URIs.

    Prefix arguments that name a "folder" end with ``/``.
    """

    @abstractmethod
    def uri(self, key: str) -> str:
        """URI a reader outside this process uses (``file:///...`` or ``s3://bucket/key``)."""

    @abstractmethod
    def spark_uri(self, key: str) -> str:
        """URI Spark uses (``file:///...`` or ``s3a://bucket/key``)."""

    @abstractmethod
    def list_folders(self, prefix: str) -> list[str]:
        """Immediate child folder names under ``prefix`` (one delimited listing, paginated)."""

    @abstractmethod
    def list_objects(self, prefix: str, limit: int | None = None) -> list[ObjectInfo]:
        """Objects under ``prefix`` recursively, sorted by key, at most ``limit``."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def read_text(self, key: str) -> str:
        """Raise ``FileNotFoundError`` when the object does not exist."""

    @abstractmethod
    def write_text(self, key: str, text: str) -> None: ...

    @abstractmethod
    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of an object from ``start``: a ranged read, so a parquet
        footer is checked without reading the data (``glue_jobs.raw_files``)."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; return how many were deleted."""

    def total_size(self, prefix: str) -> int:
        return sum(o.size for o in self.list_objects(prefix))
