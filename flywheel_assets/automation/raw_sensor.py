"""The raw-snapshot sensor: new ``snapshot_dt=YYYY-MM-DD/`` folders launch the pipeline.

One tick costs one delimited listing per raw source plus one completeness probe per
folder newer than the cursor (a marker HEAD, or in quiet-period mode one listing of
that folder): O(new folders), never a walk of the raw data.

Rules (``docs/automation.md``):
* a snapshot is complete in a source when its marker (``snapshot_marker``, default
  ``_SUCCESS``) exists, or, with ``snapshot_quiet_seconds`` > 0, when its newest object
  is older than the quiet period;
* with ``require_all_sources`` it waits until every source is complete; otherwise it
  is built for the sources that are, and for the others once they complete;
* only snapshots newer than the newest one already launched are built automatically:
  building an older one would repoint the tables to older data (a rollback), which
  stays a manual decision. Until a first run was launched, a tick builds only the
  newest complete snapshot and registers the older ones as partitions.
"""

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import dagster as dg

from flywheel_assets.automation.selection import SPLIT_DATASETS, keys_for_sources
from flywheel_assets.config.registry import Registries
from flywheel_assets.config.settings import Settings
from flywheel_assets.partitions import SNAPSHOT_PARTITIONS
from flywheel_assets.platform import Platform
from flywheel_assets.ports.lake import LakePort
from flywheel_assets.snapshots import SnapshotError, snapshot_folder, snapshot_from_folder
from glue_jobs.registry import SOURCES, Registry

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


RAW_SENSOR_NAME = "raw_snapshot_sensor"
TRIGGER_TAG = "flywheel/trigger"
SNAPSHOT_TAG = "flywheel/snapshot"
SOURCES_TAG = "flywheel/sources"
CURSOR_VERSION = 1


@runtime_checkable
class SupportsNewestModified(Protocol):
    """Optional lake capability (LocalLake, S3Lake) for the quiet-period mode."""

    def newest_modified(self, prefix: str) -> float | None: ...


@dataclass(frozen=True)
class SensorCursor:
    """What a tick remembers; small and bounded by the folders not yet handled.

    ``last``: newest snapshot a run was requested for. ``pending``: newer folders not
    complete yet. ``partial``: snapshots built for some sources only (sources done).
    ``invalid``: malformed folder names already warned about.
    """

    last: str | None = None
    pending: tuple[str, ...] = ()
    partial: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    invalid: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "last": self.last,
                "pending": list(self.pending),
                "partial": {k: list(v) for k, v in sorted(self.partial.items())},
                "invalid": list(self.invalid),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> "SensorCursor | None":
        if not text:
            return None
        doc = json.loads(text)
        return cls(
            last=doc.get("last"),
            pending=tuple(doc.get("pending", ())),
            partial={k: tuple(v) for k, v in doc.get("partial", {}).items()},
            invalid=tuple(doc.get("invalid", ())),
        )


@dataclass(frozen=True)
class Launch:
    """One run to request: a snapshot, for these sources (all of them normally)."""

    snapshot: str
    sources: tuple[str, ...]

    @property
    def run_key(self) -> str:
        if self.sources == tuple(SOURCES):
            return self.snapshot
        return f"{self.snapshot}:{'+'.join(self.sources)}"


@dataclass
class TickPlan:
    cursor: SensorCursor
    launches: list[Launch] = field(default_factory=list)
    register: list[str] = field(default_factory=list)  # dynamic partitions to add
    messages: list[str] = field(default_factory=list)  # warnings for the tick log


def snapshot_complete(
    lake: LakePort, settings: Settings, source: str, snapshot: str, now: float
) -> bool:
    """The arrival rule for one source's snapshot folder."""
    prefix = settings.raw_prefix(source) + snapshot_folder(snapshot)
    marker = settings.snapshot_marker
    if marker and lake.exists(prefix + marker):
        return True
    quiet = settings.snapshot_quiet_seconds
    if quiet > 0:
        if not isinstance(lake, SupportsNewestModified):
            raise TypeError(
                f"snapshot_quiet_seconds={quiet} needs a lake with newest_modified(); "
                f"{type(lake).__name__} has none"
            )
        newest = lake.newest_modified(prefix)
        return newest is not None and now - newest >= quiet
    # no marker configured and no quiet period: the folder's presence is the signal
    return not marker


def _list_snapshots(
    lake: LakePort, settings: Settings
) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """Snapshot dates per source (one delimited listing each) and malformed folders."""
    found: dict[str, set[str]] = {}
    invalid: list[tuple[str, str]] = []
    for source in SOURCES:
        dates: set[str] = set()
        for folder in lake.list_folders(settings.raw_prefix(source)):
            try:
                dates.add(snapshot_from_folder(folder))
            except SnapshotError:
                invalid.append((source, folder))
        found[source] = dates
    return found, invalid


