"""Every statement the project sends to Athena, parsed with Athena's own grammars.

Athena routes a statement to one of two engines: DDL without a SELECT (``DROP TABLE``,
``MSCK REPAIR TABLE``) to Hive, DML and CTAS to Trino. sqlglot's ``athena`` dialect
routes the same way; each statement is parsed with it and with the engine's own dialect
(``hive`` or ``trino``), must be exactly one statement, must not fall back to sqlglot's
opaque ``Command``, and must name the tables and columns it was built for. ``MSCK
REPAIR`` has no grammar in sqlglot: its fixed head is compared and the table it names
is parsed with Hive's grammar for a table reference.

The statements come from the real builders over the shipped registry and the ``dev``
profile, and a second test drives the code that sends them (the bucketed CTAS, the
monitor, the audit, partition repair) through an ``AthenaSql`` that records instead of
calling AWS, to prove the collection misses nothing. Partition registration and
partition projection send no SQL (Glue API calls and table parameters); the projection
parameters are checked against Athena's documented form here too.

Names from the registry and the settings go through ``checks.sql.identifier`` before
they reach SQL: the last tests give it bad names and assert the refusal names them and
that no query was started.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from flywheel_assets import layout
from flywheel_assets.adapters.athena_sql import AthenaSql, ctas_statement, drop_table_statement
from flywheel_assets.adapters.s3_lake import S3Lake
from flywheel_assets.assets.bucketed import rebuild_bucketed, staging_table_name
from flywheel_assets.builds import BUILD_PARAMETER
from flywheel_assets.checks import rules
from flywheel_assets.checks.audit import _integrity, dataset_relation
from flywheel_assets.checks.monitor import TableMonitor
from flywheel_assets.checks.selection import KEY_CHECKS
from flywheel_assets.checks.sql import (
    MAX_IDENTIFIER_LENGTH,
    SqlIdentifierError,
    duplicate_examples_sql,
    identifier,
    key_profile_sql,
    msck_repair_sql,
    null_examples_sql,
    row_count_sql,
    table_name,
)
from flywheel_assets.config.registry import load_registry
from flywheel_assets.config.settings import Settings, load_settings
from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import Column, TableDefinition, TableInfo
from glue_jobs.registry import KEY_COLUMN, PARTITION_COLUMN, TableSpec
from glue_jobs.transforms import Manifest

SNAPSHOT = "2025-01-15"
BUILD_ID = "20250115T103000Z-1a2b3c4d"
MSCK_HEAD = "MSCK REPAIR TABLE "
# Athena's CTAS table properties for Hive tables (Athena user guide, "CTAS table properties")
CTAS_PROPERTIES = {
    "table_type",
    "external_location",
    "is_external",
    "format",
    "write_compression",
    "orc_compression",
    "parquet_compression",
    "compression_level",
    "field_delimiter",
    "partitioned_by",
    "bucketed_by",
    "bucket_count",
}
CTAS_FORMATS = {"PARQUET", "ORC", "AVRO", "JSON", "TEXTFILE"}


def dev_settings(**environ: str) -> Settings:
    return load_settings("dev", environ={f"FLYWHEEL_{k.upper()}": v for k, v in environ.items()})


@dataclass(frozen=True)
class Statement:
    """One statement as sent to Athena, and what its parse tree must say."""

    builder: str  # which builder made it (a statement shape)
    sql: str
    engine: str  # Athena's engine for it: "hive" (DDL) or "trino" (DML, CTAS)
    tables: tuple[str, ...]  # db.table it reads or writes
    columns: tuple[str, ...] = ()  # column names it must reference


def athena_statements(settings: Settings, tables: list[TableSpec]) -> list[Statement]:
    """Every statement the pipeline, the monitor and the audit send to Athena for
    ``tables`` on one snapshot and build, from the builders they call."""
    db, pk, bucket = settings.glue_database, settings.pk_column, settings.bucket_column
    lake = S3Lake(settings.data_bucket, settings.region, client=object())
    compare_db = settings.compare_database or db
    out: list[Statement] = []
    for t in tables:
        staging = staging_table_name(t, BUILD_ID)
        location = lake.uri(
            layout.bucketed_snapshot_prefix(settings, t, SNAPSHOT) + layout.build_folder(BUILD_ID)
        )
        part, ext = table_name(db, t.part_table), table_name(db, t.ext_table)
        source = table_name(compare_db, f"{settings.compare_source_type}_{t.slug}")
        out += [
            # bucketed pipeline: CTAS into a staging table, its row count and the source's
            Statement(
                "ctas",
                ctas_statement(
                    db, staging, db, t.ext_table, location, bucket, settings.bucket_count
                ),
                "trino",
                (f"{db}.{staging}", ext),
                (bucket,),
            ),
            Statement("count", row_count_sql(db, staging), "trino", (f"{db}.{staging}",)),
            Statement("count", row_count_sql(db, t.ext_table), "trino", (ext,)),
            Statement("drop", drop_table_statement(db, staging), "hive", (f"{db}.{staging}",)),
            # partition repair (auto_repair=athena, partition_registration=msck)
            Statement("msck", msck_repair_sql(db, t.part_table), "hive", (part,)),
            # the monitor: one profile statement (with and without the count source), then
            # example keys and partitions only when there is a problem
            Statement(
                "key_profile",
                key_profile_sql(part, pk, source),
                "trino",
                (part, source),
                (pk,),
            ),
            Statement("key_profile", key_profile_sql(part, pk), "trino", (part,), (pk,)),
            Statement(
                "duplicate_examples", duplicate_examples_sql(part, pk), "trino", (part,), (pk,)
            ),
            Statement(
                "null_examples",
                null_examples_sql(part, pk),
                "trino",
                (part,),
                (PARTITION_COLUMN, pk),
            ),
        ]
        # the audit: over a temporary table on the build directory (split_part's with
        # partition projection on id_bucket; split_cluster has no id_bucket to show)
        for kind in ("split_part", "split_cluster"):
            relation = table_name(db, f"audit_{kind}_{t.slug}_{SNAPSHOT.replace('-', '')}")
            out += [
                Statement(
                    "key_profile",
                    key_profile_sql(relation, KEY_COLUMN),
                    "trino",
                    (relation,),
                    (KEY_COLUMN,),
                ),
                Statement(
                    "duplicate_examples",
                    duplicate_examples_sql(relation, KEY_COLUMN),
                    "trino",
                    (relation,),
                    (KEY_COLUMN,),
                ),
            ]
            if kind == "split_part":
                out.append(
                    Statement(
                        "null_examples",
                        null_examples_sql(relation, KEY_COLUMN),
                        "trino",
                        (relation,),
                        (PARTITION_COLUMN, KEY_COLUMN),
                    )
                )
    return out


# ---- parsing --------------------------------------------------------------------------


def qualified(table: exp.Table) -> str:
    assert not table.catalog, f"{table.sql()} names a catalog"
    return f"{table.db}.{table.name}"


def parse_athena(statement: Statement) -> exp.Expression | None:
    """Parse as Athena does (athena dialect, then the engine it routes to); returns the
    tree, or None for MSCK REPAIR (checked by hand: sqlglot has no grammar for it)."""
    if statement.builder == "msck":
        assert statement.sql.startswith(MSCK_HEAD), statement.sql
        target = sqlglot.parse_one(
            statement.sql.removeprefix(MSCK_HEAD), read="hive", into=exp.Table
        )
        assert qualified(target) == statement.tables[0]
        return None
    trees = {}
    for dialect in ("athena", statement.engine):
        parsed = sqlglot.parse(statement.sql, read=dialect)
        assert len(parsed) == 1, f"{dialect}: not exactly one statement: {statement.sql}"
        (tree,) = parsed
        assert tree is not None and not isinstance(tree, exp.Command), (
            f"{dialect} could not parse it (fell back to an opaque command): {statement.sql}"
        )
        trees[dialect] = tree
    assert trees["athena"] == trees[statement.engine], f"athena and {statement.engine} differ"
    return trees["athena"]


def check_tree(statement: Statement, tree: exp.Expression) -> None:
    named = {qualified(t) for t in tree.find_all(exp.Table)}
    assert named == set(statement.tables), statement.sql
    columns = {c.name for c in tree.find_all(exp.Column)}
    if statement.builder == "ctas":
        check_ctas(statement, tree)
    elif statement.builder == "drop":
        assert isinstance(tree, exp.Drop) and tree.args.get("kind") == "TABLE"
        assert tree.args.get("exists") is True
    else:
        assert isinstance(tree, exp.Select), statement.sql
        assert set(statement.columns) <= columns, statement.sql


def ctas_properties(tree: exp.Expression) -> dict[str, exp.Expression]:
    """The CTAS ``WITH (...)`` properties by name (sqlglot lifts ``format`` into its own
    node)."""
    properties: dict[str, exp.Expression] = {}
    for prop in tree.args["properties"].expressions:
        if isinstance(prop, exp.FileFormatProperty):
            properties["format"] = prop.this
        else:
            properties[prop.name] = prop.args["value"]
    return properties


def check_ctas(statement: Statement, tree: exp.Expression) -> None:
    assert isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE"
    assert qualified(tree.this) == statement.tables[0]
    select = tree.expression
    assert isinstance(select, exp.Select) and select.is_star
    assert qualified(select.args["from_"].this) == statement.tables[1]
    properties = ctas_properties(tree)
    assert set(properties) <= CTAS_PROPERTIES, set(properties) - CTAS_PROPERTIES
    assert properties["format"].name in CTAS_FORMATS
    assert properties["write_compression"].name == "SNAPPY"
    assert properties["external_location"].is_string
    assert properties["external_location"].name.startswith("s3://")
    bucketed_by = properties["bucketed_by"]
    assert isinstance(bucketed_by, exp.Array)
    assert [e.name for e in bucketed_by.expressions] == list(statement.columns)
    assert all(e.is_string for e in bucketed_by.expressions)
    count = properties["bucket_count"]
    assert count.is_int and int(count.name) >= 1


@pytest.fixture(scope="module")
def shipped() -> tuple[Settings, list[TableSpec]]:
    return dev_settings(), list(load_registry())


@pytest.fixture(scope="module")
def statements(shipped) -> list[Statement]:
    return athena_statements(*shipped)


def test_every_athena_statement_parses_with_athena_grammar(shipped, statements) -> None:
    distinct = {s.sql for s in statements}
    builders = {s.builder for s in statements}
    assert builders == {
        "ctas",
        "count",
        "drop",
        "msck",
        "key_profile",
        "duplicate_examples",
        "null_examples",
    }
    # 14 a table (378 for the shipped 27): CTAS, 2 counts, DROP, MSCK, 4 monitor, 5 audit
    assert len(distinct) == len(statements) == 14 * len(shipped[1])
    for statement in statements:
        tree = parse_athena(statement)
        if tree is not None:
            check_tree(statement, tree)


def test_the_ctas_parses_as_athena_ctas_with_its_bucketing_properties(shipped) -> None:
    settings, _ = shipped
    sql = ctas_statement(
        "omc_flywheel_dev",
        "bucketed_ibe_01_a__build_x",
        "omc_flywheel_dev",
        "ext_ibe_01_a",
        "s3://omc-flywheel-data-us-east-1-dev/cleanroom_tables/bucketed/o'brien/",
        settings.bucket_column,
        settings.bucket_count,
    )
    tree = sqlglot.parse_one(sql, read="athena")
    properties = ctas_properties(tree)
    # the quote in the location is a doubled quote inside the literal, not its end
    assert properties["external_location"].name.endswith("/o'brien/")
    assert properties["bucket_count"].name == "256"
    # Trino's grammar needs the commas and ARRAY[...]: a mangled property list fails
    with pytest.raises(ParseError):
        sqlglot.parse_one(sql.replace(", bucket_count", " bucket_count"), read="athena")
    with pytest.raises(ParseError):
        sqlglot.parse_one(sql.replace("ARRAY[", "ARRAY("), read="trino")


def test_the_athena_bucket_expression_is_trino_sql(shipped) -> None:
    """The port's id_bucket expression (not sent by the pipeline today) parses too."""
    settings, tables = shipped
    athena = CapturingAthena(settings)
    expr = athena.bucket_expr(settings.bucket_column, settings.bucket_count)
    tree = sqlglot.parse_one(
        f"SELECT {expr} AS id_bucket FROM {settings.glue_database}.{tables[0].part_table}",
        read="athena",
    )
    assert {c.name for c in tree.find_all(exp.Column)} == {settings.bucket_column}
    assert "to_utf8" in tree.sql(dialect="trino").lower()


