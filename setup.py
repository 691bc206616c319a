"""Package metadata for the Flywheel Dagster code location (see pyproject.toml for tools)."""

from setuptools import find_packages, setup

setup(
    name="flywheel_assets",
    version="0.1.0",
    description="Dagster code location for the Flywheel Cleanroom data platform",
    python_requires=">=3.11",
    packages=find_packages(include=["flywheel_assets*", "glue_jobs*"]),
    package_data={"flywheel_assets": ["config/*.csv", "config/*.toml"]},
    install_requires=[
        "dagster>=1.13,<1.14",
        "dagster-webserver>=1.13,<1.14",
        "dagster-aws>=0.29,<0.30",
        "dagster-pyspark>=0.29,<0.30",
        "dagster-pipes>=1.13,<1.14",
        "pyspark>=4.0,<4.4",
        "boto3>=1.35",
        "pandas<3",
        "pyarrow>=14",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "moto[server,s3,glue,athena,sns,sqs,cloudformation]>=5.1,<6",
            # botocore 1.44.18 moved Athena to the rest-json protocol, which moto (5.2.6)
            # does not route yet; production installs are not held back by this.
            "botocore<1.44.18",
            "ruff>=0.6",
            "duckdb>=1.1",
            # the Athena (Hive DDL + Trino DML) grammar every statement sent to Athena is
            # parsed with (flywheel_assets_tests/adapters/test_athena_sql_grammar.py)
            "sqlglot>=30,<31",
            "dagster-dg-cli>=1.13,<1.14",
            # make e2e drives the system's Chromium (no browser download)
            "playwright>=1.45",
            # the CloudFormation templates of `flywheel infra` (flywheel_assets_tests/infra,
            # make lint-infra)
            "cfn-lint>=1.20,<2",
        ],
    },
    entry_points={"console_scripts": ["flywheel=flywheel_assets.cli:main"]},
)
