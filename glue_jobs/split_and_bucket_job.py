"""Glue entry script of the reference's Split & Bucket jobs (``split_cluster``).

Deployed as ``<job_name_prefix>-infobase-split-and-bucket`` and
``<job_name_prefix>-addressable-bucket``: one script, the source is the ``--SOURCE``
argument. Arguments: ``glue_jobs/job_plan.py``; the run and the Dagster Pipes protocol:
``glue_jobs/runtime.py``.
"""

from glue_jobs.runtime import main

if __name__ == "__main__":
    main("split_cluster")
