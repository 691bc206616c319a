"""Profile settings: ``profiles.toml`` merged with ``FLYWHEEL_*`` environment overrides."""

from __future__ import annotations

import dataclasses
import os
import tomllib
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
    bucketed_prefix: str
    er_prefix: str
    snapshot_marker: str
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


def _coerce(name: str, raw: str, current: object) -> object:
    if isinstance(current, bool):
        return raw.lower() in ("1", "true", "yes")
    if isinstance(current, float):
        try:
            return float(raw)
        except ValueError as exc:
            raise SettingsError(f"FLYWHEEL_{name.upper()}={raw!r} is not a number") from exc
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"FLYWHEEL_{name.upper()}={raw!r} is not an integer") from exc
    if isinstance(current, (tuple, list)):
        return tuple(v.strip() for v in raw.split(",") if v.strip())
    return raw


def load_settings(env: str | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Settings of profile ``env`` (default ``$FLYWHEEL_ENV`` or ``local``)."""
    environ = dict(os.environ if environ is None else environ)
    env = (env or environ.get("FLYWHEEL_ENV") or "local").lower()
    if env not in PROFILES:
        raise SettingsError(f"FLYWHEEL_ENV={env!r}: expected one of {', '.join(PROFILES)}")
    with PROFILES_FILE.open("rb") as fh:
        doc = tomllib.load(fh)
    values: dict[str, object] = {**doc["defaults"], **doc[env]}
    for name in [f.name for f in dataclasses.fields(Settings)]:
        if name in ("env", "home"):
            continue
        override = environ.get(f"FLYWHEEL_{name.upper()}")
        if override is not None:
            values[name] = _coerce(name, override, values.get(name, ""))
    for name in ("analysis_providers", "owners", "cleanrooms_allowed_analyses"):
        values[name] = tuple(values.get(name, ()))
    unknown = set(values) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise SettingsError(f"unknown settings in {PROFILES_FILE.name}: {sorted(unknown)}")
    home = Path(environ.get("FLYWHEEL_HOME") or Path.cwd() / ".flywheel").resolve()
    settings = Settings(env=env, home=home, **values)  # type: ignore[arg-type]
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Reject settings that would otherwise fail deep inside a run."""
    choices = {
        "auto_repair": ("athena", "glue", "off"),
        "compare_source_type": ("ext", "part"),
        "partition_registration": ("catalog", "msck"),
    }
    for name, allowed in choices.items():
        if getattr(settings, name) not in allowed:
            raise SettingsError(
                f"{name}={getattr(settings, name)!r}: expected one of {', '.join(allowed)}"
            )
    if not 1 <= settings.bucket_count <= 10000:
        raise SettingsError(f"bucket_count={settings.bucket_count}: expected 1..10000")
