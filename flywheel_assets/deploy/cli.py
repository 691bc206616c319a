"""``flywheel glue package`` and ``flywheel glue deploy``."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUT = Path("build") / "glue"


def cmd_glue_package(args: argparse.Namespace) -> int:
    from flywheel_assets.deploy.package import build_package

    package = build_package(Path(args.out))
    print(f"{package.zip_path} ({len(package.entries)} entries, sha256 {package.sha256[:12]})")
    for path in package.scripts.values():
        print(path)
    return 0


def cmd_glue_deploy(args: argparse.Namespace) -> int:
    from flywheel_assets.config.settings import load_settings
    from flywheel_assets.deploy.apply import deploy_glue_jobs
    from flywheel_assets.deploy.package import build_package

    settings = load_settings()
    package = build_package(Path(args.out))
    report = deploy_glue_jobs(settings, package, dry_run=args.dry_run)
    print(
        f"{settings.env}: {sum(a != 'unchanged' for a in report.jobs.values())} of "
        f"{len(report.jobs)} Glue jobs changed, {len(report.uploaded)} artifacts uploaded"
    )
    return 0


def add_glue_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``glue package`` and ``glue deploy`` on the top-level subparsers."""
    glue = sub.add_parser("glue", help="package and deploy the Glue split jobs (dev/prod)")
    commands = glue.add_subparsers(dest="glue_command", required=True)

    p = commands.add_parser("package", help="build the --extra-py-files zip and entry scripts")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.set_defaults(func=cmd_glue_package)

    p = commands.add_parser(
        "deploy", help="upload the package and create/update the Glue jobs of FLYWHEEL_ENV"
    )
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--dry-run", action="store_true", help="show what would change")
    p.set_defaults(func=cmd_glue_deploy)
