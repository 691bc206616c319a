"""What a split job run will do, settled from its arguments before Spark starts.

Two ways in (``glue_jobs/runtime.py`` runs the plan either way):

- launched by Dagster (``PipesGlueClient``, arguments ``--dagster-pipes-context`` and
  ``--dagster-pipes-messages``): the snapshot is the partition key, the tables are the
  Pipes extras (the code location's validated registry, so the job cannot drift from the
  asset definitions);
- launched by hand (``aws glue start-job-run``): the reference's arguments alone,
  ``--SNAPSHOT_DT _NONE_`` meaning the latest snapshot under ``--SOURCE_PATH``,
  ``--CSV_FILE`` (``_NONE_``: the job's pipeline's split CSV packaged beside this
  module) and
  ``--TABLES_FILTER``.

Every disagreement (unknown source, a filter that contradicts Dagster's tables, a bad
date or build id) is a :class:`JobInputError` raised here, before any data is read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import pkgutil
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glue_jobs.build_ids import build_folder, is_build_id, new_build_id
from glue_jobs.registry import SOURCES, TableSpec, build_registry
from glue_jobs.s3_objects import S3Objects, as_folder, split_s3_uri
from glue_jobs.transforms import MANIFEST_NAME

NONE = "_NONE_"
KINDS = ("split_part", "split_cluster")
MARKER_FILE = "metadata/snapshot_dt.txt"
# where ``flywheel glue package`` puts the split CSVs inside the zip, one per pipeline
# (the split kind) and source: each pipeline may have a registry of its own
PACKAGED_CSV = "split_csvs/{kind}/{source}.csv"
SNAPSHOT_FOLDER = re.compile(r"^snapshot_dt=(?P<value>\d{4}-\d{2}-\d{2})/$")

# The job arguments and their defaults; None marks an argument without default.
# ``SOURCE`` names the raw source (the reference encoded it in the job name);
# ``JOB_RUN_ID`` is supplied by Glue itself.
OPTIONS: dict[str, str | None] = {
    "SOURCE": None,
    "SOURCE_PATH": None,
    "TARGET_PATH": None,
    "SNAPSHOT_DT": NONE,
    "CSV_FILE": NONE,
    "TABLES_FILTER": NONE,
    "BUILD_ID": NONE,
    # a build of the input to read (the compacted addressable ids): its snapshot_dt=D/
    # build=<id>/ under --SOURCE_PATH, complete when its manifest is there
    "SOURCE_BUILD": NONE,
    "BUCKET_COUNT": "256",
    "SNAPSHOT_MARKER": "_SUCCESS",
    "ENV": "",
    "JOB_RUN_ID": "",
}


class JobInputError(ValueError):
    """The job was started with arguments or a Pipes context it cannot honour."""


# ---- arguments and snapshots ------------------------------------------------------------


def resolve_options(
    argv: Sequence[str], options: Mapping[str, str | None] = OPTIONS
) -> dict[str, str]:
    """Like ``awsglue.utils.getResolvedOptions``: pick ``--NAME value`` (or
    ``--NAME=value``) pairs out of everything Glue passes, ignoring the rest
    (``--JOB_ID``, ``--TempDir``, the Pipes arguments, ...)."""
    parser = argparse.ArgumentParser(allow_abbrev=False, add_help=False)
    for name, default in options.items():
        parser.add_argument(f"--{name}", dest=name, default=default)
    known, _ = parser.parse_known_args(list(argv))
    values = vars(known)
    missing = [f"--{name}" for name, value in values.items() if value is None]
    if missing:
        raise JobInputError(f"missing job argument(s): {', '.join(missing)}")
    return values


def parse_snapshot(value: str) -> str:
    """A strict ISO date (``2025-01-15``), the only snapshot key the platform uses."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
            dt.date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise JobInputError(f"snapshot_dt {value!r} is not a valid ISO date (YYYY-MM-DD)")


