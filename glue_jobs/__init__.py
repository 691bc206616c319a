"""Pure PySpark transforms and the AWS Glue entry scripts that call them.

This package must import without Dagster: it is shipped to Glue as ``--extra-py-files``.
The local profile imports the same functions and runs them in process.
"""
