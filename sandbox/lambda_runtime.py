"""A Python Lambda runtime without Docker, built on AWS's own runtime interface client (awslambdaric).

Each execution environment is one child process, `python -m awslambdaric <handler>`, that talks to the sandbox
through Lambda's Runtime API (`sandbox/runtime_api.py`, one loopback port per environment). awslambdaric does
what it does on Lambda: imports the handler, builds the context object, formats log lines (text or JSON, per
LoggingConfig) and errors. The sandbox plays the platform: it starts environments, hands them events, enforces
timeouts, writes START / END / REPORT, and turns the environment's output into CloudWatch Logs events in the
function's log group.

Environments are reused, as Lambda's are: module-level state survives between invocations and `Init Duration`
appears only on a cold start. There is one environment per concurrent invocation of a function version; idle
ones are reaped after `environment_idle_timeout` seconds (a knob) and a code or configuration update retires
them. Reserved concurrency (PutFunctionConcurrency) caps how many run at once.

The function's code and configuration come from moto's in-process Lambda backend. Each code version (keyed by
CodeSha256) is unpacked once into a cache directory; a function's layers are unpacked per environment into a
directory that plays Lambda's /opt.

`invoke()` is the API other sandbox parts (the stream poller) call; `install(app)` replaces moto's Invoke.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import fcntl
import importlib.util
import io
import json
import math
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from . import iam_eval, logs
from .app import AwsRequest, SandboxApp, aws_error
from .runtime_api import Callbacks, Event, RuntimeApiServer

# Lambda gives a function's init phase 10 seconds before it gives up on the environment.
INIT_TIMEOUT_S = 10.0
# Lambda returns the last 4 KB of the execution log for LogType=Tail.
TAIL_BYTES = 4096
# How many environments may run handlers at once, over all functions (the machine's share, not Lambda's 1000),
# and how many may exist at all (idle ones beyond this are evicted, least recently used first).
MAX_CONCURRENT_PROCESSES = 8
# Seconds an idle environment lives when there is no SandboxApp to read the knob from.
DEFAULT_IDLE_TIMEOUT_S = 300.0
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

# awslambdaric's telemetry frames start with 0xA55A00xx (xx = format and level); see FramedTelemetryLogSink.
_FRAME_MAGIC = b"\xa5\x5a\x00"
_FRAME_TYPES = {0x02, 0x03, 0x0A, 0x0B, 0x0E, 0x0F, 0x12, 0x13, 0x16, 0x17, 0x1A, 0x1B}
_FRAME_HEADER = 16


def _frame_start(buffer: bytearray, at: int) -> bool:
    return buffer.startswith(_FRAME_MAGIC, at) and len(buffer) > at + 3 and buffer[at + 3] in _FRAME_TYPES


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


class TooManyRequests(RuntimeError):
    """The function's reserved concurrency is in use (Lambda answers 429 TooManyRequestsException)."""

    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"


# --- logging configuration --------------------------------------------------------------------------------------

# LoggingConfig as the caller sent it on CreateFunction / UpdateFunctionConfiguration, per function, for as long
# as moto's function object does not carry it itself.
_LOGGING_CONFIGS: dict[tuple[str, str, str], dict[str, str]] = {}


def _logging_config(account_id: str, region: str, fn: Any) -> dict[str, str]:
    config = getattr(fn, "logging_config", None)
    if not isinstance(config, dict):
        config = _LOGGING_CONFIGS.get((account_id, region, fn.function_name), {})
    log_format = str(config.get("LogFormat") or "Text")
    result = {"LogFormat": log_format, "LogGroup": str(config.get("LogGroup") or f"/aws/lambda/{fn.function_name}")}
    if log_format == "JSON":
        # Lambda's defaults once the format is JSON (the levels only apply to JSON logs).
        result["ApplicationLogLevel"] = str(config.get("ApplicationLogLevel") or "INFO").upper()
        result["SystemLogLevel"] = str(config.get("SystemLogLevel") or "INFO").upper()
    return result


_SYSTEM_LEVELS = {"DEBUG": 10, "INFO": 20, "WARN": 30}


# --- execution environments -------------------------------------------------------------------------------------

@dataclass
class _Invocation:
    event: Event
    lines: list[str] = field(default_factory=list)
    delivered: float | None = None  # monotonic time `next` handed the event over
    outcome: tuple[str, bytes, str | None] | None = None  # ("result" | "error", body, error type)
    finished: float | None = None


