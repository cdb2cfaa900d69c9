"""The sandbox's Python Lambda runtime, driven through boto3 exactly as a user (or amazon.aws.lambda) would."""

from __future__ import annotations

import base64
import io
import json
import re
import textwrap
import threading
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REQUEST_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.writestr(name, textwrap.dedent(source))
    return buf.getvalue()


@pytest.fixture
def lam(aws):
    return aws("lambda")


@pytest.fixture
def make_function(aws, lam):
    role = aws.lambda_role("runtime-test")

    def make(name: str, source: str | dict[str, str], handler: str = "handler.main", runtime: str = "python3.12",
             timeout: int = 10, env: dict[str, str] | None = None, memory: int = 128, publish: bool = False):
        files = {"handler.py": source} if isinstance(source, str) else source
        kwargs = {"Environment": {"Variables": env}} if env else {}
        return lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler=handler, Timeout=timeout,
                                   MemorySize=memory, Code={"ZipFile": zip_bytes(files)}, Publish=publish, **kwargs)

    return make


def invoke(lam, name: str, event: object = None, **kwargs) -> tuple[dict, object]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def log_messages(aws, name: str) -> list[str]:
    try:
        events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return []
    return [e["message"] for e in sorted(events, key=lambda e: (e["timestamp"], int(e["eventId"])))]