def test_every_name_the_shipped_registry_and_profiles_put_in_sql_is_legal() -> None:
    for env in ("local", "dev", "prod"):
        settings = load_settings(env, environ={})
        for name, what in (
            (settings.glue_database, "database"),
            (settings.pk_column, "pk column"),
            (settings.bucket_column, "bucket column"),
        ):
            assert identifier(name, what) == name
        for t in load_registry():
            for name in (
                t.part_table,
                t.ext_table,
                t.bucketed_table,
                t.er_table,
                staging_table_name(t, BUILD_ID),
                f"{settings.compare_source_type}_{t.slug}",
                f"audit_split_cluster_{t.slug}_20250115",
            ):
                table_name(settings.glue_database, name)


# ---- the code that sends them ---------------------------------------------------------


class NoCalls:
    """An AWS client that must not be used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an Athena call was made: {name}")


class CapturingAthena(AthenaSql):
    """AthenaSql whose SQL building is real and whose sending is recorded."""

    def __init__(self, settings: Settings, problems: bool = True) -> None:
        super().__init__(
            "primary",
            "s3://results/",
            settings.glue_database,
            settings.region,
            client=NoCalls(),
        )
        self.statements: list[str] = []
        self.problems = problems

    def execute(self, statement: str) -> None:
        self.statements.append(statement)

    def query(self, statement: str) -> list[dict[str, Any]]:
        self.statements.append(statement)
        bad = 2 if self.problems else 0
        if "count_part" in statement:
            return [
                {"count_part": 10, "pk_nulls": bad, "pk_dupes": bad, "count_src": 10},
            ]
        if " AS b," in statement:
            return [{"b": 3, "c": bad}]
        if " AS k," in statement:
            return [{"k": "CU1", "c": bad}]
        return [{"n": 10}]


@dataclass
class FakeCatalog:
    """Enough of a Glue catalog for the bucketed build, the monitor and the audit."""

    snapshot: str
    calls: list[tuple[str, str]] = field(default_factory=list)

    def get_table(self, database: str, name: str) -> TableInfo:
        self.calls.append(("get", name))
        return TableInfo(
            database,
            name,
            "EXTERNAL_TABLE",
            f"s3://b/{name}/snapshot_dt={self.snapshot}/",
            (Column(KEY_COLUMN, "string"),),
            (Column(PARTITION_COLUMN, "int"),) if name.startswith("part_") else (),
            "serde",
            "input",
            parameters={"snapshot_dt": self.snapshot, BUILD_PARAMETER: BUILD_ID},
        )

    def drop_table(self, database: str, name: str) -> None:
        self.calls.append(("drop", name))

    def publish_table(self, table: TableDefinition) -> None:
        self.calls.append(("publish", table.name))
        self.published = table


class FakeLake(S3Lake):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.data_bucket, settings.region, client=NoCalls())
        self.deleted: list[str] = []

    def delete_prefix(self, prefix: str) -> None:
        self.deleted.append(prefix)

    def list_objects(self, prefix: str) -> list[Any]:
        return []

    def list_folders(self, prefix: str) -> list[str]:
        return []


def athena_platform(settings: Settings, tables: list[TableSpec]) -> Platform:
    return Platform(
        settings,
        load_registry(),
        lake=FakeLake(settings),
        catalog=FakeCatalog(SNAPSHOT),  # type: ignore[arg-type]
        sql=CapturingAthena(settings),
    )


def drive_athena_paths(platform: Platform, table: TableSpec) -> list[str]:
    """The bucketed build, the monitor's key rules, the audit's statements and a
    partition repair, as the assets run them, on one table."""
    sql: CapturingAthena = platform.sql  # type: ignore[assignment]
    source = platform.catalog.get_table(platform.database, table.ext_table)
    rebuild_bucketed(platform, table, SNAPSHOT, source, BUILD_ID)
    monitor = TableMonitor(platform, table, SNAPSHOT, dt.datetime(2025, 1, 16, tzinfo=dt.UTC))
    results = monitor.keys(KEY_CHECKS)
    assert all(r.check in KEY_CHECKS for r in results)
    for kind in ("split_part", "split_cluster"):
        prefix = layout.dataset_build_prefix(platform.settings, kind, table, SNAPSHOT, BUILD_ID)
        manifest = Manifest(table.name, kind, SNAPSHOT, platform.lake.uri(prefix), 10, 10, 0, 1, [])
        _integrity(platform, kind, table, manifest, prefix)
    sql.msck_repair(platform.database, table.part_table)
    return sql.statements


def test_the_code_sends_only_statements_of_the_collection(shipped, statements) -> None:
    settings, tables = shipped
    collected = {s.sql for s in statements}
    for table in (tables[0], tables[-1]):  # an infobase table and the addressable ids
        sent = drive_athena_paths(athena_platform(settings, tables), table)
        assert len(sent) == 12  # CTAS, 2 counts, 3 monitor, 3 + 2 audit, MSCK (no DROP)
        assert set(sent) <= collected, set(sent) - collected


def test_partition_projection_parameters_have_athena_form(shipped) -> None:
    """The audit's temporary split_part table: projection by table parameters (no DDL)."""
    settings, tables = shipped
    platform = athena_platform(settings, tables)
    prefix = layout.dataset_build_prefix(settings, "split_part", tables[0], SNAPSHOT, BUILD_ID)
    with dataset_relation(platform, "split_part", tables[0], SNAPSHOT, prefix):
        staged: TableDefinition = platform.catalog.published  # type: ignore[attr-defined]
    (key,) = staged.partition_keys
    parameters = staged.parameters
    assert rules.projection_enabled(parameters)
    assert parameters[f"projection.{key.name}.type"] == "integer"
    low, high = map(int, parameters[f"projection.{key.name}.range"].split(","))
    assert (low, high) == (0, settings.bucket_count - 1)
    template = parameters["storage.location.template"]
    assert template.startswith("s3://") and f"{key.name}=${{{key.name}}}" in template
    assert all(
        re.fullmatch(r"projection\.(enabled|\w+\.(type|range))", k)
        for k in parameters
        if k.startswith("projection.")
    )