class _Environment:
    """One child process running awslambdaric, its Runtime API server and its output pipe."""

    def __init__(self, runtime: "_Runtime", account_id: str, region: str, fn: Any, fingerprint: tuple,
                 code_dir: Path, logging_config: dict[str, str]):
        self.runtime = runtime
        self.account_id, self.region = account_id, region
        self.function_name = fn.function_name
        self.version = str(fn.version)
        self.key = (account_id, region, fn.function_name, self.version)
        self.fingerprint = fingerprint
        self.memory_size = fn.memory_size
        self.timeout_s = float(fn.timeout)
        self.logging_config = logging_config
        self.group = logging_config["LogGroup"]
        day = dt.datetime.now(dt.timezone.utc).strftime("%Y/%m/%d")
        self.stream = f"{day}/[{self.version}]{uuid.uuid4().hex}"
        self.generation = runtime.generation
        self.cv = threading.Condition()
        self.pending: _Invocation | None = None
        self.current: _Invocation | None = None
        self.collecting: _Invocation | None = None  # whose tail the lines emitted now belong to
        self.ready_at: float | None = None
        self.init_error: tuple[bytes, str] | None = None
        self.exited = False
        self.returncode: int | None = None
        self.retired = False
        self.invocations = 0
        self.last_used = time.monotonic()
        self.max_rss_kb = 0
        runtime.cache_dir.mkdir(parents=True, exist_ok=True)  # removed by a previous sandbox's shutdown
        self.home = Path(tempfile.mkdtemp(prefix="env-", dir=runtime.cache_dir))
        self.opt_dir = self.home / "opt"
        self.opt_dir.mkdir()
        self.tmp_dir = self.home / "tmp"
        self.tmp_dir.mkdir()
        # Output: stdout, stderr and awslambdaric's telemetry frames share one pipe, so they reach the log in the
        # order the function wrote them.
        self.log_cv = threading.Condition()
        self.pipe_eof = False
        self._buffer = bytearray()
        self._last_stamp = 0
        self.server = RuntimeApiServer(Callbacks(self._next_event, self._invocation_done, self._init_error))
        self.code_dir = code_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = time.monotonic()

    # -- start / stop --
    def unpack_layers(self, layer_zips: list[bytes]) -> None:
        for blob in layer_zips:  # applied in order: a later layer's files replace an earlier one's
            with zipfile.ZipFile(io.BytesIO(blob)) as archive:
                archive.extractall(self.opt_dir)

    def start(self, fn: Any) -> None:
        self.server.start()
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self.read_fd = read_fd
        env = _function_env(fn, self.region, self.version, self.stream, self.code_dir, self.opt_dir,
                            self.tmp_dir, self.logging_config)
        env["AWS_LAMBDA_RUNTIME_API"] = self.server.address
        env["_LAMBDA_TELEMETRY_LOG_FD"] = str(write_fd)
        self.started = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-s", "-m", "awslambdaric", fn.handler or ""], cwd=self.code_dir, env=env,
                stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd, pass_fds=(write_fd,),
                start_new_session=True)
        finally:
            os.close(write_fd)
        threading.Thread(target=self._read_output, name=f"lambda-log-{self.function_name}", daemon=True).start()
        threading.Thread(target=self._wait_exit, name=f"lambda-env-{self.function_name}", daemon=True).start()

    def kill(self) -> None:
        if self.proc is None:  # never started: nothing runs, only the socket and the directory to remove
            with self.cv:
                self.retired = True
            self.server.server_close()
            shutil.rmtree(self.home, ignore_errors=True)
            return
        with self.cv:
            self.retired = True
            self.cv.notify_all()
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        # shutdown() waits for the serving loop; never from one of its own request threads, so a thread of ours.
        threading.Thread(target=self._stop_server, daemon=True).start()

    def _stop_server(self) -> None:
        try:
            self.server.stop()
        except OSError:
            pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.home, ignore_errors=True)

    def _wait_exit(self) -> None:
        assert self.proc is not None
        code = self.proc.wait()
        with self.cv:
            self.exited, self.returncode = True, code
            self.cv.notify_all()

    def sample_memory(self) -> None:
        """Peak resident set of the environment's process so far (Lambda's Max Memory Used)."""
        if self.proc is None:
            return
        try:
            with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        self.max_rss_kb = max(self.max_rss_kb, int(line.split()[1]))
                        break
        except (OSError, ValueError):
            pass

    # -- Runtime API callbacks (run in the server's request threads) --
    def _next_event(self) -> Event | None:
        with self.cv:
            if self.ready_at is None:
                self.ready_at = time.monotonic()
                self.cv.notify_all()
            while self.pending is None and not self.retired:
                self.cv.wait()
            if self.retired:
                return None
            invocation, self.pending = self.pending, None
            invocation.delivered = time.monotonic()
            self.current = invocation
            self.cv.notify_all()
            return invocation.event

    def _invocation_done(self, request_id: str, body: bytes, error_type: str | None) -> int:
        with self.cv:
            current = self.current
            if current is None or current.event.request_id != request_id or current.outcome is not None:
                return 400
            current.outcome = ("error" if error_type else "result", body, error_type)
            current.finished = time.monotonic()
            self.cv.notify_all()
            return 202

    def _init_error(self, body: bytes, error_type: str) -> None:
        with self.cv:
            self.init_error = (body, error_type)
            self.cv.notify_all()

    # -- output --
    def emit(self, message: str, stamp: int | None = None) -> None:
        """One CloudWatch event in the environment's stream (and the running invocation's tail)."""
        with self.log_cv:
            stamp = max(stamp if stamp is not None else logs.now_ms(), self._last_stamp)
            self._last_stamp = stamp
            if self.collecting is not None:
                self.collecting.lines.append(message)
            if self.generation == self.runtime.generation:  # after a reset this output belongs to no one
                _write_log_lines(self.account_id, self.region, self.function_name, self.group, self.stream,
                                 [(stamp, message)])

    def _read_output(self) -> None:
        buffer = self._buffer
        while True:
            try:
                select.select([self.read_fd], [], [], 1.0)
            except (OSError, ValueError):
                break
            with self.log_cv:
                try:
                    chunk = os.read(self.read_fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._flush_partial(buffer)
                    self.pipe_eof = True
                    self.log_cv.notify_all()
                    break
                buffer += chunk
                self._parse(buffer)
                self.log_cv.notify_all()
        try:
            os.close(self.read_fd)
        except OSError:
            pass

    def _parse(self, buffer: bytearray) -> None:
        while buffer:
            if _frame_start(buffer, 0) or (len(buffer) < 4 and (_FRAME_MAGIC + b"\x02").startswith(bytes(buffer))):
                if len(buffer) < _FRAME_HEADER:
                    return
                length = int.from_bytes(buffer[4:8], "big")
                if len(buffer) < _FRAME_HEADER + length:
                    return
                stamp_us = int.from_bytes(buffer[8:16], "big")
                message = bytes(buffer[_FRAME_HEADER:_FRAME_HEADER + length]).decode("utf-8", "replace")
                del buffer[:_FRAME_HEADER + length]
                # The formatter ends each record with "\n"; the record itself is one event, inner newlines kept.
                self.emit(message[:-1] if message.endswith("\n") else message, stamp_us // 1000)
                continue
            newline = buffer.find(b"\n")
            frame = buffer.find(_FRAME_MAGIC)
            while frame != -1 and len(buffer) > frame + 3 and not _frame_start(buffer, frame):
                frame = buffer.find(_FRAME_MAGIC, frame + 1)  # those bytes were the function's own output
            if newline == -1 and frame == -1:
                return  # an unfinished line: wait for the rest (or the next barrier)
            if frame != -1 and (newline == -1 or frame < newline):
                end, skip = frame, 0  # text printed without a newline, then a log record
            else:
                end, skip = newline, 1
            text = bytes(buffer[:end]).decode("utf-8", "replace")
            del buffer[:end + skip]
            self.emit(text)

    def _flush_partial(self, buffer: bytearray) -> None:
        if buffer and not buffer.startswith(_FRAME_MAGIC):
            self.emit(bytes(buffer).decode("utf-8", "replace"))
            buffer.clear()

    def drain(self, timeout: float = 2.0) -> None:
        """Wait until everything the child wrote so far has become log events (before END / REPORT)."""
        deadline = time.monotonic() + timeout
        with self.log_cv:
            while not self.pipe_eof and time.monotonic() < deadline:
                try:
                    waiting = int.from_bytes(fcntl.ioctl(self.read_fd, termios.FIONREAD, b"\0\0\0\0"), "little")
                except OSError:
                    break
                if waiting == 0:
                    break
                self.log_cv.wait(0.05)
            if not self.pipe_eof:
                self._flush_partial(self._buffer)


class _Runtime:
    """Process-wide state: code cache, environments, concurrency."""

    def __init__(self) -> None:
        self.cache_dir = Path(tempfile.mkdtemp(prefix="sandbox-lambda-code-"))
        self.slots = threading.BoundedSemaphore(MAX_CONCURRENT_PROCESSES)
        self.lock = threading.Lock()
        self.unpack_locks: dict[str, threading.Lock] = {}
        self.native_checks: dict[str, list[str]] = {}
        self.idle: dict[tuple[str, str, str, str], list[_Environment]] = collections.defaultdict(list)
        self.busy: set[_Environment] = set()
        self.generation = 0  # bumped by reset so in-flight invocations do not hand stale environments back
        self.stopping = False
        self.reaper: threading.Thread | None = None

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

    def running(self, account_id: str, region: str, name: str) -> int:
        return sum(1 for env in self.busy if env.key[:3] == (account_id, region, name))

    def take_idle(self, key: tuple[str, str, str, str], fingerprint: tuple) -> _Environment | None:
        """An idle environment of this version and configuration (most recently used first), or None."""
        stale: list[_Environment] = []
        found = None
        with self.lock:
            idle = self.idle.get(key, [])
            while idle:
                env = idle.pop()
                if env.fingerprint != fingerprint or env.exited or env.retired:
                    stale.append(env)
                    continue
                found = env
                break
            if found is not None:
                self.busy.add(found)
        for env in stale:
            env.kill()
        return found

    def make_room(self) -> None:
        """Evict the least recently used idle environment when the sandbox holds as many as it may."""
        with self.lock:
            everyone = len(self.busy) + sum(len(v) for v in self.idle.values())
            if everyone < MAX_CONCURRENT_PROCESSES:
                return
            candidates = [env for envs in self.idle.values() for env in envs]
            if not candidates:
                return
            victim = min(candidates, key=lambda env: env.last_used)
            self.idle[victim.key].remove(victim)
        victim.kill()

    def release(self, env: _Environment, healthy: bool) -> None:
        env.last_used = time.monotonic()
        with self.lock:
            self.busy.discard(env)
            keep = healthy and not env.retired and not env.exited and not self.stopping \
                and env.generation == self.generation and _idle_timeout() > 0
            if keep:
                self.idle[env.key].append(env)
        if not keep:
            env.kill()

    def retire_function(self, account_id: str, region: str, name: str) -> None:
        """A code or configuration change: idle environments go now, busy ones when their invocation ends."""
        with self.lock:
            doomed = []
            for key, envs in self.idle.items():
                if key[:3] == (account_id, region, name):
                    doomed += envs
                    envs.clear()
            for env in self.busy:
                if env.key[:3] == (account_id, region, name):
                    env.retired = True
        for env in doomed:
            env.kill()

    def reap(self, idle_timeout: float) -> None:
        now = time.monotonic()
        with self.lock:
            doomed = []
            for envs in self.idle.values():
                for env in list(envs):
                    if now - env.last_used >= idle_timeout or env.exited:
                        envs.remove(env)
                        doomed.append(env)
        for env in doomed:
            env.kill()

    def kill_all(self) -> None:
        with self.lock:
            everyone = list(self.busy) + [env for envs in self.idle.values() for env in envs]
            self.idle.clear()
        for env in everyone:
            env.kill()

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
        self.kill_all()
        _LOGGING_CONFIGS.clear()


_RUNTIME = _Runtime()
_APP: SandboxApp | None = None


def _idle_timeout() -> float:
    if _APP is not None:
        value = getattr(_APP.config, "environment_idle_timeout", None)
        if value is not None:
            return float(value)
    return DEFAULT_IDLE_TIMEOUT_S


def _reaper_loop() -> None:
    while not _RUNTIME.stopping:
        _RUNTIME.reap(_idle_timeout())
        time.sleep(0.5)


def _write_log_lines(account_id: str, region: str, function_name: str, group: str, stream: str,
                     lines: list[tuple[int, str]]) -> None:
    """Every log event of every function goes through here (one place to decide whether it is written).

    Lambda writes a function's output with the function's own execution role: without logs:CreateLogStream and
    logs:PutLogEvents on its log group the function still runs, but its lines never reach CloudWatch Logs
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html#monitoring-cloudwatchlogs-prereqs).
    """
    if not iam_eval.function_may_write_logs(account_id, region, function_name, stream, group):
        return
    logs.put_lines(account_id, region, group, stream, lines)


def _lambda_timestamp(epoch: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(time.time() if epoch is None else epoch, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _resolve(account_id: str, region: str, function: str, qualifier: str | None) -> Any:
    from moto.awslambda.models import lambda_backends

    try:
        return lambda_backends[account_id][region].get_function(function, qualifier)
    except Exception as exc:  # moto raises its own RESTError subclasses for unknown functions/qualifiers
        raise FunctionNotFound(str(exc)) from exc


def _reserved_concurrency(account_id: str, region: str, fn: Any) -> int | None:
    """PutFunctionConcurrency's value; moto keeps it on the unpublished function, and it covers every version."""
    from moto.awslambda.models import lambda_backends

    try:
        latest = lambda_backends[account_id][region].get_function(fn.function_name)
    except Exception:  # noqa: BLE001 - deleted meanwhile: no reservation to honour
        return None
    value = getattr(latest, "reserved_concurrency", None)
    return None if value is None or value == "" else int(value)


def _layer_zips(account_id: str, region: str, fn: Any) -> list[bytes]:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[account_id][region]
    blobs = []
    for layer in getattr(fn, "layers", None) or []:
        arn = layer.get("Arn") if isinstance(layer, dict) else str(layer)
        version = backend.layers_versions_by_arn(arn)
        if version is not None and getattr(version, "code_bytes", b""):
            blobs.append(version.code_bytes)
    return blobs


def _fingerprint(fn: Any, logging_config: dict[str, str], layer_zips: list[bytes]) -> tuple:
    """What an environment was built from: any change means a fresh environment, as on Lambda."""
    return (fn.code_sha_256, fn.handler, fn.run_time, str(fn.last_modified), fn.memory_size, fn.timeout,
            tuple(sorted((fn.environment_vars or {}).items())), tuple(sorted(logging_config.items())),
            tuple(len(b) for b in layer_zips), tuple(getattr(fn, "architectures", None) or ["x86_64"]))


def _endpoint_url() -> str:
    if _APP is not None and _APP.url:
        return _APP.url
    return os.environ.get("SANDBOX_ENDPOINT_URL", "http://127.0.0.1:4566")


def _runtime_version(fn: Any) -> str:
    found = re.fullmatch(r"python(\d+)\.(\d+)", str(fn.run_time or ""))
    return f"{found[1]}.{found[2]}" if found else f"{sys.version_info.major}.{sys.version_info.minor}"


def _find_runtime_dir() -> str:
    spec = importlib.util.find_spec("awslambdaric")
    return str(Path(spec.origin).parent) if spec and spec.origin else ""


_RUNTIME_DIR = _find_runtime_dir()


def _function_env(fn: Any, region: str, version: str, stream: str, code_dir: Path, opt_dir: Path, tmp_dir: Path,
                  logging_config: dict[str, str]) -> dict[str, str]:
    # Lambda's search path: the task root, then the layers' /opt/python/lib/python3.X/site-packages and
    # /opt/python, then the runtime's own libraries (here: the sandbox interpreter's site-packages, which has
    # boto3 as Lambda's runtime does).
    python_path = [str(code_dir), str(opt_dir / "python" / "lib" / f"python{_runtime_version(fn)}" / "site-packages"),
                   str(opt_dir / "python")]
    reserved = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": logging_config["LogGroup"],
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "LAMBDA_RUNTIME_DIR": _RUNTIME_DIR,
        "_HANDLER": fn.handler or "",
        "PYTHONPATH": os.pathsep.join(python_path),
        # Lambda's /tmp is per environment; the sandbox cannot give each one its own /tmp, so it points
        # tempfile there.
        "TMPDIR": str(tmp_dir),
        **FUNCTION_CREDENTIALS,
    }
    if logging_config["LogFormat"] == "JSON":
        reserved["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        reserved["AWS_LAMBDA_LOG_LEVEL"] = logging_config["ApplicationLogLevel"]
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


# --- packages built for another Python or machine ----------------------------------------------------------------

_EXTENSION_TAG = re.compile(r"\.cpython-(\d)(\d+)[a-z]*-([a-z0-9_]+)-linux-gnu\.so$")
_ELF_MACHINES = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm"}
_LAMBDA_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}


def _elf_machine(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    code = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return _ELF_MACHINES.get(code, f"machine {code}")


def _native_mismatches(roots: list[Path], fn: Any) -> list[str]:
    """Compiled modules the sandbox cannot load, or that the function's runtime or architecture could not."""
    host_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    host_machine = platform.machine()
    wanted_python = _runtime_version(fn)
    wanted_machine = _LAMBDA_ARCH.get((getattr(fn, "architectures", None) or ["x86_64"])[0], "x86_64")
    problems = []
    for root in roots:
        for path in sorted(root.rglob("*.so*")):
            if not path.is_file() or not re.search(r"\.so(\.\d+)*$", path.name):
                continue
            where = path.relative_to(root).as_posix()
            tag = _EXTENSION_TAG.search(path.name)
            if tag:
                built_for = f"{tag[1]}.{tag[2]}"
                if built_for != host_python or built_for != wanted_python:
                    problems.append(f"{where} (built for CPython {built_for})")
                    continue
            machine = _elf_machine(path)
            if machine is not None and (machine != host_machine or machine != wanted_machine):
                problems.append(f"{where} (built for {machine})")
    return problems


def _check_native(fn: Any, code_dir: Path, opt_dir: Path) -> str | None:
    key = f"{code_dir.name}:{fn.run_time}:{getattr(fn, 'architectures', None)}"
    problems = _RUNTIME.native_checks.get(key)
    if problems is None:
        problems = _native_mismatches([code_dir], fn)
        _RUNTIME.native_checks[key] = problems
    problems = problems + _native_mismatches([opt_dir], fn)
    if not problems:
        return None
    module = (fn.handler or "").rsplit(".", 1)[0]
    arch = (getattr(fn, "architectures", None) or ["x86_64"])[0]
    shown = ", ".join(problems[:3]) + (f" and {len(problems) - 3} more" if len(problems) > 3 else "")
    return (f"Unable to import module '{module}': the deployment package has compiled modules this function "
            f"cannot load: {shown}; the function is {fn.run_time} on {arch} and the sandbox runs CPython "
            f"{sys.version_info.major}.{sys.version_info.minor} on {platform.machine()}. Build the package for the "
            f"sandbox's Python and machine, or use pure-Python dependencies.")


# --- invoke ------------------------------------------------------------------------------------------------------

def _error_result(request_id: str, error_type: str, message: str, started: float, version: str,
                  payload_request_id: str | None = None) -> InvokeResult:
    payload = {"errorMessage": message, "errorType": error_type,
               "requestId": request_id if payload_request_id is None else payload_request_id, "stackTrace": []}
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

    RequestResponse and Event both run to completion here (Event callers run this in their own thread; an Event
    beyond the function's reserved concurrency waits for a free slot, as Lambda's queue does); DryRun only
    checks the function exists. Raises FunctionNotFound for an unknown function or qualifier,
    InvalidRequestContent for a non-JSON payload and TooManyRequests when a RequestResponse call finds the
    function's reserved concurrency in use; every failure of the function itself is a result.
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
    try:
        env = _acquire(account_id, region, fn, wait=invocation_type == "Event")
    except _BadCode as exc:
        return _error_result(request_id, "Runtime.InvalidZipFileException",
                             f"Could not unzip the function code: {exc}", started, version)
    healthy = False
    try:
        with _RUNTIME.slots:
            env.collecting = _Invocation(Event(request_id, payload or b"{}", 0, invoked_arn))
            result, healthy = _run(env, fn, env.collecting, invoked_arn)
            return result
    finally:
        env.collecting = None
        _RUNTIME.release(env, healthy)


def _acquire(account_id: str, region: str, fn: Any, wait: bool) -> _Environment:
    """A warm environment if one is idle, else a fresh one, within the function's reserved concurrency."""
    logging_config = _logging_config(account_id, region, fn)
    layer_zips = _layer_zips(account_id, region, fn)
    fingerprint = _fingerprint(fn, logging_config, layer_zips)
    key = (account_id, region, fn.function_name, str(fn.version))
    try:
        code_dir = _RUNTIME.code_dir(fn)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _BadCode(str(exc)) from None
    generation, pause = _RUNTIME.generation, 0.02
    while True:
        reserved = _reserved_concurrency(account_id, region, fn)
        with _RUNTIME.lock:
            allowed = reserved is None or _RUNTIME.running(account_id, region, fn.function_name) < reserved
        if allowed:
            env = _RUNTIME.take_idle(key, fingerprint)
            if env is not None:
                return env
            _RUNTIME.make_room()
            with _RUNTIME.lock:
                # Checked again under the lock that also registers the environment, so two callers cannot both
                # take the last reserved slot.
                if reserved is None or _RUNTIME.running(account_id, region, fn.function_name) < reserved:
                    env = _Environment(_RUNTIME, account_id, region, fn, fingerprint, code_dir, logging_config)
                    env.layer_zips = layer_zips  # type: ignore[attr-defined]
                    _RUNTIME.busy.add(env)
                    return env
        if not wait or _RUNTIME.stopping or _RUNTIME.generation != generation:
            raise TooManyRequests("Rate Exceeded.")
        # An asynchronous event waits in Lambda's queue and is retried; here its thread waits.
        time.sleep(pause)
        pause = min(1.0, pause * 2)


class _BadCode(Exception):
    pass


def _system_line(env: _Environment, kind: str, text: str, record: dict[str, Any], level: str = "INFO") -> None:
    """A platform line (START / END / REPORT ...), in the function's log format and within its system level."""
    config = env.logging_config
    if config["LogFormat"] != "JSON":
        env.emit(text)
        return
    if _SYSTEM_LEVELS.get(level, 20) < _SYSTEM_LEVELS.get(config.get("SystemLogLevel", "INFO"), 20):
        return
    env.emit(json.dumps({"time": _lambda_timestamp(), "type": kind, "record": record}))


def _run(env: _Environment, fn: Any, invocation: _Invocation, invoked_arn: str) -> tuple[InvokeResult, bool]:
    """Drive one invocation through *env*; returns the result and whether the environment may be reused."""
    version = env.version
    request_id = invocation.event.request_id
    cold = env.proc is None
    started = time.monotonic()
    if cold:
        problem = _prepare(env, fn)
        if problem is not None:
            error_type, message = problem
            env.emit(f"[ERROR] {error_type}: {message}")
            _system_line(env, "platform.start", f"START RequestId: {request_id} Version: {version}",
                         {"requestId": request_id, "version": version})
            _finish_lines(env, request_id, 0.0, None, "error", error_type)
            result = _error_result(request_id, error_type, message, started, version, "")
            result.log_tail = _tail(invocation)
            return result, False
        with env.cv:
            deadline = time.monotonic() + INIT_TIMEOUT_S
            while env.ready_at is None and env.init_error is None and not env.exited:
                if not env.cv.wait(max(0.0, deadline - time.monotonic())) and time.monotonic() >= deadline:
                    break
        if env.ready_at is None:
            result = _init_failed(env, request_id, started)
            result.log_tail = _tail(invocation)
            return result, False
    # START goes out before the event is handed over, so every line the handler writes lands after it.
    _system_line(env, "platform.start", f"START RequestId: {request_id} Version: {version}",
                 {"requestId": request_id, "version": version})
    with env.cv:
        env.invocations += 1
        invocation.event.deadline_ms = int((time.time() + env.timeout_s) * 1000)
        env.pending = invocation
        env.cv.notify_all()
        handed_over = time.monotonic()
        deadline = handed_over + env.timeout_s
        while invocation.outcome is None and not env.exited:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            env.cv.wait(remaining)
        outcome, exited, returncode = invocation.outcome, env.exited, env.returncode
    env.sample_memory()
    if outcome is None and not exited:
        # Timed out: Lambda stops the environment; the next invocation gets a fresh one.
        env.kill()
        env.drain(timeout=1.0)
        message = f"{_lambda_timestamp()} {request_id} Task timed out after {env.timeout_s:.2f} seconds"
        env.emit(message)
        body = json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout"}).encode()
        _finish_lines(env, request_id, env.timeout_s * 1000, _init_ms(env) if cold else None, "timeout", None)
        return InvokeResult(200, body, "Unhandled", request_id, env.timeout_s * 1000, version,
                            _tail(invocation)), False
    env.drain()
    begun = invocation.delivered or handed_over
    duration = ((invocation.finished or time.monotonic()) - begun) * 1000
    init_ms = _init_ms(env) if cold else None
    if outcome is None:
        code = returncode if returncode is not None else -signal.SIGKILL
        how = f"signal: {_SIGNAL_WORDS.get(-code, str(-code))}" if code < 0 else f"exit status {code}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {how}"
        env.emit(message)
        body = json.dumps({"errorMessage": message, "errorType": "Runtime.ExitError"}).encode()
        _finish_lines(env, request_id, duration, init_ms, "error", "Runtime.ExitError")
        return InvokeResult(200, body, "Unhandled", request_id, duration, version, _tail(invocation)), False
    kind, body, _error_type = outcome
    function_error = None
    if kind == "result" and len(body) > MAX_SYNC_RESPONSE_BYTES:
        body = json.dumps({"errorMessage": f"Response payload size exceeded maximum allowed payload size "
                                           f"({MAX_SYNC_RESPONSE_BYTES} bytes).",
                           "errorType": "Function.ResponseSizeTooLarge"}).encode()
        function_error = "Unhandled"
    elif kind == "error":
        function_error = "Unhandled"
    _finish_lines(env, request_id, duration, init_ms, None, None)
    return InvokeResult(200, body, function_error, request_id, duration, version, _tail(invocation)), True


def _prepare(env: _Environment, fn: Any) -> tuple[str, str] | None:
    """Unpack layers, check compiled modules, start the process. A problem is (error type, message)."""
    if not _RUNTIME_DIR:
        return ("Runtime.Unavailable", "The sandbox's Python has no awslambdaric (the runtime interface client): "
                                       "pip install -r requirements-sandbox.txt")
    try:
        env.unpack_layers(getattr(env, "layer_zips", []))
    except (zipfile.BadZipFile, OSError) as exc:
        return "Runtime.InvalidZipFileException", f"Could not unzip the function's layers: {exc}"
    mismatch = _check_native(fn, env.code_dir, env.opt_dir)
    if mismatch is not None:
        return "Runtime.ImportModuleError", mismatch
    env.start(fn)
    return None


def _init_ms(env: _Environment) -> float | None:
    return None if env.ready_at is None else (env.ready_at - env.started) * 1000


def _init_failed(env: _Environment, request_id: str, started: float) -> InvokeResult:
    """Init did not reach `next`: an init error the client reported, a crash, or the 10-second init limit."""
    version = env.version
    with env.cv:
        env.cv.wait_for(lambda: env.exited, timeout=2.0)  # awslambdaric exits after reporting an init error
    env.sample_memory()
    env.drain()
    init_ms = (time.monotonic() - env.started) * 1000
    if env.init_error is not None:
        raw, error_type = env.init_error
        try:
            error = json.loads(raw)
        except ValueError:
            error = {"errorMessage": raw.decode("utf-8", "replace"), "errorType": error_type}
        body = json.dumps(error).encode()
        error_type = str(error.get("errorType") or error_type)
        status, report_type = "error", error_type
    elif env.exited:
        code = env.returncode if env.returncode is not None else -signal.SIGKILL
        how = f"signal: {_SIGNAL_WORDS.get(-code, str(-code))}" if code < 0 else f"exit status {code}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {how}"
        env.emit(message)
        body = json.dumps({"errorMessage": message, "errorType": "Runtime.ExitError"}).encode()
        status, report_type = "error", "Runtime.ExitError"
    else:
        env.kill()
        message = f"{_lambda_timestamp()} {request_id} Task timed out after {INIT_TIMEOUT_S:.2f} seconds"
        env.emit(message)
        body = json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout"}).encode()
        status, report_type = "timeout", None
    env.emit(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: {status}"
             + (f"\tError Type: {report_type}" if report_type else ""))
    _system_line(env, "platform.start", f"START RequestId: {request_id} Version: {version}",
                 {"requestId": request_id, "version": version})
    _finish_lines(env, request_id, 0.0, None, status, report_type)
    return InvokeResult(200, body, "Unhandled", request_id, (time.monotonic() - started) * 1000, version)


def _finish_lines(env: _Environment, request_id: str, duration: float, init_ms: float | None | bool,
                  status: str | None, error_type: str | None) -> None:
    max_mb = max(1, math.ceil(env.max_rss_kb / 1024))
    init = f"\tInit Duration: {init_ms:.2f} ms" if isinstance(init_ms, float) else ""
    extra = (f"\tStatus: {status}" if status else "") + (f"\tError Type: {error_type}" if error_type else "")
    if env.logging_config["LogFormat"] != "JSON":  # JSON system logs have no END record, only start and report
        env.emit(f"END RequestId: {request_id}")
    metrics: dict[str, Any] = {"durationMs": round(duration, 2), "billedDurationMs": math.ceil(duration),
                               "memorySizeMB": env.memory_size, "maxMemoryUsedMB": max_mb}
    if init:
        metrics["initDurationMs"] = round(float(init_ms), 2)  # type: ignore[arg-type]
    record: dict[str, Any] = {"requestId": request_id, "metrics": metrics, "status": status or "success"}
    if error_type:
        record["errorType"] = error_type
    _system_line(env, "platform.report",
                 f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: "
                 f"{math.ceil(duration)} ms\tMemory Size: {env.memory_size} MB\tMax Memory Used: {max_mb} MB"
                 f"{init}{extra}", record)


def _tail(invocation: _Invocation) -> str:
    return "\n".join(invocation.lines) + "\n"


# --- HTTP: Lambda's Invoke API --------------------------------------------------------------------------------

def _throttled(req: AwsRequest) -> Response:
    return aws_error(req, "TooManyRequestsException", "Rate Exceeded.", 429,
                     extra={"Reason": TooManyRequests.reason})


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
    try:
        result = invoke(account_id, req.region, name, req.body, qualifier)
    except TooManyRequests:
        return _throttled(req)
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
    except (FunctionNotFound, TooManyRequests):
        pass  # deleted between the 202 and the run, or the sandbox was reset meanwhile: Lambda drops it too


def _function_name(req: AwsRequest) -> str:
    raw = req.path_params.get("FunctionName", "")
    if ":function:" in raw:
        raw = raw.split(":function:", 1)[1]
    return raw.split(":", 1)[0]


def _remember_logging_config(req: AwsRequest, resp: Response) -> None:
    if resp.status_code >= 300:
        return
    try:
        body = req.json()
    except ValueError:
        return
    name = body.get("FunctionName") or _function_name(req)
    if ":function:" in name:
        name = name.split(":function:", 1)[1].split(":", 1)[0]
    if "LoggingConfig" in body:
        _LOGGING_CONFIGS[(req.account_id, req.region, name)] = dict(body.get("LoggingConfig") or {})
    elif req.operation == "CreateFunction":
        _LOGGING_CONFIGS.pop((req.account_id, req.region, name), None)


def _retire_after_change(req: AwsRequest, resp: Response) -> None:
    if req.operation in ("CreateFunction", "UpdateFunctionConfiguration"):
        _remember_logging_config(req, resp)
    if resp.status_code < 300 and req.operation != "CreateFunction":
        _RUNTIME.retire_function(req.account_id, req.region, _function_name(req))


def install(app: SandboxApp) -> None:
    global _APP
    _APP = app
    _RUNTIME.stopping = False  # a process may host more than one sandbox in turn (the tests do)
    app.override("lambda", "Invoke", _invoke_api)
    app.override("lambda", "InvokeAsync", _invoke_async_api)
    for operation in ("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration", "DeleteFunction"):
        app.after("lambda", operation, _retire_after_change)
    app.on_reset(_RUNTIME.reset)
    # Services that invoke functions on their own behalf (SNS, log subscriptions, S3) go through the resource
    # policy check and then this runtime.
    from . import service_invoke

    service_invoke.install()
    if _RUNTIME.reaper is None or not _RUNTIME.reaper.is_alive():
        _RUNTIME.reaper = threading.Thread(target=_reaper_loop, name="lambda-env-reaper", daemon=True)
        _RUNTIME.reaper.start()


def shutdown(app: SandboxApp) -> None:
    _RUNTIME.stopping = True
    _RUNTIME.kill_all()
    shutil.rmtree(_RUNTIME.cache_dir, ignore_errors=True)
