"""Apply a plan: send its requests in order, filling in ids created earlier in the plan.

A create that meets "already exists" converges by updating instead (see ``_CONVERGE``);
any other failure stops the apply with what was done so far (a rerun converges).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flywheel_assets.cleanrooms.plan import Plan, resolve
from flywheel_assets.cleanrooms.read import list_associations

ClientFactory = Callable[[str], Any]


class ApplyError(RuntimeError):
    """A request failed; ``done`` lists what was applied before it (rerun to converge)."""

    def __init__(self, message: str, done: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.done = done


_CREATED_ID = {"create_configured_table": ("configuredTable", "id")}


def _already_exists(exc: Exception) -> bool:
    """Clean Rooms answers ConflictException (reason ALREADY_EXISTS), Entity Resolution
    ConflictException, for a create whose resource exists."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code", "")
    reason = response.get("reason", "ALREADY_EXISTS")  # Entity Resolution gives no reason
    return code == "ConflictException" and reason == "ALREADY_EXISTS"


def _update_instead(operation: str, *, drop: tuple[str, ...] = ()) -> Callable[..., Any]:
    def send(client: Any, params: dict[str, Any]) -> Any:
        return getattr(client, operation)(**{k: v for k, v in params.items() if k not in drop})

    return send


def _update_association(client: Any, params: dict[str, Any]) -> Any:
    """The association named ``params["name"]`` exists: update it if it is this table's;
    a name held by another table's association is not ours to take."""
    membership = params["membershipIdentifier"]
    summaries = list_associations(client, membership)
    same = [s for s in summaries if s["name"] == params["name"]]
    if not same or same[0]["configuredTableId"] != params["configuredTableIdentifier"]:
        raise RuntimeError(
            f"association {params['name']!r} exists in membership {membership} for another "
            "configured table"
        )
    return client.update_configured_table_association(
        configuredTableAssociationIdentifier=same[0]["id"],
        membershipIdentifier=membership,
        description=params["description"],
        roleArn=params["roleArn"],
    )


# A create that meets "already exists" converges: the resource appeared after the read (a
# listing that lagged behind the previous run's create, another process), so the desired
# state is written with the update call. Configured tables are not here: Clean Rooms does
# not make their names unique (duplicates are reported by the read instead).
_CONVERGE = {
    "create_configured_table_analysis_rule": _update_instead(
        "update_configured_table_analysis_rule"
    ),
    "create_configured_table_association": _update_association,
    "create_schema_mapping": _update_instead("update_schema_mapping"),
    "create_id_namespace": _update_instead("update_id_namespace", drop=("type",)),
}


def _send(client: Any, operation: str, params: dict[str, Any]) -> tuple[Any, bool]:
    """The response, and whether the request converged on an existing resource."""
    try:
        return getattr(client, operation)(**params), False
    except Exception as exc:
        if operation not in _CONVERGE or not _already_exists(exc):
            raise
    return _CONVERGE[operation](client, params), True


def apply_plan(plan: Plan, clients: ClientFactory) -> list[dict[str, Any]]:
    """Send every request in order; stop at the first failure (a rerun converges)."""
    bindings: dict[str, str] = {}
    done: list[dict[str, Any]] = []
    for request in plan.requests:
        params = resolve(request.params, bindings)
        try:
            response, converged = _send(clients(request.service), request.operation, params)
        except Exception as exc:
            raise ApplyError(
                f"{request.operation} for {request.table} ({request.name}) failed after "
                f"{len(done)} of {len(plan.requests)} requests: {exc}",
                done,
            ) from exc
        if request.binds:
            outer, key = _CREATED_ID[request.operation]
            bindings[request.binds] = response[outer][key]
        entry = {"operation": request.operation, "table": request.table, "name": request.name}
        if converged:
            entry["converged"] = "existed; updated instead"
        done.append(entry)
    return done
