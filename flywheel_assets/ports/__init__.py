"""Ports: the small interfaces through which assets and checks reach the outside world.

Each port has one adapter per backend (see ``flywheel_assets.adapters``); the active
profile picks one adapter per port (``flywheel_assets.platform``).
"""

from flywheel_assets.ports.alerts import AlertsPort
from flywheel_assets.ports.catalog import CatalogPort, Column, TableDefinition, TableInfo
from flywheel_assets.ports.lake import LakePort, ObjectInfo
from flywheel_assets.ports.sql import SqlPort

__all__ = [
    "AlertsPort",
    "CatalogPort",
    "Column",
    "LakePort",
    "ObjectInfo",
    "SqlPort",
    "TableDefinition",
    "TableInfo",
]
