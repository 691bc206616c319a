"""The registry shipped in this package, loaded and validated once per process."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from glue_jobs.registry import Registry, RegistryError, build_registry

CONFIG_DIR = Path(__file__).parent
SPLIT_CSV_NAMES = {
    "infobase_attributes": "infobase_table_split.csv",
    "addressable_ids": "addressable_ids_table_split.csv",
}


def registry_dir() -> Path:
    """``FLYWHEEL_REGISTRY_DIR`` (same file names) lets a table be tried before onboarding."""
    return Path(os.environ.get("FLYWHEEL_REGISTRY_DIR") or CONFIG_DIR)


def split_csv_paths() -> dict[str, Path]:
    return {source: registry_dir() / name for source, name in SPLIT_CSV_NAMES.items()}


def load_registry_files(files: dict[str, Path], max_columns: int = 100) -> Registry:
    """The registry of ``files`` (source -> split CSV); each must exist and name a table."""
    return build_registry(
        ((source, path.name, _read_split_csv(path)) for source, path in files.items()),
        max_columns=max_columns,
    )


def _read_split_csv(path: Path) -> str:
    """A missing file is a RegistryError naming it, not a traceback mid-definitions."""
    try:
        return path.read_text()
    except FileNotFoundError:
        raise RegistryError(
            f"{path}: registry file not found (FLYWHEEL_REGISTRY_DIR selects the folder; "
            f"it needs {', '.join(SPLIT_CSV_NAMES.values())})"
        ) from None


@cache
def load_registry() -> Registry:
    """The package registry; a bad row fails definitions loading with its file:line."""
    return load_registry_files(split_csv_paths())
