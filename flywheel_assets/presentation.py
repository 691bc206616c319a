"""How the assets present themselves in the Dagster UI, applied in one place.

``present`` maps every asset spec of the merged ``Definitions`` (external raw snapshots,
``@asset`` and ``@multi_asset`` outputs alike) and adds:

* owners: the profile's ``owners`` setting, after any owners the asset already declares;
* tags: ``env`` (the profile) and, where the asset belongs to one, ``table`` (registry
  table: its datasets, catalog tables, Clean Rooms and Entity Resolution assets alike,
  so ``tag:table=IBE_01_A`` selects a table everywhere) and ``source`` (raw source);
  tags the asset sets itself win;
* code references (``dagster/code_references``): the file and line of the function that
  computes the asset, or that declares it for external assets.

Groups, kinds and descriptions stay with the asset factories. Asset checks, jobs,
sensors, schedules and resources pass through untouched.
"""

import inspect
import re
import warnings
from collections.abc import Callable, Mapping

import dagster as dg

from flywheel_assets.assets.raw import raw_specs
from flywheel_assets.config.registry import Registries, as_registries
from flywheel_assets.config.settings import Settings, SettingsError
from glue_jobs.registry import Registry

CODE_REFERENCES = "dagster/code_references"
# spec-only (external) assets have no op to point at: the function that declares them
SPEC_DECLARED_BY: Mapping[str, Callable[..., object]] = {"raw_snapshots": raw_specs}
# metadata entries that become tags of the same name
TAGGED_METADATA = ("table", "source")
# datasets keyed by their raw source (``compacted/addressable_ids``), not by a table
SOURCE_DATASETS = ("raw", "compacted")

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b")
_VALID_TAG_VALUE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def is_valid_owner(owner: str) -> bool:
    """Dagster 1.13's rule for asset owners: an email address or ``team:<name>``."""
    if owner.startswith("team:"):
        return len(owner) > len("team:")
    return bool(_EMAIL.fullmatch(owner))


def tag_value(value: object) -> str | None:
    """``value`` as a valid Dagster tag value (<= 63 of ``[A-Za-z0-9_.-]``), else None."""
    text = str(getattr(value, "value", value))
    if len(text) > 63 or not set(text) <= _VALID_TAG_VALUE:
        return None
    return text


def table_names(registry: Registry | Registries) -> dict[str, str]:
    """Last asset-key segment -> registry table: ``ibe_01_a`` (datasets, Clean Rooms and
    Entity Resolution resources), ``ext_``/``bucketed_`` tables of the bucketed pipeline's
    registry, ``part_`` tables, ``*_er`` views and ``*_history`` tables of the
    partitioned one's (which wins for a slug both name)."""
    registries = as_registries(registry)
    names: dict[str, str] = {}
    for t in registries.split_cluster:
        for name in (t.slug, t.ext_table, t.bucketed_table):
            names[name] = t.name
    for t in registries.split_part:
        for name in (t.slug, t.part_table, t.er_table, t.history_table):
            names[name] = t.name
    return names


def spec_tags(
    spec: dg.AssetSpec, settings: Settings, tables: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The profile's tags for one asset (without the asset's own)."""
    tags = {"env": settings.env}
    for name in TAGGED_METADATA:
        value = tag_value(spec.metadata[name]) if name in spec.metadata else None
        if value:
            tags[name] = value
    if spec.key.path[0] in SOURCE_DATASETS:  # raw/<source>: a source, not the table so named
        tags.setdefault("source", spec.key.path[-1])
    elif "table" not in tags and tables and spec.key.path[-1] in tables:
        table = tag_value(tables[spec.key.path[-1]])
        if table:
            tags["table"] = table
    return tags


def declared_reference(fn: Callable[..., object]) -> dg.CodeReferencesMetadataValue:
    _, first = inspect.getsourcelines(fn)
    return dg.CodeReferencesMetadataValue(
        code_references=[
            dg.LocalFileCodeReference(
                file_path=inspect.getsourcefile(fn) or "",
                line_number=first,
                label=f"{fn.__module__}.{fn.__qualname__}",
            )
        ]
    )


def code_references(defs: dg.Definitions) -> dict[dg.AssetKey, object]:
    """``dagster/code_references`` metadata per asset key: the computing function for
    op-backed assets (Dagster's ``with_source_code_references``), the declaring function
    for external specs of a group listed in ``SPEC_DECLARED_BY``."""
    refs: dict[dg.AssetKey, object] = {}
    for item in dg.with_source_code_references(list(defs.assets or [])):
        if isinstance(item, dg.AssetsDefinition):
            for spec in item.specs:
                if CODE_REFERENCES in spec.metadata:
                    refs[spec.key] = spec.metadata[CODE_REFERENCES]
        elif isinstance(item, dg.AssetSpec) and item.group_name in SPEC_DECLARED_BY:
            refs[item.key] = declared_reference(SPEC_DECLARED_BY[item.group_name])
    return refs


def present(
    defs: dg.Definitions, settings: Settings, registry: Registry | Registries | None = None
) -> dg.Definitions:
    """``defs`` with owners, tags and code references on every asset spec; ``registry``
    names the ``table`` of assets that carry no ``table`` metadata."""
    invalid = [o for o in settings.owners if not is_valid_owner(o)]
    if invalid:
        raise SettingsError(
            f"owners={list(settings.owners)!r}: {invalid} is not an email address or "
            "'team:<name>' (FLYWHEEL_OWNERS is comma-separated)"
        )
    if tag_value(settings.env) is None:
        raise SettingsError(f"env={settings.env!r} is not a valid Dagster tag value")

    with warnings.catch_warnings():
        # with_source_code_references is beta and map_asset_specs preview in 1.13;
        # dagster is pinned to a minor range in setup.py
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        refs = code_references(defs)
        tables = table_names(registry) if registry is not None else {}

        def present_spec(spec: dg.AssetSpec) -> dg.AssetSpec:
            metadata = dict(spec.metadata)
            if spec.key in refs and CODE_REFERENCES not in metadata:
                metadata[CODE_REFERENCES] = refs[spec.key]
            return spec.replace_attributes(
                owners=list(dict.fromkeys([*spec.owners, *settings.owners])),
                tags={**spec_tags(spec, settings, tables), **spec.tags},
                metadata=metadata,
            )

        return defs.map_asset_specs(func=present_spec)
