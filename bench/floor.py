"""The physical floor: a plain boto3 script that makes only the API calls one pipeline needs.

Setup: CreateTable with the stream already on (one call instead of create + UpdateTable), CreateRole,
PutRolePolicy (least privilege, like the collection's default), CreateLogGroup + PutRetentionPolicy (the collection
manages the function's log group and its retention, so the floor does too, for the same end state), CreateFunction,
CreateEventSourceMapping. It reads only when it must wait: table not ACTIVE yet, function still Pending, mapping
not Enabled yet. Retries happen only on the errors AWS documents for IAM propagation, with backoff.

Check (the floor of an idempotent re-run): one read per resource, no writes.
Teardown: find the mapping (ListEventSourceMappings), delete it, then the function, the inline policy, the role,
the log group and the table; last, wait until the mapping is gone (Deleting lasts a while on AWS, and a mapping for
the same function and stream cannot be made again until then), so its wait overlaps the other deletes.
Many pipelines (`setup_all`, `teardown_all`): one thread per pipeline, all at once, each waiting by polling, so
the waits of different pipelines overlap as well as they can.
Verify: the walkthrough's three item changes, then FilterLogEvents until the three records are logged.
"""

from __future__ import annotations

import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .sandbox_proc import ACCOUNT_ID, REGION

# The "DynamoDB process stream (Python)" blueprint the walkthrough starts from; the peer deploys the same file.
BLUEPRINT = Path(__file__).resolve().parent / "peer" / "files" / "blueprint" / "lambda_function.py"

ASSUME_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

T = TypeVar("T")


@dataclass
class Pipeline:
    table_name: str = "users_post"
    function_name: str = "Lambda_demo_DynamoDB_stream"
    hash_key: str = "user_id"
    range_key: str | None = "post_id"
    view_type: str = "NEW_AND_OLD_IMAGES"
    log_retention_days: int = 7

    @property
    def role_name(self) -> str:
        return f"{self.function_name}-role"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"


def blueprint_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("lambda_function.py", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, BLUEPRINT.read_text(encoding="utf-8"))
    return buf.getvalue()


class Clients:
    """One boto3 client per service, made once (the floor pays Python + boto3 start-up once, not per call)."""

    def __init__(self, endpoint_url: str | None, region: str = REGION):
        # No SDK-level retries: every call the floor makes must reach the sandbox's counter exactly once.
        # A connection per thread when many pipelines run at once (botocore keeps 10 by default).
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60, max_pool_connections=64)
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=region)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint_url, config=config)
        self.iam = session.client("iam", endpoint_url=endpoint_url, config=config)
        self.logs = session.client("logs", endpoint_url=endpoint_url, config=config)
        self.lambda_ = session.client("lambda", endpoint_url=endpoint_url, config=config)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def poll(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 120.0, what: str = "") -> T:
    """Call *read* until *done* says so, backing off from 50 ms to 1 s, inside a deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def retry_iam_propagation(call: Callable[[], T], timeout: float = 120.0) -> T:
    """Retry the errors a not-yet-propagated role causes (IAM is eventually consistent), with backoff, inside a deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return call()
        except ClientError as exc:
            message = str(exc)
            propagating = _code(exc) == "InvalidParameterValueException" and (
                "cannot be assumed" in message or "does not have permissions" in message)
            if not propagating or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def inline_policy(stream_arn: str, p: Pipeline, region: str = REGION) -> dict[str, Any]:
    log_group_arn = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{p.log_group}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Resource": stream_arn,
             "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]},
            {"Effect": "Allow", "Resource": "*", "Action": ["dynamodb:ListStreams"]},
            {"Effect": "Allow", "Resource": [log_group_arn, log_group_arn + ":*"],
             "Action": ["logs:CreateLogStream", "logs:PutLogEvents"]},
        ],
    }


