"""Which tables and rules a check run selects, how severe each rule is, and the promise
that every selected rule reports a result, even when its observation raised.

Shared by the monitor (``checks/monitor.py``: ``part_*`` tables after publishing) and
the write-audit-publish gate (``checks/audit.py``: builds before publishing).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from flywheel_assets.checks import rules
from flywheel_assets.checks.rules import RuleResult, Severity
from flywheel_assets.config.settings import Settings
from glue_jobs.registry import Registry, TableSpec

KEY_CHECKS = (rules.CHECK_COUNT, rules.CHECK_PK_NULL, rules.CHECK_PK_DUPES)
MONITOR_ORDER = (
    rules.CHECK_STORAGE,
    rules.CHECK_CATALOG,
    rules.CHECK_FRESHNESS,
    rules.CHECK_SCHEMA,
    *KEY_CHECKS,
    rules.CHECK_FILE_SIZE,
)


def monitored_tables(registry: Registry, settings: Settings) -> list[TableSpec]:
    """Registry tables whose ``part_*`` name starts with ``table_prefix``, at most
    ``max_tables`` of them (0: all), in registry order."""
    tables = [t for t in registry if t.part_table.startswith(settings.table_prefix)]
    return tables[: settings.max_tables] if settings.max_tables > 0 else tables


def monitor_check_names(settings: Settings) -> tuple[str, ...]:
    """The rules that apply under ``settings``: the count check only when
    ``count_check_enabled``, file sizes only when ``file_size_check``."""
    skipped = set()
    if not settings.count_check_enabled:
        skipped.add(rules.CHECK_COUNT)
    if not settings.file_size_check:
        skipped.add(rules.CHECK_FILE_SIZE)
    return tuple(c for c in MONITOR_ORDER if c not in skipped)


def rule_severity(check: str, settings: Settings) -> Severity:
    """A monitor rule's severity: file sizes warn, so does freshness unless
    ``strict_snapshot``; every other rule (and every audit rule) is an error."""
    if check == rules.CHECK_FILE_SIZE:
        return Severity.WARN
    if check == rules.CHECK_FRESHNESS and not settings.strict_snapshot:
        return Severity.WARN
    return Severity.ERROR


def guarded(
    checks: Collection[str],
    label: str,
    run: Callable[[], list[RuleResult]],
    severity: Callable[[str], Severity] = lambda check: Severity.ERROR,
) -> list[RuleResult]:
    """Run one observation; if it raises, its rules fail with the error as the reason so
    that one broken table or query never hides the other rules' results."""
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - reported as failed rules, never swallowed
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        return [rules.not_evaluated(c, label, severity(c), reason) for c in checks]
