"""AWS behaviours this pipeline depends on where moto 5.2 answers differently.

DynamoDB UpdateTable / StreamSpecification (observed on AWS, see terraform-provider-aws #18402 and the ACK
DynamoDB controller's findings):
- enabling a stream while one is enabled, with the same or another view type, is a ValidationException
  "Table already has an enabled stream: TableName: <name>" (moto: ResourceInUseException "Cannot enable stream");
- enabling needs a StreamViewType, disabling must not carry one (ValidationException);
- disabling when no stream is enabled is a ValidationException "Table has no stream to disable: TableName: <name>"
  (moto: silently succeeds);
- after disable, enabling again mints a new stream (new LatestStreamArn/Label) (moto: refuses for ever, because
  it keeps the old label); after disable, DescribeTable omits StreamSpecification while LatestStreamArn/Label
  linger, which moto already does.
- Describe/Create/Update/DeleteTable carry a TableId (moto leaves it out; community.aws.dynamodb_table reads it).

Lambda: CreateFunction answers State Pending and UpdateFunctionConfiguration/UpdateFunctionCode answer
LastUpdateStatus InProgress (moto: Active / Successful at once), so callers must wait as they must on AWS; the
next Get already reports Active / Successful, as moto does.

Lambda code (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 50 MB zipped for a direct
upload, larger from S3):
- CreateFunction / UpdateFunctionCode requests over 69905067 bytes (a 50 MB zip, base64-encoded) are refused with
  413 RequestEntityTooLargeException "Request must be smaller than 69905067 bytes for the <operation> operation"
  (moto takes any size);
- code from S3 (S3Bucket + S3Key) whose bucket or key does not exist is an InvalidParameterValueException "Error
  occurred while GetObject. S3 Error Code: NoSuchKey. ..." (moto creates the function with empty code for a missing
  key, and UpdateFunctionCode answers 500 for a missing bucket).
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from werkzeug.wrappers import Response

from .app import AwsRequest, SandboxApp, aws_error, rewrite_json

_TABLE_ID_NAMESPACE = uuid.UUID("6f1c5e0e-5d1e-4c55-9a53-5a4e0c1f2b7d")
STREAM_VIEW_TYPES = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")
_LOCK = threading.Lock()
# The most a CreateFunction / UpdateFunctionCode request may carry: 50 MB of zip in base64 (4/3), rounded up.
CODE_REQUEST_LIMIT = 69905067
_S3_MISSING = {"NoSuchBucket": "The specified bucket does not exist", "NoSuchKey": "The specified key does not exist."}
# (account, region, table) -> stream label moto held before a re-enable, restored if moto then refuses the call.
_STASHED_LABELS: dict[tuple[str, str, str], str] = {}


def _table(req: AwsRequest, name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[req.account_id][req.region].tables.get(name)


def _update_table_streams(req: AwsRequest) -> Response | None:
    body = req.json()
    spec = body.get("StreamSpecification")
    if not isinstance(spec, dict):
        return None
    name = body.get("TableName", "")
    table = _table(req, name.rsplit("/", 1)[-1])
    if table is None:
        return None  # moto answers ResourceNotFoundException
    enabling = bool(spec.get("StreamEnabled"))
    view_type = spec.get("StreamViewType")
    currently = bool(table.stream_specification and table.stream_specification.get("StreamEnabled"))
    if view_type is not None and view_type not in STREAM_VIEW_TYPES:
        return aws_error(req, "ValidationException", f"1 validation error detected: Value '{view_type}' at "
                                                     "'streamSpecification.streamViewType' failed to satisfy "
                                                     "constraint: Member must satisfy enum value set: "
                                                     f"[{', '.join(STREAM_VIEW_TYPES)}]")
    if enabling and not view_type:
        return aws_error(req, "ValidationException", "One or more parameter values were invalid: "
                                                     "If stream is being enabled then UpdateViewType is required")
    if not enabling and view_type:
        return aws_error(req, "ValidationException", "One or more parameter values were invalid: "
                                                     "If stream is being disabled, then UpdateViewType must not be "
                                                     "specified")
    if enabling and currently:
        return aws_error(req, "ValidationException", f"Table already has an enabled stream: TableName: {table.name}")
    if not enabling and not currently:
        return aws_error(req, "ValidationException", f"Table has no stream to disable: TableName: {table.name}")
    if enabling and table.latest_stream_label:
        # moto refuses to enable while it remembers any earlier stream; AWS makes a new stream instead.
        with _LOCK:
            _STASHED_LABELS[(req.account_id, req.region, table.name)] = table.latest_stream_label
        table.latest_stream_label = None
    return None


def _after_update_table(req: AwsRequest, resp: Response) -> Response | None:
    try:
        name = req.json().get("TableName", "").rsplit("/", 1)[-1]
    except ValueError:
        return None
    with _LOCK:
        stashed = _STASHED_LABELS.pop((req.account_id, req.region, name), None)
    if stashed and resp.status_code != 200:
        table = _table(req, name)
        if table is not None and not table.latest_stream_label:
            table.latest_stream_label = stashed
    return _add_table_id(req, resp)


def _add_table_id(req: AwsRequest, resp: Response) -> Response | None:
    if resp.status_code != 200:
        return None
    try:
        data = json.loads(resp.get_data())
    except ValueError:
        return None
    description = data.get("Table") or data.get("TableDescription")
    if not isinstance(description, dict) or "TableArn" not in description or "TableId" in description:
        return None
    # Stable for one table, different for a table re-created under the same name (new CreationDateTime).
    description["TableId"] = str(uuid.uuid5(_TABLE_ID_NAMESPACE,
                                            f"{description['TableArn']}@{description.get('CreationDateTime')}"))
    return rewrite_json(resp, data)


def _lambda_transient_state(field: str, value: str, extra: dict[str, str]):
    def hook(req: AwsRequest, resp: Response) -> Response | None:
        if resp.status_code not in (200, 201):
            return None
        try:
            data = json.loads(resp.get_data())
        except ValueError:
            return None
        data[field] = value
        data.update(extra)
        return rewrite_json(resp, data)

    return hook


def _lambda_code(req: AwsRequest) -> Response | None:
    if len(req.body) > CODE_REQUEST_LIMIT:
        return aws_error(req, "RequestEntityTooLargeException",
                         f"Request must be smaller than {CODE_REQUEST_LIMIT} bytes for the {req.operation} operation",
                         413)
    # base64 has no quotes: the quoted name is only ever the JSON member, so zip uploads are not parsed here.
    if b'"S3Key"' not in req.body:
        return None
    try:
        body = req.json()
    except ValueError:
        return None
    code = body.get("Code") if req.operation == "CreateFunction" else body
    if not isinstance(code, dict) or not code.get("S3Bucket") or not code.get("S3Key"):
        return None
    from moto.s3.models import s3_backends

    backend = s3_backends[req.account_id]["aws"]
    missing = None
    if code["S3Bucket"] not in backend.buckets:
        missing = "NoSuchBucket"
    elif backend.get_object(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion")) is None:
        missing = "NoSuchKey"
    if missing is None:
        return None
    return aws_error(req, "InvalidParameterValueException",
                     f"Error occurred while GetObject. S3 Error Code: {missing}. S3 Error Message: {_S3_MISSING[missing]}")


def install(app: SandboxApp) -> None:
    for operation in ("CreateFunction", "UpdateFunctionCode"):
        app.override("lambda", operation, _lambda_code)
    app.override("dynamodb", "UpdateTable", _update_table_streams)
    app.after("dynamodb", "UpdateTable", _after_update_table)
    for operation in ("DescribeTable", "CreateTable", "DeleteTable"):
        app.after("dynamodb", operation, _add_table_id)
    app.after("lambda", "CreateFunction", _lambda_transient_state(
        "State", "Pending", {"StateReason": "The function is being created.", "StateReasonCode": "Creating"}))
    for operation in ("UpdateFunctionConfiguration", "UpdateFunctionCode"):
        app.after("lambda", operation, _lambda_transient_state("LastUpdateStatus", "InProgress", {}))
    app.on_reset(_STASHED_LABELS.clear)