def latest_snapshot(folders: Sequence[str], origin: str, log: logging.Logger) -> str:
    """The newest ``snapshot_dt=YYYY-MM-DD/`` folder; other folders are skipped with a
    warning (a ``snapshot_dt=2025-13-01/`` typo must not win or stop the job)."""
    valid = []
    for name in folders:
        match = SNAPSHOT_FOLDER.match(name)
        try:
            valid.append(parse_snapshot(match.group("value") if match else ""))
        except JobInputError:
            log.warning(f"skipping {origin}{name}: not a snapshot_dt=YYYY-MM-DD/ folder")
    if not valid:
        raise JobInputError(f"no snapshot_dt=YYYY-MM-DD/ folder under {origin}")
    return max(valid)


def s3_argument(uri: str) -> str:
    """``uri`` when it is an ``s3://`` path; otherwise the job's input is wrong."""
    try:
        split_s3_uri(uri)
    except ValueError as exc:
        raise JobInputError(str(exc)) from None
    return uri


# ---- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitPlan:
    """Everything one run needs, settled before Spark starts."""

    kind: str
    source: str
    source_path: str  # s3://bucket/.../raw_input/
    target_path: str  # s3://bucket/.../split_part/<source>/
    snapshot_dt: str
    tables: tuple[TableSpec, ...]
    asset_keys: dict[str, str]  # table name -> Dagster asset key ("split_part/ibe_01_a")
    bucket_count: int
    snapshot_marker: str
    build: str  # every table is written to snapshot_dt=D/build=<build>/
    audited: bool  # launched by Dagster: it audits, publishes and writes the marker
    source_build: str = ""  # read snapshot_dt=D/build=<source_build>/ (a compacted build)

    @property
    def raw_uri(self) -> str:
        folder = f"{self.source_path}snapshot_dt={self.snapshot_dt}/"
        return folder + build_folder(self.source_build) if self.source_build else folder

    def table_uri(self, table: TableSpec) -> str:
        """The table's build directory, the same key the code location's layout uses: a
        fresh one per run, never the directory a table serves."""
        return f"{self.target_path}{table.name}/snapshot_dt={self.snapshot_dt}/" + build_folder(
            self.build
        )

    @property
    def marker_uri(self) -> str:
        return self.target_path + MARKER_FILE


def read_split_csv(
    csv_file: str, kind: str, source: str, objects: S3Objects | None
) -> tuple[str, str]:
    """``(origin, text)`` of the split CSV: ``_NONE_`` is the one packaged in the zip for
    the ``kind`` pipeline (split_part and split_cluster may split differently)."""
    if csv_file == NONE:
        resource = PACKAGED_CSV.format(kind=kind, source=source)
        try:
            data = pkgutil.get_data("glue_jobs", resource)
        except OSError:
            data = None
        if data is None:
            raise JobInputError(
                f"--CSV_FILE is _NONE_ but glue_jobs/{resource} is not packaged here "
                "(run from the `flywheel glue package` zip or pass --CSV_FILE)"
            )
        return f"glue_jobs/{resource}", data.decode("utf-8")
    if csv_file.startswith(("s3://", "s3a://")):
        if objects is None:
            raise JobInputError(f"--CSV_FILE {csv_file} needs S3 access")
        return csv_file, objects.read_text(s3_argument(csv_file))
    return csv_file, Path(csv_file).read_text()


def _from_pipes(kind: str, options: dict[str, str], pipes: Any) -> dict[str, Any]:
    extras = pipes.extras
    if extras.get("kind") != kind:
        raise JobInputError(f"this is a {kind} job, Dagster asked for {extras.get('kind')!r}")
    if not pipes.is_partition_step:
        raise JobInputError("Dagster launched the job without a snapshot_dt partition")
    specs = extras.get("tables") or []
    tables = tuple(TableSpec(s["name"], s["source"], tuple(s["columns"])) for s in specs)
    requested = [n.strip() for n in options["TABLES_FILTER"].split(",") if n.strip()]
    if requested and requested != [NONE] and sorted(requested) != sorted(t.name for t in tables):
        raise JobInputError(
            f"--TABLES_FILTER {options['TABLES_FILTER']} disagrees with the tables "
            f"Dagster selected ({', '.join(t.name for t in tables)})"
        )
    return {
        "snapshot": pipes.partition_key,
        "tables": tables,
        "asset_keys": {s["name"]: s["asset_key"] for s in specs},
        "bucket_count": int(extras.get("bucket_count", options["BUCKET_COUNT"])),
        "marker": str(extras.get("snapshot_marker", options["SNAPSHOT_MARKER"])),
        "build": str(extras.get("build") or options["BUILD_ID"]),
    }


