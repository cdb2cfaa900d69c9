"""The transitions AWS shows after a write, for as long as the latency knobs say, so that waiting is tested.

AWS applies table, stream and function changes asynchronously, and refuses the next change meanwhile:
- DynamoDB: after CreateTable the table is CREATING; item calls meanwhile get ResourceNotFoundException
  "Requested resource not found" and UpdateTable gets ResourceInUseException (knob `table_create_transition`).
  After UpdateTable the table is UPDATING; another UpdateTable gets ResourceInUseException
  "Attempt to change a resource which is still in use: Table is being updated: <name>" (knob `table_transition`).
  A stream being enabled is ENABLING, one being disabled DISABLING, and the table is UPDATING as long
  (knob `stream_transition`).
- Lambda: after CreateFunction the function is Pending; after UpdateFunctionCode / UpdateFunctionConfiguration
  its LastUpdateStatus is InProgress. Another update (or a publish) meanwhile gets ResourceConflictException
  "The operation cannot be performed at this time. An update is in progress for resource: <arn>"; invoking a
  Pending function gets "... The function is currently in the following state: Pending"
  (knob `function_transition`).
At 0 (the default) nothing lasts: UpdateTable's answer and every read say ACTIVE (moto's answer), a function's
write answers say Pending / InProgress (aws_behaviour) and the next read says Active / Successful.

`POST /_sandbox/lambda/next-state` {"operation": "CreateFunction" | "UpdateFunctionCode" |
"UpdateFunctionConfiguration", "state": "Failed" | "Pending", "reason": ..., "reason_code": ..., "seconds": S}
makes the next such call end Failed (State Failed with StateReason, or LastUpdateStatus Failed with
LastUpdateStatusReason), or stay Pending / InProgress for S seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from .app import AwsRequest, SandboxApp, aws_error, json_body, json_response, rewrite_json

_APP: SandboxApp | None = None
_LOCK = threading.Lock()
# (account, region, table name) -> monotonic deadline of UPDATING
_TABLES: dict[tuple[str, str, str], float] = {}
# (account, region, table name) -> monotonic deadline of CREATING
_CREATING: dict[tuple[str, str, str], float] = {}
# stream ARN -> (ENABLING | DISABLING, monotonic deadline)
_STREAMS: dict[str, tuple[str, float]] = {}
# (account, region, function name) -> (kind "create" | "update", monotonic deadline)
_FUNCTIONS: dict[tuple[str, str, str], tuple[str, float]] = {}
# (account, region, function name) -> the final state fields of a function made to fail
_FAILED: dict[tuple[str, str, str], dict[str, str]] = {}
# operation -> what the next such call ends in
_NEXT: dict[str, dict[str, Any]] = {}

FUNCTION_OPERATIONS = ("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration")


def _knob(name: str) -> float:
    return float(getattr(_APP.config, name, 0.0)) if _APP is not None else 0.0


def _now() -> float:
    return time.monotonic()




# --- DynamoDB -------------------------------------------------------------------------------------------------
def _table_key(req: AwsRequest) -> tuple[str, str, str] | None:
    try:
        name = req.json().get("TableName", "")
    except (ValueError, AttributeError):
        return None
    return (req.account_id, req.region, name.rsplit("/", 1)[-1]) if name else None


def _table_busy(key: tuple[str, str, str]) -> bool:
    with _LOCK:
        deadline = _TABLES.get(key)
        if deadline is not None and deadline <= _now():
            del _TABLES[key]
            deadline = None
    return deadline is not None


def _table_creating(key: tuple[str, str, str]) -> bool:
    with _LOCK:
        deadline = _CREATING.get(key)
        if deadline is not None and deadline <= _now():
            del _CREATING[key]
            deadline = None
    return deadline is not None


def _after_create_table(req: AwsRequest, resp: Response) -> Response | None:
    seconds = _knob("table_create_transition")
    data = json_body(resp)
    key = _table_key(req)
    if seconds <= 0 or key is None or data is None or not isinstance(data.get("TableDescription"), dict):
        return None
    with _LOCK:
        _CREATING[key] = _now() + seconds
    data["TableDescription"]["TableStatus"] = "CREATING"
    return rewrite_json(resp, data)


def _refuse_items_while_creating(req: AwsRequest) -> Response | None:
    key = _table_key(req)
    if key is not None and _table_creating(key):
        return aws_error(req, "ResourceNotFoundException", "Requested resource not found")
    return None


def _after_delete_table(req: AwsRequest, resp: Response) -> Response | None:
    key = _table_key(req)
    if key is not None and resp.status_code == 200:
        with _LOCK:
            _CREATING.pop(key, None)
            _TABLES.pop(key, None)
    return None


def _refuse_update_while_updating(req: AwsRequest) -> Response | None:
    key = _table_key(req)
    if key is not None and _table_creating(key):
        return aws_error(req, "ResourceInUseException",
                         f"Attempt to change a resource which is still in use: Table is being created: {key[2]}")
    if key is not None and _table_busy(key):
        return aws_error(req, "ResourceInUseException",
                         f"Attempt to change a resource which is still in use: Table is being updated: {key[2]}")
    return None


def _current_stream_arn(req: AwsRequest, name: str) -> str | None:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[req.account_id][req.region].tables.get(name)
    if table is None or not (table.stream_specification or {}).get("StreamEnabled"):
        return None
    return table.describe(base_key="Table")["Table"].get("LatestStreamArn")


def _before_update_table(req: AwsRequest) -> Response | None:
    refused = _refuse_update_while_updating(req)
    if refused is not None:
        return refused
    key = _table_key(req)
    if key is not None:
        # The stream this call may disable, remembered for the after hook (one request object per call).
        req.path_params["_stream_before"] = _current_stream_arn(req, key[2]) or ""
    return None


def _after_update_table(req: AwsRequest, resp: Response) -> Response | None:
    data = json_body(resp)
    key = _table_key(req)
    if data is None or key is None or not isinstance(data.get("TableDescription"), dict):
        return None
    description = data["TableDescription"]
    table_seconds, stream_seconds = _knob("table_transition"), _knob("stream_transition")
    spec = (req.json() or {}).get("StreamSpecification")
    busy = table_seconds
    if isinstance(spec, dict):
        busy = max(busy, stream_seconds)
        if stream_seconds > 0:
            with _LOCK:
                before = req.path_params.get("_stream_before")
                if before:
                    _STREAMS[before] = ("DISABLING", _now() + stream_seconds)
                new = description.get("LatestStreamArn")
                if spec.get("StreamEnabled") and new and new != before:
                    _STREAMS[new] = ("ENABLING", _now() + stream_seconds)
    if busy <= 0:
        return None  # as before the knobs existed: moto's answer and reads say ACTIVE
    with _LOCK:
        _TABLES[key] = _now() + busy
    description["TableStatus"] = "UPDATING"
    return rewrite_json(resp, data)


def _after_describe_table(req: AwsRequest, resp: Response) -> Response | None:
    key = _table_key(req)
    if key is None:
        return None
    status = "CREATING" if _table_creating(key) else "UPDATING" if _table_busy(key) else None
    if status is None:
        return None
    data = json_body(resp)
    if data is None or not isinstance(data.get("Table"), dict):
        return None
    data["Table"]["TableStatus"] = status
    return rewrite_json(resp, data)


def _after_describe_stream(req: AwsRequest, resp: Response) -> Response | None:
    data = json_body(resp)
    description = (data or {}).get("StreamDescription")
    if not isinstance(description, dict):
        return None
    arn = description.get("StreamArn", "")
    with _LOCK:
        found = _STREAMS.get(arn)
        if found is not None and found[1] <= _now():
            del _STREAMS[arn]
            found = None
    if found is None:
        return None
    description["StreamStatus"] = found[0]
    return rewrite_json(resp, data)  # type: ignore[arg-type]


# --- Lambda ---------------------------------------------------------------------------------------------------
def _function_key(req: AwsRequest, name: str | None = None) -> tuple[str, str, str]:
    name = name or req.path_params.get("FunctionName", "")
    # name, name:qualifier, or an ARN (arn:aws:lambda:region:account:function:name[:qualifier])
    parts = name.split(":")
    base = parts[6] if len(parts) >= 7 and parts[0] == "arn" else parts[0]
    return (req.account_id, req.region, base)


def _function_busy(key: tuple[str, str, str]) -> str | None:
    with _LOCK:
        found = _FUNCTIONS.get(key)
        if found is not None and found[1] <= _now():
            del _FUNCTIONS[key]
            found = None
    return found[0] if found else None


def _function_arn(key: tuple[str, str, str]) -> str:
    account, region, name = key
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


def _refuse_while_busy(req: AwsRequest) -> Response | None:
    key = _function_key(req)
    kind = _function_busy(key)
    if kind is None:
        return None
    if kind == "create":
        message = ("The operation cannot be performed at this time. The function is currently in the following "
                   "state: Pending")
        reason = "FunctionPending" if req.operation in ("Invoke", "InvokeAsync") else None
    else:
        if req.operation in ("Invoke", "InvokeAsync"):
            return None  # an update in progress does not stop invocations (the old version keeps running)
        message = f"The operation cannot be performed at this time. An update is in progress for resource: " \
                  f"{_function_arn(key)}"
        reason = None
    return aws_error(req, "ResourceConflictException", message, 409,
                     extra={"Type": "User", **({"Reason": reason} if reason else {})})


def _after_function_write(req: AwsRequest, resp: Response) -> Response | None:
    data = json_body(resp)
    if data is None:
        return None
    name = data.get("FunctionName") or req.path_params.get("FunctionName", "")
    key = _function_key(req, name)
    creating = req.operation == "CreateFunction"
    with _LOCK:
        planned = _NEXT.pop(req.operation, None)
        _FAILED.pop(key, None)
    seconds = _knob("function_transition")
    if planned is not None:
        if planned["state"] == "Failed":
            failed = ({"State": "Failed", "StateReason": planned["reason"], "StateReasonCode": planned["reason_code"]}
                      if creating else
                      {"LastUpdateStatus": "Failed", "LastUpdateStatusReason": planned["reason"],
                       "LastUpdateStatusReasonCode": planned["reason_code"]})
            with _LOCK:
                _FAILED[key] = failed
        else:
            seconds = max(seconds, float(planned.get("seconds", 0)))
    if seconds > 0:
        with _LOCK:
            _FUNCTIONS[key] = ("create" if creating else "update", _now() + seconds)
    return None


def _overlay(req: AwsRequest, config: dict[str, Any]) -> bool:
    """Write the transient or failed state of the function into one configuration; True if it changed."""
    name = config.get("FunctionName")
    if not name:
        return False
    key = _function_key(req, name)
    changed = False
    kind = _function_busy(key)
    if kind == "create":
        config.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
        config.pop("LastUpdateStatus", None)
        changed = True
    elif kind == "update":
        config.update(LastUpdateStatus="InProgress", LastUpdateStatusReason="The function is being updated.",
                      LastUpdateStatusReasonCode="InProgress")
        changed = True
    with _LOCK:
        failed = _FAILED.get(key)
    if failed and kind is None:
        config.update(failed)
        changed = True
    return changed


def _after_function_read(req: AwsRequest, resp: Response) -> Response | None:
    data = json_body(resp)
    if data is None:
        return None
    changed = False
    if isinstance(data.get("Configuration"), dict):  # GetFunction
        changed = _overlay(req, data["Configuration"])
    elif isinstance(data.get("Functions"), list):  # ListFunctions
        for config in data["Functions"]:
            changed = _overlay(req, config) or changed
    elif "FunctionName" in data:  # GetFunctionConfiguration
        changed = _overlay(req, data)
    return rewrite_json(resp, data) if changed else None


def _after_delete_function(req: AwsRequest, resp: Response) -> Response | None:
    if resp.status_code in (200, 204) and not req.query.get("Qualifier"):
        key = _function_key(req)
        with _LOCK:
            _FUNCTIONS.pop(key, None)
            _FAILED.pop(key, None)
    return None


def _admin_next_state(request: Request) -> Response:
    body = request.get_json(force=True, silent=True) or {}
    operation = body.get("operation", "CreateFunction")
    state = body.get("state", "Failed")
    if operation not in FUNCTION_OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(FUNCTION_OPERATIONS)}")
    if state not in ("Failed", "Pending"):
        raise ValueError("state must be Failed or Pending")
    planned = {"state": state, "seconds": float(body.get("seconds", 0)),
               "reason": str(body.get("reason", "The function could not be created." if operation == "CreateFunction"
                                      else "The function could not be updated.")),
               "reason_code": str(body.get("reason_code", "InternalError"))}
    with _LOCK:
        _NEXT[operation] = planned
    return json_response({"next": {operation: planned}}, content_type="application/json")


def reset() -> None:
    with _LOCK:
        _TABLES.clear()
        _CREATING.clear()
        _STREAMS.clear()
        _FUNCTIONS.clear()
        _FAILED.clear()
        _NEXT.clear()


def install(app: SandboxApp) -> None:
    global _APP
    _APP = app
    reset()
    # Before aws_behaviour's UpdateTable override: a busy table refuses before anything is prepared.
    app.override("dynamodb", "UpdateTable", _before_update_table)
    app.after("dynamodb", "UpdateTable", _after_update_table)
    app.after("dynamodb", "DescribeTable", _after_describe_table)
    app.after("dynamodb", "CreateTable", _after_create_table)
    app.after("dynamodb", "DeleteTable", _after_delete_table)
    for operation in ("PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan"):
        app.override("dynamodb", operation, _refuse_items_while_creating)
    app.after("streams.dynamodb", "DescribeStream", _after_describe_stream)
    for operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion", "Invoke",
                      "InvokeAsync", "PutFunctionConcurrency"):
        app.override("lambda", operation, _refuse_while_busy)
    for operation in FUNCTION_OPERATIONS:
        app.after("lambda", operation, _after_function_write)
    for operation in ("GetFunction", "GetFunctionConfiguration", "ListFunctions"):
        app.after("lambda", operation, _after_function_read)
    app.after("lambda", "DeleteFunction", _after_delete_function)
    app.admin_endpoint("POST", "/_sandbox/lambda/next-state", _admin_next_state)
    app.on_reset(reset)
