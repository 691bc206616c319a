"""The real Dagster stack of ``make dev`` for end-to-end tests: ``dagster-webserver`` and
``dagster-daemon`` on the repository's ``workspace.yaml``, a throwaway FLYWHEEL_HOME with
a sample raw snapshot and the local instance configuration, a free port on 127.0.0.1,
and a small GraphQL client.

Both processes are started in their own session and stopped by process group id on
``close()``, so run workers they launched do not outlive the test.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import requests

from flywheel_assets.runner import INSTANCE_YAML

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "flywheel"  # workspace.yaml's location_name
REPOSITORY = "__repository__"  # the implicit repository of a Definitions object
REPOSITORY_SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}


class GraphQLError(AssertionError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flywheel_env(home: Path) -> dict[str, str]:
    """This process's environment without FLYWHEEL_* overrides, on a fresh home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "DAGSTER_"))}
    env.update(
        FLYWHEEL_ENV="local",
        FLYWHEEL_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_home(home: Path, snapshot: str, rows: int) -> dict[str, str]:
    """Sample raw snapshot, the local instance (dagster.yaml + storage); returns the env."""
    env = flywheel_env(home)
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text(INSTANCE_YAML)
    # create the SQLite storages once: webserver and daemon migrating a fresh instance
    # at the same moment can leave two alembic heads behind
    dg.DagsterInstance.from_config(str(home / "dagster")).dispose()
    subprocess.run(
        [sys.executable, "-m", "flywheel_assets.cli", "sample-data", "--snapshot", snapshot]
        + ["--rows", str(rows)],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return env


@dataclass
class DagsterStack:
    """``dagster-webserver`` + ``dagster-daemon`` on ``workspace.yaml``."""

    env: dict[str, str]
    logs: Path
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> "DagsterStack":
        self.logs.mkdir(parents=True, exist_ok=True)
        commands = {
            "webserver": [str(BIN / "dagster-webserver"), "-w", "workspace.yaml"]
            + ["-p", str(self.port), "-h", "127.0.0.1"],
            # dequeues runs (the instance's QueuedRunCoordinator), as in `dagster dev`
            "daemon": [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        }
        for name, command in commands.items():
            log = (self.logs / f"{name}.log").open("w")
            self.processes.append(
                subprocess.Popen(
                    command,
                    cwd=REPO,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        self.wait_for_location(timeout)
        return self

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def query(self, document: str, **variables: Any) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/graphql", json={"query": document, "variables": variables}, timeout=120
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        return body["data"]

    def wait_for_location(self, timeout: float) -> None:
        """Until the webserver answers and the code location is loaded (or failed)."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            dead = [p.args[0] for p in self.processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited; see {self.logs}")
            try:
                data = self.query(WORKSPACE)
            except (requests.ConnectionError, requests.HTTPError) as exc:
                last = exc
                time.sleep(1)
                continue
            entries = data["workspaceOrError"]["locationEntries"]
            entry = next((e for e in entries if e["name"] == LOCATION), None)
            last = entry
            if entry and entry["loadStatus"] == "LOADED":
                located = entry["locationOrLoadError"]
                if located["__typename"] == "PythonError":
                    raise RuntimeError(f"code location failed to load: {located['message']}")
                return
            time.sleep(1)
        raise TimeoutError(f"code location {LOCATION} not loaded after {timeout}s: {last}")


WORKSPACE = """
query Workspace {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""