# ---- names that are not identifiers are refused -------------------------------------

BAD_NAMES = [
    "x; DROP TABLE y",
    "a-b",
    '"quoted"',
    "`quoted`",
    "",
    "a" * (MAX_IDENTIFIER_LENGTH + 1),
    "_leading_underscore",
    "1starts_with_digit",
    "select",
    "table",
    "name\n",
    "tab le",
    "naïve",
]


@pytest.mark.parametrize("bad", BAD_NAMES, ids=lambda n: repr(n)[:24])
def test_a_bad_name_is_refused_with_its_name(bad: str) -> None:
    with pytest.raises(SqlIdentifierError) as raised:
        identifier(bad, "table name")
    message = str(raised.value)
    assert repr(bad) in message and "table name" in message
    assert "refusing" in message
    for build in (
        lambda: table_name(bad, "t"),
        lambda: table_name("db", bad),
        lambda: row_count_sql("db", bad),
        lambda: msck_repair_sql(bad, "t"),
        lambda: drop_table_statement("db", bad),
        lambda: key_profile_sql("db.t", bad),
        lambda: duplicate_examples_sql("db.t", bad),
        lambda: null_examples_sql("db.t", bad),
    ):
        with pytest.raises(SqlIdentifierError, match=re.escape(repr(bad)[:30])):
            build()


