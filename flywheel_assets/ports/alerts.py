"""Alerts port: one message per problem, SNS on AWS profiles, log + file locally."""

from __future__ import annotations

from abc import ABC, abstractmethod


class AlertsPort(ABC):
    @abstractmethod
    def send(self, subject: str, message: str) -> None: ...
