"""Alerts port for the local profile: the Python log plus an append-only file."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from flywheel_assets.ports.alerts import AlertsPort

log = logging.getLogger("flywheel.alerts")


class LocalAlerts(AlertsPort):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, subject: str, message: str) -> None:
        log.warning("%s\n%s", subject, message)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.path.open("a") as fh:
            fh.write(f"--- {stamp}\nSubject: {subject}\n\n{message}\n")
