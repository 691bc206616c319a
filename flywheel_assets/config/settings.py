"""Profile settings: ``profiles.toml`` merged with ``FLYWHEEL_*`` environment overrides.

Every value is checked against its field's type (TOML values as TOML typed them,
environment strings parsed strictly) and its range, so that a typo fails when the
definitions load instead of changing what a run does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

PROFILES_FILE = Path(__file__).with_name("profiles.toml")
PROFILES = ("local", "dev", "prod")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    env: str
    home: Path
    region: str
    data_bucket: str
    raw_infobase_prefix: str
    raw_addressable_prefix: str
    split_part_prefix: str
    split_cluster_prefix: str
    compaction_infobase_prefix: str  # compacted/<source> builds (the reference's *_compaction_cr)
    compaction_addressable_prefix: str
    bucketed_prefix: str
    er_prefix: str
    snapshot_marker: str
    addressable_bucket_input: str  # what split_cluster/addressable_ids reads: compacted | raw
    bucket_count: int
    bucket_column: str
    max_cols: int
    partition_registration: str
    glue_database: str
    athena_workgroup: str
    athena_results: str
    report_bucket: str
    report_prefix: str
    cleanrooms_report_prefix: str
    glue_role: str
    glue_version: str
    glue_worker_type: str
    glue_number_of_workers: int
    glue_timeout_minutes: int
    glue_max_retries: int
    glue_assets_bucket: str
    job_name_prefix: str
    spark_shuffle_partitions: int
    spark_driver_memory: str
    analysis_providers: tuple[str, ...] = field(default=())
    cleanrooms_membership_id: str = ""
    cleanrooms_role_arn: str = ""
    cleanrooms_association_prefix: str = "acx_"
    cleanrooms_allowed_analyses: tuple[str, ...] = field(default=())
    cleanrooms_allow_replace: bool = False
    cleanrooms_delete_unmanaged: bool = False
    entity_resolution_role_arn: str = ""
    er_max_match_fields: int = 59
    sns_topic_arn: str = ""
    retention_snapshots: int = 3
    snapshot_quiet_seconds: int = 0
    require_all_sources: bool = True
    monitor_cron: str = "0 6 * * *"
    retention_dry_run: bool = True
    table_prefix: str = "part_"
    auto_repair: str = "athena"
    strict_snapshot: bool = True
    freshness_window_days: int = 45
    count_check_enabled: bool = True
    compare_source_type: str = "ext"
    compare_database: str = ""
    count_tolerance_pct: float = 0.0
    pk_column: str = "customer_user_id"
    file_size_check: bool = False
    file_size_min_mb: int = 64
    file_size_max_mb: int = 1024
    max_tables: int = 0
    owners: tuple[str, ...] = field(default=())
    drift_max_row_drop_pct: float = 20.0
    drift_max_row_rise_pct: float = 50.0
    drift_min_key_retention_pct: float = 80.0
    drift_null_rise_warn_points: float = 25.0
    # the split CSVs of each pipeline (file names in the registry folder); empty: the
    # shared infobase_table_split.csv / addressable_ids_table_split.csv
    split_part_infobase_csv: str = ""
    split_part_addressable_csv: str = ""
    split_cluster_infobase_csv: str = ""
    split_cluster_addressable_csv: str = ""

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    @property
    def lake_root(self) -> Path:
        """Local lake directory; mirrors the data bucket's key layout."""
        return self.home / "lake"

    @property
    def report_root(self) -> Path:
        return self.home / "reports"

    @property
    def metastore_dir(self) -> Path:
        return self.home / "metastore"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    def raw_prefix(self, source: str) -> str:
        return {
            "infobase_attributes": self.raw_infobase_prefix,
            "addressable_ids": self.raw_addressable_prefix,
        }[source]

    def compaction_prefix(self, source: str) -> str:
        return {
            "infobase_attributes": self.compaction_infobase_prefix,
            "addressable_ids": self.compaction_addressable_prefix,
        }[source]


# Inclusive bounds (low, high; None: unbounded), checked whichever way a value arrives.
# Percentages lie in 0..100; counts that size or keep something are at least 1.
PERCENT = (0, 100)
RANGES: dict[str, tuple[float, float | None]] = {
    "bucket_count": (1, 10000),
    "max_cols": (1, None),
    "glue_number_of_workers": (1, None),
    "glue_timeout_minutes": (1, None),  # Glue refuses a timeout of 0
    "glue_max_retries": (0, None),
    "spark_shuffle_partitions": (1, None),
    "er_max_match_fields": (1, 59),  # Entity Resolution: 60 fields including the unique id
    "retention_snapshots": (1, None),  # the snapshot in service is always kept
    "snapshot_quiet_seconds": (0, None),
    "freshness_window_days": (0, None),
    "count_tolerance_pct": PERCENT,
    "file_size_min_mb": (0, None),
    "file_size_max_mb": (0, None),
    "max_tables": (0, None),
    "drift_max_row_drop_pct": PERCENT,  # rows cannot drop by more than all of them
    "drift_max_row_rise_pct": (0, None),
    "drift_min_key_retention_pct": PERCENT,
    "drift_null_rise_warn_points": PERCENT,
}
CHOICES: dict[str, tuple[str, ...]] = {
    "auto_repair": ("athena", "glue", "off"),
    "compare_source_type": ("ext", "part"),
    "partition_registration": ("catalog", "msck"),
    "addressable_bucket_input": ("compacted", "raw"),
}
# folders a dataset is written under and a catalog table is named after (its last part)
FOLDER_PREFIXES = ("compaction_infobase_prefix", "compaction_addressable_prefix")
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
KIND_NAMES = {
    bool: "a boolean (true/false, 1/0, yes/no)",
    int: "an integer",
    float: "a number",
    str: "a string",
    tuple: "a list of strings",
}
NOT_IN_PROFILES = ("env", "home")  # FLYWHEEL_ENV picks the profile; FLYWHEEL_HOME is read apart


