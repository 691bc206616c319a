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

``AthenaOnSpark`` does the same for Athena: moto records Athena queries without executing
them, so it hooks a real boto3 Athena client (answered by moto) and, before each
``StartQueryExecution`` is sent, executes the statement on a local SparkSession over the
tables of the Glue catalog (moto) and the objects of S3 (moto), then hands the result to
moto's Athena result queue (or marks the query FAILED with Athena's kind of reason).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flywheel_assets_tests.aws_calls import AwsCall, subprocess_environment
from glue_jobs.s3_objects import split_s3_uri

LOG_BATCH = 500  # CloudWatch takes at most 10,000 events a PutLogEvents
GLUE_LOG_GROUP = "/aws-glue/jobs"


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
        call_log: Path | None = None,
    ) -> None:
        self.glue = glue
        self.s3 = s3
        self.logs = logs
        self.endpoint_url = endpoint_url
        self.spark_root = spark_root
        self.workdir = workdir
        self.region = region
        self.call_log = call_log  # where the job's AWS calls are recorded (aws_calls.py)
        self.runs: dict[str, SimulatedRun] = {}
        # the Glue API calls the code location made, answered here (checked against its
        # IAM policy like the calls that reach moto)
        self.received: list[AwsCall] = []

    def _receive(self, operation: str, **params: Any) -> None:
        self.received.append(AwsCall("dagster", "glue", operation, params, "local_glue"))

    @property
    def meta(self) -> Any:
        return self.glue.meta

    # ---- the Glue API ------------------------------------------------------------------

    def start_job_run(
        self, JobName: str, Arguments: dict[str, str] | None = None, **_: Any
    ) -> dict[str, Any]:
        self._receive("StartJobRun", JobName=JobName, Arguments=Arguments or {})
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
        self._receive("GetJobRun", JobName=JobName, RunId=RunId)
        response = self.glue.get_job_run(JobName=JobName, RunId=RunId)
        # Glue's default (moto answers a placeholder): the job's stdout and stderr go to
        # <LogGroupName>/output and /error, where the code location's policy lets it read
        response["JobRun"]["LogGroupName"] = GLUE_LOG_GROUP
        run = self.runs[RunId]
        if not run.finished and run.process.poll() is not None:
            self._finish(run, response["JobRun"]["LogGroupName"])
        response["JobRun"]["JobRunState"] = run.state
        if run.error:
            response["JobRun"]["ErrorMessage"] = run.error
        return response

    def batch_stop_job_run(self, JobName: str, JobRunIds: list[str], **_: Any) -> dict[str, Any]:
        self._receive("BatchStopJobRun", JobName=JobName, JobRunIds=JobRunIds)
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
        path = list(libraries)
        if self.call_log is not None:  # record the job's AWS calls as the Glue job role's
            recorder = self.workdir / "aws-calls-bootstrap"
            env.update(subprocess_environment(recorder, self.call_log, "glue_job"))
            path.insert(0, str(recorder))
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(path),
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


# ---- Athena ------------------------------------------------------------------------------

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
# Athena's result types for the Spark types a statement can return
ATHENA_TYPES = {
    "string": "varchar",
    "bigint": "bigint",
    "int": "integer",
    "smallint": "smallint",
    "tinyint": "tinyint",
    "double": "double",
    "float": "real",
    "boolean": "boolean",
}


def hive_bucket(value: str | None, bucket_count: int) -> int:
    """Hive's bucketing (v1), which Athena's CTAS uses by default for ``bucketed_by``, as
    Trino computes it for a ``string`` column (``HiveBucketingV1``):
    ``(hash & Integer.MAX_VALUE) % buckets`` with ``hash = 31 * hash + byte`` from 0 over
    the signed UTF-8 bytes, in 32-bit arithmetic; NULL hashes to 0."""
    if value is None:
        return 0
    h = 0
    for byte in value.encode("utf-8"):
        h = (31 * h + (byte - 256 if byte > 127 else byte)) & 0xFFFFFFFF
    return (h & 0x7FFFFFFF) % bucket_count


