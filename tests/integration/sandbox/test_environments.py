"""Execution environments: reuse, idle reaping, retirement on change, reserved concurrency, reset."""

from __future__ import annotations

import io
import json
import os
import re
import textwrap
import threading
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"


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
    role = aws.lambda_role("environment-test")

    def make(name: str, source: str, timeout: int = 10, env: dict[str, str] | None = None):
        kwargs = {"Environment": {"Variables": env}} if env else {}
        return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.main",
                                   Timeout=timeout, Code={"ZipFile": zip_bytes({"handler.py": source})}, **kwargs)

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

# Module-level state: what a warm environment keeps between invocations.
COUNTER = """
import os, time
STARTED = time.time()
CALLS = 0

def main(event, context):
    global CALLS
    CALLS += 1
    if "exit" in event:
        os._exit(event["exit"])
    time.sleep(event.get("sleep", 0))
    return {"calls": CALLS, "pid": os.getpid(), "stream": context.log_stream_name,
            "setting": os.environ.get("SETTING")}
"""


@pytest.fixture
def knobs(sandbox):
    yield sandbox
    sandbox.configure(environment_idle_timeout=300)


def _reports(aws, name: str) -> list[str]:
    return [m for m in log_messages(aws, name) if m.startswith("REPORT RequestId:")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by the sandbox) is gone for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_a_warm_environment_keeps_module_state_and_reports_init_once(aws, lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html: Lambda reuses the execution
    environment for subsequent invocations; objects declared outside the handler stay initialised, and the
    Init phase (REPORT's Init Duration) happens once per environment."""
    make_function("warm", COUNTER)
    first = invoke(lam, "warm")[1]
    second = invoke(lam, "warm")[1]
    third = invoke(lam, "warm")[1]
    assert [first["calls"], second["calls"], third["calls"]] == [1, 2, 3]
    assert first["pid"] == second["pid"] == third["pid"]
    assert first["stream"] == second["stream"] == third["stream"]
    reports = _reports(aws, "warm")
    assert len(reports) == 3
    assert "Init Duration:" in reports[0]
    assert not any("Init Duration:" in r for r in reports[1:])


def test_concurrent_invocations_get_one_environment_each(aws, lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html: an environment serves one request at
    a time; a request that arrives while all are busy gets a new environment."""
    make_function("parallel", COUNTER, timeout=20)
    results: list[dict] = []

    def run() -> None:
        results.append(invoke(aws("lambda"), "parallel", {"sleep": 1.5})[1])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2
    assert results[0]["pid"] != results[1]["pid"]
    assert results[0]["stream"] != results[1]["stream"]
    assert [r["calls"] for r in results] == [1, 1]
    streams = aws("logs").describe_log_streams(logGroupName="/aws/lambda/parallel")["logStreams"]
    assert len(streams) == 2
    # Both are warm now: the next two sequential calls reuse one of them.
    again = invoke(lam, "parallel")[1]
    assert again["pid"] in {r["pid"] for r in results} and again["calls"] == 2


def test_idle_environments_are_reaped_after_the_knob(aws, lam, make_function, knobs):
    """Lambda eventually shuts idle environments down (lambda-runtime-environment.html, Shutdown phase); the
    sandbox does so after environment_idle_timeout seconds, and the next invocation is a cold start."""
    knobs.configure(environment_idle_timeout=1)
    make_function("reaped", COUNTER)
    first = invoke(lam, "reaped")[1]
    deadline = time.monotonic() + 15
    while _alive(first["pid"]):
        assert time.monotonic() < deadline, "the idle environment was never reaped"
        time.sleep(0.2)
    second = invoke(lam, "reaped")[1]
    assert second["calls"] == 1 and second["pid"] != first["pid"]
    assert all("Init Duration:" in r for r in _reports(aws, "reaped"))


def test_knob_zero_makes_every_invocation_cold(aws, lam, make_function, knobs):
    knobs.configure(environment_idle_timeout=0)
    make_function("always-cold", COUNTER)
    assert [invoke(lam, "always-cold")[1]["calls"] for _ in range(2)] == [1, 1]
    assert all("Init Duration:" in r for r in _reports(aws, "always-cold"))


@pytest.mark.parametrize("change", ["configuration", "code"])
def test_an_update_retires_the_environments(aws, lam, make_function, change):
    """https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html: updating a function's code
    or configuration makes Lambda create new environments; the old ones are not used again."""
    make_function("updated", COUNTER, env={"SETTING": "one"})
    first = invoke(lam, "updated")[1]
    assert first["setting"] == "one"
    if change == "configuration":
        lam.update_function_configuration(FunctionName="updated", Environment={"Variables": {"SETTING": "two"}})
    else:
        lam.update_function_code(FunctionName="updated",
                                 ZipFile=zip_bytes({"handler.py": COUNTER + "\nNEW_CODE = True\n"}))
    deadline = time.monotonic() + 10
    while _alive(first["pid"]):
        assert time.monotonic() < deadline, "the environment from before the update is still running"
        time.sleep(0.1)
    second = invoke(lam, "updated")[1]
    assert second["calls"] == 1 and second["pid"] != first["pid"]
    assert second["setting"] == ("two" if change == "configuration" else "one")


def test_reserved_concurrency_caps_environments_and_throttles_beyond(aws, lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html: with reserved concurrency N
    no more than N invocations run at once; a synchronous invocation beyond it fails with 429
    TooManyRequestsException (Reason ReservedFunctionConcurrentInvocationLimitExceeded); 0 throttles all."""
    make_function("capped", COUNTER, timeout=20)
    lam.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=1)
    busy: list[dict] = []
    holder = threading.Thread(target=lambda: busy.append(invoke(aws("lambda"), "capped", {"sleep": 3})[1]))
    holder.start()
    deadline = time.monotonic() + 15
    while not any("START RequestId" in m for m in log_messages(aws, "capped")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="capped", Payload=b"{}")
    error = excinfo.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    holder.join(timeout=30)
    assert busy and busy[0]["calls"] == 1
    assert invoke(lam, "capped")[1]["calls"] == 2  # the slot is free again, and the environment warm
    lam.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="capped", Payload=b"{}")
    assert excinfo.value.response["Error"]["Code"] == "TooManyRequestsException"
    lam.delete_function_concurrency(FunctionName="capped")
    assert invoke(lam, "capped")[1]["calls"] == 3


def test_event_invocations_wait_for_a_reserved_slot(aws, lam, make_function):
    """configuration-concurrency.html / invocation-async.html: throttled asynchronous events stay queued and are
    retried instead of failing."""
    make_function("queued", COUNTER, timeout=20)
    lam.put_function_concurrency(FunctionName="queued", ReservedConcurrentExecutions=1)
    for _ in range(3):
        assert lam.invoke(FunctionName="queued", InvocationType="Event", Payload=b'{"sleep": 0.3}')[
            "StatusCode"] == 202
    deadline = time.monotonic() + 30
    while len(_reports(aws, "queued")) < 3:
        assert time.monotonic() < deadline, log_messages(aws, "queued")
        time.sleep(0.1)
    # One environment served all three, one after the other.
    streams = aws("logs").describe_log_streams(logGroupName="/aws/lambda/queued")["logStreams"]
    assert len(streams) == 1


def test_reset_kills_environments(aws, lam, make_function, sandbox):
    make_function("doomed", COUNTER)
    pid = invoke(lam, "doomed")[1]["pid"]
    assert _alive(pid)
    sandbox.reset()
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "reset left the environment process running"
        time.sleep(0.1)


def test_a_timeout_or_crash_discards_the_environment(aws, lam, make_function):
    """lambda-runtime-environment.html (Failures during the Invoke phase): after a timeout or a runtime exit
    Lambda resets the environment; the next invocation initialises again."""
    make_function("fragile", COUNTER, timeout=1)
    first = invoke(lam, "fragile")[1]
    payload = invoke(lam, "fragile", {"sleep": 5})[1]
    assert payload["errorType"] == "Sandbox.Timedout"
    after_timeout = invoke(lam, "fragile")[1]
    assert after_timeout["calls"] == 1 and after_timeout["pid"] != first["pid"]
    reports = _reports(aws, "fragile")
    assert "Status: timeout" in reports[-2] and "Init Duration:" in reports[-1]
    payload = invoke(lam, "fragile", {"exit": 7})[1]
    assert payload["errorType"] == "Runtime.ExitError" and "exit status 7" in payload["errorMessage"]
    after_crash = invoke(lam, "fragile")[1]
    assert after_crash["calls"] == 1 and after_crash["pid"] != after_timeout["pid"]
    assert "Init Duration:" in _reports(aws, "fragile")[-1]


def test_the_stream_poller_retries_a_throttled_batch(aws, lam, make_function):
    """configuration-concurrency.html / with-ddb.html: a stream batch that is throttled (reserved concurrency
    0) is retried, not dropped; once the function may run again, the record arrives."""
    ddb = aws("dynamodb")
    stream = ddb.create_table(
        TableName="throttled", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"][
        "LatestStreamArn"]
    make_function("stream-target", "def main(event, context):\n    print('GOT', len(event['Records']))\n")
    lam.put_function_concurrency(FunctionName="stream-target", ReservedConcurrentExecutions=0)
    created = lam.create_event_source_mapping(FunctionName="stream-target", EventSourceArn=stream,
                                              StartingPosition="TRIM_HORIZON")
    deadline = time.monotonic() + 30
    while lam.get_event_source_mapping(UUID=created["UUID"])["State"] != "Enabled":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ddb.put_item(TableName="throttled", Item={"pk": {"S": "a"}})
    deadline = time.monotonic() + 30
    while "PROBLEM" not in lam.get_event_source_mapping(UUID=created["UUID"]).get("LastProcessingResult", ""):
        assert time.monotonic() < deadline, "the poller never tried the throttled function"
        time.sleep(0.05)
    assert not any(m.startswith("GOT") for m in log_messages(aws, "stream-target"))
    lam.delete_function_concurrency(FunctionName="stream-target")
    deadline = time.monotonic() + 30
    while "GOT 1" not in log_messages(aws, "stream-target"):
        assert time.monotonic() < deadline, "the throttled record was never delivered"
        time.sleep(0.1)
