"""Requests are validated against the API model's constraints before anything happens, as AWS does.

AWS answers a constraint violation with HTTP 400 and "N validation error(s) detected: Value '<v>' at '<member>'
failed to satisfy constraint: <rule>" (the common error ValidationException,
https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html and
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html; IAM's is ValidationError,
https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html). The constraints are the API references'
"Length Constraints", "Pattern", "Valid Range" and "Valid Values", e.g. FunctionName in
https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html.

botocore clients are built with parameter_validation=False (as `aws --no-paramvalidation` does), and some calls
are raw HTTP, so what is tested is the sandbox's check, not the client's.
"""

from __future__ import annotations

import io
import json
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[3]
NO_CLIENT_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})
FUNCTION_NAME_PATTERN = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
                         r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")
SCOPE = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0"


def _raw(url: str, method: str, path: str, service: str, body: bytes = b"", headers: dict[str, str] | None = None):
    req = urllib.request.Request(url + path, data=body if method != "GET" else None, method=method,
                                 headers={"Authorization": SCOPE.format(service), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def test_get_function_with_a_bad_name_over_raw_http_is_a_validation_exception(sandbox):
    """moto's URL routes do not match the name and answered Flask's HTML 404; AWS checks the FunctionName
    pattern (API_GetFunction.html)."""
    status, headers, body = _raw(sandbox.url, "GET", "/2015-03-31/functions/" + urllib.parse.quote("not a name!"),
                                 "lambda")
    assert status == 400, body
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(body)["message"] == (
        "1 validation error detected: Value 'not a name!' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}")


def test_lambda_query_and_header_members_are_validated(aws):
    lam = aws("lambda", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        lam.list_functions(MaxItems=0)  # API_ListFunctions.html: MaxItems Valid Range 1-10000
    assert _error(excinfo) == ("ValidationException", "1 validation error detected: Value '0' at 'maxItems' failed "
                               "to satisfy constraint: Member must have value greater than or equal to 1", 400)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="fn", InvocationType="Later")  # API_Invoke.html: Event | RequestResponse | DryRun
    code, message, _ = _error(excinfo)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value 'Later' at 'invocationType' failed to satisfy "
                              "constraint: Member must satisfy enum value set: [")


def test_lambda_body_members_and_sensitive_values(aws):
    """Environment variables are sensitive in the model: AWS leaves the value out ("Value at ...")."""
    lam = aws("lambda", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        lam.create_function(FunctionName="fn", Runtime="python3.11", Role="arn:aws:iam::123456789012:role/r",
                            Handler="h.handler", Code={"ZipFile": _zip()}, Timeout=0, MemorySize=100000,
                            Environment={"Variables": {"1bad": "secret-value"}})
    code, message, status = _error(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("3 validation errors detected: ")
    assert "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1" \
        in message
    assert "Value '100000' at 'memorySize' failed to satisfy constraint: Member must have value less than or " \
           "equal to 32768" in message  # botocore 1.44.8's model
    assert "at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member " \
           "must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]" in message
    assert "secret-value" not in message and "1bad" not in message
    assert lam.list_functions()["Functions"] == []


def test_dynamodb_required_nested_members_and_enums(aws):
    """API_CreateTable.html: KeySchema[].KeyType is required; BillingMode is PROVISIONED | PAY_PER_REQUEST;
    TableName (a name or an ARN) is 1-1024 characters."""
    ddb = aws("dynamodb", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        ddb.create_table(TableName="", KeySchema=[{"AttributeName": "k"}],
                         AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="FREE")
    code, message, status = _error(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "3 validation errors detected: "
        "Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value null at 'keySchema.1.member.keyType' failed to satisfy constraint: Member must not be null; "
        "Value 'FREE' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: "
        "[PROVISIONED, PAY_PER_REQUEST]")
    assert ddb.list_tables()["TableNames"] == []


def test_dynamodb_streams_limits(aws):
    """API_streams_GetRecords.html: Limit is at least 1, ShardIterator 1-2048 characters."""
    streams = aws("dynamodbstreams", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        streams.get_records(ShardIterator="x" * 2049, Limit=0)
    assert _error(excinfo)[:2] == ("ValidationException", "2 validation errors detected: Value '" + "x" * 2049 +
                                   "' at 'shardIterator' failed to satisfy constraint: Member must have length less "
                                   "than or equal to 2048; Value '0' at 'limit' failed to satisfy constraint: Member "
                                   "must have value greater than or equal to 1")


def test_iam_query_protocol_answers_validation_error_in_xml(sandbox, aws):
    """API_CreateRole.html: RoleName pattern [\\w+=,.@-]+, 1-64 characters; tag keys at least 1 character."""
    iam = aws("iam", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument="{}", Tags=[{"Key": "", "Value": "v"}])
    assert _error(excinfo) == ("ValidationError", "2 validation errors detected: Value 'bad name!' at 'roleName' "
                               "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                               "[\\w+=,.@-]+; Value '' at 'tags.1.member.key' failed to satisfy constraint: Member "
                               "must have length greater than or equal to 1", 400)
    body = urllib.parse.urlencode({"Action": "CreateRole", "Version": "2010-05-08", "RoleName": "x" * 65,
                                   "AssumeRolePolicyDocument": "{}"}).encode()
    status, headers, raw = _raw(sandbox.url, "POST", "/", "iam", body,
                                {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    assert b"<Code>ValidationError</Code>" in raw
    assert b"Member must have length less than or equal to 64" in raw
    assert iam.list_roles()["Roles"] == []


def test_logs_sns_and_sqs(aws):
    """API_CreateLogGroup.html (logGroupName pattern; Logs answers InvalidParameterException),
    SNS API_Tag.html (Value required)."""
    logs = aws("logs", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_group(logGroupName="bad name!")
    assert _error(excinfo)[0] == "InvalidParameterException"
    assert "Value 'bad name!' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular " \
           "expression pattern: [\\.\\-_/#A-Za-z0-9]+" in _error(excinfo)[1]
    sns = aws("sns", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        sns.create_topic(Name="t", Tags=[{"Key": "k"}])
    assert _error(excinfo)[:2] == ("ValidationError", "1 validation error detected: Value null at "
                                   "'tags.1.member.value' failed to satisfy constraint: Member must not be null")
    sqs = aws("sqs", config=NO_CLIENT_VALIDATION)
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    with pytest.raises(ClientError) as excinfo:
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Bogus"])
    # SQS's model constrains only attribute-name enums, which SQS answers its own way (InvalidAttributeName,
    # API_GetQueueAttributes.html), not as a model validation error.
    assert _error(excinfo)[0] != "ValidationException"


def test_valid_calls_pass_untouched(aws):
    lam = aws("lambda", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as excinfo:
        lam.get_function(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:absent")
    assert _error(excinfo)[0] == "ResourceNotFoundException"
    ddb = aws("dynamodb", config=NO_CLIENT_VALIDATION)
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST", Tags=[{"Key": "streamops:managed-by", "Value": "x y"}])
    aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}", Tags=[{"Key": "é k", "Value": "v"}])


def test_validation_costs_little_per_call():
    """The check runs on every call: measure it on typical requests (the figure is in the report)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sandbox.app import AwsRequest
    from sandbox.validation import problems

    def req(service: str, operation: str, body: dict | str, **extra) -> AwsRequest:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers = extra.pop("headers", {"x-amz-target": f"X.{operation}"})
        return AwsRequest(service=service, operation=operation, region="us-east-1", access_key="testing",
                          method=extra.pop("method", "POST"), path=extra.pop("path", "/"), query={},
                          headers=headers, body=data, **extra)

    item = {f"a{i}": {"S": "v" * 20} for i in range(20)}
    calls = [
        req("dynamodb", "PutItem", {"TableName": "table", "Item": item}),
        req("lambda", "GetFunction", "", headers={}, method="GET", path="/2015-03-31/functions/fn",
            path_params={"FunctionName": "fn"}),
        req("lambda", "CreateFunction", {"FunctionName": "fn", "Runtime": "python3.11", "Handler": "h.handler",
                                         "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": "UEsF"},
                                         "Environment": {"Variables": {"AB": "b"}}},
            headers={}, path="/2015-03-31/functions"),
        req("iam", "CreateRole", urllib.parse.urlencode({"Action": "CreateRole", "RoleName": "r",
                                                         "AssumeRolePolicyDocument": "{}",
                                                         "Tags.member.1.Key": "k", "Tags.member.1.Value": "v"}),
            headers={}),
    ]
    for call in calls:
        assert problems(call) == [], call.operation
    rounds = 300
    started = time.perf_counter()
    for _ in range(rounds):
        for call in calls:
            problems(call)
    per_call = (time.perf_counter() - started) / (rounds * len(calls))
    print(f"validation: {per_call * 1e6:.0f} us per call")
    assert per_call < 0.001
