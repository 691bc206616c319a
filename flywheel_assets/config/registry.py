"""The table registries shipped in this package: one per pipeline, loaded and validated once.

Each pipeline is named by the split that feeds it: ``split_part`` (``part_*`` and all that
is built on it: ``part_*_history``, ``part_*_er``, Clean Rooms, the monitor) and
``split_cluster`` (``ext_*``, ``bucketed_*``). By default both read the shared split CSVs
(:data:`SPLIT_CSV_NAMES`); the settings ``<pipeline>_<infobase|addressable>_csv`` name
another file of the registry folder for one pipeline and source, as the reference drives
its bucketed pipeline from ``*_split_lowercase.csv`` and its partitioned one from
``*_split_part.csv``. Each registry is validated on its own (100-column quota, legal
identifiers, one table per column within the pipeline).

``load_registry()`` is the partitioned pipeline's registry (the tables Clean Rooms
serves); ``load_registries()`` gives both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flywheel_assets.config.settings import Settings, load_settings
from glue_jobs.job_plan import PACKAGED_CSV
from glue_jobs.registry import SOURCES, Registry, RegistryError, build_registry

CONFIG_DIR = Path(__file__).parent
PIPELINES = ("split_part", "split_cluster")  # the split kind that feeds each pipeline
SPLIT_CSV_NAMES = {  # the shared files, used by every pipeline whose setting is unset
    "infobase_attributes": "infobase_table_split.csv",
    "addressable_ids": "addressable_ids_table_split.csv",
}
_SETTING_SOURCE = {"infobase_attributes": "infobase", "addressable_ids": "addressable"}


def csv_setting(pipeline: str, source: str) -> str:
    """The setting naming ``pipeline``'s split CSV of ``source``: ``split_part_infobase_csv``."""
    if pipeline not in PIPELINES:
        raise KeyError(f"unknown pipeline {pipeline!r}: expected one of {', '.join(PIPELINES)}")
    return f"{pipeline}_{_SETTING_SOURCE[source]}_csv"


@dataclass(frozen=True)
class Registries:
    """The registry of each pipeline (the same object twice when both share the files)."""

    split_part: Registry
    split_cluster: Registry

    @classmethod
    def shared(cls, registry: Registry) -> Registries:
        return cls(registry, registry)

    def of(self, pipeline: str) -> Registry:
        """The registry of the pipeline fed by split ``pipeline`` (an asset key's kind)."""
        if pipeline not in PIPELINES:
            raise KeyError(f"unknown pipeline {pipeline!r}: expected one of {', '.join(PIPELINES)}")
        return getattr(self, pipeline)

    def items(self) -> Iterator[tuple[str, Registry]]:
        return iter((p, self.of(p)) for p in PIPELINES)

    @property
    def union(self) -> Registry:
        """Every table of either pipeline once per name (the partitioned pipeline's spec
        first): for what is keyed by table name alone (drift thresholds, ``--accept-drift``),
        never for columns."""
        if self.split_part is self.split_cluster:
            return self.split_part
        names = {t.name for t in self.split_part}
        extra = tuple(t for t in self.split_cluster if t.name not in names)
        return Registry(self.split_part.tables + extra)


def as_registries(registry: Registry | Registries) -> Registries:
    """A single :class:`Registry` serves both pipelines (the shared-files case)."""
    return registry if isinstance(registry, Registries) else Registries.shared(registry)


def registry_dir() -> Path:
    """``FLYWHEEL_REGISTRY_DIR`` (same file names) lets a table be tried before onboarding."""
    return Path(os.environ.get("FLYWHEEL_REGISTRY_DIR") or CONFIG_DIR)


def split_csv_paths(
    settings: Settings | None = None, pipeline: str = "split_part"
) -> dict[str, Path]:
    """Source -> split CSV of ``pipeline``: the file its setting names in the registry
    folder, the shared file where the setting is empty (``settings`` default: the active
    profile's)."""
    settings = settings or load_settings()
    return {
        source: registry_dir()
        / (getattr(settings, csv_setting(pipeline, source)) or SPLIT_CSV_NAMES[source])
        for source in SOURCES
    }


def packaged_split_csvs(settings: Settings) -> dict[str, Path]:
    """Name inside the ``glue_jobs`` package -> file: what ``--CSV_FILE _NONE_`` reads,
    per pipeline and source (``split_csvs/<pipeline>/<source>.csv``)."""
    return {
        PACKAGED_CSV.format(kind=pipeline, source=source): path
        for pipeline in PIPELINES
        for source, path in split_csv_paths(settings, pipeline).items()
    }


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
            f"it needs {', '.join(SPLIT_CSV_NAMES.values())} unless a <pipeline>_*_csv "
            "setting names another file)"
        ) from None


def _chosen_files(settings: Settings, pipeline: str) -> tuple[tuple[str, str], ...]:
    """``(setting, file name)`` of each of ``pipeline``'s settings that names a file."""
    names = (csv_setting(pipeline, source) for source in SOURCES)
    return tuple((name, getattr(settings, name)) for name in names if getattr(settings, name))


def load_registries(settings: Settings | None = None) -> Registries:
    """Both pipelines' registries (``settings`` default: the active profile's), read once
    per process and set of files; a bad row fails definitions loading with its file:line
    and, when a setting chose the file, the setting."""
    settings = settings or load_settings()
    return _load_registries(
        tuple(
            (p, tuple(split_csv_paths(settings, p).items()), _chosen_files(settings, p))
            for p in PIPELINES
        )
    )


FilesKey = tuple[tuple[str, Path], ...]


@cache
def _load_registries(
    pipelines: tuple[tuple[str, FilesKey, tuple[tuple[str, str], ...]], ...],
) -> Registries:
    loaded: dict[FilesKey, Registry] = {}  # pipelines reading the same files share one
    for pipeline, files, named in pipelines:
        if files not in loaded:
            loaded[files] = _load_pipeline(pipeline, dict(files), named)
    return Registries(*(loaded[files] for _, files, _ in pipelines))


def _load_pipeline(
    pipeline: str, files: dict[str, Path], named: tuple[tuple[str, str], ...]
) -> Registry:
    try:
        return load_registry_files(files)
    except RegistryError as exc:
        if not named:
            raise
        chosen = ", ".join(f"{name}={value!r}" for name, value in named)
        raise RegistryError(f"{pipeline} registry ({chosen}): {exc}") from None


def load_registry(settings: Settings | None = None) -> Registry:
    """The partitioned pipeline's registry: ``part_*`` and everything built on it."""
    return load_registries(settings).split_part