def plan_tick(
    lake: LakePort,
    settings: Settings,
    cursor: SensorCursor | None,
    now: float | None = None,
) -> TickPlan:
    """Decide what one tick requests; pure except for reads through the lake port."""
    now = time.time() if now is None else now
    cursor = cursor or SensorCursor()
    first = cursor.last is None  # nothing launched yet: bootstrap (newest snapshot only)
    dates, invalid = _list_snapshots(lake, settings)
    messages: list[str] = []
    invalid_names = tuple(sorted({f"{s}/{f}" for s, f in invalid}))
    for name in invalid_names:
        if name not in cursor.invalid:
            messages.append(f"skipping raw folder {name}: not a snapshot_dt=YYYY-MM-DD folder")

    def complete_sources(snapshot: str, among: Sequence[str] = SOURCES) -> tuple[str, ...]:
        return tuple(
            s
            for s in among
            if snapshot in dates[s] and snapshot_complete(lake, settings, s, snapshot, now)
        )

    launches: list[Launch] = []
    partial: dict[str, tuple[str, ...]] = {}
    # snapshots built for some sources only: launch the sources that completed since
    for snapshot, done in sorted(cursor.partial.items()):
        missing = [s for s in SOURCES if s not in done]
        arrived = complete_sources(snapshot, missing)
        if arrived:
            launches.append(Launch(snapshot, arrived))
        built = tuple(sorted(set(done) | set(arrived)))
        if set(built) != set(SOURCES) and any(snapshot in dates[s] for s in SOURCES):
            partial[snapshot] = built

    union = set().union(*dates.values())
    candidates = sorted(d for d in union if cursor.last is None or d > cursor.last)
    ready: list[tuple[str, tuple[str, ...]]] = []
    waiting: list[str] = []
    for snapshot in candidates:
        sources = complete_sources(snapshot)
        if sources == tuple(SOURCES) or (sources and not settings.require_all_sources):
            ready.append((snapshot, sources))
        else:
            waiting.append(snapshot)

    register = [snapshot for snapshot, _ in ready]
    if first and len(ready) > 1:
        older = [snapshot for snapshot, _ in ready[:-1]]
        span = older[0] if len(older) == 1 else f"{older[0]} .. {older[-1]}"
        messages.append(
            f"first tick: building only the newest complete snapshot {ready[-1][0]}; "
            f"{len(older)} older one(s) registered as partitions without a run ({span})"
        )
        ready = ready[-1:]
    for snapshot, sources in ready:
        launches.append(Launch(snapshot, sources))
        if sources != tuple(SOURCES):
            partial[snapshot] = sources
    last = max([cursor.last or "", *register]) or None
    pending = tuple(d for d in waiting if last is None or d > last)
    superseded = [d for d in waiting if last is not None and d < last]
    for snapshot in superseded:
        messages.append(
            f"snapshot {snapshot} was still incomplete when the newer {last} was built; "
            f"it will not be built automatically (rebuild with: flywheel run --snapshot "
            f"{snapshot})"
        )
    for snapshot in pending:
        if snapshot not in cursor.pending:
            have = [s for s in SOURCES if snapshot in dates[s]]
            messages.append(f"snapshot {snapshot} is waiting (present in: {', '.join(have)})")
    return TickPlan(
        cursor=SensorCursor(last=last, pending=pending, partial=partial, invalid=invalid_names),
        launches=launches,
        register=register,
        messages=messages,
    )


def run_requests_for(
    plan: TickPlan,
    asset_keys_for: Callable[[tuple[str, ...]], list[dg.AssetKey] | None],
) -> list[dg.RunRequest]:
    requests = []
    for launch in plan.launches:
        requests.append(
            dg.RunRequest(
                run_key=launch.run_key,
                partition_key=launch.snapshot,
                asset_selection=(
                    None if launch.sources == tuple(SOURCES) else asset_keys_for(launch.sources)
                ),
                tags={
                    TRIGGER_TAG: RAW_SENSOR_NAME,
                    SNAPSHOT_TAG: launch.snapshot,
                    SOURCES_TAG: ",".join(launch.sources),
                },
            )
        )
    return requests


def build_raw_snapshot_sensor(
    job: "UnresolvedAssetJobDefinition",
    registry: Registry | Registries,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds: int = 300,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=RAW_SENSOR_NAME,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            "Watches the raw infobase and addressable roots for complete snapshot_dt=D/ "
            "folders; registers each as a snapshot_dt partition and runs snapshot_build "
            "(write + audit); automation_condition_sensor publishes what passed."
        ),
    )
    def raw_snapshot_sensor(
        context: dg.SensorEvaluationContext, platform: dg.ResourceParam[Platform]
    ) -> dg.SensorResult:
        plan = plan_tick(platform.lake, platform.settings, SensorCursor.from_json(context.cursor))
        for message in plan.messages:
            context.log.warning(message)
        new_partitions = [
            p
            for p in plan.register
            if not context.instance.has_dynamic_partition(SNAPSHOT_PARTITIONS.name, p)
        ]
        graph = context.repository_def.asset_graph if context.repository_def else None

        def asset_keys_for(sources: tuple[str, ...]) -> list[dg.AssetKey] | None:
            if graph is None:
                context.log.warning("no repository definition: running the whole pipeline")
                return None
            return keys_for_sources(graph, registry, sources, within=SPLIT_DATASETS)

        requests = run_requests_for(plan, asset_keys_for)
        for request in requests:
            context.log.info(f"requesting {job.name} for snapshot {request.partition_key}")
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=(
                [SNAPSHOT_PARTITIONS.build_add_request(new_partitions)] if new_partitions else []
            ),
            cursor=plan.cursor.to_json(),
            skip_reason=None if requests else "no new complete raw snapshot",
        )

    return raw_snapshot_sensor
