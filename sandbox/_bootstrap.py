"""Subprocess side of the sandbox's Lambda runtime: one invocation per process, like a fresh execution environment.

Run as a script (`python _bootstrap.py RESULT_FD`) with the function's code directory as the working directory,
so nothing from the sandbox package is importable by the handler. The invocation envelope arrives as JSON on
stdin. Everything the handler prints (stdout and stderr) goes to the parent, which turns each line into a
CloudWatch Logs event. Control messages (ready, result, error) go as JSON lines to RESULT_FD, so a handler's own
output can never be mistaken for its result.

Deliberately stdlib-only and independent of the sandbox package.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback

# Lambda's text-format logging line. Multi-line records keep to one CloudWatch event: newlines travel as "\r"
# (what Lambda's stdout-based Python runtime did) and the parent turns them back into "\n".
_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
_LOG_DATEFMT = "%Y-%m-%dT%H:%M:%S"


class _RequestIdFilter(logging.Filter):
    def __init__(self, request_id: str):
        super().__init__()
        self.request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _LambdaLogHandler(logging.StreamHandler):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\r")


class LambdaContext:
    """The attributes of the Python runtime's context object (awslambdaric's LambdaContext)."""

    def __init__(self, envelope: dict, deadline: float):
        self.aws_request_id = envelope["request_id"]
        self.function_name = envelope["function_name"]
        self.function_version = envelope["function_version"]
        self.invoked_function_arn = envelope["invoked_function_arn"]
        # The real runtime reads this from the environment, so it is a string there too.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = envelope["log_group_name"]
        self.log_stream_name = envelope["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn}])")


class _Fault(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None):
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace or []


def _load_handler(handler: str):
    """Resolve `pkg/mod.func` or `mod.func` with the messages and error types of Lambda's Python runtime."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _Fault("Runtime.BuiltInModuleConflict",
                     f"Cannot use built-in module {modname} as a handler module")
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{modname}': {exc}") from None
    except SyntaxError as exc:
        raise _Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}",
                     [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _Fault("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'") from None


def _error_payload(exc: BaseException, request_id: str) -> dict:
    if isinstance(exc, _Fault):
        return {"errorMessage": exc.message, "errorType": exc.error_type, "requestId": request_id,
                "stackTrace": exc.trace}
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop the runtime's own frame, as Lambda shows only the user's frames.
    frames = [f for f in frames if f.filename != __file__]
    return {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": request_id,
            "stackTrace": traceback.format_list(frames)}


def _log_error(payload: dict) -> None:
    lines = [f"[ERROR] {payload['errorType']}: {payload['errorMessage']}", "Traceback (most recent call last):"]
    lines += [frame.rstrip("\n") for frame in payload.get("stackTrace", [])]
    sys.stdout.write("\r".join(lines).replace("\n", "\r") + "\n")
    sys.stdout.flush()


def main() -> None:
    result_fd = int(sys.argv[1])
    channel = os.fdopen(result_fd, "w", buffering=1, encoding="utf-8")

    def send(message: dict) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    envelope = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - stays open for the process lifetime
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True, errors="backslashreplace")  # type: ignore[union-attr]

    request_id = envelope["request_id"]
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path[0:0] = [task_root]

    root = logging.getLogger()
    handler = _LambdaLogHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT, _LOG_DATEFMT))
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(_RequestIdFilter(request_id))
    root.addHandler(handler)
    # Like Lambda's text log format: the root logger keeps Python's default level (WARNING) unless the
    # function's logging config sets one, so a handler that wants INFO lines calls setLevel itself.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())

    init_started = time.monotonic()
    try:
        request_handler = _load_handler(envelope["handler"])
    except Exception as exc:  # noqa: BLE001 - any init failure is reported as Lambda reports it
        payload = _error_payload(exc, request_id)
        _log_error(payload)
        send({"type": "error", "error": payload, "phase": "init"})
        _exit(0)
    send({"type": "ready", "init_ms": (time.monotonic() - init_started) * 1000})

    event = json.loads(envelope["payload"] or "{}")
    started = time.monotonic()
    context = LambdaContext(envelope, started + envelope["timeout_ms"] / 1000)
    try:
        result = request_handler(event, context)
    except Exception as exc:  # noqa: BLE001
        duration = (time.monotonic() - started) * 1000
        payload = _error_payload(exc, request_id)
        _log_error(payload)
        send({"type": "error", "error": payload, "duration_ms": duration})
        _exit(0)
    duration = (time.monotonic() - started) * 1000
    try:
        body = json.dumps(result)
    except (TypeError, ValueError) as exc:
        payload = {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError",
                   "requestId": request_id, "stackTrace": []}
        _log_error(payload)
        send({"type": "error", "error": payload, "duration_ms": duration})
        _exit(0)
    send({"type": "result", "payload": body, "duration_ms": duration})
    _exit(0)


def _exit(code: int) -> None:
    # os._exit: a handler's leftover non-daemon threads must not keep the environment alive (Lambda freezes
    # them; this environment is never reused, so they simply end).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
