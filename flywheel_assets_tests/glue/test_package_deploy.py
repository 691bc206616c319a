"""``flywheel glue package`` and ``flywheel glue deploy``.

The package is imported from the zip alone in a fresh interpreter that cannot import
Dagster (only ``dagster_pipes``), as on Glue; running it on Spark is the end-to-end
test's job. Deploy runs twice against moto (the second run must change nothing) and,
for the update path moto lacks (no UpdateJob), against botocore's Stubber.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from flywheel_assets import cli
from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.compaction import COMPACTION_JOBS, CompactionJob, compaction_job
from flywheel_assets.config.registry import load_registries
from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy import apply
from flywheel_assets.deploy.apply import deploy_glue_jobs
from flywheel_assets.deploy.jobs import (
    DEPLOYED_JOBS,
    GLUE_ARGUMENTS,
    SPLIT_JOBS,
    job_definition,
    library_key,
    script_key,
)
from flywheel_assets.deploy.package import build_package
from flywheel_assets_tests.conftest import make_settings
from flywheel_assets_tests.glue.conftest import REGION
from flywheel_assets_tests.glue.helpers import record_operations
from glue_jobs import compaction_job as compaction_script
from glue_jobs import job_plan
from glue_jobs.s3_objects import S3Objects

# also run on Glue 5.0's pyspark 3.5 by `make test-glue-runtime`
pytestmark = pytest.mark.glue_runtime

IMPORT_FROM_ZIP = r"""
import json, sys

class NoDagster:
    # Glue has dagster-pipes (--additional-python-modules), not Dagster nor this repo
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dagster", "flywheel_assets"):
            raise ImportError(f"{name} is not installed on Glue")
        return None

sys.meta_path.insert(0, NoDagster())
import dagster_pipes
import glue_jobs, glue_jobs.split_and_part_job, glue_jobs.split_and_bucket_job
import glue_jobs.compaction_job
from glue_jobs.registry import build_registry
from glue_jobs.job_plan import read_split_csv
from glue_jobs.transforms import target_file_count

registry = {}
for kind in ("split_part", "split_cluster"):
    for source in ("infobase_attributes", "addressable_ids"):
        origin, text = read_split_csv("_NONE_", kind, source, None)
        registry[f"{kind}/{source}"] = [t.name for t in build_registry([(source, origin, text)])]
print(json.dumps({
    "glue_jobs": glue_jobs.__file__,
    "runtime": sys.modules["glue_jobs.runtime"].__file__,
    "files": [target_file_count(n) for n in (0, 3 * 1024**3, 10**15)],
    "registry": registry,
}))
"""


def test_package_is_reproducible_and_runs_from_the_zip_without_dagster(tmp_path: Path) -> None:
    out = tmp_path / "glue"
    assert cli.main(["glue", "package", "--out", str(out)]) == 0
    (zip_path,) = out.glob("glue_jobs-*.zip")
    first = zip_path.read_bytes()
    names = zipfile.ZipFile(zip_path).namelist()
    assert {
        "glue_jobs/transforms.py",
        "glue_jobs/runtime.py",
        "glue_jobs/split_and_part_job.py",
        "glue_jobs/compaction_job.py",
        "glue_jobs/compaction.py",
        "glue_jobs/split_csvs/split_part/infobase_attributes.csv",
        "glue_jobs/split_csvs/split_part/addressable_ids.csv",
        "glue_jobs/split_csvs/split_cluster/infobase_attributes.csv",
        "glue_jobs/split_csvs/split_cluster/addressable_ids.csv",
    } <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert sorted(json.loads((out / "package.json").read_text())["scripts"]) == [
        "compaction_job.py",
        "split_and_bucket_job.py",
        "split_and_part_job.py",
    ]
    # rebuilding unchanged code gives the same bytes and name: deploy then uploads nothing
    again = build_package(tmp_path / "again")
    assert again.zip_path.name == zip_path.name and again.zip_path.read_bytes() == first

    done = subprocess.run(
        [sys.executable, "-c", IMPORT_FROM_ZIP],
        cwd=tmp_path,
        env={"PYTHONPATH": str(zip_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["glue_jobs"].startswith(str(zip_path) + "/")
    assert found["runtime"].startswith(str(zip_path) + "/")
    assert found["files"] == [1, 6, 256]
    registries = load_registries()
    assert len(found["registry"]) == 4
    for kind_source, names in found["registry"].items():
        kind, source = kind_source.split("/")
        assert names == [t.name for t in registries.of(kind).for_source(source)]


def recording_clients(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Operations of every client ``flywheel glue deploy`` creates, by service."""
    calls: dict[str, list[str]] = {"s3": [], "glue": []}

    def factory(service: str, region: str) -> Any:
        client = aws_client(service, region)
        calls[service] = record_operations(client)
        return client

    monkeypatch.setattr(apply, "aws_client", factory)
    return calls


