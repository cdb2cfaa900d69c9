"""A Python Lambda runtime without Docker: each invocation runs the function's handler in a fresh subprocess.

The function's code and configuration come from moto's in-process Lambda backend. Each code version (keyed by
CodeSha256) is unpacked once into a cache directory. The child process (`sandbox/_bootstrap.py`) imports the
handler the way Lambda's Python runtime does and reports its result on a private pipe; everything it prints
becomes CloudWatch Logs events in `/aws/lambda/<name>`, framed by START / END / REPORT lines.

`invoke()` is the API other sandbox parts (the stream poller) call; `install(app)` replaces moto's Invoke.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from . import logs
from .app import AwsRequest, SandboxApp, aws_error

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
# Lambda gives a function's init phase 10 seconds before it gives up on the environment.
INIT_TIMEOUT_S = 10.0
# Lambda returns the last 4 KB of the execution log for LogType=Tail.
TAIL_BYTES = 4096
MAX_CONCURRENT_PROCESSES = 8
# Lambda's synchronous payload quotas (request and response), in bytes.
MAX_SYNC_REQUEST_BYTES = 6291456
MAX_SYNC_RESPONSE_BYTES = 6291556
# Credentials a function sees. Fixed dummies: the sandbox's own credentials never reach a function.
FUNCTION_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIASANDBOXLAMBDA000",
    "AWS_SECRET_ACCESS_KEY": "sandbox-lambda-secret",
    "AWS_SESSION_TOKEN": "sandbox-lambda-session-token",
}


# How Lambda's runtime API words a child killed by a signal ("Runtime exited with error: signal: killed").
_SIGNAL_WORDS = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
                 signal.SIGTERM: "terminated", signal.SIGBUS: "bus error"}


@dataclass
class InvokeResult:
    status_code: int
    payload: bytes
    function_error: str | None
    request_id: str
    duration_ms: float
    executed_version: str = "$LATEST"
    log_tail: str = ""  # the invocation's log lines joined with "\n" (Tail returns the last 4 KB of it)


class FunctionNotFound(LookupError):
    pass


class InvalidRequestContent(ValueError):
    """The payload is not JSON (Lambda answers 400 InvalidRequestContentException before running anything)."""


class _Runtime:
    """Process-wide state: code cache, concurrency cap, live children, execution-environment log streams."""

    def __init__(self) -> None:
        self.cache_dir = Path(tempfile.mkdtemp(prefix="sandbox-lambda-code-"))
        self.slots = threading.BoundedSemaphore(MAX_CONCURRENT_PROCESSES)
        self.lock = threading.Lock()
        self.unpack_locks: dict[str, threading.Lock] = {}
        self.children: set[subprocess.Popen[bytes]] = set()
        # Idle "execution environments" per (account, region, function, version): their log stream names, so
        # consecutive invocations share a stream the way a warm Lambda environment does.
        self.idle_streams: dict[tuple[str, str, str, str], list[str]] = {}
        self.generation = 0  # bumped by reset so in-flight invocations do not hand stale streams back
        self.stopping = False

    def code_dir(self, fn: Any) -> Path:
        sha_hex = base64.b64decode(fn.code_sha_256).hex() if fn.code_sha_256 else "empty"
        target = self.cache_dir / sha_hex
        with self.lock:
            lock = self.unpack_locks.setdefault(sha_hex, threading.Lock())
        with lock:
            if not target.is_dir():
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=f".{sha_hex[:12]}-", dir=self.cache_dir))
                with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                    archive.extractall(staging)
                staging.rename(target)
        return target

    def take_stream(self, key: tuple[str, str, str, str], version: str) -> tuple[str, bool]:
        with self.lock:
            idle = self.idle_streams.get(key)
            if idle:
                return idle.pop(), False
        day = dt.datetime.now(dt.timezone.utc).strftime("%Y/%m/%d")
        return f"{day}/[{version}]{uuid.uuid4().hex}", True

    def give_back_stream(self, key: tuple[str, str, str, str], stream: str, generation: int) -> None:
        with self.lock:
            if generation == self.generation and not self.stopping:
                self.idle_streams.setdefault(key, []).append(stream)

    def kill_all(self) -> None:
        with self.lock:
            children = list(self.children)
        for child in children:
            _kill_group(child)

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self.idle_streams.clear()
        self.kill_all()


_RUNTIME = _Runtime()
_APP: SandboxApp | None = None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _lambda_timestamp(epoch: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(time.time() if epoch is None else epoch, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _resolve(account_id: str, region: str, function: str, qualifier: str | None) -> Any:
    from moto.awslambda.models import lambda_backends

    try:
        return lambda_backends[account_id][region].get_function(function, qualifier)
    except Exception as exc:  # moto raises its own RESTError subclasses for unknown functions/qualifiers
        raise FunctionNotFound(str(exc)) from exc


def _endpoint_url() -> str:
    if _APP is not None and _APP.url:
        return _APP.url
    return os.environ.get("SANDBOX_ENDPOINT_URL", "http://127.0.0.1:4566")


def _function_env(fn: Any, region: str, version: str, stream: str, code_dir: Path) -> dict[str, str]:
    reserved = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
        "_HANDLER": fn.handler or "",
        **FUNCTION_CREDENTIALS,
    }
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        # Not Lambda's, but keeps the host's ~/.aws files (profiles, credentials) out of the function.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": _endpoint_url(),
    }
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(reserved)  # Lambda refuses user values for its reserved keys, so they always win here
    return env


def _error_result(request_id: str, error_type: str, message: str, started: float, version: str) -> InvokeResult:
    payload = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}
    return InvokeResult(200, json.dumps(payload).encode(), "Unhandled", request_id,
                        (time.monotonic() - started) * 1000, version)


def check_payload(payload: bytes) -> None:
    if not payload:
        return
    try:
        json.loads(payload)
    except ValueError as exc:
        raise InvalidRequestContent(f"Could not parse request body into json: Could not parse payload into json: "
                                    f"{exc}") from None


def invoke(account_id: str, region: str, function: str, payload: bytes, qualifier: str | None = None,
           invocation_type: str = "RequestResponse") -> InvokeResult:
    """Run *function* (name, ARN, or `name:qualifier`) once and return its result.

    RequestResponse and Event both run to completion here (Event callers run this in their own thread);
    DryRun only checks the function exists. Raises FunctionNotFound for an unknown function or qualifier and
    InvalidRequestContent for a non-JSON payload; every failure of the function itself is a result.
    """
    fn = _resolve(account_id, region, function, qualifier)
    request_id = str(uuid.uuid4())
    version = str(fn.version)
    if invocation_type == "DryRun":
        return InvokeResult(204, b"", None, request_id, 0.0, version)
    check_payload(payload)
    started = time.monotonic()
    if fn.package_type == "Image":
        return _error_result(request_id, "Runtime.InvalidEntrypoint",
                             "The sandbox runs zip-packaged Python functions only, not container images", started,
                             version)
    if not str(fn.run_time or "").startswith("python3"):
        return _error_result(request_id, "Runtime.InvalidRuntime",
                             f"The sandbox runs Python functions only; runtime {fn.run_time!r} is not supported",
                             started, version)
    # The ARN the caller used: unqualified, or with the version/alias it named (moto's version copies carry
    # their version in function_arn already, so rebuild it from the unqualified part).
    prefix, _sep, rest = fn.function_arn.partition(":function:")
    invoked_arn = f"{prefix}:function:{rest.split(':', 1)[0]}"
    qualified = qualifier or (function.rsplit(":", 1)[1] if ":" in function.split(":function:")[-1] else None)
    if qualified:
        invoked_arn = f"{invoked_arn}:{qualified}"
    with _RUNTIME.slots:
        return _run(account_id, region, fn, payload, request_id, version, invoked_arn)


def _run(account_id: str, region: str, fn: Any, payload: bytes, request_id: str, version: str,
         invoked_arn: str) -> InvokeResult:
    group = f"/aws/lambda/{fn.function_name}"
    env_key = (account_id, region, fn.function_name, version)
    generation = _RUNTIME.generation
    stream, cold = _RUNTIME.take_stream(env_key, version)
    lines: list[tuple[int, str]] = []
    lines_lock = threading.Lock()

    def emit(message: str, stamp: int | None = None) -> None:
        entry = (stamp if stamp is not None else logs.now_ms(), message)
        with lines_lock:
            lines.append(entry)
        if _RUNTIME.generation == generation:  # after a reset this invocation's output belongs to no one
            logs.put_lines(account_id, region, group, stream, [entry])

    started = time.monotonic()
    emit(f"START RequestId: {request_id} Version: {version}")
    try:
        code_dir = _RUNTIME.code_dir(fn)
    except (zipfile.BadZipFile, OSError) as exc:
        result = _error_result(request_id, "Runtime.InvalidZipFileException",
                               f"Could not unzip the function code: {exc}", started, version)
        emit(f"END RequestId: {request_id}")
        _RUNTIME.give_back_stream(env_key, stream, generation)
        return result
    envelope = {"handler": fn.handler or "", "request_id": request_id, "payload": payload.decode("utf-8"),
                "function_name": fn.function_name, "function_version": version,
                "invoked_function_arn": invoked_arn, "log_group_name": group, "log_stream_name": stream,
                "timeout_ms": int(fn.timeout) * 1000}
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-P", "-s", str(BOOTSTRAP), str(write_fd)], cwd=code_dir,
                                env=_function_env(fn, region, version, stream, code_dir), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(write_fd,),
                                start_new_session=True)
    finally:
        os.close(write_fd)
    with _RUNTIME.lock:
        _RUNTIME.children.add(proc)

    def pump_output() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\n")
            if text:
                emit(text.replace("\r", "\n"))

    reader = threading.Thread(target=pump_output, name=f"lambda-log-{request_id[:8]}", daemon=True)
    reader.start()
    try:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(envelope).encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the child died at start; its exit status tells the story below

    outcome = _await_outcome(read_fd, proc, float(fn.timeout))
    os.close(read_fd)
    if outcome.get("type") == "timeout":
        _kill_group(proc)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with _RUNTIME.lock:
        _RUNTIME.children.discard(proc)
    reader.join(timeout=2)  # a grandchild may hold the pipe open; its output after this point is dropped
    if not reader.is_alive() and proc.stdout is not None:
        proc.stdout.close()

    elapsed_ms = (time.monotonic() - started) * 1000
    duration = float(outcome.get("duration_ms", elapsed_ms))
    function_error: str | None = None
    report_extra = ""
    kind = outcome.get("type")
    if kind == "result" and len(outcome["payload"].encode()) > MAX_SYNC_RESPONSE_BYTES:
        body = json.dumps({"errorMessage": f"Response payload size exceeded maximum allowed payload size "
                                           f"({MAX_SYNC_RESPONSE_BYTES} bytes).",
                           "errorType": "Function.ResponseSizeTooLarge"}).encode()
        function_error = "Unhandled"
    elif kind == "result":
        body = outcome["payload"].encode()
    elif kind == "error":
        body, function_error = json.dumps(outcome["error"]).encode(), "Unhandled"
    elif kind == "timeout":
        duration = float(fn.timeout) * 1000
        message = f"{_lambda_timestamp()} {request_id} Task timed out after {float(fn.timeout):.2f} seconds"
        emit(message)
        body = json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout"}).encode()
        function_error, report_extra = "Unhandled", "\tStatus: timeout"
    else:
        how = f"signal: {_SIGNAL_WORDS.get(-proc.returncode, str(-proc.returncode))}" if proc.returncode < 0 \
            else f"exit status {proc.returncode}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {how}"
        emit(message)
        body = json.dumps({"errorMessage": message, "errorType": "Runtime.ExitError"}).encode()
        function_error, report_extra = "Unhandled", "\tStatus: error\tError Type: Runtime.ExitError"
    init = f"\tInit Duration: {outcome['init_ms']:.2f} ms" if cold and "init_ms" in outcome else ""
    max_rss_mb = max(1, math.ceil(usage.ru_maxrss / 1024))  # Linux reports ru_maxrss in KB
    emit(f"END RequestId: {request_id}")
    emit(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {math.ceil(duration)} ms\t"
         f"Memory Size: {fn.memory_size} MB\tMax Memory Used: {max_rss_mb} MB{init}{report_extra}")
    _RUNTIME.give_back_stream(env_key, stream, generation)
    with lines_lock:
        tail = "\n".join(message for _stamp, message in lines) + "\n"
    return InvokeResult(200, body, function_error, request_id, duration, version, tail)


def _await_outcome(read_fd: int, proc: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any]:
    """Read the child's control messages until a result/error, EOF (crash) or the deadline (timeout)."""
    buffer = b""
    deadline = time.monotonic() + INIT_TIMEOUT_S
    ready: dict[str, Any] = {}
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return {"type": "timeout", **ready}
        readable = select.select([read_fd], [], [], remaining)[0]
        if not readable:
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            return {"type": "exit", **ready}
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            message = json.loads(line)
            if message["type"] == "ready":
                ready = {"init_ms": message["init_ms"]}
                deadline = time.monotonic() + timeout_s
            else:
                return {**message, **ready}


