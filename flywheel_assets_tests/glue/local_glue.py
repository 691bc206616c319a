"""A stand-in for the AWS Glue service that runs the deployed job for real, locally.

moto records Glue jobs and runs but executes nothing, so, like dagster-aws's own tests
of ``PipesGlueClient``, this client wraps the moto Glue client and runs the job's
script in a subprocess when a run starts.

Real in such a run:
- the job definition and run records (moto Glue), the script at ``ScriptLocation`` and
  the ``--extra-py-files`` zip, downloaded from moto S3 as deployed; default arguments
  merged with the run's arguments and passed as Glue passes them (``--NAME value``);
- ``glue_jobs`` imported from that zip (the repository is not on the subprocess's path);
- Spark: a local pyspark session running the shared transforms;
- every boto3 call of the job (moto S3: snapshot listing, markers, manifests, the
  Pipes context and S3 messages) and CloudWatch, where Glue ships the job's stdout and
  stderr (moto logs, stream ``<run id>`` of ``<LogGroupName>/output``).

Substituted: Spark's ``s3a://`` file system. Without the hadoop-aws jars Spark cannot
reach moto, so Hadoop's ``ViewFileSystemOverloadScheme`` is mounted on the ``s3a``
scheme with each bucket linked to a local directory: the job still reads and writes
``s3a://bucket/key`` paths unchanged. Before the run the stand-in mirrors
``--SOURCE_PATH`` from moto S3 into that directory; after it, it uploads what Spark
wrote under ``--TARGET_PATH`` (and deletes what Spark removed) to moto S3, so the
code location and the job see one lake.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glue_jobs.runtime import split_s3_uri

LOG_BATCH = 500  # CloudWatch takes at most 10,000 events a PutLogEvents


@dataclass
class SimulatedRun:
    job_name: str
    run_id: str
    arguments: dict[str, str]
    process: subprocess.Popen
    workdir: Path
    targets: list[str]  # s3:// prefixes whose Spark output is synced back
    before: dict[str, set[Path]]  # local files under each target before the run
    state: str = "RUNNING"
    error: str = ""
    finished: bool = False
    log_lines: list[str] = field(default_factory=list)

    @property
    def stdout(self) -> Path:
        return self.workdir / "stdout.txt"

    @property
    def stderr(self) -> Path:
        return self.workdir / "stderr.txt"


class LocalGlueService:
    """The subset of the boto3 Glue client ``PipesGlueClient`` uses."""

    def __init__(
        self,
        *,
        glue: Any,
        s3: Any,
        logs: Any,
        endpoint_url: str,
        spark_root: Path,
        workdir: Path,
        region: str = "us-east-1",
    ) -> None:
        self.glue = glue
        self.s3 = s3
        self.logs = logs
        self.endpoint_url = endpoint_url
        self.spark_root = spark_root
        self.workdir = workdir
        self.region = region
        self.runs: dict[str, SimulatedRun] = {}

    @property
    def meta(self) -> Any:
        return self.glue.meta

    # ---- the Glue API ------------------------------------------------------------------

    def start_job_run(
        self, JobName: str, Arguments: dict[str, str] | None = None, **_: Any
    ) -> dict[str, Any]:
        job = self.glue.get_job(JobName=JobName)["Job"]
        arguments = {**job.get("DefaultArguments", {}), **(Arguments or {})}
        response = self.glue.start_job_run(JobName=JobName, Arguments=Arguments or {})
        run_id = response["JobRunId"]
        workdir = self.workdir / run_id
        workdir.mkdir(parents=True)
        script = self._download(job["Command"]["ScriptLocation"], workdir)
        libraries = [
            str(self._download(uri, workdir))
            for uri in arguments.get("--extra-py-files", "").split(",")
            if uri
        ]
        self._mirror_from_s3(arguments["--SOURCE_PATH"])
        targets = [arguments["--TARGET_PATH"]]
        before = {t: self._local_files(t) for t in targets}
        argv = [sys.executable, str(script), "--JOB_NAME", JobName, "--JOB_RUN_ID", run_id]
        for name, value in arguments.items():
            if not name.startswith("--additional-python-modules"):  # Glue installs these
                argv += [name, value]
        with (workdir / "stdout.txt").open("wb") as out, (workdir / "stderr.txt").open("wb") as err:
            process = subprocess.Popen(
                argv,
                cwd=workdir,
                env=self._environment(libraries, arguments),
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.runs[run_id] = SimulatedRun(
            JobName, run_id, arguments, process, workdir, targets, before
        )
        return response

    def get_job_run(self, JobName: str, RunId: str, **_: Any) -> dict[str, Any]:
        response = self.glue.get_job_run(JobName=JobName, RunId=RunId)
        run = self.runs[RunId]
        if not run.finished and run.process.poll() is not None:
            self._finish(run, response["JobRun"].get("LogGroupName", "/aws-glue/jobs"))
        response["JobRun"]["JobRunState"] = run.state
        if run.error:
            response["JobRun"]["ErrorMessage"] = run.error
        return response

    def batch_stop_job_run(self, JobName: str, JobRunIds: list[str], **_: Any) -> dict[str, Any]:
        stopped = []
        for run_id in JobRunIds:
            run = self.runs[run_id]
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGTERM)
                run.process.wait(timeout=30)
            run.state, run.finished = "STOPPED", True
            stopped.append({"JobName": JobName, "JobRunId": run_id})
        return {"SuccessfulSubmissions": stopped, "Errors": []}

    def close(self) -> None:
        for run in self.runs.values():
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)
                run.process.wait()

    # ---- what Glue does around the script -----------------------------------------------

    def _environment(self, libraries: list[str], arguments: dict[str, str]) -> dict[str, str]:
        buckets = {
            split_s3_uri(arguments[name])[0]
            for name in ("--SOURCE_PATH", "--TARGET_PATH")
            if name in arguments
        }
        conf = {
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme",
            "spark.hadoop.fs.s3a.impl.disable.cache": "true",
            "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
            "spark.hadoop.fs.file.impl.disable.cache": "true",
        }
        for bucket in sorted(buckets):
            (self.spark_root / bucket).mkdir(parents=True, exist_ok=True)
            conf[f"spark.hadoop.fs.viewfs.mounttable.{bucket}.linkFallback"] = (
                f"file://{self.spark_root / bucket}"
            )
        submit = ["--master", "local[2]", "--driver-memory", "1g"]
        for key, value in conf.items():
            submit += ["--conf", f"{key}={value}"]
        env = {
            name: os.environ[name]
            for name in ("PATH", "HOME", "JAVA_HOME", "LANG", "TMPDIR")
            if name in os.environ
        }
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(libraries),
                "PYTHONNOUSERSITE": "1",
                "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_SUBMIT_ARGS": shlex.join([*submit, "pyspark-shell"]),
                "SPARK_LOCAL_IP": "127.0.0.1",
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
            }
        )
        return env

    def _download(self, uri: str, directory: Path) -> Path:
        bucket, key = split_s3_uri(uri)
        path = directory / key.rsplit("/", 1)[-1]
        self.s3.download_file(bucket, key, str(path))
        return path

    def _local(self, uri: str) -> Path:
        bucket, key = split_s3_uri(uri)
        return self.spark_root / bucket / key

    def _local_files(self, uri: str) -> set[Path]:
        root = self._local(uri)
        return {p for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()

    def _mirror_from_s3(self, uri: str) -> None:
        bucket, prefix = split_s3_uri(uri)
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                path = self.spark_root / bucket / obj["Key"]
                if obj["Key"].endswith("/") or (
                    path.is_file() and path.stat().st_size == obj["Size"]
                ):
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, obj["Key"], str(path))

    def _sync_to_s3(self, run: SimulatedRun) -> None:
        for target in run.targets:
            bucket, _ = split_s3_uri(target)
            root = self.spark_root / bucket
            after = self._local_files(target)
            for path in sorted(after):
                self.s3.upload_file(str(path), bucket, path.relative_to(root).as_posix())
            for path in sorted(run.before[target] - after):
                self.s3.delete_object(Bucket=bucket, Key=path.relative_to(root).as_posix())

    def _finish(self, run: SimulatedRun, log_group: str) -> None:
        run.finished = True
        if run.process.returncode == 0:
            self._sync_to_s3(run)
            run.state = "SUCCEEDED"
        else:
            run.state = "FAILED"
            run.error = run.stderr.read_text(errors="replace")[-4000:]
        run.log_lines = [
            line
            for path in (run.stdout, run.stderr)  # Glue routes both to the output stream
            for line in path.read_text(errors="replace").splitlines()
            if line.strip()
        ]
        self._ship_logs(f"{log_group}/output", run.run_id, run.log_lines)

    def _ship_logs(self, group: str, stream: str, lines: list[str]) -> None:
        for create, kwargs in (
            (self.logs.create_log_group, {"logGroupName": group}),
            (self.logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
        ):
            with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
                create(**kwargs)
        now = int(time.time() * 1000)
        for start in range(0, len(lines), LOG_BATCH):
            events = [
                {"timestamp": now, "message": line} for line in lines[start : start + LOG_BATCH]
            ]
            self.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