def test_the_too_long_name_error_says_why() -> None:
    with pytest.raises(SqlIdentifierError, match="256 characters long; Athena allows at most 255"):
        identifier("a" * 256)
    assert identifier("a" * 255) == "a" * 255


@pytest.mark.parametrize(
    "position", ["database", "name", "source_database", "source_table", "bucket_column"]
)
@pytest.mark.parametrize("bad", ["x; DROP TABLE y", "a-b", '"quoted"', "", "a" * 256])
def test_the_ctas_refuses_a_bad_name_before_any_athena_call(position: str, bad: str) -> None:
    arguments = {
        "database": "omc_flywheel_dev",
        "name": "bucketed_ibe_01_a__build_x",
        "source_database": "omc_flywheel_dev",
        "source_table": "ext_ibe_01_a",
        "location": "s3://b/bucketed/",
        "bucket_column": "customer_user_id",
        "bucket_count": 256,
        "comment": "",
        position: bad,
    }
    # the real AthenaSql, with a client that fails the test if it is called at all
    sql = AthenaSql("primary", "s3://results/", "omc_flywheel_dev", "us-east-1", client=NoCalls())
    with pytest.raises(SqlIdentifierError, match=re.escape(repr(bad)[:30])):
        sql.create_bucketed_table_as(**arguments)
    with pytest.raises(SqlIdentifierError):
        sql.msck_repair(bad, "part_ibe_01_a") if position.endswith("database") else sql.msck_repair(
            "omc_flywheel_dev", bad
        )


