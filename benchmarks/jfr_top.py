"""Hot methods of a Java Flight Recording of a bench step: where Spark's CPU goes.

``make bench BENCH_ARGS="--steps split_part --jfr"`` records the Spark driver JVM (local
mode: the executor threads too) with JFR's ``profile`` settings and prints the top
methods; or, for any recording:

    .venv/bin/python -m benchmarks.jfr_top build/bench/profile/split_part.jfr [--top 25]

"self" is the share of samples whose innermost frame is the method, "inclusive" the
share with the method anywhere on the stack. This is how the parquet-mr dictionary
writes and the key column's wasted dictionary were found (docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path


def jfr_tool() -> str:
    """The ``jfr`` command of the JDK that runs Spark (beside ``java``)."""
    java = shutil.which("java")
    candidates = (
        [Path(os.environ["JAVA_HOME"]) / "bin" / "jfr"] if "JAVA_HOME" in os.environ else []
    )
    if java:
        candidates.append(Path(os.path.realpath(java)).parent / "jfr")
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    raise SystemExit("no 'jfr' tool beside java: a full JDK (not a JRE) is needed")


def sample_stacks(recording: Path) -> list[list[str]]:
    """``Class.method`` frames (innermost first) of every execution sample."""
    printed = subprocess.run(
        [jfr_tool(), "print", "--json", "--events", "jdk.ExecutionSample", str(recording)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    stacks = []
    for event in json.loads(printed)["recording"]["events"]:
        trace = event["values"]["stackTrace"]
        if trace:
            stacks.append(
                [
                    f"{f['method']['type']['name'].rsplit('/', 1)[-1]}.{f['method']['name']}"
                    for f in trace["frames"]
                ]
            )
    return stacks


def hot_methods(stacks: list[list[str]], top: int) -> tuple[list, list]:
    """``(self, inclusive)``: the ``top`` methods with their share of samples."""
    own = Counter(stack[0] for stack in stacks)
    anywhere = Counter(name for stack in stacks for name in set(stack))
    total = max(1, len(stacks))
    return (
        [(name, n / total) for name, n in own.most_common(top)],
        [(name, n / total) for name, n in anywhere.most_common(top)],
    )


def report(recording: Path, top: int = 20) -> list[str]:
    stacks = sample_stacks(recording)
    own, anywhere = hot_methods(stacks, top)
    lines = [f"{len(stacks)} samples in {recording}", "  self:"]
    lines += [f"    {share:6.1%}  {name}" for name, share in own]
    lines += ["  inclusive:"] + [f"    {share:6.1%}  {name}" for name, share in anywhere]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print("\n".join(report(args.recording, args.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
