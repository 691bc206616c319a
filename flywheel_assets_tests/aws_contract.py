"""The AWS request contract: every request checked against botocore's service model and
against the limits AWS enforces that botocore does not.

botocore validates a request before sending it (``ParamValidator``: required members,
types, and the ``min`` of strings, lists and numbers). AWS validates more on its side,
and moto and the Stubber skip most of it. This module adds, from the same model:

* ``max`` of strings (characters), blobs (bytes), lists and maps (entries), numbers:
  BatchCreatePartition and BatchUpdatePartition take at most 100 entries,
  BatchDeletePartition 25, Entity Resolution 2..60 mapped fields, GetTables 100 a page;
* ``pattern`` of strings, matched against the whole value (the stricter reading; Java
  regex classes are translated, see ``python_pattern``);
* ``enum`` of strings;

and, in ``PROJECT_RULES``, what AWS documents outside the model: the Clean Rooms quota of
100 allowed columns, one UNIQUE_ID per schema mapping, Athena's lower-case naming rule
for catalog names, SNS subjects and message size, S3 key length and DeleteObjects size,
Athena's query size in bytes, CloudFormation's inline template size. Each rule names
where it comes from.

Use it three ways: ``check_request`` on one request (a plan, a fake client);
``ContractRecorder.attach(client)`` on a client (``before-parameter-build`` and
``after-call`` events, so moto, Stubber and real clients alike); and ``recording()``,
which attaches a recorder to every botocore client created while it is active.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

# --- patterns -------------------------------------------------------------------------------

# Java regexes spell "any supplementary character" as a surrogate pair range; Python's re
# sees a reversed range (an error) or lone surrogates. Both spellings occur in the models.
_SURROGATE_RANGES = (r"\uD800\uDC00-\uDBFF\uDFFF", r"\uD800\uDBFF-\uDC00\uDFFF")
_SUPPLEMENTARY = r"\U00010000-\U0010FFFF"


@cache
def python_pattern(pattern: str) -> re.Pattern[str] | None:
    """``pattern`` compiled for Python's ``re``, or None when it uses Unicode property
    classes (``\\p{L}``), which ``re`` lacks: those values are left to AWS."""
    translated = pattern
    for spelling in _SURROGATE_RANGES:
        translated = translated.replace(spelling, _SUPPLEMENTARY)
    translated = translated.replace(r"[\w-_]", r"[\w_-]")  # Java reads "-" literally here
    if r"\p{" in translated:
        return None
    return re.compile(translated)


# --- the checker -----------------------------------------------------------------------------


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def operation_model(service: str, operation: str) -> OperationModel:
    """``operation`` as the API name (``GetTable``) or the client method (``get_table``)."""
    model = _session().get_service_model(service)
    if operation not in model.operation_names:
        by_method = {xform_name(name): name for name in model.operation_names}
        operation = by_method[operation]
    return model.operation_model(operation)


def _walk(value: Any, shape: Shape, path: str, errors: list[str], unchecked: set[str]) -> None:
    """Constraints of ``shape`` that botocore's validator does not enforce."""
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _walk(value[name], member, f"{path}.{name}", errors, unchecked)
        return
    if kind == "list" and isinstance(value, (list, tuple)):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} entries, at most {meta['max']}")
        for i, item in enumerate(value):
            _walk(item, shape.member, f"{path}[{i}]", errors, unchecked)
        return
    if kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} entries, at most {meta['max']}")
        for key, item in value.items():
            _walk(key, shape.key, f"{path} key {key!r}", errors, unchecked)
            _walk(item, shape.value, f"{path}[{key!r}]", errors, unchecked)
        return
    if kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} characters, at most {meta['max']}")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {list(shape.enum)}")
        if "pattern" in meta:
            compiled = python_pattern(meta["pattern"])
            if compiled is None:
                unchecked.add(f"{path}: pattern {meta['pattern']}")
            elif not compiled.fullmatch(value):
                errors.append(f"{path}: {value!r} does not match {meta['pattern']}")
        return
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} bytes, at most {meta['max']}")
        return
    number = kind in ("integer", "long") and isinstance(value, int)
    if number and "max" in meta and value > meta["max"]:
        errors.append(f"{path}: {value}, at most {meta['max']}")


# --- what AWS enforces beyond the model --------------------------------------------------------

Rule = Callable[[Mapping[str, Any]], list[str]]

# Athena user guide, "Name databases, tables, and columns": lower-case names, with the
# underscore as the only special character. Glue would lower-case a mixed-case name
# silently (and Athena then not find it as sent), so a name the project sends must
# already be one.
CATALOG_NAME = re.compile(r"[a-z0-9_]{1,255}")