# --- HTTP: Lambda's Invoke API --------------------------------------------------------------------------------

def _invoke_api(req: AwsRequest) -> Response | None:
    name = req.path_params.get("FunctionName", "")
    qualifier = req.query.get("Qualifier") or None
    invocation_type = req.headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type not in ("RequestResponse", "Event", "DryRun"):
        return aws_error(req, "InvalidParameterValueException",
                         f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                         f"satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
    account_id = req.account_id
    try:
        fn = _resolve(account_id, req.region, name, qualifier)
    except FunctionNotFound:
        return None  # moto answers ResourceNotFoundException in AWS's exact shape
    if invocation_type == "DryRun":
        return Response(b"", status=204, headers={"X-Amz-Executed-Version": str(fn.version)})
    if invocation_type == "RequestResponse" and len(req.body) > MAX_SYNC_REQUEST_BYTES:
        return aws_error(req, "RequestTooLargeException", f"Request must be smaller than {MAX_SYNC_REQUEST_BYTES} "
                                                          "bytes for the InvokeFunction operation", 413)
    try:
        check_payload(req.body)
    except InvalidRequestContent as exc:
        return aws_error(req, "InvalidRequestContentException", str(exc), 400)
    if invocation_type == "Event":
        threading.Thread(target=_invoke_event, args=(account_id, req.region, name, req.body, qualifier),
                         name=f"lambda-event-{name}", daemon=True).start()
        return Response(b"", status=202, headers={"x-amzn-RequestId": str(uuid.uuid4())})
    result = invoke(account_id, req.region, name, req.body, qualifier)
    headers = {"X-Amz-Executed-Version": result.executed_version, "x-amzn-RequestId": result.request_id}
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if req.headers.get("x-amz-log-type") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail.encode()[-TAIL_BYTES:]).decode()
    return Response(result.payload, status=result.status_code, content_type="application/json", headers=headers)


