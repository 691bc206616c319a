"""The registry shipped in this package, loaded and validated once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from glue_jobs.registry import Registry, build_registry

CONFIG_DIR = Path(__file__).parent
SPLIT_CSVS = {
    "infobase_attributes": CONFIG_DIR / "infobase_table_split.csv",
    "addressable_ids": CONFIG_DIR / "addressable_ids_table_split.csv",
}


def load_registry_files(files: dict[str, Path], max_columns: int = 100) -> Registry:
    return build_registry(
        ((source, path.name, path.read_text()) for source, path in files.items()),
        max_columns=max_columns,
    )


@cache
def load_registry() -> Registry:
    """The package registry; a bad row fails definitions loading with its file:line."""
    return load_registry_files(SPLIT_CSVS)
