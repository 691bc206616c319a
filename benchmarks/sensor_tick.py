"""Time one tick of ``raw_snapshot_sensor`` over 100 snapshot folders per raw source.

Run: ``.venv/bin/python benchmarks/sensor_tick.py`` (no AWS account, no Spark).

Two lakes: the local directory adapter, and the S3 adapter against moto (in process),
where every S3 request is counted. Three ticks each: the first (bootstrap: 100 new
folders), a steady one (nothing new), and one with a single new snapshot. The steady
and new-folder ticks show the cost is one delimited listing per source plus a probe per
new folder, independent of the 100 folders already handled.
"""

import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import dagster as dg

FOLDERS = 100
REPEATS = 5
BUCKET = "flywheel-bench"
REGION = "us-east-1"


def snapshots(count: int) -> list[str]:
    return [f"{2000 + i // 12}-{i % 12 + 1:02d}-15" for i in range(count)]


def fill(write: Callable[[str, str], None], settings, dates: list[str]) -> None:
    for date in dates:
        for source in ("infobase_attributes", "addressable_ids"):
            prefix = f"{settings.raw_prefix(source)}snapshot_dt={date}/"
            write(prefix + "part-00000.parquet", "data")
            write(prefix + settings.snapshot_marker, "")


def time_tick(sensor, platform, instance, cursor: str | None) -> tuple[float, dg.SensorResult]:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"platform": platform}
    )
    started = time.perf_counter()
    result = sensor(context)
    return time.perf_counter() - started, result


def measure(label: str, platform, add_snapshot: Callable[[str], None], calls: Counter | None):
    from flywheel_assets.automation.raw_sensor import RAW_SENSOR_NAME
    from flywheel_assets.definitions import build_definitions

    defs = build_definitions(platform.settings, platform.registry, platform)
    sensor = defs.resolve_sensor_def(RAW_SENSOR_NAME)
    with dg.instance_for_test() as instance:
        elapsed, first = time_tick(sensor, platform, instance, None)
        instance.add_dynamic_partitions(
            "snapshot_dt", [k for r in first.dynamic_partitions_requests for k in r.partition_keys]
        )
        report(label, "first tick (100 new folders)", [elapsed], first, calls)

        steady = []
        for _ in range(REPEATS):
            if calls is not None:
                calls.clear()
            elapsed, result = time_tick(sensor, platform, instance, first.cursor)
            steady.append(elapsed)
        report(label, "steady tick (nothing new)", steady, result, calls)

        add_snapshot("2099-01-15")
        if calls is not None:
            calls.clear()
        elapsed, result = time_tick(sensor, platform, instance, first.cursor)
        report(label, "tick with 1 new snapshot", [elapsed], result, calls)


def report(label, what, times, result, calls) -> None:
    runs = len(result.run_requests or [])
    median = statistics.median(times) * 1000
    api = f", S3 requests {dict(sorted(calls.items()))}" if calls is not None else ""
    print(f"{label:<9} {what:<30} {median:8.1f} ms (median of {len(times)}), {runs} run(s){api}")


def main() -> int:
    from flywheel_assets.adapters.local_lake import LocalLake
    from flywheel_assets.config.registry import load_registry
    from flywheel_assets.config.settings import load_settings
    from flywheel_assets.platform import Platform

    dates = snapshots(FOLDERS)
    registry = load_registry()
    print(f"{FOLDERS} snapshot folders per raw source, {len(registry)} tables in the registry")
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings("local", environ={"FLYWHEEL_HOME": home})
        lake = LocalLake(settings.lake_root)
        fill(lake.write_text, settings, dates)
        platform = Platform(settings, registry, lake=lake)

        def add_local(date: str) -> None:
            fill(lake.write_text, settings, [date])

        measure("local", platform, add_local, None)

        # S3 through moto, in process; credentials are dummies for the mock only
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            os.environ.pop(name, None)
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION
        )
        from moto import mock_aws

        from flywheel_assets.adapters.aws_clients import aws_client
        from flywheel_assets.adapters.s3_lake import S3Lake

        with mock_aws():
            client = aws_client("s3", REGION)
            client.create_bucket(Bucket=BUCKET)

            def put(key: str, text: str) -> None:
                client.put_object(Bucket=BUCKET, Key=key, Body=text.encode())

            fill(put, settings, dates)
            calls: Counter = Counter()
            client.meta.events.register(
                "before-call.s3.*", lambda model, **_: calls.update([model.name])
            )
            s3_platform = Platform(settings, registry, lake=S3Lake(BUCKET, REGION, client=client))
            measure("s3/moto", s3_platform, lambda d: fill(put, settings, [d]), calls)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
