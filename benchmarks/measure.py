"""Wall time and peak memory of a process tree, from /proc (no psutil needed).

Spark's peak is the Python driver plus the JVM it forks (``spark-submit`` and the
``java`` process are children of the Python process), so the sampler sums the resident
set of the whole tree every ``interval`` seconds and keeps the maximum.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found += [int(c) for c in fh.read().split()]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return found


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (FileNotFoundError, ProcessLookupError):
        return 0


def tree_rss(pid: int) -> int:
    return sum(rss_bytes(p) for p in tree(pid))


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def load_average() -> float:
    """The 1-minute load average: other work competing for the 2 cores."""
    return os.getloadavg()[0]


class PeakSampler:
    """Samples the RSS of ``pid`` and its descendants in a background thread, and the
    CPU time each of them used (the last value seen per process: at most one interval
    of a process's end is missed)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.samples = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = tree(self.pid)
            self.peak = max(self.peak, sum(rss_bytes(p) for p in pids))
            for p in pids:
                self.cpu[p] = max(self.cpu.get(p, 0.0), cpu_seconds(p))
            self.samples += 1
            self._stop.wait(self.interval)

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class ChildRun:
    returncode: int
    wall_s: float  # the whole process, start-up included
    peak_rss: int  # bytes, process tree
    result: dict
    cpu_s: float = 0.0  # user + system CPU of the process tree
    load_before: float = 0.0  # 1-minute load average when the run started
    load_after: float = 0.0


def run_child(module: str, args: list[str], result_path: Path, log_path: Path) -> ChildRun:
    """Run ``python -m module args`` in a fresh process, sampling its tree's peak RSS.

    The child writes its own measurements (transform wall time, plans, figures) as JSON
    to ``result_path``; its stdout/stderr go to ``log_path``."""
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    load_before = load_average()
    started = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--result", str(result_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        with PeakSampler(proc.pid) as sampler:
            code = proc.wait()
    wall = time.perf_counter() - started
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    return ChildRun(
        code, wall, sampler.peak, result, sampler.cpu_total, load_before, load_average()
    )


def dir_files(path: Path) -> tuple[int, int]:
    """Parquet files and their bytes under ``path``."""
    files = [p for p in path.rglob("*.parquet") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"
