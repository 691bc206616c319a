"""The data monitor's rules (``rules``, ``drift``: pure), what a run checks
(``selection``), how the monitor observes served tables through the ports (``monitor``),
the write-audit-publish gate on new builds (``audit``), its SQL (``sql``), its report
(``report``) and the Dagster asset checks over all of them (``asset_checks``).
See ``docs/monitor.md``."""
