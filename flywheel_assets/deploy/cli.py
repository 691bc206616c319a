"""``flywheel glue package|deploy`` and ``flywheel infra template|plan|apply``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

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
    glue = sub.add_parser(
        "glue", help="package and deploy the Glue split and compaction jobs (dev/prod)"
    )
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


# ---- flywheel infra ---------------------------------------------------------------------

INFRA_OUT = Path("build") / "infra"


def _infra_stacks(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The profile's settings and the selected stacks, from the registry the code
    location loads (``FLYWHEEL_REGISTRY_DIR`` included)."""
    from flywheel_assets.config.registry import load_registries
    from flywheel_assets.config.settings import load_settings
    from flywheel_assets.deploy.infra.template import build_stacks, select

    settings = load_settings(args.env)
    return settings, select(build_stacks(settings, load_registries(settings)), args.stack)


def cmd_infra_template(args: argparse.Namespace) -> int:
    from flywheel_assets.deploy.infra.template import write_templates

    settings, stacks = _infra_stacks(args)
    paths = write_templates(stacks, Path(args.out) / settings.env)
    for stack, path in zip(stacks, paths, strict=True):
        print(f"{path} ({len(stack.resources)} resources)")
    return 0


def _run_infra(args: argparse.Namespace, execute: bool) -> int:
    from botocore.exceptions import ClientError

    from flywheel_assets.deploy.infra.cfn import InfraError
    from flywheel_assets.deploy.infra.stacks import Stacks

    settings, stacks = _infra_stacks(args)
    cloudformation = Stacks(settings)
    try:
        for stack in stacks:
            plan = cloudformation.plan(stack)
            print("\n".join(plan.lines()))
            if execute and plan.change_set is not None:
                print(f"{stack.name}: {cloudformation.apply(plan)}")
    except ClientError as exc:
        raise InfraError(f"AWS refused: {exc}") from exc
    return 0


def cmd_infra_plan(args: argparse.Namespace) -> int:
    return _run_infra(args, execute=False)


def cmd_infra_apply(args: argparse.Namespace) -> int:
    return _run_infra(args, execute=True)


def add_infra_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``infra template``, ``infra plan`` and ``infra apply``."""
    from flywheel_assets.deploy.infra.template import STACKS

    infra = sub.add_parser("infra", help="the CloudFormation stacks of dev/prod")
    commands = infra.add_subparsers(dest="infra_command", required=True)
    helps = {
        "template": ("write the stacks' templates", cmd_infra_template),
        "plan": ("print each stack's change set against the deployed stack", cmd_infra_plan),
        "apply": ("plan, execute the change sets and wait", cmd_infra_apply),
    }
    for name, (text, func) in helps.items():
        p = commands.add_parser(name, help=text)
        p.add_argument("--env", required=True, choices=("dev", "prod"))
        p.add_argument(
            "--stack",
            action="append",
            choices=STACKS,
            help="only this stack (repeatable; default: all, in apply order)",
        )
        if name == "template":
            p.add_argument("--out", default=str(INFRA_OUT), help="templates go to OUT/<env>/")
        p.set_defaults(func=func)