def setup(c: Clients, p: Pipeline) -> dict[str, str]:
    keys = [{"AttributeName": p.hash_key, "KeyType": "HASH"}]
    attrs = [{"AttributeName": p.hash_key, "AttributeType": "S"}]
    if p.range_key:
        keys.append({"AttributeName": p.range_key, "KeyType": "RANGE"})
        attrs.append({"AttributeName": p.range_key, "AttributeType": "S"})
    stream_spec = {"StreamEnabled": True, "StreamViewType": p.view_type}
    try:
        table = c.dynamodb.create_table(TableName=p.table_name, KeySchema=keys, AttributeDefinitions=attrs,
                                        BillingMode="PAY_PER_REQUEST", StreamSpecification=stream_spec)
        table = table["TableDescription"]
    except ClientError as exc:
        if _code(exc) != "ResourceInUseException":
            raise
        table = c.dynamodb.describe_table(TableName=p.table_name)["Table"]
        if not table.get("StreamSpecification", {}).get("StreamEnabled"):
            table = c.dynamodb.update_table(TableName=p.table_name, StreamSpecification=stream_spec)
            table = table["TableDescription"]
    if table["TableStatus"] != "ACTIVE":
        table = poll(lambda: c.dynamodb.describe_table(TableName=p.table_name)["Table"],
                     lambda t: t["TableStatus"] == "ACTIVE", what=f"table {p.table_name} ACTIVE")
    stream_arn = table["LatestStreamArn"]

    role = c.iam.create_role(RoleName=p.role_name, AssumeRolePolicyDocument=json.dumps(ASSUME_ROLE_POLICY))["Role"]
    c.iam.put_role_policy(RoleName=p.role_name, PolicyName="stream-processing",
                          PolicyDocument=json.dumps(inline_policy(stream_arn, p)))
    c.logs.create_log_group(logGroupName=p.log_group)
    c.logs.put_retention_policy(logGroupName=p.log_group, retentionInDays=p.log_retention_days)

    fn = retry_iam_propagation(lambda: c.lambda_.create_function(
        FunctionName=p.function_name, Runtime="python3.12", Role=role["Arn"],
        Handler="lambda_function.lambda_handler", Code={"ZipFile": blueprint_zip()}, Timeout=30, MemorySize=128))
    if fn.get("State", "Active") != "Active":
        poll(lambda: c.lambda_.get_function_configuration(FunctionName=p.function_name),
             lambda f: f.get("State") == "Active", what=f"function {p.function_name} Active")

    mapping = retry_iam_propagation(lambda: c.lambda_.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=p.function_name, BatchSize=100, StartingPosition="LATEST",
        Enabled=True))
    if mapping.get("State") != "Enabled":
        poll(lambda: c.lambda_.get_event_source_mapping(UUID=mapping["UUID"]),
             lambda m: m.get("State") == "Enabled", what="event source mapping Enabled")
    return {"stream_arn": stream_arn, "function_arn": fn["FunctionArn"], "mapping_uuid": mapping["UUID"]}


def check(c: Clients, p: Pipeline) -> bool:
    """The floor of an idempotent re-run: one read per resource, True when everything is as setup left it."""
    table = c.dynamodb.describe_table(TableName=p.table_name)["Table"]
    c.iam.get_role_policy(RoleName=p.role_name, PolicyName="stream-processing")  # raises if the role is gone
    groups = c.logs.describe_log_groups(logGroupNamePrefix=p.log_group)["logGroups"]
    fn = c.lambda_.get_function_configuration(FunctionName=p.function_name)
    mappings = c.lambda_.list_event_source_mappings(FunctionName=p.function_name)["EventSourceMappings"]
    return (table.get("StreamSpecification", {}).get("StreamViewType") == p.view_type
            and any(g["logGroupName"] == p.log_group for g in groups)
            and fn.get("State", "Active") == "Active"
            and any(m["EventSourceArn"] == table["LatestStreamArn"] for m in mappings))