def test_glue_deploy_twice_against_moto_changes_nothing_the_second_time(
    tmp_path: Path,
    clients: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLYWHEEL_ENV", "dev")
    monkeypatch.setenv("FLYWHEEL_HOME", str(tmp_path / "home"))
    settings = make_settings(tmp_path / "home", env="dev")
    s3, glue = clients("s3"), clients("glue")
    s3.create_bucket(Bucket=settings.glue_assets_bucket)
    out = str(tmp_path / "build")

    calls = recording_clients(monkeypatch)
    assert cli.main(["glue", "deploy", "--out", out]) == 0
    assert calls["glue"].count("CreateJob") == 6 and "UpdateJob" not in calls["glue"]
    assert calls["s3"].count("PutObject") == 4  # the zip and the three entry scripts
    assert "6 of 6 Glue jobs changed, 4 artifacts uploaded" in capsys.readouterr().out

    (zip_path,) = (tmp_path / "build").glob("glue_jobs-*.zip")
    library = f"s3://{settings.glue_assets_bucket}/{library_key(zip_path.name)}"
    job = glue.get_job(JobName="etl-omc-flywheel-dev-infobase-split-and-part")["Job"]
    assert job["Role"] == "omc_flywheel-dev-glue-role"
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.0", "G.1X", 2)
    assert (job["Timeout"], job["MaxRetries"]) == (60, 0)
    assert job["Command"]["Name"] == "glueetl"
    arguments = job["DefaultArguments"]
    assert arguments["--extra-py-files"] == library
    assert arguments["--additional-python-modules"].startswith("dagster-pipes==")
    assert arguments["--SNAPSHOT_DT"] == "_NONE_" and arguments["--SOURCE"] == "infobase_attributes"
    assert arguments["--TARGET_PATH"] == (
        f"s3://{settings.data_bucket}/omc_cleanroom_data/split_part/infobase_attributes/"
    )
    key = script_key("split_and_part_job.py")
    assert job["Command"]["ScriptLocation"] == f"s3://{settings.glue_assets_bucket}/{key}"
    body = s3.get_object(Bucket=settings.glue_assets_bucket, Key=key)
    assert b'main("split_part")' in body["Body"].read()
    bucket_job = glue.get_job(JobName="etl-omc-flywheel-dev-addressable-bucket")["Job"]
    assert bucket_job["Command"]["ScriptLocation"].endswith("/split_and_bucket_job.py")

    # the compaction jobs: the reference's names and sizing, the split jobs' role,
    # version, retries and concurrency, the compaction script and only its arguments
    compaction = {
        name: glue.get_job(JobName=name)["Job"]
        for name in (
            "etl-omc-flywheel-dev-addressable-ids-compaction",
            "etl-omc-flywheel-dev-infobase-attributes-compaction",
        )
    }
    assert set(compaction) == {j.name(settings) for j in COMPACTION_JOBS}
    key = script_key("compaction_job.py")
    for name, deployed in compaction.items():
        assert (deployed["WorkerType"], deployed["Timeout"]) == ("G.1X", 600)
        assert deployed["NumberOfWorkers"] == (8 if "addressable" in name else 24)
        assert deployed["Role"] == job["Role"] and deployed["GlueVersion"] == "5.0"
        assert deployed["MaxRetries"] == job["MaxRetries"] == 0
        assert deployed["ExecutionProperty"] == job["ExecutionProperty"]
        assert deployed["Command"]["Name"] == "glueetl"
        assert deployed["Command"]["ScriptLocation"] == f"s3://{settings.glue_assets_bucket}/{key}"
        assert deployed["DefaultArguments"]["--extra-py-files"] == library
    body = s3.get_object(Bucket=settings.glue_assets_bucket, Key=key)["Body"].read()
    assert body == (Path(compaction_script.__file__)).read_bytes()
    source = "addressable_ids"
    console = compaction[compaction_job(source).name(settings)]["DefaultArguments"]
    assert {k: console[k] for k in ("--SOURCE", "--SNAPSHOT_DT", "--ENV")} == {
        "--SOURCE": source,
        "--SNAPSHOT_DT": "_NONE_",
        "--ENV": "dev",
    }
    assert console["--SOURCE_PATH"] == f"s3://{settings.data_bucket}/{settings.raw_prefix(source)}"
    assert console["--TARGET_PATH"] == (
        f"s3://{settings.data_bucket}/omc_cleanroom_data/addressable/addressable_ids_compaction_cr/"
    )
    assert not {"--CSV_FILE", "--TABLES_FILTER", "--BUCKET_COUNT"} & set(console)
    # a console run with the deployed defaults: the latest raw snapshot, a fresh build
    s3.create_bucket(Bucket=settings.data_bucket)
    for snapshot in ("2025-01-15", "2025-02-15"):
        raw = f"{settings.raw_prefix(source)}snapshot_dt={snapshot}/part-0.parquet"
        s3.put_object(Bucket=settings.data_bucket, Key=raw, Body=b"")
    options = compaction_script.resolve_options(as_argv(console), compaction_script.OPTIONS)
    plan = compaction_script.build_compaction_plan(
        options, None, S3Objects(s3), logging.getLogger("console")
    )
    assert plan.snapshot_dt == "2025-02-15"
    assert plan.target_uri.startswith(f"{console['--TARGET_PATH']}snapshot_dt=2025-02-15/build=")

    calls = recording_clients(monkeypatch)
    assert cli.main(["glue", "deploy", "--out", out]) == 0
    assert calls["glue"] == ["GetJob"] * 6  # no CreateJob, no UpdateJob
    assert "PutObject" not in calls["s3"]
    assert "0 of 6 Glue jobs changed, 0 artifacts uploaded" in capsys.readouterr().out


def as_argv(arguments: dict[str, str]) -> list[str]:
    """``DefaultArguments`` as Glue passes them to the script."""
    return [part for name, value in arguments.items() for part in (name, value)]


SCRIPT_OPTIONS = {
    "split_and_part_job.py": job_plan.OPTIONS,
    "split_and_bucket_job.py": job_plan.OPTIONS,
    "compaction_job.py": compaction_script.OPTIONS,
}


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_deployed_default_argument_is_glues_or_one_its_script_takes(
    tmp_path: Path, profile: str
) -> None:
    """Each job's DefaultArguments parse with its script's own parser (nothing missing)
    and hold no argument the script would ignore (a split-only one on a compaction
    job); the compaction jobs have their own sizing whatever the profile's."""
    settings: Settings = make_settings(tmp_path / "home", env=profile)
    assert {job.script for job in DEPLOYED_JOBS} == set(SCRIPT_OPTIONS)
    for job in DEPLOYED_JOBS:
        definition = job_definition(settings, job, "s3://assets/lib.zip")
        arguments = definition["DefaultArguments"]
        options = SCRIPT_OPTIONS[job.script]
        script_arguments = set(arguments) - set(GLUE_ARGUMENTS)
        assert script_arguments <= {f"--{name}" for name in options}, job.name(settings)
        parsed = job_plan.resolve_options(as_argv(arguments), options)
        assert parsed["SOURCE"] == job.source and parsed["SNAPSHOT_DT"] == "_NONE_"
        assert parsed["TARGET_PATH"] == job.target_path(settings)
        assert set(GLUE_ARGUMENTS) <= set(arguments)
        assert definition["Command"]["ScriptLocation"].endswith(f"/{job.script}")
        if isinstance(job, CompactionJob):
            assert definition["Description"].startswith(f"Flywheel compaction of {job.source}")
            assert (definition["WorkerType"], definition["Timeout"]) == ("G.1X", 600)
            assert definition["NumberOfWorkers"] == job.workers
        else:
            assert definition["WorkerType"] == settings.glue_worker_type
            assert definition["NumberOfWorkers"] == settings.glue_number_of_workers
            assert definition["Timeout"] == settings.glue_timeout_minutes
            assert {"--CSV_FILE", "--TABLES_FILTER", "--BUCKET_COUNT"} <= set(arguments)


def test_glue_deploy_refuses_the_local_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLYWHEEL_ENV", "local")
    monkeypatch.setenv("FLYWHEEL_HOME", str(tmp_path / "home"))
    assert cli.main(["glue", "deploy", "--out", str(tmp_path / "build")]) == 2
    assert "FLYWHEEL_ENV=dev or prod" in capsys.readouterr().err


def test_deploy_updates_drifted_jobs_and_creates_missing_ones(tmp_path: Path) -> None:
    """UpdateJob (which moto lacks) through Stubber: every request is validated against
    the Glue service model."""
    settings = make_settings(tmp_path / "home", env="prod")
    package = build_package(tmp_path / "build")
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    glue, s3 = session.client("glue"), session.client("s3")
    bucket = settings.glue_assets_bucket
    library = f"s3://{bucket}/{library_key(package.zip_path.name)}"
    jobs = {job.name(settings): job_definition(settings, job, library) for job in DEPLOYED_JOBS}
    names = list(jobs)
    assert names[: len(SPLIT_JOBS)] == [job.name(settings) for job in SPLIT_JOBS]
    assert jobs[names[0]]["WorkerType"] == "G.4X" and jobs[names[0]]["NumberOfWorkers"] == 10
    # the compaction jobs keep the reference's sizing in prod too
    assert [
        (jobs[n]["WorkerType"], jobs[n]["NumberOfWorkers"], jobs[n]["Timeout"]) for n in names[4:]
    ] == [
        ("G.1X", 8, 600),
        ("G.1X", 24, 600),
    ]

    with Stubber(s3) as s3_stub, Stubber(glue) as glue_stub:
        for key, data in [(library_key(package.zip_path.name), package.zip_path.read_bytes())] + [
            (script_key(name), path.read_bytes()) for name, path in sorted(package.scripts.items())
        ]:
            digest = apply._sha256(data)
            s3_stub.add_response(
                "head_object", {"Metadata": {"sha256": digest}}, {"Bucket": bucket, "Key": key}
            )
        current = {
            # scaled down by hand in the console
            names[0]: {**jobs[names[0]], "NumberOfWorkers": 2},
            # an argument added by hand; the role shown as an ARN (same role)
            names[1]: {
                **jobs[names[1]],
                "DefaultArguments": {**jobs[names[1]]["DefaultArguments"], "--debug": "true"},
            },
            # identical but for what AWS adds: ARN role, extra Command keys
            names[2]: {
                **jobs[names[2]],
                "Role": f"arn:aws:iam::123456789012:role/{settings.glue_role}",
                "Command": {**jobs[names[2]]["Command"], "Runtime": "Spark"},
                "MaxCapacity": 40.0,
            },
            # a compaction job deployed with the split jobs' sizing
            names[4]: {**jobs[names[4]], "Timeout": 60, "NumberOfWorkers": 10},
            # the other one identical
            names[5]: jobs[names[5]],
        }
        for name in names:
            if name in current:
                glue_stub.add_response(
                    "get_job", {"Job": {"Name": name, **current[name]}}, {"JobName": name}
                )
            else:
                glue_stub.add_client_error(
                    "get_job", "EntityNotFoundException", expected_params={"JobName": name}
                )
            if name in (names[0], names[1], names[4]):
                glue_stub.add_response(
                    "update_job", {"JobName": name}, {"JobName": name, "JobUpdate": jobs[name]}
                )
            elif name == names[3]:
                glue_stub.add_response("create_job", {"Name": name}, {"Name": name, **jobs[name]})

        report = deploy_glue_jobs(settings, package, glue=glue, s3=s3, log=lambda _: None)

        glue_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
    assert report.uploaded == []
    assert report.jobs == {
        names[0]: "updated",
        names[1]: "updated",
        names[2]: "unchanged",
        names[3]: "created",
        names[4]: "updated",
        names[5]: "unchanged",
    }
    assert report.changes == {
        names[0]: ["NumberOfWorkers"],
        names[1]: ["DefaultArguments"],
        names[4]: ["Timeout", "NumberOfWorkers"],
    }
