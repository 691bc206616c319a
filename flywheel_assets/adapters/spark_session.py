"""The local profile's SparkSession: in-process, embedded Derby Hive metastore.

Derby allows one JVM per metastore, so the session holds an exclusive file lock on
``$FLYWHEEL_HOME/metastore.lock`` for the life of the process. A second local run waits
for the first instead of corrupting the metastore (``FLYWHEEL_LOCK_TIMEOUT`` seconds,
default 1800, then a clear error).
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path
from typing import IO

from flywheel_assets.config.settings import Settings
from glue_jobs.arrow_writer import ARROW_SESSION_CONF


class MetastoreLockTimeout(RuntimeError):
    pass


_held_locks: dict[Path, IO[str]] = {}


def acquire_metastore_lock(home: Path, timeout: float | None = None, poll: float = 0.5) -> None:
    """Take the per-FLYWHEEL_HOME metastore lock for the rest of this process."""
    path = (home / "metastore.lock").resolve()
    if path in _held_locks:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    timeout = float(os.environ.get("FLYWHEEL_LOCK_TIMEOUT", 1800)) if timeout is None else timeout
    handle = path.open("a+")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise MetastoreLockTimeout(
                    f"another local Flywheel run holds {path} (the embedded metastore allows "
                    f"one JVM); waited {timeout:.0f}s"
                ) from None
            time.sleep(poll)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _held_locks[path] = handle


AUTO_MEMORY_SHARE = 0.4  # of physical memory, for ``spark_driver_memory = "auto"``


def driver_memory(setting: str, physical_bytes: int | None = None) -> str:
    """``spark.driver.memory`` for a setting: as given, or for ``auto`` 40% of this
    machine's memory (2 to 16 GiB). A full-size split caches the ~3 GiB prepared
    snapshot; with a 4 GiB heap it spills 1.3 GiB and rereads spilled blocks for every
    table (docs/performance.md), while the JVM only takes from the OS what it uses."""
    if setting != "auto":
        return setting
    if physical_bytes is None:
        physical_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    gib = int(physical_bytes * AUTO_MEMORY_SHARE / 2**30)
    return f"{max(2, min(16, gib))}g"


def spark_config(settings: Settings) -> dict[str, str]:
    metastore = settings.metastore_dir
    return {
        "spark.master": "local[*]",
        "spark.app.name": "flywheel-local",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(settings.home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true"
        ),
        # durability=test: Derby skips the fsync of every metastore commit (registering
        # 256 partitions is ~35% faster); a JVM crash loses nothing, only an OS crash can
        # lose the newest commits of this local, rebuildable metastore
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={metastore} -Dderby.system.durability=test"
        ),
        "spark.driver.memory": driver_memory(settings.spark_driver_memory),
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.sources.partitionOverwriteMode": "static",
        "spark.sql.parquet.compression.codec": "snappy",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.hadoop.hive.exec.dynamic.partition.mode": "nonstrict",
        # no .crc side files on the local lake: half the file operations per write
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
        "spark.hadoop.fs.file.impl.disable.cache": "true",
        # The split caches the prepared raw snapshot (~200 columns wide). Building the
        # compressed columnar cache was the costliest step of split_part (docs/
        # performance.md); uncompressed it is ~3x cheaper to build and still fits the
        # driver with spill to disk (MEMORY_AND_DISK).
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
        # list the 256 id_bucket=N/ directories of a snapshot on the driver: a listing
        # job per read-back (Spark's default above 32 paths) costs more than it saves
        # on a local disk
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "10000",
        **ARROW_SESSION_CONF,
    }


def use_this_python_for_workers() -> None:
    """Spark's Python workers (the Arrow writer of ``split_part``) run this interpreter,
    the one with the project installed, unless ``PYSPARK_PYTHON`` says otherwise."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def local_spark_session(settings: Settings):
    """Build (or reuse) the process's SparkSession through dagster-pyspark."""
    from dagster_pyspark.resources import spark_session_from_config

    acquire_metastore_lock(settings.home)
    settings.metastore_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # in-process: loopback only
    use_this_python_for_workers()
    session = spark_session_from_config(spark_config(settings))
    session.sparkContext.setLogLevel("ERROR")
    return session
