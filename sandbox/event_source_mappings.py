"""Lambda event source mappings for DynamoDB streams, answered by the sandbox instead of moto.

moto stores mappings but calls the function synchronously from PutItem, validates almost nothing and has no
states. Here Create/Get/List/Update/DeleteEventSourceMapping and the mapping ARN's tags follow AWS (SPEC.md §3):
every stream parameter is range-checked with Lambda's InvalidParameterValueException, the mapping passes
through Creating/Enabling/Disabling/Updating/Deleting for `app.config.mapping_transition` seconds (the response
to the call itself always shows the transition state, as AWS's does), a second mapping for the same function
and stream is a ResourceConflictException even while the first one is Deleting, and a mapping in transition
cannot be updated or deleted (ResourceInUseException). Each mapping has its own `sandbox.poller.Poller`.

States settle lazily: whoever looks at a mapping (an API call, its poller) moves it on once its transition time
has passed, so no timer threads are needed.
"""

from __future__ import annotations

import base64
import re
import time
import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Any

from . import event_patterns, iam_eval, streams
from werkzeug.wrappers import Response

from .app import AwsRequest, SandboxApp, aws_error, json_response

TRANSITIONAL = ("Creating", "Enabling", "Disabling", "Updating", "Deleting")
NO_RECORDS, OK, PROBLEM_FUNCTION = "No records processed", "OK", "PROBLEM: Function call failed"
MAX_FILTERS = 5  # Lambda's default quota of filters per mapping

_STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]+/stream/.+$")
_FUNCTION_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
                           r"function:(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$")
_PARTIAL_ARN = re.compile(r"^(?P<account>\d{12}):function:(?P<name>[A-Za-z0-9_-]+)"
                          r"(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$")
_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$")
_DESTINATION = re.compile(r"^arn:aws[a-z-]*:(?P<service>sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")

_mappings: dict[str, "Mapping"] = {}  # UUID -> mapping, in creation order; guarded by streams.changed
# What the next CreateEventSourceMapping does instead of settling normally (POST /_sandbox/lambda/next-mapping-state),
# so callers' handling of a mapping that stays Creating, or that Lambda itself ends Disabled, can be tested.
_next_create: dict[str, Any] | None = None
_app: SandboxApp | None = None


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterValueException", message)


@dataclass
class Mapping:
    uuid: str
    account: str
    region: str
    function_arn: str
    event_source_arn: str
    starting_position: str
    batch_size: int = 100
    maximum_batching_window: int = 0
    parallelization_factor: int = 1
    bisect: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age: int = -1
    tumbling_window: int = 0
    function_response_types: list[str] = field(default_factory=list)
    filter_criteria: dict[str, Any] | None = None
    filters: list[dict[str, Any]] = field(default_factory=list)  # parsed patterns of filter_criteria
    on_failure: str | None = None
    metrics: list[str] | None = None
    kms_key_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    state: str = "Creating"
    transition_end: float = 0.0
    last_modified: float = field(default_factory=time.time)
    last_processing_result: str = NO_RECORDS
    created: float = field(default_factory=time.time)
    start_seq: int = 0  # LATEST: newest sequence number when the mapping was created
    start_delay: float = 0.0  # LATEST: records written this long after creation are never delivered
    deleted: bool = False
    poller: Any = None
    # "User action" after a change a caller asked for; "PROBLEM: ..." when Lambda itself stopped the mapping.
    state_transition_reason: str = "User action"
    failure: str | None = None  # set on demand: Creating ends Disabled with this problem instead of Enabled

    @property
    def arn(self) -> str:
        partition = self.function_arn.split(":", 2)[1]
        return f"arn:{partition}:lambda:{self.region}:{self.account}:event-source-mapping:{self.uuid}"

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":function:", 1)[1].split(":", 1)[0]

    # --- states -----------------------------------------------------------------------------------------------
    def begin(self, state: str, duration: float) -> None:
        self.state = state
        self.transition_end = time.time() + duration
        self.settle()

    def settle(self, now: float | None = None) -> None:
        """Finish the current transition if its time has come (Deleting ends with the mapping gone)."""
        if self.state not in TRANSITIONAL or (now or time.time()) < self.transition_end:
            return
        if self.state == "Deleting":
            self.deleted = True
            _mappings.pop(self.uuid, None)
            return
        if self.state == "Creating" and self.failure:
            # Lambda stops a mapping it cannot run and says why in StateTransitionReason / LastProcessingResult.
            self.enabled = False
            self.state_transition_reason = self.last_processing_result = f"PROBLEM: {self.failure}"
        self.state = "Enabled" if self.enabled else "Disabled"

    def is_active(self) -> bool:
        """True while the poller should deliver (Enabled, or being updated while enabled)."""
        with streams.changed:
            self.settle()
            return not self.deleted and (self.state == "Enabled" or (self.state == "Updating" and self.enabled))

    def is_deleted(self) -> bool:
        with streams.changed:
            self.settle()
            return self.deleted or self.state == "Deleting"

    def next_change(self) -> float | None:
        """When the current transition ends (epoch seconds), or None when the mapping is settled."""
        with streams.changed:
            return self.transition_end if self.state in TRANSITIONAL else None

    def record_result(self, result: str) -> None:
        with streams.changed:
            self.last_processing_result = result

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "UUID": self.uuid,
            "StartingPosition": self.starting_position,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.maximum_batching_window,
            "ParallelizationFactor": self.parallelization_factor,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "LastProcessingResult": self.last_processing_result,
            "State": self.state,
            "StateTransitionReason": self.state_transition_reason,
            "DestinationConfig": {"OnFailure": {"Destination": self.on_failure} if self.on_failure else {}},
            "MaximumRecordAgeInSeconds": self.maximum_record_age,
            "BisectBatchOnFunctionError": self.bisect,
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "TumblingWindowInSeconds": self.tumbling_window,
            "FunctionResponseTypes": list(self.function_response_types),
            "EventSourceMappingArn": self.arn,
        }
        if self.filter_criteria:
            out["FilterCriteria"] = self.filter_criteria
        if self.metrics:
            out["MetricsConfig"] = {"Metrics": list(self.metrics)}
        if self.kms_key_arn:
            out["KMSKeyArn"] = self.kms_key_arn
        return out


