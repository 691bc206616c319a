"""The one partitions definition: dynamic ``snapshot_dt`` keys (ISO dates)."""

import dagster as dg

SNAPSHOT_PARTITIONS = dg.DynamicPartitionsDefinition(name="snapshot_dt")
