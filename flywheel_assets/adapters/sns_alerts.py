"""Alerts port on SNS: the data monitor's subject line plus a plain-text body."""

from __future__ import annotations

import re
from typing import Any

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.ports.alerts import AlertsPort

# SNS: "Subjects must be UTF-8 text with no line breaks or control characters, and less
# than 100 characters long" (Publish API); a longer subject fails the whole publish.
MAX_SUBJECT_CHARS = 99
ELLIPSIS = "..."
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def sns_subject(subject: str) -> str:
    """``subject`` made acceptable to SNS: control characters become spaces and a long
    subject is cut with an ellipsis, so an alert is never lost to its own headline."""
    clean = _CONTROL.sub(" ", subject).strip()
    if len(clean) > MAX_SUBJECT_CHARS:
        clean = clean[: MAX_SUBJECT_CHARS - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return clean


class SnsAlerts(AlertsPort):
    def __init__(self, topic_arn: str, region: str, client: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self.region = region
        self.client = client if client is not None else aws_client("sns", region)

    def send(self, subject: str, message: str) -> None:
        params: dict[str, Any] = {"TopicArn": self.topic_arn, "Message": message}
        clean = sns_subject(subject)
        if clean:  # SNS rejects an empty Subject; no subject is fine
            params["Subject"] = clean
        self.client.publish(**params)
