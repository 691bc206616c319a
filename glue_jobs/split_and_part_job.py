"""Glue entry script of the reference's Split & Part jobs.

Deployed as ``<job_name_prefix>-infobase-split-and-part`` and
``<job_name_prefix>-addressable-split-and-part``: one script, the source is the
``--SOURCE`` argument. Arguments: ``glue_jobs/job_plan.py``; the run and the Dagster Pipes protocol:
``glue_jobs/runtime.py``.
"""

from glue_jobs.runtime import main

if __name__ == "__main__":
    main("split_part")
