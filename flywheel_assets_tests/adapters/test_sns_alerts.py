"""SnsAlerts against moto: what a subscriber (an SQS queue) actually receives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.adapters.sns_alerts import MAX_SUBJECT_CHARS, SnsAlerts, sns_subject

REGION = "us-east-1"
# The data monitor's alert format (shared/reference, "SNS Alerts").
SUBJECT = "[DATA MONITOR] omc_flywheel_prod part_* — 3 issue(s)"
MESSAGE = (
    "[DATA MONITOR] 3 issue(s) in omc_flywheel_prod (part_*)\n\n"
    "[COUNT_MISMATCH] part_ibe_01: omc_flywheel_prod.part_ibe_01=999950 vs "
    "omc_flywheel_prod.ext_ibe_01=1000000 (Δ=0.005000%)\n"
    "[PK_NULL] part_ibe_02: customer_user_id NULL rows=5\n"
    "[PK_DUPES] part_ibe_03: customer_user_id duplicate rows=10"
)


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def topic_and_queue(fake_credentials: None) -> Iterator[tuple[str, Any, str]]:
    """A topic with an SQS subscriber: (topic arn, sqs client, queue url)."""
    with mock_aws():
        sns = aws_client("sns", REGION)
        sqs = aws_client("sqs", REGION)
        topic_arn = sns.create_topic(Name="omc-flywheel-data-monitor")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield topic_arn, sqs, queue_url


def received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """SNS envelopes delivered to the queue (Subject, Message, TopicArn, ...)."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_alert_reaches_subscriber_with_subject_and_body_unchanged(
    topic_and_queue: tuple[str, Any, str],
) -> None:
    topic_arn, sqs, queue_url = topic_and_queue

    SnsAlerts(topic_arn, REGION).send(SUBJECT, MESSAGE)

    (envelope,) = received(sqs, queue_url)
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == SUBJECT
    assert envelope["Message"] == MESSAGE


def test_long_subject_is_cut_with_an_ellipsis_and_the_body_kept(
    topic_and_queue: tuple[str, Any, str],
) -> None:
    topic_arn, sqs, queue_url = topic_and_queue
    subject = "[DATA MONITOR] omc_flywheel_prod " + ", ".join(
        f"part_ibe_{n:02d}" for n in range(20)
    )
    assert len(subject) > 100

    SnsAlerts(topic_arn, REGION).send(subject, MESSAGE)

    (envelope,) = received(sqs, queue_url)
    assert len(envelope["Subject"]) <= MAX_SUBJECT_CHARS < 100
    assert envelope["Subject"].endswith("...")
    assert subject.startswith(envelope["Subject"][:-3])
    assert envelope["Message"] == MESSAGE


def test_subject_of_exactly_100_chars_is_cut_because_sns_wants_fewer() -> None:
    subject = "x" * 100
    assert sns_subject(subject) == "x" * 96 + "..."
    assert sns_subject("y" * 99) == "y" * 99


def test_line_breaks_in_subject_become_spaces_and_blank_subject_is_left_out(
    topic_and_queue: tuple[str, Any, str],
) -> None:
    topic_arn, sqs, queue_url = topic_and_queue
    alerts = SnsAlerts(topic_arn, REGION)
    published: list[dict[str, Any]] = []
    alerts.client.meta.events.register(
        "before-parameter-build.sns.Publish",
        lambda params, **_: published.append(dict(params)),
    )

    alerts.send("two\nlines\r\n", "body 1")
    alerts.send(" \n ", "body 2")  # SNS rejects an empty Subject parameter

    assert [p.get("Subject") for p in published] == ["two lines", None]
    envelopes = {e["Message"]: e for e in received(sqs, queue_url)}
    assert envelopes["body 1"]["Subject"] == "two lines"
    assert set(envelopes) == {"body 1", "body 2"}