def test_the_ctas_refuses_a_location_athena_cannot_write() -> None:
    with pytest.raises(ValueError, match="s3://"):
        ctas_statement("d", "t", "d", "s", "file:///tmp/x/", "customer_user_id", 256)
    with pytest.raises(ValueError, match="bucket_count"):
        ctas_statement("d", "t", "d", "s", "s3://b/x/", "customer_user_id", 0)


@pytest.mark.parametrize(
    "override", [{"glue_database": "omc-flywheel-dev"}, {"bucket_column": "customer user id"}]
)
def test_a_bad_setting_stops_the_bucketed_build_before_anything_is_touched(override) -> None:
    settings = dev_settings(**override)
    tables = list(load_registry())
    platform = athena_platform(settings, tables)
    source = TableInfo(
        settings.glue_database,
        tables[0].ext_table,
        "EXTERNAL_TABLE",
        "s3://b/x/",
        (),
        (),
        "serde",
        "input",
        parameters={"snapshot_dt": SNAPSHOT},
    )
    with pytest.raises(SqlIdentifierError, match=re.escape(repr(next(iter(override.values()))))):
        rebuild_bucketed(platform, tables[0], SNAPSHOT, source, BUILD_ID)
    assert platform.sql.statements == []  # type: ignore[attr-defined]
    assert platform.catalog.calls == []  # type: ignore[attr-defined]
    assert platform.lake.deleted == []  # type: ignore[attr-defined]