def teardown(c: Clients, p: Pipeline) -> None:
    mappings = c.lambda_.list_event_source_mappings(FunctionName=p.function_name)["EventSourceMappings"]
    for m in mappings:
        if m.get("State") != "Deleting":
            c.lambda_.delete_event_source_mapping(UUID=m["UUID"])
    c.lambda_.delete_function(FunctionName=p.function_name)
    c.iam.delete_role_policy(RoleName=p.role_name, PolicyName="stream-processing")
    c.iam.delete_role(RoleName=p.role_name)
    try:
        c.logs.delete_log_group(logGroupName=p.log_group)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
    c.dynamodb.delete_table(TableName=p.table_name)
    for m in mappings:
        poll(lambda m=m: _mapping_state(c, m["UUID"]), lambda state: state is None,
             what=f"event source mapping {m['UUID']} gone")


def _mapping_state(c: Clients, uuid: str) -> str | None:
    try:
        return c.lambda_.get_event_source_mapping(UUID=uuid).get("State")
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise


def _all(work: Callable[[Pipeline], T], ps: list[Pipeline]) -> list[T]:
    with ThreadPoolExecutor(max_workers=max(1, len(ps))) as pool:
        return list(pool.map(work, ps))  # the first failure is raised here, after every thread has finished


def setup_all(c: Clients, ps: list[Pipeline]) -> list[dict[str, str]]:
    return _all(lambda p: setup(c, p), ps)


def teardown_all(c: Clients, ps: list[Pipeline]) -> None:
    _all(lambda p: teardown(c, p), ps)


def _item_key(p: Pipeline, probe: str) -> dict[str, Any]:
    key = {p.hash_key: {"S": probe}}
    if p.range_key:
        key[p.range_key] = {"S": "probe"}
    return key


def wait_for_log(c: Clients, p: Pipeline, needles: list[str], since_ms: int, timeout: float = 60.0) -> float:
    """Poll FilterLogEvents every 50 ms until every needle appears in the log group; return when (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        text = ""
        try:
            kwargs: dict[str, Any] = {"logGroupName": p.log_group, "startTime": since_ms}
            while True:
                page = c.logs.filter_log_events(**kwargs)
                text += "\n".join(e["message"] for e in page.get("events", []))
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
        if all(n in text for n in needles):
            return time.monotonic()
        if time.monotonic() > deadline:
            missing = [n for n in needles if n not in text]
            raise TimeoutError(f"log group {p.log_group} did not show {missing} within {timeout}s")
        time.sleep(0.05)


def write_to_log_latency(c: Clients, p: Pipeline, timeout: float = 60.0) -> float:
    """Seconds from PutItem returning to FilterLogEvents showing the record (the sandbox's own pipeline latency)."""
    probe = f"latency-{uuid.uuid4().hex[:12]}"
    since_ms = int(time.time() * 1000) - 1000
    c.dynamodb.put_item(TableName=p.table_name, Item=_item_key(p, probe))
    written = time.monotonic()
    return wait_for_log(c, p, [probe], since_ms, timeout) - written


def verify(c: Clients, p: Pipeline, timeout: float = 60.0) -> float:
    """The walkthrough's step 4 at its floor: insert, modify, remove one item; wait for the three records.

    Returns the latency from the last item change to all three records being in the log.
    """
    probe = f"verify-{uuid.uuid4().hex[:12]}"
    key = _item_key(p, probe)
    since_ms = int(time.time() * 1000) - 1000
    c.dynamodb.put_item(TableName=p.table_name, Item={**key, "status": {"S": "new"}})
    c.dynamodb.update_item(TableName=p.table_name, Key=key, UpdateExpression="SET #s = :s",
                           ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": "changed"}})
    c.dynamodb.delete_item(TableName=p.table_name, Key=key)
    last_change = time.monotonic()
    # The blueprint prints the event name on its own line after the record's eventID; the probe key identifies
    # our records, and all three names must be there.
    wait_for_log(c, p, [probe, "INSERT", "MODIFY", "REMOVE"], since_ms, timeout)
    return time.monotonic() - last_change