# --- validation -----------------------------------------------------------------------------------------------

def _int_param(body: dict[str, Any], name: str, low: int, high: int, *, allow: tuple[int, ...] = ()) -> int | None:
    if name not in body or body[name] is None:
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{name} must be an integer, got {value!r}")
    if value in allow:
        return value
    if not low <= value <= high:
        extra = "".join(f" or {a}" for a in allow)
        raise _invalid(f"{name} must be between {low} and {high}{extra}, got {value}")
    return value


def _bool_param(body: dict[str, Any], name: str) -> bool | None:
    if name not in body or body[name] is None:
        return None
    if not isinstance(body[name], bool):
        raise _invalid(f"{name} must be a boolean, got {body[name]!r}")
    return body[name]


def _filters(value: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """FilterCriteria -> (as stored, parsed patterns); an empty FilterCriteria removes the filters."""
    if value is None:
        return None, []
    if not isinstance(value, dict):
        raise _invalid("FilterCriteria must be an object with a Filters list")
    filters = value.get("Filters") or []
    if not isinstance(filters, list):
        raise _invalid("FilterCriteria.Filters must be a list")
    if len(filters) > MAX_FILTERS:
        raise _invalid(f"FilterCriteria.Filters can hold at most {MAX_FILTERS} filters, got {len(filters)}")
    parsed = []
    for i, item in enumerate(filters):
        pattern = item.get("Pattern") if isinstance(item, dict) else None
        if not isinstance(pattern, str):
            raise _invalid(f"FilterCriteria.Filters[{i}].Pattern must be a string")
        try:
            parsed.append(event_patterns.parse(pattern))
        except event_patterns.PatternError as exc:
            raise _invalid(f"Invalid filter pattern definition in FilterCriteria.Filters[{i}].Pattern: {exc}") from None
    if not filters:
        return None, []
    return {"Filters": [{"Pattern": f["Pattern"]} for f in filters]}, parsed


def _destination(value: Any) -> str | None:
    if not isinstance(value, dict):
        raise _invalid("DestinationConfig must be an object")
    if value.get("OnSuccess"):
        raise _invalid("DestinationConfig.OnSuccess is not supported for DynamoDB stream sources")
    on_failure = value.get("OnFailure") or {}
    if not isinstance(on_failure, dict):
        raise _invalid("DestinationConfig.OnFailure must be an object")
    dest = on_failure.get("Destination")
    if not dest:
        return None
    if not isinstance(dest, str) or not _DESTINATION.match(dest):
        raise _invalid(f"DestinationConfig.OnFailure.Destination must be an SQS queue or SNS topic ARN, got {dest!r}")
    return dest


def _function_response_types(value: Any) -> list[str]:
    if not isinstance(value, list) or any(v != "ReportBatchItemFailures" for v in value):
        raise _invalid(f"FunctionResponseTypes must be [] or [\"ReportBatchItemFailures\"], got {value!r}")
    return sorted(set(value))


def _metrics(value: Any) -> list[str] | None:
    metrics = value.get("Metrics") if isinstance(value, dict) else None
    if not isinstance(metrics, list) or any(m != "EventCount" for m in metrics):
        raise _invalid(f"MetricsConfig.Metrics must be [] or [\"EventCount\"], got {value!r}")
    return sorted(set(metrics)) or None


def _tags(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _invalid("Tags must be a map of strings to strings")
    return dict(value)


def _apply_common(body: dict[str, Any], m: Mapping) -> None:
    """Validate and apply the parameters Create and Update share (absent ones leave *m* as it is)."""
    checked: dict[str, Any] = {
        "batch_size": _int_param(body, "BatchSize", 1, 10000),
        "maximum_batching_window": _int_param(body, "MaximumBatchingWindowInSeconds", 0, 300),
        "parallelization_factor": _int_param(body, "ParallelizationFactor", 1, 10),
        "maximum_retry_attempts": _int_param(body, "MaximumRetryAttempts", -1, 10000),
        "maximum_record_age": _int_param(body, "MaximumRecordAgeInSeconds", 60, 604800, allow=(-1,)),
        "tumbling_window": _int_param(body, "TumblingWindowInSeconds", 0, 900),
        "bisect": _bool_param(body, "BisectBatchOnFunctionError"),
        "enabled": _bool_param(body, "Enabled"),
    }
    if "FilterCriteria" in body:
        m.filter_criteria, m.filters = _filters(body["FilterCriteria"])
    if body.get("DestinationConfig") is not None:
        m.on_failure = _destination(body["DestinationConfig"])
    if body.get("FunctionResponseTypes") is not None:
        m.function_response_types = _function_response_types(body["FunctionResponseTypes"])
    if body.get("MetricsConfig") is not None:
        m.metrics = _metrics(body["MetricsConfig"])
    if body.get("KMSKeyArn") is not None:
        if not isinstance(body["KMSKeyArn"], str):
            raise _invalid("KMSKeyArn must be a string")
        m.kms_key_arn = body["KMSKeyArn"] or None
    for attr, value in checked.items():
        if value is not None:
            setattr(m, attr, value)


def resolve_function(account: str, region: str, name: Any) -> tuple[str, Any]:
    """FunctionName (name, name:qualifier, ARN, partial ARN) -> (FunctionArn as Lambda reports it, moto fn)."""
    if not isinstance(name, str) or not name:
        raise _invalid("FunctionName is required")
    found = _FUNCTION_ARN.match(name) or _PARTIAL_ARN.match(name) or _NAME.match(name)
    if not found:
        raise _invalid(f"FunctionName is not a valid function name or ARN: {name!r}")
    parts = found.groupdict()
    fn_account, fn_region = parts.get("account") or account, parts.get("region") or region
    fn_name, qualifier = parts["name"], parts.get("qualifier")
    partition = parts.get("partition") or "aws"
    unqualified = f"arn:{partition}:lambda:{fn_region}:{fn_account}:function:{fn_name}"
    from moto.awslambda.models import lambda_backends

    try:
        fn = lambda_backends[fn_account][fn_region].get_function(fn_name, qualifier)
    except Exception:  # moto raises its own RESTError subclasses for unknown names and qualifiers
        shown = f"{unqualified}:{qualifier}" if qualifier else unqualified
        raise ApiError("ResourceNotFoundException", f"Function not found: {shown}", 404) from None
    return (f"{unqualified}:{qualifier}" if qualifier else unqualified), fn


def _role_check(account: str, fn: Any) -> None:
    try:
        from . import faults
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.faults":
            raise
        return
    if faults.role_recently_changed(account, getattr(fn, "role", "")):
        raise _invalid("The provided execution role does not have permissions to call DescribeStream on DynamoDB")


def cannot_access_stream(arn: str) -> str:
    """Lambda's message when the execution role cannot read the stream (InvalidParameterValueException)."""
    return (f"Cannot access stream {arn}. Please ensure the role can perform the GetRecords, GetShardIterator, "
            "DescribeStream, and ListStreams Actions on your stream in IAM.")


def _stream_access_check(account: str, fn: Any, arn: str) -> None:
    # Lambda tries the stream with the execution role before it accepts the mapping.
    if iam_eval.enabled() and iam_eval.missing_stream_permissions(account, getattr(fn, "role", "") or "", arn):
        raise _invalid(cannot_access_stream(arn))


def _check_stream(arn: Any) -> Any:
    if not isinstance(arn, str) or not arn:
        raise _invalid("EventSourceArn is required")
    if not _STREAM_ARN.match(arn):
        raise _invalid(f"EventSourceArn must be a DynamoDB stream ARN (the sandbox maps DynamoDB streams only), "
                       f"got {arn!r}")
    status = streams.stream_status(arn)
    if status == "NOT_FOUND":
        raise _invalid(f"Stream not found: {arn}")
    if status != "ENABLED":
        raise _invalid(f"Stream is not enabled: {arn}")
    return streams.shard_for(arn)


def _conflict(function_arn: str, source: str, skip: str | None = None) -> None:
    for other in list(_mappings.values()):
        other.settle()
        if other.uuid != skip and not other.deleted and other.function_arn == function_arn \
                and other.event_source_arn == source:
            raise ApiError("ResourceConflictException",
                           f'The event source arn (" {source} ") and function (" {other.function_name} ") provided '
                           f"mapping already exists. Please update or invoke the existing mapping with UUID "
                           f"{other.uuid}", 409)


def _transition() -> float:
    return float(_app.config.mapping_transition) if _app is not None else 0.0


def _get(uuid: str) -> Mapping:
    m = _mappings.get(uuid)
    if m is not None:
        m.settle()
    if m is None or m.deleted:
        raise ApiError("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    return m


# --- operations -----------------------------------------------------------------------------------------------

def create(account: str, region: str, body: dict[str, Any]) -> Mapping:
    global _next_create
    function_arn, fn = resolve_function(account, region, body.get("FunctionName"))
    source = body.get("EventSourceArn")
    shard = _check_stream(source)
    position = body.get("StartingPosition")
    if position is None:
        raise _invalid("StartingPosition is required for DynamoDB stream sources (TRIM_HORIZON or LATEST)")
    if position not in ("TRIM_HORIZON", "LATEST"):
        raise _invalid(f"StartingPosition {position!r} is not supported for DynamoDB stream sources; "
                       "use TRIM_HORIZON or LATEST")
    if body.get("StartingPositionTimestamp") is not None:
        raise _invalid("StartingPositionTimestamp is only valid with StartingPosition AT_TIMESTAMP, "
                       "which DynamoDB stream sources do not support")
    m = Mapping(uuid=str(uuid_module.uuid4()), account=account, region=region, function_arn=function_arn,
                event_source_arn=source, starting_position=position)
    _apply_common(body, m)
    if body.get("Tags") is not None:
        m.tags = _tags(body["Tags"])
    _role_check(account, fn)
    _stream_access_check(account, fn, source)
    from . import poller

    with streams.changed:
        _conflict(function_arn, source)
        m.start_seq = streams.last_sequence(shard)
        m.start_delay = float(_app.config.poller_start_delay) if _app is not None else 0.0
        m.created = m.last_modified = time.time()
        _mappings[m.uuid] = m
        planned, _next_create = _next_create, None
        duration = _transition()
        if planned is not None:
            duration = max(duration, planned["seconds"])
            m.failure = planned["reason"] if planned["state"] == "Failed" else None
        m.state, m.transition_end = "Creating", time.time() + duration
        snapshot = m.to_json()
        m.settle()
        m.poller = poller.Poller(m)
        m.poller.start()
        streams.changed.notify_all()
    m.snapshot = snapshot  # type: ignore[attr-defined]
    return m


def update(uuid: str, body: dict[str, Any]) -> dict[str, Any]:
    with streams.changed:
        m = _get(uuid)
        if m.state in TRANSITIONAL:
            raise ApiError("ResourceInUseException",
                           f"Cannot update the event source mapping {uuid} because it is in use (State: {m.state}). "
                           "Retry after the state settles.")
        if body.get("StartingPosition") is not None and body["StartingPosition"] != m.starting_position:
            raise _invalid("StartingPosition cannot be updated; delete the mapping and create a new one")
        staged = Mapping(**{k: getattr(m, k) for k in m.__dataclass_fields__})
        staged.function_response_types = list(m.function_response_types)
        if body.get("FunctionName") is not None:
            staged.function_arn, fn = resolve_function(m.account, m.region, body["FunctionName"])
            _role_check(m.account, fn)
            _stream_access_check(m.account, fn, m.event_source_arn)
            _conflict(staged.function_arn, m.event_source_arn, skip=m.uuid)
        _apply_common(body, staged)
        was_enabled = m.enabled
        for name in m.__dataclass_fields__:
            if name not in ("state", "transition_end", "poller", "deleted"):
                setattr(m, name, getattr(staged, name))
        m.last_modified = time.time()
        state = "Updating" if m.enabled == was_enabled else ("Enabling" if m.enabled else "Disabling")
        m.state, m.transition_end = state, time.time() + _transition()
        snapshot = m.to_json()
        m.settle()
        streams.changed.notify_all()
        return snapshot


def delete(uuid: str) -> dict[str, Any]:
    with streams.changed:
        m = _get(uuid)
        if m.state in TRANSITIONAL:
            raise ApiError("ResourceInUseException",
                           f"Cannot delete the event source mapping {uuid} because it is in use (State: {m.state}). "
                           "Retry after the state settles.")
        m.state, m.transition_end = "Deleting", time.time() + _transition()
        snapshot = m.to_json()
        m.settle()
        streams.changed.notify_all()
    if m.poller is not None:
        m.poller.stop(wait=False)
    return snapshot


def _matches_function(m: Mapping, account: str, region: str, wanted: str) -> bool:
    found = _FUNCTION_ARN.match(wanted) or _PARTIAL_ARN.match(wanted) or _NAME.match(wanted)
    if not found:
        raise _invalid(f"FunctionName is not a valid function name or ARN: {wanted!r}")
    parts = found.groupdict()
    target = f"arn:{parts.get('partition') or 'aws'}:lambda:{parts.get('region') or region}:" \
             f"{parts.get('account') or account}:function:{parts['name']}"
    mine = m.function_arn.split(":")
    unqualified = ":".join(mine[:7])
    if parts.get("qualifier"):
        return m.function_arn == f"{target}:{parts['qualifier']}"
    return unqualified == target


def list_mappings(account: str, region: str, query: dict[str, str]) -> dict[str, Any]:
    max_items = 100
    if query.get("MaxItems"):
        try:
            max_items = int(query["MaxItems"])
        except ValueError:
            raise _invalid(f"MaxItems must be an integer, got {query['MaxItems']!r}") from None
        if not 1 <= max_items <= 10000:
            raise _invalid(f"MaxItems must be between 1 and 10000, got {max_items}")
    start = 0
    if query.get("Marker"):
        try:
            start = int(base64.urlsafe_b64decode(query["Marker"].encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise _invalid("Marker is not valid; pass the NextMarker of the previous page") from None
    with streams.changed:
        for m in list(_mappings.values()):
            m.settle()
        chosen = [m for m in _mappings.values()
                  if m.account == account and m.region == region and not m.deleted
                  and (not query.get("EventSourceArn") or m.event_source_arn == query["EventSourceArn"])
                  and (not query.get("FunctionName") or _matches_function(m, account, region, query["FunctionName"]))]
        page = [m.to_json() for m in chosen[start:start + max_items]]
    out: dict[str, Any] = {"EventSourceMappings": page}
    if start + max_items < len(chosen):
        out["NextMarker"] = base64.urlsafe_b64encode(str(start + max_items).encode()).decode()
    return out


def _mapping_for_tags(resource: str) -> Mapping:
    uuid = resource.rsplit(":", 1)[-1]
    with streams.changed:
        m = _mappings.get(uuid)
        if m is not None:
            m.settle()
        if m is None or m.deleted or m.arn != resource:
            raise ApiError("ResourceNotFoundException", f"Event source mapping not found: {resource}", 404)
        return m


def _tag_keys(req: AwsRequest) -> list[str]:
    return req.query_all("tagKeys")  # repeated in the query string, one per key


# --- HTTP glue ------------------------------------------------------------------------------------------------

def _respond(fn):  # type: ignore[no-untyped-def]
    def handler(req: AwsRequest):  # type: ignore[no-untyped-def]
        try:
            return fn(req)
        except ApiError as exc:
            return aws_error(req, exc.code, exc.message, exc.status)
    handler.__name__ = fn.__name__
    return handler


def _body(req: AwsRequest) -> dict[str, Any]:
    try:
        body = req.json()
    except ValueError:
        raise _invalid("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object")
    return body


def _json(payload: Any, status: int = 200):  # type: ignore[no-untyped-def]
    return json_response(payload, status=status, content_type="application/json")


@_respond
def _api_create(req: AwsRequest):  # type: ignore[no-untyped-def]
    m = create(req.account_id, req.region, _body(req))
    return _json(m.snapshot, 202)  # type: ignore[attr-defined]


@_respond
def _api_get(req: AwsRequest):  # type: ignore[no-untyped-def]
    with streams.changed:
        return _json(_get(req.path_params["UUID"]).to_json())


@_respond
def _api_update(req: AwsRequest):  # type: ignore[no-untyped-def]
    return _json(update(req.path_params["UUID"], _body(req)), 202)


@_respond
def _api_delete(req: AwsRequest):  # type: ignore[no-untyped-def]
    return _json(delete(req.path_params["UUID"]), 202)


@_respond
def _api_list(req: AwsRequest):  # type: ignore[no-untyped-def]
    return _json(list_mappings(req.account_id, req.region, req.query))


def _is_mapping_arn(req: AwsRequest) -> bool:
    return ":event-source-mapping:" in req.path_params.get("Resource", "")


def _api_list_tags(req: AwsRequest):  # type: ignore[no-untyped-def]
    if not _is_mapping_arn(req):
        return None
    return _respond(lambda r: _json({"Tags": dict(_mapping_for_tags(r.path_params["Resource"]).tags)}))(req)


def _api_tag(req: AwsRequest):  # type: ignore[no-untyped-def]
    if not _is_mapping_arn(req):
        return None

    def tag(r: AwsRequest):  # type: ignore[no-untyped-def]
        tags = _tags(_body(r).get("Tags"))
        m = _mapping_for_tags(r.path_params["Resource"])
        with streams.changed:
            m.tags.update(tags)
        return Response(status=204)
    return _respond(tag)(req)


def _api_untag(req: AwsRequest):  # type: ignore[no-untyped-def]
    if not _is_mapping_arn(req):
        return None

    def untag(r: AwsRequest):  # type: ignore[no-untyped-def]
        m = _mapping_for_tags(r.path_params["Resource"])
        with streams.changed:
            for key in _tag_keys(r):
                m.tags.pop(key, None)
        return Response(status=204)
    return _respond(untag)(req)


def _admin_next_create(request: Any) -> Response:
    """POST /_sandbox/lambda/next-mapping-state {"state": "Creating" | "Failed", "seconds": S, "reason": "..."}:
    the next CreateEventSourceMapping stays Creating for at least S seconds, and with "Failed" then ends Disabled
    with StateTransitionReason and LastProcessingResult "PROBLEM: <reason>" instead of Enabled."""
    global _next_create
    body = request.get_json(force=True, silent=True) or {}
    state = body.get("state", "Failed")
    if state not in ("Creating", "Failed"):
        raise ValueError("state must be Creating or Failed")
    seconds = float(body.get("seconds", 0))
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    planned = {"state": state, "seconds": seconds,
               "reason": str(body.get("reason", "Function call failed"))}
    with streams.changed:
        _next_create = planned
    return json_response({"next": {"CreateEventSourceMapping": planned}}, content_type="application/json")


def reset() -> None:
    """Stop every poller and forget every mapping (sandbox reset)."""
    global _next_create
    with streams.changed:
        _next_create = None
        doomed = list(_mappings.values())
        _mappings.clear()
        for m in doomed:
            m.deleted = True
        streams.changed.notify_all()
    for m in doomed:
        if m.poller is not None:
            m.poller.stop(wait=False)
    for m in doomed:
        if m.poller is not None:
            m.poller.join(timeout=5)


def install(app: SandboxApp) -> None:
    global _app
    _app = app
    streams.install(app)
    iam_eval.install(app)
    for operation, handler in (("CreateEventSourceMapping", _api_create), ("GetEventSourceMapping", _api_get),
                               ("UpdateEventSourceMapping", _api_update),
                               ("DeleteEventSourceMapping", _api_delete),
                               ("ListEventSourceMappings", _api_list), ("ListTags", _api_list_tags),
                               ("TagResource", _api_tag), ("UntagResource", _api_untag)):
        app.override("lambda", operation, handler)
    app.admin_endpoint("POST", "/_sandbox/lambda/next-mapping-state", _admin_next_create)
    app.on_reset(reset)


def shutdown(app: SandboxApp) -> None:
    reset()