def _from_arguments(
    kind: str, source: str, options: dict[str, str], objects: S3Objects, log: logging.Logger
) -> dict[str, Any]:
    source_path = as_folder(options["SOURCE_PATH"])
    snapshot = options["SNAPSHOT_DT"]
    if snapshot == NONE:
        snapshot = latest_snapshot(objects.list_folders(source_path), source_path, log)
        log.info(f"--SNAPSHOT_DT _NONE_: latest snapshot under {source_path} is {snapshot}")
    origin, text = read_split_csv(options["CSV_FILE"], kind, source, objects)
    registry = build_registry([(source, origin, text)])
    wanted = options["TABLES_FILTER"]
    tables = tuple(registry.filtered(None if wanted == NONE else wanted.split(",")))
    return {
        "snapshot": snapshot,
        "tables": tables,
        "asset_keys": {t.name: f"{kind}/{t.slug}" for t in tables},
        "bucket_count": int(options["BUCKET_COUNT"]),
        "marker": options["SNAPSHOT_MARKER"],
        "build": options["BUILD_ID"],
    }


def build_plan(
    kind: str,
    options: dict[str, str],
    pipes: Any | None,
    objects: S3Objects,
    log: logging.Logger,
) -> SplitPlan:
    if kind not in KINDS:
        raise JobInputError(f"unknown split kind {kind!r}: expected one of {', '.join(KINDS)}")
    source = options["SOURCE"]
    if source not in SOURCES:
        raise JobInputError(f"--SOURCE {source!r}: expected one of {', '.join(SOURCES)}")
    for name in ("SOURCE_PATH", "TARGET_PATH"):
        s3_argument(options[name])
    if pipes is not None:
        chosen = _from_pipes(kind, options, pipes)
        if options["SNAPSHOT_DT"] not in (NONE, chosen["snapshot"]):
            raise JobInputError(
                f"--SNAPSHOT_DT {options['SNAPSHOT_DT']} disagrees with the Dagster "
                f"partition {chosen['snapshot']}"
            )
    else:
        chosen = _from_arguments(kind, source, options, objects, log)
    tables = chosen["tables"]
    if not tables:
        raise JobInputError("no tables selected")
    build = chosen["build"]
    if build == NONE:  # a console run: a fresh build named after the Glue run
        build = new_build_id(options["JOB_RUN_ID"] or "console")
    if not is_build_id(build):
        raise JobInputError(f"--BUILD_ID {build!r} is not a build id (YYYYMMDDTHHMMSSZ-<run>)")
    strays = [t.name for t in tables if t.source != source]
    if strays:
        raise JobInputError(f"tables {', '.join(strays)} are not split from {source}")
    source_build = "" if options["SOURCE_BUILD"] == NONE else options["SOURCE_BUILD"]
    if source_build and not is_build_id(source_build):
        raise JobInputError(f"--SOURCE_BUILD {source_build!r} is not a build id")
    return SplitPlan(
        kind=kind,
        source=source,
        source_path=as_folder(options["SOURCE_PATH"]),
        target_path=as_folder(options["TARGET_PATH"]),
        snapshot_dt=parse_snapshot(chosen["snapshot"]),
        tables=tables,
        asset_keys=chosen["asset_keys"],
        bucket_count=chosen["bucket_count"],
        # a build is complete once its manifest is written (the last file of a build)
        snapshot_marker=MANIFEST_NAME if source_build else chosen["marker"],
        build=build,
        audited=pipes is not None,
        source_build=source_build,
    )
