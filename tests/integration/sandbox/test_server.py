"""Starting and stopping the sandbox, and the in-process `invoke()` API the stream poller uses."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    return proc, ready


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_starts_with_one_ready_line_and_exits_cleanly_on_signal(sig):
    proc, ready = _start("--throttle", "0.25")
    try:
        assert ready.startswith("sandbox ready on http://127.0.0.1:"), ready
        assert "'throttle': 0.25" in ready
        url = ready.split()[3]
        with urllib.request.urlopen(url + "/_sandbox/health", timeout=10) as resp:
            assert json.loads(resp.read()) == {"status": "ok"}
        proc.send_signal(sig)
        out = proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert out.strip().splitlines()[-1] == "sandbox stopped"


def test_signal_right_after_the_ready_line_still_stops_it():
    """The signal lands while the main thread is just starting to wait (a lock-based wait could deadlock here)."""
    for _attempt in range(5):
        proc, ready = _start()
        try:
            assert "ready" in ready
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0


def test_exits_cleanly_on_sigterm_after_serving_calls():
    """SIGTERM after real calls stops the server and exits 0 (the prompt stop itself is pinned below)."""
    import boto3

    proc, ready = _start()
    try:
        url = ready.split()[3]
        boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").list_tables()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


def test_stop_does_not_wait_for_the_serve_loop_poll(monkeypatch):
    """serve_forever() looks at its shutdown flag only between select() calls; stop() wakes it instead.

    The loop's poll interval is made an hour here: a stop() that waited for the poll would still be running when
    the guard below gives up, one that wakes the loop has returned. No duration is measured."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import socketserver

    from sandbox.server import SandboxServer

    original = socketserver.BaseServer.serve_forever
    monkeypatch.setattr(socketserver.BaseServer, "serve_forever",
                        lambda self, poll_interval=0.5: original(self, poll_interval=3600))
    saved = os.environ.get("SANDBOX_ENDPOINT_URL")
    try:
        server = SandboxServer("127.0.0.1", 0).start()
        urllib.request.urlopen(server.url + "/_sandbox/health", timeout=10).read()
        stopper = threading.Thread(target=server.stop, daemon=True)
        stopper.start()
        stopper.join(60)
        assert not stopper.is_alive(), "stop() waited for serve_forever's poll instead of waking it"
        assert not server._thread.is_alive()
    finally:
        if saved is None:
            os.environ.pop("SANDBOX_ENDPOINT_URL", None)
        else:
            os.environ["SANDBOX_ENDPOINT_URL"] = saved


def test_request_lines_are_not_logged():
    """Per-request access lines are quiet (server errors would still be logged)."""
    import boto3

    proc, ready = _start()
    try:
        url = ready.split()[3]
        urllib.request.urlopen(url + "/_sandbox/health", timeout=10).read()
        boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").list_tables()
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert ready.startswith("sandbox ready")
    assert out.strip().splitlines() == ["sandbox stopped"]


def test_transition_knobs_are_set_at_start():
    proc, ready = _start("--table-transition", "0.5", "--stream-transition", "1", "--function-transition", "2")
    try:
        assert "'table_transition': 0.5" in ready and "'stream_transition': 1.0" in ready, ready
        assert "'function_transition': 2.0" in ready, ready
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_invalid_knob_is_refused_at_start():
    proc = subprocess.run([sys.executable, "-m", "sandbox", "--throttle", "2"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "throttle" in proc.stderr


@pytest.fixture
def in_process_sandbox():
    """A second sandbox inside the test process, so `sandbox.lambda_runtime.invoke` can be called directly."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sandbox.server import SandboxServer

    saved = os.environ.get("SANDBOX_ENDPOINT_URL")
    server = SandboxServer("127.0.0.1", 0).start()
    try:
        yield server
    finally:
        server.app.reset()
        server.stop()
        if saved is None:
            os.environ.pop("SANDBOX_ENDPOINT_URL", None)
        else:
            os.environ["SANDBOX_ENDPOINT_URL"] = saved


def test_invoke_api_for_the_stream_poller(in_process_sandbox):
    import boto3

    from sandbox import lambda_runtime

    url = in_process_sandbox.url

    def client(service: str):
        return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    role = client("iam").create_role(RoleName="poller-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    # The sandbox writes a function's log lines only when its role may (as Lambda does).
    client("iam").put_role_policy(RoleName="poller-test", PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]}))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("handler.py", "def main(event, context):\n"
                                       "    if event.get('fail'):\n        raise RuntimeError('no')\n"
                                       "    return {'records': len(event['Records']), 'arn': context.invoked_function_arn}\n")
    function_arn = client("lambda").create_function(FunctionName="consumer", Runtime="python3.11", Role=role,
                                                    Handler="handler.main",
                                                    Code={"ZipFile": buf.getvalue()})["FunctionArn"]

    result = lambda_runtime.invoke("123456789012", "us-east-1", function_arn, json.dumps({"Records": [1, 2]}).encode())
    assert isinstance(result, lambda_runtime.InvokeResult)
    assert (result.status_code, result.function_error) == (200, None)
    assert json.loads(result.payload) == {"records": 2, "arn": function_arn}
    assert result.duration_ms > 0 and len(result.request_id) == 36

    failed = lambda_runtime.invoke("123456789012", "us-east-1", "consumer", b'{"fail": true, "Records": []}')
    assert failed.function_error == "Unhandled"
    assert json.loads(failed.payload)["errorType"] == "RuntimeError"
    events = client("logs").filter_log_events(logGroupName="/aws/lambda/consumer")["events"]
    assert sum(e["message"].startswith("REPORT RequestId: ") for e in events) == 2

    with pytest.raises(lambda_runtime.FunctionNotFound):
        lambda_runtime.invoke("123456789012", "us-east-1", "missing", b"{}")
    with pytest.raises(lambda_runtime.InvalidRequestContent):
        lambda_runtime.invoke("123456789012", "us-east-1", "consumer", b"not json")


class _NoEofInput:
    """A request body stream whose read(-1) would wait for the client to hang up."""

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("read until EOF on a request with a Content-Length")
        return b"{}"[:size]


def test_request_identification_keeps_repeated_query_keys_and_reads_empty_bodies():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sandbox.app import SandboxApp, _read_body

    environ = {
        "REQUEST_METHOD": "DELETE", "PATH_INFO": "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af",
        "QUERY_STRING": "tagKeys=a&tagKeys=b", "CONTENT_LENGTH": "0", "wsgi.input": _NoEofInput(),
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request, x",
    }
    assert _read_body(environ) == b""
    req = SandboxApp.identify(environ, b"")
    assert (req.service, req.operation, req.region) == ("lambda", "UntagResource", "us-east-1")
    assert req.query_all("tagKeys") == ["a", "b"]
    assert req.query["tagKeys"] == "b"  # the single-value view is unchanged for existing hooks
    assert req.account_id == "123456789012"
