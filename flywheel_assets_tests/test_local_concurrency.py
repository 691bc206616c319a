"""Two local runs must not share the embedded (single-JVM) metastore at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from flywheel_assets.adapters.spark_session import MetastoreLockTimeout, acquire_metastore_lock
from flywheel_assets.runner import INSTANCE_YAML

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from flywheel_assets.adapters.spark_session import acquire_metastore_lock
    acquire_metastore_lock(Path(sys.argv[1]))
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    """
)


def test_second_process_waits_for_the_first(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(MetastoreLockTimeout, match="another local Flywheel run holds"):
            acquire_metastore_lock(tmp_path, timeout=0.5, poll=0.1)
        started = time.monotonic()
        waiter = subprocess.run(
            [sys.executable, "-c", HOLD, str(tmp_path), "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert waiter.stdout.strip() == "locked"
        assert holder.wait(timeout=30) == 0
        # the waiter only got the lock once the holder (3 s) had exited
        assert time.monotonic() - started > 1.0
    finally:
        holder.kill()


def test_local_instance_limits_runs_to_one_at_a_time():
    assert "max_concurrent_runs: 1" in INSTANCE_YAML
