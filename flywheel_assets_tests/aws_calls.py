"""Which AWS operations the project issues, with their parameters, and as which role.

A botocore ``before-parameter-build`` hook on every client created while recording sees
each request (moto, Stubber and real clients alike) before it is sent. The call stack
says who issued it:

* the innermost frame of this repository decides whether it is the project's at all:
  a call made by test code (set-up, the Glue and Athena stand-ins) is left out;
* the project's calls are the ``deployer``'s when ``flywheel_assets/deploy/apply.py`` or
  ``flywheel_assets/deploy/infra/`` is on the stack, the Glue job's when the outermost
  project frame is in ``glue_jobs/`` (or the process is the Glue job:
  ``FLYWHEEL_AWS_ROLE``), else the ``dagster`` code location's (libraries such as
  dagster-aws act for whoever called them).

Three ways in: ``recording(monkeypatch)`` around code in this process;
``pytest -p flywheel_assets_tests.aws_calls`` for a whole test run, written as JSON lines
to ``$FLYWHEEL_AWS_CALLS``; and ``subprocess_environment`` for a child process (the Glue
stand-in's job), through a ``sitecustomize`` that installs the same hook there.

Standalone on purpose (standard library and botocore only): the Glue job's process
imports it by path.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENV_LOG = "FLYWHEEL_AWS_CALLS"  # JSON lines file the plugin and the child processes append to
ENV_ROLE = "FLYWHEEL_AWS_ROLE"  # a process that is one role (the Glue job)
ROLES = ("glue_job", "dagster", "deployer")
THREAD_ORIGIN = "_flywheel_aws_origin"  # (role, origin) of the code that started a thread


@dataclass
class AwsCall:
    role: str
    service: str  # botocore's service name (``glue``, ``s3``, ``logs``)
    operation: str  # API name (``GetTable``)
    params: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # the project frame that issued it: ``path:function``

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, line: str) -> AwsCall:
        return cls(**json.loads(line))


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of request parameters (bodies and streams left out)."""
    if depth > 6:
        return "..."
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return f"<{type(value).__name__}>"


def _kind(filename: str) -> str | None:
    """What a frame's file is: ``test``, ``deployer``, ``dagster``, ``glue_job`` or None."""
    path = filename.replace("\\", "/")
    if "/flywheel_assets_tests/" in path:
        return "test"
    if "/flywheel_assets/deploy/apply.py" in path or "/flywheel_assets/deploy/infra/" in path:
        return "deployer"
    if "/flywheel_assets/" in path:
        return "dagster"
    if "/glue_jobs/" in path:
        return "glue_job"
    return None


def attribute(frame: Any) -> tuple[str | None, str]:
    """``(role, origin)`` of a call whose innermost frame is ``frame``; role None: not
    the project's (test code)."""
    kinds: list[tuple[str, str]] = []
    while frame is not None:
        kind = _kind(frame.f_code.co_filename)
        if kind is not None:
            kinds.append((kind, f"{frame.f_code.co_filename}:{frame.f_code.co_name}"))
        frame = frame.f_back
    forced = os.environ.get(ENV_ROLE)
    if not kinds:  # a worker thread (dagster-pipes' message readers): who started it
        inherited = getattr(threading.current_thread(), THREAD_ORIGIN, None)
        if forced:
            return forced, ""
        return inherited if inherited is not None else (None, "")
    innermost, origin = kinds[0]
    if innermost == "test":
        return None, origin
    if forced:
        return forced, origin
    project = [k for k, _ in kinds if k != "test"]
    if "deployer" in project:
        return "deployer", origin
    return project[-1], origin  # the outermost project frame


class Recorder:
    """Keeps (and optionally appends to a file) every attributed call."""

    def __init__(self, log: Path | None = None) -> None:
        self.calls: list[AwsCall] = []
        self.ignored: list[AwsCall] = []
        self.log = log
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register(
            "before-parameter-build.*.*", self._before, unique_id=f"aws-calls-{id(self)}"
        )
        return client

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        role, origin = attribute(sys._getframe(1))
        call = AwsCall(
            role or "",
            model.service_model.service_name,
            model.name,
            _plain(dict(params)),
            origin.replace(str(REPO) + "/", ""),
        )
        with self._lock:
            if role is None:
                self.ignored.append(call)
                return
            self.calls.append(call)
            if self.log is not None:
                with self.log.open("a", encoding="utf-8") as out:
                    out.write(call.to_json() + "\n")


def install(recorder: Recorder) -> Callable[[], None]:
    """Attach ``recorder`` to every botocore client created from now on (boto3's go
    through ``botocore.session.Session.create_client`` too); returns the undo."""
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        return recorder.attach(original(self, *args, **kwargs))

    start = threading.Thread.start

    def start_noting_origin(self: threading.Thread) -> None:
        if not hasattr(self, THREAD_ORIGIN):  # the outermost of stacked recorders saw the caller
            setattr(self, THREAD_ORIGIN, attribute(sys._getframe(1)))
        start(self)

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    threading.Thread.start = start_noting_origin  # type: ignore[method-assign]

    def undo() -> None:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]
        threading.Thread.start = start  # type: ignore[method-assign]

    return undo


@contextmanager
def recording(log: Path | None = None) -> Iterator[Recorder]:
    recorder = Recorder(log)
    undo = install(recorder)
    try:
        yield recorder
    finally:
        undo()


def read_log(path: Path) -> list[AwsCall]:
    if not path.exists():
        return []
    return [AwsCall.from_json(line) for line in path.read_text().splitlines() if line.strip()]


# ---- a child process -------------------------------------------------------------------------

SITECUSTOMIZE = """\
import importlib.util, os, sys
_spec = importlib.util.spec_from_file_location("_flywheel_aws_calls", {module!r})
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _module
_spec.loader.exec_module(_module)
_module.install(_module.Recorder(_module.Path(os.environ[{env!r}])))
"""


def subprocess_environment(directory: Path, log: Path, role: str) -> dict[str, str]:
    """Environment entries that make a Python child process record its AWS calls as
    ``role`` into ``log``: prepend ``PYTHONPATH`` with the returned value's directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        SITECUSTOMIZE.format(module=str(Path(__file__).resolve()), env=ENV_LOG)
    )
    return {ENV_LOG: str(log), ENV_ROLE: role, "_FLYWHEEL_AWS_CALLS_DIR": str(directory)}


# ---- as a pytest plugin ------------------------------------------------------------------------

_session_undo: list[Callable[[], None]] = []


def pytest_configure(config: Any) -> None:
    target = os.environ.get(ENV_LOG)
    if target:
        _session_undo.append(install(Recorder(Path(target))))


def pytest_unconfigure(config: Any) -> None:
    while _session_undo:
        _session_undo.pop()()