def wait_for_log(aws, name: str, needle: str, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        messages = log_messages(aws, name)
        if any(needle in m for m in messages):
            return messages
        assert time.monotonic() < deadline, f"{needle!r} never reached /aws/lambda/{name}: {messages}"
        time.sleep(0.1)


ECHO = """
import json, logging, os

logger = logging.getLogger()
logger.setLevel(logging.INFO)

def main(event, context):
    print("printed", json.dumps(event))
    logger.info("logged %s", event.get("n"))
    logger.warning("two\\nlines")
    return {"echo": event}
"""


def test_print_and_logging_reach_cloudwatch_with_lambda_framing(aws, lam, make_function):
    make_function("echo", ECHO)
    response, payload = invoke(lam, "echo", {"n": 7})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert payload == {"echo": {"n": 7}}
    request_id = response["ResponseMetadata"]["RequestId"]
    messages = log_messages(aws, "echo")
    assert messages[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert 'printed {"n": 7}' in messages
    assert re.fullmatch(rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\tlogged 7", messages[2])
    # one logging record is one CloudWatch event, even across lines
    assert re.fullmatch(rf"\[WARNING\]\t\S+\t{request_id}\ttwo\nlines", messages[3])
    assert messages[-2] == f"END RequestId: {request_id}"
    assert re.fullmatch(rf"REPORT RequestId: {request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                        rf"Memory Size: 128 MB\tMax Memory Used: \d+ MB(\tInit Duration: \d+\.\d\d ms)?",
                        messages[-1])
    streams = aws("logs").describe_log_streams(logGroupName="/aws/lambda/echo")["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])


def test_logging_keeps_pythons_default_level_like_lambda(aws, lam, make_function):
    """Lambda's text-format runtime leaves the root logger at WARNING: logging.info without setLevel is dropped."""
    make_function("levels", """
        import logging
        def main(event, context):
            logging.getLogger().info("quiet")
            logging.getLogger().warning("loud")
    """)
    invoke(lam, "levels")
    text = "\n".join(log_messages(aws, "levels"))
    assert "loud" in text and "quiet" not in text


def test_environment_variables_and_no_leaked_credentials(lam, make_function, sandbox):
    make_function("env", """
        import os
        def main(event, context):
            return dict(os.environ)
    """, env={"MY_SETTING": "42", "AWS_REGION": "eu-west-1"}, memory=256)
    env = invoke(lam, "env")[1]
    assert env["MY_SETTING"] == "42"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"  # reserved keys win over user values
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/env"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "handler.main"
    assert env["LAMBDA_TASK_ROOT"]
    assert env["AWS_ENDPOINT_URL"] == sandbox.url
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    # The sandbox process runs with the test credentials and its own settings; none of it may reach a function.
    assert "testing" not in (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    assert "testing-session" not in env.values()
    for leaked in ("SANDBOX_ENDPOINT_URL", "PYTHONUNBUFFERED", "VIRTUAL_ENV", "PYTEST_CURRENT_TEST"):
        assert leaked not in env


def test_context_object(lam, make_function):
    make_function("ctx", """
        def main(event, context):
            return {name: getattr(context, name) for name in (
                "aws_request_id", "function_name", "function_version", "invoked_function_arn",
                "memory_limit_in_mb", "log_group_name", "log_stream_name")} | {
                "remaining": context.get_remaining_time_in_millis()}
    """, timeout=7, publish=True)
    response, ctx = invoke(lam, "ctx")
    assert ctx["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert ctx["function_name"] == "ctx"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ctx"
    assert ctx["memory_limit_in_mb"] == "128"
    assert ctx["log_group_name"] == "/aws/lambda/ctx"
    assert ctx["log_stream_name"].startswith(time.strftime("%Y/%m/", time.gmtime()))
    assert 5000 < ctx["remaining"] <= 7000
    response, ctx = invoke(lam, "ctx", Qualifier="1")
    assert ctx["function_version"] == "1"
    assert ctx["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ctx:1"
    assert response["ExecutedVersion"] == "1"


def test_boto3_inside_a_handler_reaches_the_sandbox(aws, lam, make_function):
    make_function("writer", """
        import boto3
        def main(event, context):
            ddb = boto3.client("dynamodb")
            ddb.put_item(TableName=event["table"], Item={"id": {"S": context.aws_request_id}})
            return boto3.client("sts").get_caller_identity()["Account"]
    """)
    ddb = aws("dynamodb")
    ddb.create_table(TableName="from-lambda", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    response, account = invoke(lam, "writer", {"table": "from-lambda"})
    assert "FunctionError" not in response, account
    assert account == ACCOUNT
    items = ddb.scan(TableName="from-lambda")["Items"]
    assert items == [{"id": {"S": response["ResponseMetadata"]["RequestId"]}}]


def test_timeout_kills_the_handler_and_reports_like_lambda(aws, lam, make_function):
    make_function("sleepy", """
        import time
        def main(event, context):
            print("going to sleep")
            time.sleep(60)
    """, timeout=1)
    started = time.monotonic()
    response, payload = invoke(lam, "sleepy")
    assert time.monotonic() - started < 30, "the runtime did not kill a handler past its Timeout"
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(rf"\S+Z {request_id} Task timed out after 1\.00 seconds", payload["errorMessage"])
    messages = log_messages(aws, "sleepy")
    assert "going to sleep" in messages
    assert payload["errorMessage"] in messages
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: 1000.00 ms")
    assert messages[-1].endswith("\tStatus: timeout")


def test_unhandled_exception_payload(aws, lam, make_function):
    make_function("boom", """
        def helper():
            raise ValueError("bad input")
        def main(event, context):
            helper()
    """)
    response, payload = invoke(lam, "boom")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad input"
    assert payload["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert isinstance(payload["stackTrace"], list) and all(isinstance(f, str) for f in payload["stackTrace"])
    assert "in helper" in payload["stackTrace"][-1] and "_bootstrap" not in "".join(payload["stackTrace"])
    error_event = [m for m in log_messages(aws, "boom") if m.startswith("[ERROR]")]
    assert len(error_event) == 1 and error_event[0].startswith("[ERROR] ValueError: bad input\nTraceback")


@pytest.mark.parametrize(("files", "handler", "error_type", "message"), [
    ({"handler.py": "def main(e, c): pass\n"}, "handler.missing", "Runtime.HandlerNotFound",
     "Handler 'missing' missing on module 'handler'"),
    ({"handler.py": "def main(e, c): pass\n"}, "nosuch.main", "Runtime.ImportModuleError",
     "Unable to import module 'nosuch': No module named 'nosuch'"),
    ({"handler.py": "import not_installed_anywhere\n"}, "handler.main", "Runtime.ImportModuleError",
     "Unable to import module 'handler': No module named 'not_installed_anywhere'"),
    ({"handler.py": "def main(e, c)\n    pass\n"}, "handler.main", "Runtime.UserCodeSyntaxError", None),
    ({"handler.py": "def main(e, c): pass\n"}, "handler", "Runtime.MalformedHandlerName", None),
    ({"pkg/__init__.py": "", "pkg/mod.py": "def main(e, c):\n    return 'deep'\n"}, "pkg/mod.missing",
     "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'pkg/mod'"),
])
def test_handler_resolution_errors(aws, lam, make_function, files, handler, error_type, message):
    make_function("broken", files, handler=handler)
    response, payload = invoke(lam, "broken")
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == error_type
    if message:
        assert payload["errorMessage"] == message
    assert any(m.startswith(f"[ERROR] {error_type}") for m in log_messages(aws, "broken"))


def test_handler_in_a_package_directory(lam, make_function):
    make_function("nested", {"pkg/__init__.py": "", "pkg/mod.py": "def main(e, c):\n    return 'deep'\n"},
                  handler="pkg/mod.main")
    assert invoke(lam, "nested")[1] == "deep"


def test_non_python_runtime_gets_a_clear_error(lam, make_function):
    make_function("node", {"index.js": "exports.handler = async () => 1;"}, handler="index.handler",
                  runtime="nodejs20.x")
    response, payload = invoke(lam, "node")
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.InvalidRuntime"
    assert "nodejs20.x" in payload["errorMessage"]


@pytest.mark.parametrize(("source", "error_type", "message"), [
    ("import os\ndef main(e, c):\n    os._exit(3)\n", "Runtime.ExitError", "Runtime exited with error: exit status 3"),
    ("import os, signal\ndef main(e, c):\n    os.kill(os.getpid(), signal.SIGKILL)\n", "Runtime.ExitError",
     "Runtime exited with error: signal: killed"),
    ("def main(e, c):\n    return object()\n", "Runtime.MarshalError", "Unable to marshal response: "),
])
def test_crashes_and_unserialisable_results(lam, make_function, source, error_type, message):
    make_function("odd", source)
    response, payload = invoke(lam, "odd")
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == error_type
    assert message in payload["errorMessage"]


def test_event_invocation_runs_in_the_background(aws, lam, make_function):
    make_function("async", ECHO)
    response = lam.invoke(FunctionName="async", InvocationType="Event", Payload=json.dumps({"n": "later"}))
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    wait_for_log(aws, "async", 'printed {"n": "later"}')
    wait_for_log(aws, "async", "REPORT RequestId:")


def test_deprecated_invoke_async_runs_the_handler(aws, lam, make_function):
    make_function("legacy", ECHO)
    response = lam.invoke_async(FunctionName="legacy", InvokeArgs=json.dumps({"n": "old-api"}))
    assert response["Status"] == 202
    wait_for_log(aws, "legacy", 'printed {"n": "old-api"}')


def test_dry_run_checks_the_function_only(aws, lam, make_function):
    make_function("dry", ECHO)
    assert lam.invoke(FunctionName="dry", InvocationType="DryRun")["StatusCode"] == 204
    assert log_messages(aws, "dry") == []


def test_tail_returns_the_last_4kb_of_the_log(lam, make_function):
    make_function("chatty", """
        def main(event, context):
            for i in range(event["lines"]):
                print(f"line {i:04d} " + "x" * 80)
            return "done"
    """)
    response, payload = invoke(lam, "chatty", {"lines": 3}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert tail.startswith(f"START RequestId: {request_id}")
    assert "line 0002" in tail and f"END RequestId: {request_id}" in tail and "REPORT RequestId" in tail
    response = invoke(lam, "chatty", {"lines": 200}, LogType="Tail")[0]
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096
    assert b"line 0199" in tail and b"line 0000" not in tail
    assert "LogResult" not in invoke(lam, "chatty", {"lines": 1})[0]


def test_versions_run_their_own_code(lam, make_function):
    make_function("versioned", "def main(e, c):\n    return 'v1'\n", publish=True)
    new_code = zip_bytes({"handler.py": "def main(e, c):\n    return 'v2'\n"})
    lam.update_function_code(FunctionName="versioned", ZipFile=new_code)
    assert invoke(lam, "versioned")[1] == "v2"
    assert invoke(lam, "versioned", Qualifier="1")[1] == "v1"
    assert invoke(lam, "versioned:1")[1] == "v1"


def test_request_errors(lam, make_function):
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="does-not-exist", Payload=b"{}")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    make_function("strict", ECHO)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="strict", Payload=b"{not json")
    assert excinfo.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_payload_size_quotas(lam, make_function):
    """AWS: synchronous request and response payloads are limited to 6 MB."""
    make_function("big", "def main(event, context):\n    return 'x' * event['size']\n")
    response, payload = invoke(lam, "big", {"size": 7 * 1024 * 1024})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Function.ResponseSizeTooLarge"
    assert invoke(lam, "big", {"size": 5 * 1024 * 1024})[1] == "x" * (5 * 1024 * 1024)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="big", Payload=json.dumps({"size": 1, "pad": "y" * (6 * 1024 * 1024 + 1)}))
    assert excinfo.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_different_functions_run_concurrently(aws, lam, make_function):
    """Each handler waits for the other's marker item; run one after the other, both would time out."""
    rendezvous = """
        import time, boto3
        def main(event, context):
            ddb = boto3.client("dynamodb")
            ddb.put_item(TableName="rendezvous", Item={"id": {"S": event["me"]}})
            while context.get_remaining_time_in_millis() > 500:
                if "Item" in ddb.get_item(TableName="rendezvous", Key={"id": {"S": event["other"]}}):
                    return "met"
                time.sleep(0.05)
            return "alone"
    """
    aws("dynamodb").create_table(TableName="rendezvous", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                 BillingMode="PAY_PER_REQUEST")
    make_function("left", rendezvous, timeout=15)
    make_function("right", rendezvous, timeout=15)
    results: dict[str, object] = {}

    def run(name: str, other: str) -> None:
        results[name] = invoke(aws("lambda"), name, {"me": name, "other": other})[1]

    threads = [threading.Thread(target=run, args=pair) for pair in (("left", "right"), ("right", "left"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {"left": "met", "right": "met"}


def test_reset_clears_functions_and_their_logs(aws, lam, make_function, sandbox):
    make_function("gone", ECHO)
    invoke(lam, "gone")
    assert log_messages(aws, "gone")
    sandbox.reset()
    assert aws("logs").describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="gone")


def test_the_function_runs_under_awslambdaric(aws, lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html and python-context.html: the environment
    runs AWS's runtime interface client, which polls the Runtime API (AWS_LAMBDA_RUNTIME_API) and builds the
    context object; an init failure is answered with the client's payload, whose requestId is empty because
    no request was running yet."""
    make_function("ric", """
        import os, sys
        def main(event, context):
            return {"context_class": type(context).__module__ + "." + type(context).__name__,
                    "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
                    "ric_loaded": "awslambdaric.bootstrap" in sys.modules,
                    "client_context": context.client_context, "identity": type(context.identity).__name__}
    """)
    got = invoke(lam, "ric")[1]
    assert got["context_class"] == "awslambdaric.lambda_context.LambdaContext"
    assert got["ric_loaded"] is True
    assert re.fullmatch(r"127\.0\.0\.1:\d+", got["runtime_api"])
    assert got["client_context"] is None and got["identity"] == "CognitoIdentity"
    make_function("ric-broken", {"handler.py": "import not_installed_anywhere\n"})
    payload = invoke(lam, "ric-broken")[1]
    assert payload["errorType"] == "Runtime.ImportModuleError" and payload["requestId"] == ""
    messages = log_messages(aws, "ric-broken")
    assert any(m.startswith("INIT_REPORT Init Duration: ") and m.endswith(
        "Phase: init\tStatus: error\tError Type: Runtime.ImportModuleError") for m in messages)


def test_output_order_and_boundaries(aws, lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html: print() output and logging records both
    reach CloudWatch Logs, in the order the function wrote them; a logging record stays one event even with
    newlines, stderr is captured too, and module-level output (the init phase) comes before START."""
    make_function("ordered", """
        import logging, sys
        print("at import")
        logger = logging.getLogger()
        def main(event, context):
            print("one")
            logger.warning("two\\nstill two")
            print("three", end="")
            logger.warning("four")
            sys.stderr.write("five\\n")
            print("six")
    """)
    response = invoke(lam, "ordered")[0]
    request_id = response["ResponseMetadata"]["RequestId"]
    messages = log_messages(aws, "ordered")
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    assert messages.index("at import") < start
    body = messages[start + 1:-2]
    assert body[0] == "one"
    assert re.fullmatch(rf"\[WARNING\]\t\S+\t{request_id}\ttwo\nstill two", body[1])
    assert body[2] == "three"
    assert body[3].endswith("\tfour")
    assert body[4:] == ["five", "six"]


def test_log_lines_need_the_roles_logs_permissions(aws, lam):
    """AWS: a function's output reaches CloudWatch Logs only when its execution role allows logs:CreateLogStream and
    logs:PutLogEvents; without them the function still runs and answers, and its lines are lost
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html#monitoring-cloudwatchlogs-prereqs)."""
    iam = aws("iam")
    role = iam.create_role(RoleName="no-logs", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    lam.create_function(FunctionName="quiet", Runtime="python3.12", Role=role, Handler="handler.main",
                        Code={"ZipFile": zip_bytes({"handler.py": "def main(event, context):\n"
                                                                  "    print('line', event['n'])\n"
                                                                  "    return event['n']\n"})})
    response, payload = invoke(lam, "quiet", {"n": 1})
    assert payload == 1 and "FunctionError" not in response
    assert log_messages(aws, "quiet") == []

    iam.put_role_policy(RoleName="no-logs", PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/quiet:*"}]}))
    invoke(lam, "quiet", {"n": 2})
    messages = wait_for_log(aws, "quiet", "line 2")
    assert not any("line 1" in m for m in messages)