class AthenaStatementError(RuntimeError):
    """What Athena would answer FAILED with (the message is its StateChangeReason)."""


class AthenaOnSpark:
    """Athena for a boto3 Athena client answered by moto: each statement is executed on
    local Spark just before its ``StartQueryExecution`` is sent.

    Real: the project's ``AthenaSql`` adapter and its client (request building, polling
    ``GetQueryExecution``, paging ``GetQueryResults``, type conversion), the moto Athena
    API, the Glue catalog (moto) the statement's tables come from, the S3 objects (moto)
    their data is read from and a CTAS's files are written to, and Spark as the SQL engine.
    Substituted: Athena's engine (Trino) by Spark SQL, for the statements the project sends
    (they are written in the subset both accept: ``flywheel_assets/checks/sql.py``); a
    table is read by mirroring its location from moto S3 into a local directory, as Athena
    would read it (files named ``_*`` or ``.*`` are skipped). A CTAS
    (``CREATE TABLE db.t WITH (format, write_compression, external_location, bucketed_by,
    bucket_count) AS SELECT ...``) fails, as Athena's does, when the table exists or the
    location holds objects; otherwise its rows are written as Snappy parquet, one file per
    non-empty Hive bucket named by its bucket number (``hive_bucket``), uploaded to the
    external location and registered in the Glue catalog as Athena registers it.
    ``DROP TABLE IF EXISTS`` deletes the catalog entry (the data stays, as on Athena).
    Any other statement FAILs naming itself."""

    CTAS = re.compile(
        r"^CREATE TABLE (?P<db>\w+)\.(?P<name>\w+) WITH \((?P<props>.*?)\) "
        r"AS (?P<select>SELECT .*)$",
        re.S,
    )
    DROP = re.compile(r"^DROP TABLE IF EXISTS (?P<db>\w+)\.(?P<name>\w+)$")
    PROPERTY = re.compile(r"(\w+)\s*=\s*('(?:[^']|'')*'|ARRAY\[[^\]]*\]|\d+)")
    RELATION = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\b")

    def __init__(
        self,
        *,
        spark: Any,
        glue: Any,
        s3: Any,
        endpoint_url: str,
        workdir: Path,
        region: str = "us-east-1",
    ) -> None:
        self.spark, self.glue, self.s3 = spark, glue, s3
        self.endpoint_url = endpoint_url
        self.workdir = workdir
        self.region = region
        self.statements: list[str] = []  # every statement, in the order it was started
        self.failures: dict[str, str] = {}  # query id -> reason
        self._pending_failure: str | None = None
        self._views: list[str] = []  # temporary views of the statement being run

    def attach(self, client: Any) -> Any:
        """Hook ``client`` (a boto3 Athena client on the moto server); returns it."""
        events = client.meta.events
        events.register("before-parameter-build.athena.StartQueryExecution", self._on_start)
        events.register("after-call.athena.StartQueryExecution", self._on_started)
        events.register("after-call.athena.GetQueryExecution", self._on_status)
        return client

    # ---- the client hooks ------------------------------------------------------------

    def _on_start(self, params: dict[str, Any], **_: Any) -> None:
        statement = params["QueryString"]
        self.statements.append(statement)
        self._pending_failure = None
        try:
            result = self.run(statement)
        except AthenaStatementError as exc:
            self._pending_failure = str(exc)
            return
        finally:
            while self._views:
                self.spark.catalog.dropTempView(self._views.pop())
        if result is not None:
            self._queue_result(*result)

    def _on_started(self, parsed: dict[str, Any], **_: Any) -> None:
        if self._pending_failure is not None and "QueryExecutionId" in parsed:
            self.failures[parsed["QueryExecutionId"]] = self._pending_failure
            self._pending_failure = None

    def _on_status(self, parsed: dict[str, Any], **_: Any) -> None:
        execution = parsed.get("QueryExecution", {})
        reason = self.failures.get(execution.get("QueryExecutionId", ""))
        if reason is not None:
            execution["Status"] = {
                **execution.get("Status", {}),
                "State": "FAILED",
                "StateChangeReason": reason,
                "AthenaError": {"ErrorCategory": 2, "ErrorType": 1000, "ErrorMessage": reason},
            }

    def _queue_result(self, columns: list[tuple[str, str]], rows: list[list[Any]]) -> None:
        """Give moto the rows the next started query returns (header first, as for DML)."""

        def cell(value: Any) -> dict[str, str]:
            if value is None:
                return {}
            return {"VarCharValue": str(value).lower() if isinstance(value, bool) else str(value)}

        body = {
            "region": self.region,
            "results": [
                {
                    "rows": [{"Data": [cell(n) for n, _ in columns]}]
                    + [{"Data": [cell(v) for v in row]} for row in rows],
                    "column_info": [
                        {"Name": n, "Label": n, "Type": t, "Nullable": "UNKNOWN"}
                        for n, t in columns
                    ],
                }
            ],
        }
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/static/athena/query-results",
            data=json.dumps(body).encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request).close()

    # ---- executing -------------------------------------------------------------------

    def run(self, statement: str) -> tuple[list[tuple[str, str]], list[list[Any]]] | None:
        """Columns (name, Athena type) and rows of a query; None for DDL."""
        if match := self.CTAS.match(statement):
            self._ctas(match)
            return None
        if match := self.DROP.match(statement):
            with contextlib.suppress(self.glue.exceptions.EntityNotFoundException):
                self.glue.delete_table(DatabaseName=match["db"], Name=match["name"])
            return None
        if statement.lstrip().upper().startswith("SELECT"):
            frame = self._select(statement)
            columns = [
                (f.name, ATHENA_TYPES.get(f.dataType.simpleString(), "varchar"))
                for f in frame.schema.fields
            ]
            return columns, [list(row) for row in frame.collect()]
        raise AthenaStatementError(f"the Athena stand-in does not run: {statement}")

    def _select(self, statement: str) -> Any:
        """``statement`` on Spark, each ``database.table`` of the Glue catalog read from S3."""
        views: dict[str, str] = {}

        def view(match: re.Match[str]) -> str:
            database, table = match[1], match[2]
            if not self._is_database(database):
                return match[0]  # an alias: ``p.count_part``
            key = f"{database}.{table}"
            if key not in views:
                views[key] = f"athena_{database}_{table}_{uuid.uuid4().hex[:8]}"
                self._table_frame(database, table).createOrReplaceTempView(views[key])
                self._views.append(views[key])
            return views[key]

        rewritten = self.RELATION.sub(view, statement)
        try:
            return self.spark.sql(rewritten)
        except Exception as exc:  # noqa: BLE001 - Athena reports it as a FAILED query
            raise AthenaStatementError(f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc

    def _is_database(self, name: str) -> bool:
        try:
            self.glue.get_database(Name=name)
            return True
        except self.glue.exceptions.EntityNotFoundException:
            return False

    def _table_frame(self, database: str, table: str) -> Any:
        try:
            raw = self.glue.get_table(DatabaseName=database, Name=table)["Table"]
        except self.glue.exceptions.EntityNotFoundException as exc:
            raise AthenaStatementError(
                f"TABLE_NOT_FOUND: line 1: Table 'awsdatacatalog.{database}.{table}' does not exist"
            ) from exc
        sd = raw["StorageDescriptor"]
        columns = [*sd.get("Columns", []), *raw.get("PartitionKeys", [])]
        local = self._mirror(sd["Location"])
        schema = ", ".join(f"`{c['Name']}` {c['Type']}" for c in columns)
        if not any(p.is_file() for p in local.rglob("*")):
            return self.spark.createDataFrame([], schema)
        frame = self.spark.read.option("basePath", str(local)).parquet(str(local))
        return frame.select(*[f"`{c['Name']}`" for c in columns])

    def _mirror(self, location: str) -> Path:
        """The objects under ``location`` in a fresh local directory, less the files
        Athena skips (names starting with ``_`` or ``.``)."""
        bucket, prefix = split_s3_uri(location)
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        root = Path(tempfile.mkdtemp(prefix="athena-", dir=self.workdir))
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix) :]
                if not relative or relative.endswith("/"):
                    continue
                if relative.rsplit("/", 1)[-1].startswith(("_", ".")):
                    continue
                path = root / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, obj["Key"], str(path))
        return root

    def _ctas(self, match: re.Match[str]) -> None:
        database, name = match["db"], match["name"]
        props = {k.lower(): v for k, v in self.PROPERTY.findall(match["props"])}
        known = {"format", "write_compression", "external_location", "bucketed_by", "bucket_count"}
        unknown = sorted(set(props) - known)
        if unknown:
            raise AthenaStatementError(f"the Athena stand-in does not know CTAS property {unknown}")

        def text(value: str) -> str:
            return value[1:-1].replace("''", "'")

        if text(props.get("format", "'PARQUET'")).upper() != "PARQUET":
            raise AthenaStatementError(f"the stand-in writes PARQUET only: {props['format']}")
        compression = text(props.get("write_compression", "'GZIP'")).upper()
        location = text(props["external_location"])
        bucketed_by = [text(v.strip()) for v in props["bucketed_by"][6:-1].split(",")]
        bucket_count = int(props["bucket_count"])
        try:
            self.glue.get_table(DatabaseName=database, Name=name)
        except self.glue.exceptions.EntityNotFoundException:
            pass
        else:
            raise AthenaStatementError(f"Table {database}.{name} already exists")
        bucket, prefix = split_s3_uri(location)
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        if self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount"):
            raise AthenaStatementError(
                f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{database}.{name}' "
                f"already exists: {location}"
            )
        frame = self._select(match["select"])
        missing = [c for c in bucketed_by if c not in frame.columns]
        if len(bucketed_by) != 1 or missing:
            raise AthenaStatementError(
                f"the stand-in buckets by one column of the query: {bucketed_by}"
            )
        self._write_buckets(frame, bucketed_by[0], bucket_count, compression, bucket, prefix)
        self.glue.create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {
                    "EXTERNAL": "TRUE",
                    "has_encrypted_data": "false",
                    "parquet.compression": compression,
                },
                "StorageDescriptor": {
                    "Columns": [
                        {"Name": f.name, "Type": f.dataType.simpleString()}
                        for f in frame.schema.fields
                    ],
                    "Location": location,
                    "InputFormat": PARQUET_INPUT,
                    "OutputFormat": PARQUET_OUTPUT,
                    "Compressed": False,
                    "NumberOfBuckets": bucket_count,
                    "BucketColumns": bucketed_by,
                    "SerdeInfo": {
                        "SerializationLibrary": PARQUET_SERDE,
                        "Parameters": {"serialization.format": "1"},
                    },
                },
                "PartitionKeys": [],
            },
        )

    def _write_buckets(
        self, frame: Any, column: str, count: int, compression: str, bucket: str, prefix: str
    ) -> None:
        from pyspark.sql import functions as F  # noqa: N812
        from pyspark.sql.types import IntegerType

        assign = F.udf(lambda value: hive_bucket(value, count), IntegerType())
        staged = Path(tempfile.mkdtemp(prefix="ctas-", dir=self.workdir)) / "out"
        (
            frame.withColumn("bucket__", assign(F.col(column)))
            .repartition("bucket__")
            .write.partitionBy("bucket__")
            .option("compression", compression.lower())
            .parquet(str(staged))
        )
        query = uuid.uuid4().hex
        for folder in sorted(staged.glob("bucket__=*")):
            number = int(folder.name.split("=", 1)[1])
            for index, part in enumerate(sorted(folder.glob("part-*.parquet"))):
                key = f"{prefix}{number:06d}_{index}_{query}"
                self.s3.upload_file(str(part), bucket, key)
