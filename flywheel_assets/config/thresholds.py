"""Drift thresholds: how far a new month may move from the month in service.

Defaults are settings (``drift_*`` in ``profiles.toml``); a table can override them
where the registry says so, in ``drift_thresholds.csv`` next to the split CSVs. The drift
rules (``checks/drift.py``) take one :class:`DriftThresholds` per table.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flywheel_assets.config.registry import registry_dir
from flywheel_assets.config.settings import RANGES, parse_text, range_problem
from glue_jobs.registry import Registry, RegistryError

if TYPE_CHECKING:
    from flywheel_assets.config.settings import Settings


@dataclass(frozen=True)
class DriftThresholds:
    max_row_drop_pct: float = 20.0  # a drop of more than this blocks
    max_row_rise_pct: float = 50.0  # a rise of more than this blocks
    min_key_retention_pct: float = 80.0  # below this share of the served keys blocks
    null_rise_warn_points: float = 25.0  # a column's null share rising more than this warns


THRESHOLDS_CSV = "drift_thresholds.csv"
SETTING_PREFIX = "drift_"  # field ``x`` is the setting ``drift_x``, with its range
FIELDS = tuple(f.name for f in dataclasses.fields(DriftThresholds))
HEADER = ("table_name", *FIELDS)


def default_thresholds(settings: Settings) -> DriftThresholds:
    """The ``drift_*`` settings: what every table gets unless the CSV says otherwise."""
    return DriftThresholds(**{name: getattr(settings, SETTING_PREFIX + name) for name in FIELDS})


def load_drift_thresholds(
    settings: Settings, registry: Registry, path: Path | None = None
) -> dict[str, DriftThresholds]:
    """Thresholds of every registry table, keyed by ``TableSpec.name``.

    ``path`` (default ``drift_thresholds.csv`` in the registry directory) overrides the
    defaults per table; without it every table gets the defaults. A bad row fails with
    its file and line, like a bad registry row.
    """
    path = registry_dir() / THRESHOLDS_CSV if path is None else path
    overrides = (
        parse_thresholds_csv(path.read_text(encoding="utf-8-sig"), path.name, registry)
        if path.exists()
        else {}
    )
    default = default_thresholds(settings)
    return {t.name: dataclasses.replace(default, **overrides.get(t.name, {})) for t in registry}


def parse_thresholds_csv(text: str, origin: str, registry: Registry) -> dict[str, dict[str, float]]:
    """Per table name, the thresholds its row sets (an empty cell leaves the default)."""
    reader = csv.reader(io.StringIO(text))
    columns = _header(next(reader, None), origin)
    overrides: dict[str, dict[str, float]] = {}
    lines: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{origin}:{line}"
        table, values = _row(row, columns, registry, where)
        if table in lines:
            raise RegistryError(f"{where}: table {table} already has a row (line {lines[table]})")
        lines[table], overrides[table] = line, values
    return overrides


def _row(
    row: list[str], columns: list[str], registry: Registry, where: str
) -> tuple[str, dict[str, float]]:
    """One data row: the table's registry name and the thresholds its non-empty cells set."""
    if len(row) != len(columns):
        raise RegistryError(f"{where}: expected {len(columns)} cells ({','.join(columns)})")
    cells = dict(zip(columns, (cell.strip() for cell in row), strict=True))
    table = _table_name(registry, cells.pop("table_name"), where)
    return table, {name: _threshold(name, raw, where) for name, raw in cells.items() if raw}


def _header(header: list[str] | None, origin: str) -> list[str]:
    """The header's columns: ``table_name`` and any of the thresholds, each once."""
    columns = [cell.strip().lower() for cell in header or []]
    expected = f"expected 'table_name' and any of {', '.join(FIELDS)}"
    unknown = [c for c in columns if c not in HEADER]
    if unknown:
        raise RegistryError(f"{origin}:1: unknown column(s) {unknown}; {expected}")
    if "table_name" not in columns or len(set(columns)) != len(columns):
        raise RegistryError(f"{origin}:1: header {header!r}: {expected}, each once")
    return columns


def _table_name(registry: Registry, raw: str, where: str) -> str:
    """The registry's spelling of ``raw`` (matched case-insensitively)."""
    try:
        return registry.get(raw).name
    except KeyError:
        raise RegistryError(f"{where}: table {raw!r} is not in the registry") from None


def _threshold(name: str, raw: str, where: str) -> float:
    """One cell, checked against the range of its ``drift_*`` setting."""
    try:
        value = parse_text(raw, float)
    except ValueError as exc:
        raise RegistryError(f"{where}: {name}={raw!r} {exc}") from None
    problem = range_problem(value, RANGES[SETTING_PREFIX + name])  # type: ignore[arg-type]
    if problem:
        raise RegistryError(f"{where}: {name}={raw!r}: {problem}")
    return value  # type: ignore[return-value]
