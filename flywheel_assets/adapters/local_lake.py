"""Lake port on a local directory that mirrors the data bucket's key layout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from flywheel_assets.ports.lake import LakePort, ObjectInfo
from glue_jobs.raw_files import read_file_range


class LocalLake(LakePort):
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"key {key!r} escapes the lake root")
        return path

    def uri(self, key: str) -> str:
        # not Path.as_uri(): it percent-encodes "=", which Hive partition paths need verbatim
        uri = f"file://{self.path(key)}"
        return uri + "/" if key.endswith("/") and not uri.endswith("/") else uri

    def spark_uri(self, key: str) -> str:
        return self.uri(key)

    def list_folders(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if not base.is_dir():
            return []
        with os.scandir(base) as entries:
            return sorted(f"{e.name}/" for e in entries if e.is_dir())

    def list_objects(self, prefix: str, limit: int | None = None) -> list[ObjectInfo]:
        base = self.path(prefix)
        if base.is_file():
            return [ObjectInfo(prefix, base.stat().st_size)]
        if not base.is_dir():
            return []
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath) / name
                found.append(
                    ObjectInfo(full.relative_to(self.root).as_posix(), full.stat().st_size)
                )
        found.sort(key=lambda o: o.key)
        return found[:limit] if limit is not None else found

    def newest_modified(self, prefix: str) -> float | None:
        """Newest modification time (epoch seconds) of the objects under ``prefix``.

        Optional lake capability (see ``automation.raw_sensor.SupportsNewestModified``):
        the raw-snapshot sensor's quiet-period mode uses it when no marker is written.
        ``None`` when nothing is there.
        """
        base = self.path(prefix)
        if base.is_file():
            return base.stat().st_mtime
        if not base.is_dir():
            return None
        newest: float | None = None
        for dirpath, _, filenames in os.walk(base):
            for name in filenames:
                mtime = (Path(dirpath) / name).stat().st_mtime
                newest = mtime if newest is None else max(newest, mtime)
        return newest

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def read_text(self, key: str) -> str:
        return self.path(key).read_text()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        return read_file_range(self.path(key), start, length)

    def write_text(self, key: str, text: str) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)

    def delete_prefix(self, prefix: str) -> int:
        base = self.path(prefix)
        if base.is_file():
            base.unlink()
            return 1
        if not base.is_dir():
            return 0
        count = sum(len(files) for _, _, files in os.walk(base))
        shutil.rmtree(base)
        return count
