"""``flywheel infra plan|apply``: the generated stacks through CloudFormation change sets.

``plan`` creates a change set against the deployed stack (a CREATE change set when the
stack does not exist yet), waits for CloudFormation to compute it and reads every page
of its changes: what would be added, modified (and whether replaced) or removed, by
logical id and type. A template without changes yields no change set (CloudFormation's
"didn't contain changes" failure is deleted, not reported). ``apply`` executes the
change set it planned, waits for the stack, and on failure raises ``StackFailed`` naming
each failed resource and CloudFormation's reason, from the stack's events of that run.

A template over CloudFormation's inline limit (51,200 bytes) is uploaded to the Glue
assets bucket (``flywheel/cloudformation/``, content-addressed) and passed by URL.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from flywheel_assets.adapters.aws_clients import aws_client
from flywheel_assets.config.settings import Settings
from flywheel_assets.deploy import names
from flywheel_assets.deploy.infra.cfn import InfraError
from flywheel_assets.deploy.infra.template import Stack

INLINE_TEMPLATE_LIMIT = 51_200  # bytes of TemplateBody CloudFormation accepts
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
CHANGE_SET_PENDING = ("CREATE_PENDING", "CREATE_IN_PROGRESS")
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
# a stack in these states takes no change set until someone acts on it
STUCK = {
    "ROLLBACK_COMPLETE": "its first create failed and was rolled back: delete the stack",
    "ROLLBACK_FAILED": "a failed create could not roll back: delete the stack",
    "DELETE_FAILED": "a delete failed: finish deleting it",
    "UPDATE_ROLLBACK_FAILED": "continue the rollback (continue-update-rollback) first",
}
SYMBOLS = {"Add": "+", "Modify": "~", "Remove": "-"}


class StackFailed(InfraError):
    """``apply`` ended in a state other than complete; the message names what failed."""


@dataclass(frozen=True)
class ResourceChange:
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # Modify: True | False | Conditional

    def line(self) -> str:
        replaced = f"  (replacement: {self.replacement})" if self.action == "Modify" else ""
        symbol = SYMBOLS.get(self.action, "?")
        return f"  {symbol} {self.action:<7} {self.logical_id:<32} {self.resource_type}{replaced}"


@dataclass
class Plan:
    stack: Stack
    change_set_type: str  # CREATE | UPDATE
    change_set: str | None = None  # ARN; None when nothing would change
    changes: list[ResourceChange] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.change_set is None:
            return [f"{self.stack.name}: no changes"]
        counts = {a: sum(c.action == a for c in self.changes) for a in ("Add", "Modify", "Remove")}
        summary = ", ".join(f"{n} to {a.lower()}" for a, n in counts.items() if n)
        head = f"{self.stack.name} ({self.change_set_type}): {summary or 'no resource changes'}"
        return [head, *(c.line() for c in self.changes)]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


class Stacks:
    """Change sets of one environment's stacks (the deployer's CloudFormation client)."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: Any | None = None,
        s3: Any | None = None,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = (
            client if client is not None else aws_client("cloudformation", settings.region)
        )
        self._s3 = s3
        self.poll_seconds, self.timeout_seconds = poll_seconds, timeout_seconds
        self.clock, self.sleep = clock, sleep

    # ---- plan --------------------------------------------------------------------------

    def status(self, stack: Stack) -> str | None:
        """The deployed stack's status; None when there is none."""
        try:
            found = self.client.describe_stacks(StackName=stack.name)["Stacks"]
        except ClientError as exc:
            if _code(exc) == "ValidationError" and "does not exist" in _message(exc):
                return None
            raise
        return found[0]["StackStatus"] if found else None

    def plan(self, stack: Stack) -> Plan:
        status = self.status(stack)
        if status in STUCK:
            raise InfraError(f"{stack.name} is {status}: {STUCK[status]}, then plan again")
        if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            raise InfraError(f"{stack.name} is {status}: wait until it settles, then plan again")
        kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        # unique: CloudFormation refuses a name the stack's change sets already hold
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        name = f"flywheel-{stamp}-{uuid.uuid4().hex[:8]}"
        created = self.client.create_change_set(
            StackName=stack.name,
            ChangeSetName=name,
            ChangeSetType=kind,
            Capabilities=list(stack.capabilities),
            Description=f"flywheel infra: {len(stack.resources)} resources of {stack.key}",
            **self._template(stack),
        )
        plan = Plan(stack, kind, created["Id"])
        pages = self._computed(plan)
        if pages is None:
            return Plan(stack, kind)
        plan.changes = [_change(c["ResourceChange"]) for p in pages for c in p.get("Changes", [])]
        return plan

    def _template(self, stack: Stack) -> dict[str, str]:
        body = stack.wire_body()
        if len(body.encode()) <= INLINE_TEMPLATE_LIMIT:
            return {"TemplateBody": body}
        bucket = self.settings.glue_assets_bucket
        digest = hashlib.sha256(body.encode()).hexdigest()[:12]
        key = f"{names.STACK_TEMPLATE_PREFIX}{stack.name}-{digest}.json"
        if self._s3 is None:
            self._s3 = aws_client("s3", self.settings.region)
        self._s3.put_object(
            Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json"
        )
        return {"TemplateURL": f"https://{bucket}.s3.{self.settings.region}.amazonaws.com/{key}"}

    def _computed(self, plan: Plan) -> list[dict[str, Any]] | None:
        """Every page of the change set once computed; None (and the change set deleted)
        when the template changes nothing."""
        deadline = self.clock() + self.timeout_seconds
        while True:
            first = self.client.describe_change_set(
                ChangeSetName=plan.change_set, StackName=plan.stack.name
            )
            if first["Status"] not in CHANGE_SET_PENDING:
                break
            if self.clock() > deadline:
                raise InfraError(f"{plan.stack.name}: change set still {first['Status']}")
            self.sleep(self.poll_seconds)
        if first["Status"] == "FAILED":
            reason = first.get("StatusReason", "")
            if any(text in reason for text in NO_CHANGES):
                self.client.delete_change_set(
                    ChangeSetName=plan.change_set, StackName=plan.stack.name
                )
                return None
            raise InfraError(f"{plan.stack.name}: CloudFormation refused the change set: {reason}")
        pages = [first]
        while pages[-1].get("NextToken"):
            pages.append(
                self.client.describe_change_set(
                    ChangeSetName=plan.change_set,
                    StackName=plan.stack.name,
                    NextToken=pages[-1]["NextToken"],
                )
            )
        return pages

    # ---- apply -------------------------------------------------------------------------

    def apply(self, plan: Plan) -> str:
        """Execute ``plan`` and wait; the stack's final status (``StackFailed`` unless
        complete). A plan without changes does nothing."""
        if plan.change_set is None:
            return "UNCHANGED"
        name = plan.stack.name
        self.client.execute_change_set(ChangeSetName=plan.change_set, StackName=name)
        deadline = self.clock() + self.timeout_seconds
        while (status := self.status(plan.stack) or "").endswith("_IN_PROGRESS"):
            if self.clock() > deadline:
                raise StackFailed(f"{name}: still {status} after {self.timeout_seconds:.0f} s")
            self.sleep(self.poll_seconds)
        if status not in DONE:
            raise StackFailed(self._failure(name, status))
        return status

    def _events(self, name: str) -> Iterator[dict[str, Any]]:
        """The stack's events of the last execution, newest first: up to the stack's own
        "User Initiated" start of the create or update."""
        for page in self.client.get_paginator("describe_stack_events").paginate(StackName=name):
            for event in page.get("StackEvents", []):
                yield event
                started = event.get("ResourceStatus", "") in (
                    "CREATE_IN_PROGRESS",
                    "UPDATE_IN_PROGRESS",
                )
                if (
                    started
                    and _is_stack(event, name)
                    and event.get("ResourceStatusReason") == "User Initiated"
                ):
                    return

    def _failure(self, name: str, status: str) -> str:
        events = list(self._events(name))
        failed = [e for e in reversed(events) if e.get("ResourceStatus", "").endswith("_FAILED")]
        resources = [e for e in failed if not _is_stack(e, name)] or failed
        lines = [
            f"  {e['LogicalResourceId']} ({e.get('ResourceType', '?')}): "
            f"{e['ResourceStatus']}: {e.get('ResourceStatusReason', 'no reason given')}"
            for e in resources
        ]
        return "\n".join([f"{name}: {status}; failed:", *lines] if lines else [f"{name}: {status}"])


def _is_stack(event: dict[str, Any], name: str) -> bool:
    return event.get("ResourceType") == "AWS::CloudFormation::Stack" or (
        event.get("LogicalResourceId") == name
    )


def _change(change: dict[str, Any]) -> ResourceChange:
    return ResourceChange(
        change.get("Action", "?"),
        change.get("LogicalResourceId", "?"),
        change.get("ResourceType", "?"),
        str(change.get("Replacement", "")),
    )