def _catalog_names(params: Mapping[str, Any]) -> list[str]:
    names: list[tuple[str, str]] = []
    for member in ("DatabaseName", "TableName"):
        if isinstance(params.get(member), str):
            names.append((member, params[member]))
    for member in ("DatabaseInput", "TableInput"):
        if isinstance(params.get(member), Mapping) and "Name" in params[member]:
            names.append((f"{member}.Name", params[member]["Name"]))
    table = params.get("TableInput") or {}
    columns = list((table.get("StorageDescriptor") or {}).get("Columns") or [])
    columns += list(table.get("PartitionKeys") or [])
    names += [("column", c.get("Name", "")) for c in columns]
    return [
        f"{what} {name!r}: Athena reads only lower-case letters, digits and '_'"
        for what, name in names
        if not CATALOG_NAME.fullmatch(name)
    ]


def _allowed_columns(params: Mapping[str, Any]) -> list[str]:
    columns = list(params.get("allowedColumns") or ())
    errors = []
    if len(columns) > 100:  # Clean Rooms quota: columns per configured table
        errors.append(f"allowedColumns: {len(columns)} columns, Clean Rooms allows 100")
    if len(set(columns)) != len(columns):
        errors.append("allowedColumns: a column is listed twice")
    return errors


def _mapped_fields(params: Mapping[str, Any]) -> list[str]:
    fields = list(params.get("mappedInputFields") or ())
    names = [f.get("fieldName") for f in fields]
    errors = []
    if len(set(names)) != len(names):
        errors.append("mappedInputFields: a fieldName is mapped twice")
    unique = [f for f in fields if f.get("type") == "UNIQUE_ID"]
    if len(unique) != 1:  # Entity Resolution: "exactly one UNIQUE_ID field"
        errors.append(f"mappedInputFields: {len(unique)} UNIQUE_ID fields, exactly one needed")
    return errors


def _sns_publish(params: Mapping[str, Any]) -> list[str]:
    # SNS Publish: "Subjects must be UTF-8 text with no line breaks or control characters,
    # and less than 100 characters long"; messages are at most 256 KB.
    errors = []
    if "Subject" in params:
        subject = params["Subject"]
        if not 1 <= len(subject) < 100 or re.search(r"[\x00-\x1f\x7f]", subject):
            errors.append(f"Subject {subject!r}: 1..99 characters without control characters")
    size = len(str(params.get("Message", "")).encode("utf-8"))
    if size > 262144:
        errors.append(f"Message: {size} bytes, SNS takes at most 262144")
    return errors


def _s3_key(params: Mapping[str, Any]) -> list[str]:
    key = params.get("Key")  # S3: "the name for a key ... up to 1,024 bytes long"
    if isinstance(key, str) and len(key.encode("utf-8")) > 1024:
        return [f"Key: {len(key.encode('utf-8'))} bytes, S3 takes at most 1024"]
    return []


def _s3_delete_objects(params: Mapping[str, Any]) -> list[str]:
    objects = (params.get("Delete") or {}).get("Objects") or []
    # DeleteObjects: "you can delete up to 1,000 objects" a request
    return [f"Delete.Objects: {len(objects)} keys, at most 1000"] if len(objects) > 1000 else []


def _athena_query(params: Mapping[str, Any]) -> list[str]:
    size = len(str(params.get("QueryString", "")).encode("utf-8"))
    # Athena quotas: "maximum allowed query string length is 262144 bytes"
    return [f"QueryString: {size} bytes, at most 262144"] if size > 262144 else []


def _cloudformation_template(params: Mapping[str, Any]) -> list[str]:
    body = params.get("TemplateBody")
    # CloudFormation quotas: "Template body size in a request: 51,200 bytes" (larger ones
    # go to S3 and pass TemplateURL, up to 1 MB)
    if isinstance(body, str) and len(body.encode("utf-8")) > 51200:
        return [f"TemplateBody: {len(body.encode('utf-8'))} bytes, at most 51200 inline"]
    return []


_GLUE_CATALOG_OPERATIONS = (
    "GetDatabase",
    "CreateDatabase",
    "GetTable",
    "GetTables",
    "CreateTable",
    "UpdateTable",
    "DeleteTable",
    "GetPartitions",
    "GetPartition",
    "BatchCreatePartition",
    "BatchUpdatePartition",
    "BatchDeletePartition",
)

PROJECT_RULES: dict[tuple[str, str], tuple[Rule, ...]] = {
    **{("glue", op): (_catalog_names,) for op in _GLUE_CATALOG_OPERATIONS},
    ("cleanrooms", "CreateConfiguredTable"): (_allowed_columns,),
    ("cleanrooms", "UpdateConfiguredTable"): (_allowed_columns,),
    ("entityresolution", "CreateSchemaMapping"): (_mapped_fields,),
    ("entityresolution", "UpdateSchemaMapping"): (_mapped_fields,),
    ("sns", "Publish"): (_sns_publish,),
    ("athena", "StartQueryExecution"): (_athena_query,),
    ("s3", "DeleteObjects"): (_s3_delete_objects,),
    ("cloudformation", "CreateChangeSet"): (_cloudformation_template,),
    **{
        ("s3", op): (_s3_key,)
        for op in ("PutObject", "GetObject", "HeadObject", "DeleteObject", "CopyObject")
    },
}


