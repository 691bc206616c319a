"""The data monitor's rules (``rules``: pure), how they observe tables through the ports
(``probe``), its SQL (``sql``), its report (``report``) and their Dagster asset checks
(``asset_checks``). See ``docs/monitor.md``."""
