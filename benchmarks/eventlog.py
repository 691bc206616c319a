"""Read a Spark event log: every executed SQL plan and a per-stage profile.

The bench runs Spark with ``spark.eventLog.enabled`` on top of the project's local
config, so each step leaves a JSON-lines log holding the physical plan of every query
(writes included, AQE's final plan included) and every task's metrics. That is the
evidence for "each raw column is read once" and for where the time goes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

SQL_START = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"
SQL_AQE = "org.apache.spark.sql.execution.ui.SparkListenerSQLAdaptiveExecutionUpdate"


@dataclass
class Stage:
    stage_id: int
    name: str
    execution: int | None = None  # the SQL query (execution id) it ran for
    tasks: int = 0
    seconds: float = 0.0
    task_seconds: float = 0.0
    cpu_seconds: float = 0.0
    gc_seconds: float = 0.0
    records_read: int = 0
    shuffle_read: int = 0
    shuffle_write: int = 0
    spill_disk: int = 0
    output_bytes: int = 0


@dataclass
class Query:
    execution_id: int
    description: str
    plan: str  # final physical plan (after AQE when it re-planned)
    stages: list[int] = field(default_factory=list)


@dataclass
class EventLog:
    queries: dict[int, Query]
    stages: dict[int, Stage]

    def plan_scans(self, execution: int, location: str) -> list[str]:
        """ReadSchema of each parquet scan of ``location`` in one query's plan."""
        found = []
        for block in re.split(r"\n(?=\(\d+\) )", self.queries[execution].plan):
            head = block.split("\n", 1)[0]
            where = re.search(r"Location: \w+ \[([^\]]*)\]", block)
            schema = re.search(r"ReadSchema: (.*)", block)
            if "Scan parquet" in head and where and location in where.group(1) and schema:
                found.append(schema.group(1))
        return found

    def executed_scans(self, location: str, rows: int) -> list[tuple[int, str, list[str]]]:
        """Queries that really read ``location`` (a stage of theirs read ``rows`` input
        records; a query over an already-built cache shows the cached plan's scan in its
        plan text but reads no input), with the ReadSchema of their scan."""
        found = []
        for execution, query in sorted(self.queries.items()):
            if any(self.stages[s].records_read >= rows for s in query.stages if s in self.stages):
                schemas = self.plan_scans(execution, location)
                if schemas:
                    found.append((execution, query.description, schemas))
        return found


def columns_of(read_schema: str) -> list[str]:
    """``struct<a:string,b:bigint>`` -> ``['a', 'b']``."""
    inner = read_schema.strip()[len("struct<") : -1]
    return [field.split(":", 1)[0] for field in inner.split(",") if field]


def _stage_of(event: dict) -> Stage:
    info = event["Stage Info"]
    return Stage(info["Stage ID"], info["Stage Name"].split(" at ")[0])


def read_event_log(path: Path) -> EventLog:
    queries: dict[int, Query] = {}
    stages: dict[int, Stage] = {}
    job_execution: dict[int, int] = {}
    for line in path.read_text().splitlines():
        event = json.loads(line)
        kind = event.get("Event")
        if kind == SQL_START:
            queries[event["executionId"]] = Query(
                event["executionId"], event.get("description", ""), event["physicalPlanDescription"]
            )
        elif kind == SQL_AQE:
            if event["executionId"] in queries:
                queries[event["executionId"]].plan = event["physicalPlanDescription"]
        elif kind == "SparkListenerJobStart":
            props = event.get("Properties") or {}
            execution = props.get("spark.sql.execution.id")
            for stage_id in event.get("Stage IDs", []):
                if execution is not None:
                    job_execution[stage_id] = int(execution)
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            stage = stages.setdefault(info["Stage ID"], _stage_of(event))
            stage.name = _stage_of(event).name
            if info.get("Submission Time") and info.get("Completion Time"):
                stage.seconds = (info["Completion Time"] - info["Submission Time"]) / 1000
        elif kind == "SparkListenerTaskEnd":
            stage = stages.setdefault(event["Stage ID"], Stage(event["Stage ID"], "?"))
            stage.tasks += 1
            metrics = event.get("Task Metrics") or {}
            stage.task_seconds += metrics.get("Executor Run Time", 0) / 1000
            stage.cpu_seconds += metrics.get("Executor CPU Time", 0) / 1e9
            stage.gc_seconds += metrics.get("JVM GC Time", 0) / 1000
            stage.records_read += (metrics.get("Input Metrics") or {}).get("Records Read", 0)
            stage.output_bytes += (metrics.get("Output Metrics") or {}).get("Bytes Written", 0)
            read = metrics.get("Shuffle Read Metrics") or {}
            stage.shuffle_read += read.get("Remote Bytes Read", 0) + read.get("Local Bytes Read", 0)
            stage.shuffle_write += (metrics.get("Shuffle Write Metrics") or {}).get(
                "Shuffle Bytes Written", 0
            )
            stage.spill_disk += metrics.get("Disk Bytes Spilled", 0)
    for stage_id, execution in job_execution.items():
        if stage_id in stages:
            stages[stage_id].execution = execution
        if execution in queries and stage_id in stages:
            queries[execution].stages.append(stage_id)
    return EventLog(queries, stages)


def find_event_log(directory: Path) -> Path:
    logs = [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")]
    if len(logs) != 1:
        raise RuntimeError(f"expected one event log in {directory}, found {logs}")
    return logs[0]


def query_table(log: EventLog, raw_location: str, raw_rows: int) -> list[str]:
    """One line per SQL query of the step: what it did and what it cost."""

    def mb(n: int) -> str:
        return f"{n / 2**20:,.0f}"

    lines = [
        f"{'query':>5}  {'role':<26} {'tasks':>5} {'wall s':>7} {'cpu s':>6} {'gc s':>5} "
        f"{'shuffle w MiB':>13} {'spill MiB':>9} {'out MiB':>7}"
    ]
    for execution, query in sorted(log.queries.items()):
        stages = [log.stages[s] for s in query.stages if s in log.stages]
        if not stages:
            continue
        out = sum(s.output_bytes for s in stages)
        read_raw = any(s.records_read >= raw_rows for s in stages)
        scans = log.plan_scans(execution, raw_location) if read_raw else []
        if out:
            role = "write table"
        elif read_raw and "MapInArrow" in query.plan:
            role = "write table (Arrow)"  # files written by pyarrow: no Spark output metric
        elif read_raw and scans and all(columns_of(x) == [] for x in scans):
            role = "raw row count (footers)"
        elif read_raw:
            role = "raw scan, nothing written"
        elif "collect" in query.description:
            role = "read-back (describe)"
        else:
            role = query.description.split(" at ")[0]
        lines.append(
            f"{execution:>5}  {role:<26} {sum(s.tasks for s in stages):>5} "
            f"{sum(s.seconds for s in stages):>7.1f} {sum(s.cpu_seconds for s in stages):>6.1f} "
            f"{sum(s.gc_seconds for s in stages):>5.1f} "
            f"{mb(sum(s.shuffle_write for s in stages)):>13} "
            f"{mb(sum(s.spill_disk for s in stages)):>9} {mb(out):>7}"
        )
    total_cpu = sum(s.cpu_seconds for s in log.stages.values())
    lines.append(f"{'':>5}  {'all tasks':<26} {'':>5} {'':>7} {total_cpu:>6.1f}")
    return lines
