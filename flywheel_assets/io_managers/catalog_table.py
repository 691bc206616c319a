"""IO manager for catalog-table assets: publishes a TableDefinition via the catalog port.

The asset computes the definition (columns, location, partitions, properties); this
manager is the only place that writes it, so every table is published the same way.
A :class:`Publication` also carries reader markers (``metadata/snapshot_dt.txt``),
written only once the table points at the new data; a :class:`PartitionGroup` publishes
one snapshot of a history table, leaving its other snapshots as they are. ``load_input``
returns the catalog's :class:`TableInfo` for downstream tables.
"""

# no ``from __future__ import annotations``: Dagster reads the ResourceDependency
# annotation at class creation
from dataclasses import replace

import dagster as dg

from flywheel_assets.platform import Platform
from flywheel_assets.ports.catalog import TableDefinition, TableInfo
from flywheel_assets.publishing import PartitionGroup, Publication


class CatalogTableIOManager(dg.ConfigurableIOManager):
    """Publishes through the run's ``platform`` resource (declared, not captured)."""

    platform: dg.ResourceDependency[Platform]

    def handle_output(
        self,
        context: dg.OutputContext,
        obj: TableDefinition | Publication | PartitionGroup | None,
    ) -> None:
        if obj is None:
            return
        markers: dict[str, str] = {}
        if isinstance(obj, Publication):
            obj, markers = obj.definition, obj.markers
        if isinstance(obj, PartitionGroup):
            # always through the catalog API: MSCK cannot map build=<id>/ folders to groups
            self.platform.catalog.publish_partition_group(obj.definition, obj.leading)
            obj = obj.definition
        elif obj.partition_keys and self.platform.settings.partition_registration == "msck":
            # the reference's way: repoint, then let MSCK REPAIR discover the partitions
            self.platform.catalog.publish_table(replace(obj, partitions={}))
            self.platform.sql.msck_repair(obj.database, obj.name)
        else:
            self.platform.catalog.publish_table(obj)
        for key, text in markers.items():
            self.platform.lake.write_text(key, text)
        context.add_output_metadata(
            {
                "dagster/table_name": f"{obj.database}.{obj.name}",
                "dagster/uri": dg.MetadataValue.path(obj.location),
                "dagster/column_schema": dg.TableSchema(
                    columns=[
                        dg.TableColumn(c.name, c.type) for c in obj.columns + obj.partition_keys
                    ]
                ),
                "partitions_registered": dg.MetadataValue.int(len(obj.partitions)),
                "comment": dg.MetadataValue.text(obj.comment),
            }
        )

    def load_input(self, context: dg.InputContext) -> TableInfo:
        name = context.asset_key.path[-1]
        info = self.platform.catalog.get_table(self.platform.database, name)
        if info is None:
            raise LookupError(f"{self.platform.database}.{name} is not in the catalog")
        return info