def test_a_bad_pk_column_fails_the_monitor_rules_without_a_query() -> None:
    settings = dev_settings(pk_column="id; DROP TABLE part_ibe_01_a")
    tables = list(load_registry())
    platform = athena_platform(settings, tables)
    monitor = TableMonitor(platform, tables[0], SNAPSHOT, dt.datetime(2025, 1, 16, tzinfo=dt.UTC))
    results = monitor.evaluate(KEY_CHECKS).results
    assert [r.check for r in results] == list(KEY_CHECKS)
    assert all(not r.passed for r in results)
    assert all("'id; DROP TABLE part_ibe_01_a'" in r.summary for r in results)
    assert platform.sql.statements == []  # type: ignore[attr-defined]


def test_a_bad_database_stops_the_audit_before_its_temporary_table() -> None:
    settings = dev_settings(glue_database="omc flywheel")
    tables = list(load_registry())
    platform = athena_platform(settings, tables)
    prefix = layout.dataset_build_prefix(settings, "split_part", tables[0], SNAPSHOT, BUILD_ID)
    with (
        pytest.raises(SqlIdentifierError, match="'omc flywheel'"),
        dataset_relation(platform, "split_part", tables[0], SNAPSHOT, prefix),
    ):
        pass
    assert platform.catalog.calls == []  # type: ignore[attr-defined]
