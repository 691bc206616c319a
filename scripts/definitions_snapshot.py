"""The asset graph as a reviewable text file, one per profile.

Sorted asset keys with group, kinds and partitioning; check keys with ``blocking``;
jobs, sensors and schedules with their default status. The files are committed under
``flywheel_assets_tests/golden/``, so a registry CSV edit or a factory change shows up as
a readable diff; ``flywheel_assets_tests/test_definitions_snapshot.py`` fails when they
are stale.

    .venv/bin/python scripts/definitions_snapshot.py          # rewrite both files
    .venv/bin/python scripts/definitions_snapshot.py --check  # exit 1 when one is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flywheel_assets.config.settings import load_settings  # noqa: E402
from flywheel_assets.definitions import build_definitions  # noqa: E402

PROFILES = ("local", "dev")
GOLDEN = REPO / "flywheel_assets_tests" / "golden"


def golden_file(profile: str) -> Path:
    return GOLDEN / f"definitions_{profile}.txt"


def _partitioning(partitions_def: dg.PartitionsDefinition | None) -> str:
    if partitions_def is None:
        return "-"
    name = getattr(partitions_def, "name", None)  # dynamic partitions have one
    return f"{type(partitions_def).__name__}({name})" if name else type(partitions_def).__name__


def _assets(graph) -> list[str]:
    rows = []
    for node in sorted(graph.asset_nodes, key=lambda n: n.key.to_user_string()):
        role = "materializable" if node.is_materializable else "external"
        rows.append(
            f"{node.key.to_user_string()}  group={node.group_name}  "
            f"kinds={','.join(sorted(node.kinds)) or '-'}  "
            f"partitions={_partitioning(node.partitions_def)}  {role}"
        )
    return rows


def _checks(graph) -> list[str]:
    keys = sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
    return [
        f"{k.asset_key.to_user_string()}:{k.name}  blocking={graph.get_check_spec(k).blocking}"
        for k in keys
    ]


def _automation(defs: dg.Definitions) -> list[str]:
    repo = defs.get_repository_def()
    jobs = sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__"))
    rows = [f"job {name}" for name in jobs]
    rows += [
        f"sensor {s.name}  default={s.default_status.value}"
        for s in sorted(repo.sensor_defs, key=lambda s: s.name)
    ]
    rows += [
        f"schedule {s.name}  cron={s.cron_schedule}  default={s.default_status.value}"
        for s in sorted(repo.schedule_defs, key=lambda s: s.name)
    ]
    return rows


def render(profile: str) -> str:
    """The snapshot text of ``profile``'s definitions (package registry, no environment)."""
    defs = build_definitions(settings=load_settings(profile, environ={}))
    graph = defs.resolve_asset_graph()
    assets, checks, automation = _assets(graph), _checks(graph), _automation(defs)
    return "\n".join(
        [
            f"# definitions of profile {profile}: regenerate with "
            "`.venv/bin/python scripts/definitions_snapshot.py`",
            f"## assets ({len(assets)})",
            *assets,
            f"## checks ({len(checks)})",
            *checks,
            f"## jobs, sensors, schedules ({len(automation)})",
            *automation,
            "",
        ]
    )


def main(argv: list[str]) -> int:
    stale = []
    for profile in PROFILES:
        path, expected = golden_file(profile), render(profile)
        if "--check" in argv:
            if not path.exists() or path.read_text() != expected:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected)
    for path in stale:
        print(f"{path} is stale: run scripts/definitions_snapshot.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
