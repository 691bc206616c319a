"""``flywheel``: a thin command line over Dagster's own APIs for the local profile."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter

DEMO_SNAPSHOT = "2025-01-15"


def _java_or_exit() -> None:
    if shutil.which("java") is None:
        sys.exit("flywheel: Java 17+ is required for local Spark (install a JDK, e.g. openjdk-17)")


def _platform():
    from flywheel_assets.config.settings import load_settings
    from flywheel_assets.platform import Platform

    return Platform(load_settings())  # with each pipeline's registry


def cmd_sample_data(args: argparse.Namespace) -> int:
    from flywheel_assets.sample_data import write_sample_snapshot

    platform = _platform()
    for snap in write_sample_snapshot(
        platform.settings, platform.registries, platform.lake, args.snapshot, args.rows, args.seed
    ):
        print(
            f"{snap.source}: {snap.rows} rows ({snap.duplicates} exact duplicates) "
            f"-> {platform.lake.uri(snap.prefix)}"
        )
    return 0


def print_summary(summary, out=sys.stdout) -> None:
    print(f"snapshot {summary.snapshot}: {'OK' if summary.exit_code == 0 else 'FAILED'}", file=out)
    if summary.assets:
        print(f"{'asset':<40} {'status':<13} {'rows':>10}", file=out)
        for asset in summary.assets:
            rows = asset["metadata"].get("dagster/row_count", "")
            print(f"{asset['key']:<40} {asset['status']:<13} {rows!s:>10}", file=out)
    if summary.checks:
        failed = [c for c in summary.checks if not c["passed"]]
        print(f"checks: {len(summary.checks) - len(failed)} passed, {len(failed)} failed", file=out)
        for check in failed:
            if check["severity"] == "ERROR":
                print(f"  FAILED [ERROR] {check['asset']}:{check['name']}", file=out)
        warned = Counter(c["name"] for c in failed if c["severity"] != "ERROR")
        for name, count in sorted(warned.items()):
            print(f"  FAILED [WARN] {name} on {count} asset(s) (see --json)", file=out)


def _run(args: argparse.Namespace, checks_only: bool) -> int:
    from flywheel_assets.definitions import build_definitions
    from flywheel_assets.publishing import parse_table_list
    from flywheel_assets.runner import Policy, local_instance, run_snapshot

    platform = _platform()
    accepted = getattr(args, "accept_drift", None)
    policy = Policy(
        accept_drift=tuple(parse_table_list(accepted, platform.registries, "--accept-drift"))
        if accepted is not None
        else (),
        rollback=getattr(args, "rollback", False),
    )
    _java_or_exit()
    instance = local_instance(platform.settings.dagster_home)
    summary = run_snapshot(
        build_definitions(platform.settings, platform.registries, platform),  # one Platform
        instance,
        args.snapshot,
        getattr(args, "select", None),
        checks_only=checks_only,
        policy=policy,
    )
    if args.json:
        print(json.dumps(summary.to_json(), indent=2, default=str))
    else:
        print_summary(summary)
    return summary.exit_code


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args, checks_only=False)


def cmd_check(args: argparse.Namespace) -> int:
    return _run(args, checks_only=True)


def cmd_sql(args: argparse.Namespace) -> int:
    _java_or_exit()
    platform = _platform()
    platform.spark.sql(f"USE `{platform.database}`") if platform.spark.catalog.databaseExists(
        platform.database
    ) else None
    rows = platform.sql.query(args.statement)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        if rows:
            print("\t".join(rows[0].keys()))
        for row in rows:
            print("\t".join(str(v) for v in row.values()))
        print(f"({len(rows)} rows)")
    return 0


def cmd_dev_setup(args: argparse.Namespace) -> int:
    """What `make dev` / `make smoke` need: the raw snapshot (written unless present),
    the local Dagster instance and the snapshot partition in it."""
    from flywheel_assets.layout import raw_snapshot_prefix
    from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
    from flywheel_assets.runner import local_instance
    from glue_jobs.registry import SOURCES

    platform = _platform()
    settings = platform.settings
    if not settings.is_local:
        raise ValueError("dev-setup prepares the local profile: unset FLYWHEEL_ENV")
    markers = [
        raw_snapshot_prefix(settings, source, args.snapshot) + settings.snapshot_marker
        for source in SOURCES
    ]
    if not all(platform.lake.exists(m) for m in markers):
        cmd_sample_data(argparse.Namespace(snapshot=args.snapshot, rows=args.rows, seed=7))
    instance = local_instance(settings.dagster_home)
    if not instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, args.snapshot):
        instance.add_dynamic_partitions(SNAPSHOT_PARTITIONS.name, [args.snapshot])
    print(f"DAGSTER_HOME={settings.dagster_home}: partition snapshot_dt={args.snapshot} ready")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    cmd_sample_data(argparse.Namespace(snapshot=DEMO_SNAPSHOT, rows=args.rows, seed=7))
    code = cmd_run(argparse.Namespace(snapshot=DEMO_SNAPSHOT, select=None, json=False))
    print(f"demo wall time: {time.monotonic() - started:.1f}s")
    return code


def positive_int(text: str) -> int:
    """``--rows``: a snapshot needs at least one row (an empty one would publish as empty)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flywheel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample-data", help="write a deterministic synthetic raw snapshot")
    p.add_argument("--snapshot", required=True)
    p.add_argument("--rows", type=positive_int, default=5000)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_sample_data)

    p = sub.add_parser("run", help="materialize a selection (default: everything) for a snapshot")
    p.add_argument("--snapshot", required=True)
    p.add_argument("--select", help="Dagster asset selection, e.g. 'key:part_ibe_0*'")
    p.add_argument(
        "--accept-drift",
        metavar="TABLE[,TABLE]",
        help="publish these tables although their drift audit blocks (recorded)",
    )
    p.add_argument(
        "--rollback",
        action="store_true",
        help="allow repointing tables to a snapshot older than the one they serve",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check", help="run the monitor's checks for a snapshot, no rebuild")
    p.add_argument("--snapshot", required=True)
    p.add_argument("--select", help="limit to these assets' checks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("sql", help="run one Spark SQL statement on the local catalog")
    p.add_argument("statement")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("dev-setup", help="sample data + local instance + partition for the UI")
    p.add_argument("--snapshot", required=True)
    p.add_argument("--rows", type=positive_int, default=5000)
    p.set_defaults(func=cmd_dev_setup)

    p = sub.add_parser("demo", help="sample data for a fixed snapshot, then run it")
    p.add_argument("--rows", type=positive_int, default=5000)
    p.set_defaults(func=cmd_demo)

    from flywheel_assets.deploy.cli import add_glue_parser, add_infra_parser

    add_glue_parser(sub)  # flywheel glue package | deploy
    add_infra_parser(sub)  # flywheel infra template | plan | apply
    return parser


def main(argv: list[str] | None = None) -> int:
    from flywheel_assets.snapshots import SnapshotError
    from glue_jobs.registry import RegistryError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SnapshotError, RegistryError, ValueError) as exc:
        print(f"flywheel: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