def _kind(hint: object) -> type:
    """``tuple[str, ...]`` -> ``tuple``; plain classes stay as they are."""
    return typing.get_origin(hint) or hint  # type: ignore[return-value]


KINDS: dict[str, type] = {
    name: _kind(hint) for name, hint in typing.get_type_hints(Settings).items()
}


def parse_text(raw: str, kind: type) -> object:
    """``raw`` (an environment variable, a CSV cell) as a ``kind``; ValueError if it is not.

    Strict on purpose: a misspelt boolean once read as false and turned the retention dry
    run into real deletion.
    """
    text = raw.strip()
    if kind is str:
        return raw
    if kind is tuple:
        return tuple(v.strip() for v in text.split(",") if v.strip())
    if kind is bool and text.lower() in BOOLEANS:
        return BOOLEANS[text.lower()]
    if kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    raise ValueError(f"is not {KIND_NAMES[kind]}")


def range_problem(value: float, bounds: tuple[float, float | None]) -> str | None:
    """What is wrong with ``value`` against inclusive ``bounds``; None when it fits.

    Written so that NaN and infinity fail too (they would pass every comparison later).
    """
    low, high = bounds
    if math.isfinite(value) and low <= value and (high is None or value <= high):
        return None
    return f"expected {low}..{high}" if high is not None else f"expected {low} or more"


def _from_toml(table: str, name: str, value: object) -> object:
    """A ``profiles.toml`` value, typed by TOML itself: no string stands in for a number."""
    kind = KINDS[name]
    if kind is float and type(value) in (int, float):
        return float(value)  # type: ignore[arg-type]
    if kind is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if type(value) is kind:
        return value
    raise SettingsError(
        f"{PROFILES_FILE.name} [{table}] {name} = {value!r}: expected {KIND_NAMES[kind]}"
    )


def _profile_values(doc: dict, table: str) -> dict[str, object]:
    values = doc.get(table, {})
    unknown = sorted(set(values) - set(KINDS).difference(NOT_IN_PROFILES))
    if unknown:
        raise SettingsError(f"{PROFILES_FILE.name} [{table}]: unknown settings {unknown}")
    return {name: _from_toml(table, name, value) for name, value in values.items()}


def _environment_values(environ: dict[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, kind in KINDS.items():
        variable = f"FLYWHEEL_{name.upper()}"
        if name in NOT_IN_PROFILES or variable not in environ:
            continue
        try:
            values[name] = parse_text(environ[variable], kind)
        except ValueError as exc:
            raise SettingsError(f"{variable}={environ[variable]!r} {exc}") from None
    return values


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def load_settings(env: str | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Settings of profile ``env`` (default ``$FLYWHEEL_ENV`` or ``local``)."""
    environ = dict(os.environ if environ is None else environ)
    env = (env or environ.get("FLYWHEEL_ENV") or "local").lower()
    if env not in PROFILES:
        raise SettingsError(f"FLYWHEEL_ENV={env!r}: expected one of {', '.join(PROFILES)}")
    with PROFILES_FILE.open("rb") as fh:
        doc = tomllib.load(fh)
    values = {
        **_profile_values(doc, "defaults"),
        **_profile_values(doc, env),
        **_environment_values(environ),
    }
    required = {f.name for f in dataclasses.fields(Settings) if _is_required(f)}
    missing = sorted(required - set(values) - set(NOT_IN_PROFILES))
    if missing:
        raise SettingsError(f"{PROFILES_FILE.name} [{env}]: missing settings {missing}")
    home = Path(environ.get("FLYWHEEL_HOME") or Path.cwd() / ".flywheel").resolve()
    settings = Settings(env=env, home=home, **values)  # type: ignore[arg-type]
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Reject settings that would otherwise fail, or quietly misbehave, deep inside a run."""
    for name, allowed in CHOICES.items():
        if getattr(settings, name) not in allowed:
            raise SettingsError(
                f"{name}={getattr(settings, name)!r}: expected one of {', '.join(allowed)}"
            )
    for name, bounds in RANGES.items():
        problem = range_problem(getattr(settings, name), bounds)
        if problem:
            raise SettingsError(f"{name}={getattr(settings, name)!r}: {problem}")
    for name in (f.name for f in dataclasses.fields(settings) if f.name.endswith("_csv")):
        value = getattr(settings, name)
        if value and (Path(value).name != value or not value.endswith(".csv")):
            raise SettingsError(
                f"{name}={value!r}: expected the name of a .csv file in the registry folder "
                "(FLYWHEEL_REGISTRY_DIR, default flywheel_assets/config/), or empty"
            )
    for name in FOLDER_PREFIXES:
        value = getattr(settings, name)
        if not value.endswith("/") or value.startswith("/") or not value.strip("/"):
            raise SettingsError(
                f"{name}={value!r}: expected a folder in the data bucket, ending with '/'"
            )
    if settings.file_size_min_mb > settings.file_size_max_mb:
        raise SettingsError(
            f"file_size_min_mb={settings.file_size_min_mb} is above "
            f"file_size_max_mb={settings.file_size_max_mb}"
        )
