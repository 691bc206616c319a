"""Lake Formation writer/reader separation, as the stacks grant it (``lf_check.py``).

The reader reads the published ``part_*``, ``part_*_er`` and ``bucketed_*`` tables of
every registry table and nothing else; the publisher (Dagster role) holds what publishing
and the CTAS from ``ext_*`` to ``bucketed_*`` need; the Glue job role gets nothing; the
published data lies in registered locations and raw does not. Lake Formation itself is
not in moto: this is checked on the templates.
"""

from __future__ import annotations

import pytest

from flywheel_assets import layout
from flywheel_assets.config.registry import load_registry
from flywheel_assets.deploy import iam, names
from flywheel_assets.deploy.infra import lake_formation
from flywheel_assets.deploy.infra.lake_formation import ctas_permissions, published_tables
from flywheel_assets.deploy.infra.template import STACKS
from flywheel_assets_tests.aws_calls import AwsCall
from flywheel_assets_tests.iam_check import denied
from flywheel_assets_tests.infra.helpers import AWS_PROFILES, by_key, infra_settings, stacks_of
from flywheel_assets_tests.infra.lf_check import ACCOUNT, allows, granted, role_arn

SNAPSHOT = "2025-01-15"
BUILD = "20250115T000000Z-1a2b3c4d"


def table(database: str, name: str) -> dict:
    return {"Table": {"DatabaseName": database, "Name": name}}


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_the_reader_selects_and_describes_the_published_tables_only(env):
    settings = infra_settings(env)
    database = settings.glue_database
    grants = granted(stacks_of(env))
    reader = role_arn(names.role_name(settings, "cleanrooms_reader"))
    mine = [g for g in grants if g.principal == reader]
    registry = load_registry()
    assert len(mine) == 3 * len(list(registry))
    assert {g.permissions for g in mine} == {frozenset({"SELECT", "DESCRIBE"})}
    assert all("Table" in g.resource and "Name" in g.resource["Table"] for g in mine)
    for spec in registry:
        for name in published_tables(spec):
            for permission in ("SELECT", "DESCRIBE"):
                assert allows(grants, reader, permission, table(database, name)), name
        refused = (
            spec.ext_table,  # staging of the CTAS
            f"{spec.bucketed_table}__build_20250115t000000z_1a2b3c4d",  # the CTAS target
            f"audit_split_part_{spec.slug}_20250115",  # an audit's temporary table
        )
        for name in refused:
            assert not allows(grants, reader, "SELECT", table(database, name)), name
        for permission in ("INSERT", "ALTER", "DROP", "DELETE"):
            assert not allows(grants, reader, permission, table(database, spec.part_table))
    assert not allows(grants, reader, "CREATE_TABLE", {"Database": {"Name": database}})
    location = lake_formation.locations(settings)["SplitPartLocation"]
    assert not allows(
        grants, reader, "DATA_LOCATION_ACCESS", {"DataLocation": {"ResourceArn": location}}
    )


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_the_publisher_holds_what_publishing_and_the_ctas_from_ext_need(env):
    settings = infra_settings(env)
    database = settings.glue_database
    grants = granted(stacks_of(env))
    dagster = role_arn(names.role_name(settings, "dagster"))
    for spec in load_registry():
        for permission, resource in ctas_permissions(settings, spec):
            assert allows(grants, dagster, permission, resource), (spec.name, permission)
        # the CTAS's target location for one build lies in the granted bucketed location
        build = layout.bucketed_snapshot_prefix(settings, spec, SNAPSHOT) + f"build={BUILD}"
        target = {"DataLocation": {"ResourceArn": f"arn:aws:s3:::{settings.data_bucket}/{build}"}}
        assert allows(grants, dagster, "DATA_LOCATION_ACCESS", target)
        for name in (spec.part_table, spec.er_table, spec.ext_table):
            for permission in ("ALTER", "INSERT", "DELETE", "DROP", "SELECT", "DESCRIBE"):
                assert allows(grants, dagster, permission, table(database, name))


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_the_glue_job_and_the_deployer_get_no_grant(env):
    settings = infra_settings(env)
    principals = {g.principal for g in granted(stacks_of(env))}
    assert principals == {
        role_arn(names.role_name(settings, "dagster")),
        role_arn(names.role_name(settings, "cleanrooms_reader")),
    }
    assert set(lake_formation.NOT_GRANTED) == {"glue_job", "deployer"}


@pytest.mark.parametrize("env", AWS_PROFILES)
def test_published_data_is_registered_and_raw_is_not(env):
    settings = infra_settings(env)
    stacks = by_key(stacks_of(env))
    registered = [
        r["Properties"]["ResourceArn"]
        for r in stacks["lake-formation"].resources.values()
        if r["Type"] == "AWS::LakeFormation::Resource"
    ]
    assert all(
        r["Properties"]["UseServiceLinkedRole"]
        for r in stacks["lake-formation"].resources.values()
        if r["Type"] == "AWS::LakeFormation::Resource"
    )
    paths = [p["Fn::Sub"].replace("${AWS::Partition}", "aws") for p in registered]
    assert paths == list(lake_formation.locations(settings).values())

    def registered_path(key: str) -> bool:
        arn = f"arn:aws:s3:::{settings.data_bucket}/{key}"
        return any(arn.startswith(p + "/") for p in paths)

    spec = load_registry().get("IBE_01_A")
    for kind in ("split_part", "split_cluster"):
        assert registered_path(layout.dataset_build_prefix(settings, kind, spec, SNAPSHOT, BUILD))
    assert registered_path(layout.bucketed_snapshot_prefix(settings, spec, SNAPSHOT))
    assert not registered_path(layout.raw_snapshot_prefix(settings, spec.source, SNAPSHOT))
    # the writer grants do not depend on the registry; the reader's are their own stack
    assert [k for k in STACKS if k.endswith("grants")] == ["table-grants"]


def test_iam_and_lake_formation_agree_on_what_the_reader_reads():
    """Both must allow a read: IAM lets the reader's role ask for the published tables
    (and the data, for a location Lake Formation does not govern), never ext_*."""
    settings = infra_settings("dev")
    document = iam.policy("cleanrooms_reader", settings, ACCOUNT)
    database = settings.glue_database
    spec = load_registry().get("IBE_01_A")
    for name in published_tables(spec):
        call = AwsCall("x", "glue", "GetTable", {"DatabaseName": database, "Name": name})
        assert denied(document, [call], settings.region, ACCOUNT) == [], name
    ext = AwsCall("x", "glue", "GetTable", {"DatabaseName": database, "Name": spec.ext_table})
    assert denied(document, [ext], settings.region, ACCOUNT)
    bucketed_key = layout.bucketed_snapshot_prefix(settings, spec, SNAPSHOT) + "b/0_x.parquet"
    read = AwsCall("x", "s3", "GetObject", {"Bucket": settings.data_bucket, "Key": bucketed_key})
    assert denied(document, [read], settings.region, ACCOUNT) == []
