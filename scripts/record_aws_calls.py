"""Record which AWS operations the project issues, as which role, from its own tests.

Runs the tests that drive the AWS adapters (moto and botocore's Stubber) with the
``flywheel_assets_tests.aws_calls`` plugin, which hooks every botocore client
(``before-parameter-build``) and attributes each request to the role whose code issued
it. The distinct ``(role, service, operation)`` triples, with the IAM actions they need
and the project files that issue them, are written to
``flywheel_assets_tests/aws_calls_recorded.json``. ``flywheel_assets_tests/
test_iam_policies.py`` checks every one against the role's policy
(``flywheel_assets/deploy/iam.py``) and fails when an adapter issues an operation the
recording does not hold yet.

    .venv/bin/python scripts/record_aws_calls.py          # re-record (a few minutes)
    .venv/bin/python scripts/record_aws_calls.py --check  # exit 1 when the file is stale
    (--keep-going: record even when some of those tests fail)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flywheel_assets.deploy.iam import required_actions  # noqa: E402
from flywheel_assets_tests.aws_calls import ENV_LOG, read_log  # noqa: E402

OUTPUT = REPO / "flywheel_assets_tests" / "aws_calls_recorded.json"
# every test module that sends AWS requests from project code (moto or Stubber)
TESTS = (
    "flywheel_assets_tests/adapters",
    "flywheel_assets_tests/cleanrooms",
    "flywheel_assets_tests/glue",
    "flywheel_assets_tests/infra",
    "flywheel_assets_tests/monitor/test_audit_on_athena.py",
    "flywheel_assets_tests/monitor/test_report.py",
    "flywheel_assets_tests/automation/test_lake_mtime.py",
    "flywheel_assets_tests/test_glue_catalog_pipeline.py",
    "flywheel_assets_tests/test_raw_files.py",
)


def record(keep_going: bool = False) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "calls.jsonl"
        env = {**os.environ, ENV_LOG: str(log)}
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "flywheel_assets_tests.aws_calls",
            *TESTS,
        ]
        done = subprocess.run(command, cwd=REPO, env=env, check=False)
        if done.returncode != 0 and not (keep_going and done.returncode == 1):
            raise SystemExit(f"the recording run failed (exit {done.returncode})")
        if done.returncode:
            print("some tests failed: their calls up to the failure are recorded", file=sys.stderr)
        calls = read_log(log)
    entries: dict[tuple[str, str, str], set[str]] = {}
    for call in calls:
        origin = call.origin.rsplit(":", 1)[0]
        entries.setdefault((call.role, call.service, call.operation), set()).add(origin)
    return [
        {
            "role": role,
            "service": service,
            "operation": operation,
            "actions": list(required_actions(service, operation)),
            "issued_by": sorted(o for o in origins if o),
        }
        for (role, service, operation), origins in sorted(entries.items())
    ]


def render(entries: list[dict]) -> str:
    return json.dumps(entries, indent=1) + "\n"


def main(argv: list[str]) -> int:
    text = render(record(keep_going="--keep-going" in argv))
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run scripts/record_aws_calls.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"{OUTPUT.relative_to(REPO)}: {len(json.loads(text))} (role, operation) pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