def _invoke_async_api(req: AwsRequest) -> Response | None:
    """The deprecated InvokeAsync API: an Event invocation answered with {"Status": 202}."""
    name = req.path_params.get("FunctionName", "")
    try:
        _resolve(req.account_id, req.region, name, None)
        check_payload(req.body)
    except FunctionNotFound:
        return None
    except InvalidRequestContent as exc:
        return aws_error(req, "InvalidRequestContentException", str(exc), 400)
    threading.Thread(target=_invoke_event, args=(req.account_id, req.region, name, req.body, None),
                     name=f"lambda-event-{name}", daemon=True).start()
    return Response(json.dumps({"Status": 202}), status=202, content_type="application/json")


def _invoke_event(account_id: str, region: str, name: str, payload: bytes, qualifier: str | None) -> None:
    try:
        invoke(account_id, region, name, payload, qualifier, invocation_type="Event")
    except FunctionNotFound:
        pass  # deleted between the 202 and the run: Lambda drops the event too


def install(app: SandboxApp) -> None:
    global _APP
    _APP = app
    _RUNTIME.stopping = False  # a process may host more than one sandbox in turn (the tests do)
    app.override("lambda", "Invoke", _invoke_api)
    app.override("lambda", "InvokeAsync", _invoke_async_api)
    app.on_reset(_RUNTIME.reset)


def shutdown(app: SandboxApp) -> None:
    _RUNTIME.stopping = True
    _RUNTIME.kill_all()
    shutil.rmtree(_RUNTIME.cache_dir, ignore_errors=True)