@dataclass(frozen=True)
class CheckResult:
    errors: tuple[str, ...]
    unchecked: tuple[str, ...]  # patterns Python's re cannot read (left to AWS)


def check_request(
    service: str, operation: str, params: Mapping[str, Any], *, botocore_validation: bool = True
) -> CheckResult:
    """Everything wrong with one request, by the model and by ``PROJECT_RULES``.

    ``botocore_validation=False`` skips what a real client validates itself anyway
    (required, types, min), for requests that go through one.
    """
    model = operation_model(service, operation)
    errors: list[str] = []
    unchecked: set[str] = set()
    shape = model.input_shape
    if shape is not None:
        if botocore_validation:
            report = ParamValidator().validate(dict(params), shape)
            if report.has_errors():
                errors.append(report.generate_report())
        _walk(params, shape, model.name, errors, unchecked)
    for rule in PROJECT_RULES.get((service, model.name), ()):
        errors += [f"{model.name}: {e}" for e in rule(params)]
    return CheckResult(tuple(dict.fromkeys(errors)), tuple(sorted(unchecked)))


# --- the operations each adapter makes ---------------------------------------------------------

# ``service:Operation`` by adapter, as the contract tests record them; a test checks that
# the source calls no operation missing here.
CONTRACT_OPERATIONS: dict[str, frozenset[str]] = {
    "glue_catalog": frozenset(
        f"glue:{op}"
        for op in (
            "GetDatabase",
            "CreateDatabase",
            "GetTable",
            "GetTables",
            "CreateTable",
            "UpdateTable",
            "DeleteTable",
            "GetPartitions",
            "BatchCreatePartition",
            "BatchUpdatePartition",
            "BatchDeletePartition",
        )
    ),
    "athena_sql": frozenset(
        f"athena:{op}"
        for op in (
            "StartQueryExecution",
            "GetQueryExecution",
            "GetQueryResults",
            "StopQueryExecution",
        )
    ),
    "s3_lake": frozenset(
        f"s3:{op}"
        for op in ("ListObjectsV2", "HeadObject", "GetObject", "PutObject", "DeleteObjects")
    ),
    "sns_alerts": frozenset({"sns:Publish"}),
    # StartJobRun .. BatchStopJobRun by dagster-aws's PipesGlueClient and our deadline; S3:
    # the Pipes context (put, deleted after the run) and S3 messages; Logs: CloudWatch messages
    "glue_compute": frozenset(
        {
            "glue:StartJobRun",
            "glue:GetJobRun",
            "glue:BatchStopJobRun",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:HeadObject",
            "s3:GetObject",
            "logs:DescribeLogStreams",
            "logs:GetLogEvents",
        }
    ),
    "deploy": frozenset(
        {"glue:GetJob", "glue:CreateJob", "glue:UpdateJob", "s3:HeadObject", "s3:PutObject"}
    ),
    "cleanrooms": frozenset(
        f"cleanrooms:{op}"
        for op in (
            "GetMembership",
            "ListConfiguredTables",
            "GetConfiguredTable",
            "CreateConfiguredTable",
            "UpdateConfiguredTable",
            "DeleteConfiguredTable",
            "GetConfiguredTableAnalysisRule",
            "CreateConfiguredTableAnalysisRule",
            "UpdateConfiguredTableAnalysisRule",
            "DeleteConfiguredTableAnalysisRule",
            "ListConfiguredTableAssociations",
            "GetConfiguredTableAssociation",
            "CreateConfiguredTableAssociation",
            "UpdateConfiguredTableAssociation",
            "DeleteConfiguredTableAssociation",
        )
    ),
    "entity_resolution": frozenset(
        f"entityresolution:{op}"
        for op in (
            "ListSchemaMappings",
            "GetSchemaMapping",
            "CreateSchemaMapping",
            "UpdateSchemaMapping",
            "DeleteSchemaMapping",
            "ListIdNamespaces",
            "GetIdNamespace",
            "CreateIdNamespace",
            "UpdateIdNamespace",
            "DeleteIdNamespace",
        )
    ),
    # the account id (when no role ARN names it) and the plan / report files
    "cleanrooms_assets": frozenset({"sts:GetCallerIdentity", "s3:PutObject"}),
    "monitor_report": frozenset({"s3:PutObject"}),
    # glue_jobs/runtime.py inside the Glue job: listings, markers, manifests
    "glue_job": frozenset({"s3:ListObjectsV2", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"}),
}


# ``flywheel infra plan|apply`` (deploy/infra/stacks.py), as infra/test_stacks.py records
# them. Apart from CONTRACT_OPERATIONS, whose total and two-page tests
# adapters/test_aws_contract.py and adapters/test_pagination.py pin; the pageable ones
# (DescribeChangeSet, DescribeStackEvents) have their two-page tests in infra/test_stacks.py.
INFRA_OPERATIONS: frozenset[str] = frozenset(
    {
        *(
            f"cloudformation:{op}"
            for op in (
                "DescribeStacks",
                "CreateChangeSet",
                "DescribeChangeSet",
                "DeleteChangeSet",
                "ExecuteChangeSet",
                "DescribeStackEvents",
            )
        ),
        "s3:PutObject",  # a template over the inline limit, passed by TemplateURL
    }
)


def all_contract_operations() -> frozenset[str]:
    return frozenset().union(*CONTRACT_OPERATIONS.values())


# --- pagination ------------------------------------------------------------------------------

TOKEN_MEMBERS = ("NextToken", "nextToken", "NextContinuationToken", "NextMarker")


def is_pageable(service: str, operation: str) -> bool:
    """A paginator in botocore's ``paginators-1.json``, or a next-token in the output."""
    model = operation_model(service, operation)
    try:
        paginators = _session().get_paginator_model(service)._paginator_config
    except Exception:  # services without a paginator file
        paginators = {}
    if model.name in paginators:
        return True
    output = model.output_shape
    return output is not None and any(m in output.members for m in TOKEN_MEMBERS)


# --- recording -------------------------------------------------------------------------------


@dataclass
class Call:
    service: str  # botocore's service name: glue, athena, s3, ...
    operation: str  # API name: GetTable
    params: dict[str, Any]
    errors: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()
    response: dict[str, Any] | None = None


@dataclass
class ContractRecorder:
    """Checks and keeps every request of the clients it is attached to."""

    calls: list[Call] = field(default_factory=list)

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("before-parameter-build.*.*", self._before, unique_id=f"contract{id(self)}")
        events.register("after-call.*.*", self._after, unique_id=f"contract-after{id(self)}")
        return client

    def _before(self, params: dict[str, Any], model: OperationModel, **_: Any) -> None:
        service = model.service_model.service_name
        result = check_request(service, model.name, params, botocore_validation=False)
        self.calls.append(Call(service, model.name, dict(params), result.errors, result.unchecked))

    def _after(self, parsed: dict[str, Any], model: OperationModel, **_: Any) -> None:
        service = model.service_model.service_name
        for call in reversed(self.calls):
            if (call.service, call.operation) == (service, model.name) and call.response is None:
                call.response = parsed
                return

    # ---- reading -----------------------------------------------------------------------

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        return self.calls[mark:]

    @staticmethod
    def operations(calls: list[Call]) -> set[str]:
        """``service:Operation`` of ``calls``."""
        return {f"{c.service}:{c.operation}" for c in calls}

    def violations(self) -> list[str]:
        return [f"{c.service}:{c.operation}: {e}" for c in self.calls for e in c.errors]

    def unchecked(self) -> list[str]:
        return sorted({f"{c.service}:{u}" for c in self.calls for u in c.unchecked})

    def assert_clean(self) -> None:
        violations = self.violations()
        assert not violations, "AWS would reject:\n" + "\n".join(violations)

    def unfollowed_pages(self, calls: list[Call] | None = None) -> list[str]:
        """Responses whose next-page token no later request of the operation passed on."""
        calls = self.calls if calls is None else calls
        missing = []
        for i, call in enumerate(calls):
            token = next(
                (call.response.get(m) for m in TOKEN_MEMBERS if (call.response or {}).get(m)),
                None,
            )
            if token is None:
                continue
            later = calls[i + 1 :]
            if not any(
                (c.service, c.operation) == (call.service, call.operation)
                and token in c.params.values()
                for c in later
            ):
                missing.append(f"{call.service}:{call.operation} page token {token!r}")
        return missing


@contextmanager
def recording(monkeypatch: Any) -> Iterator[ContractRecorder]:
    """Attach one recorder to every botocore client created while this is active (boto3
    clients go through ``botocore.session.Session.create_client`` too)."""
    recorder = ContractRecorder()
    create_client = botocore.session.Session.create_client

    def create_recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        return recorder.attach(create_client(self, *args, **kwargs))

    monkeypatch.setattr(botocore.session.Session, "create_client", create_recorded)
    yield recorder


def checked_clients(monkeypatch: Any) -> Iterator[ContractRecorder]:
    """Body of the ``aws_contract`` autouse fixtures: record every client of the test and
    fail it (at teardown) on any request AWS would reject."""
    with recording(monkeypatch) as recorder:
        yield recorder
    recorder.assert_clean()
