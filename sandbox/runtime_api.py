"""Lambda's Runtime API (version 2018-06-01), served to one execution environment on its own loopback port.

A runtime interface client (awslambdaric, which Lambda's own Python runtimes are built on) finds the API through
`AWS_LAMBDA_RUNTIME_API=host:port` and speaks plain HTTP: `GET /runtime/invocation/next` blocks until there is
an event, `POST /runtime/invocation/<id>/response` or `/error` answers it, `POST /runtime/init/error` reports a
failed init. The paths carry no environment identity, which is why every environment gets its own port.

The server knows nothing about functions or logs: it hands each request to its `Environment`-side callbacks.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
_INVOCATION = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")
# Lambda's limit on a synchronous response a runtime may post.
MAX_RESPONSE_BYTES = 6291556


@dataclass
class Event:
    """What `next` delivers: the payload plus the headers the client builds its context object from."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str = ""
    client_context: str | None = None
    cognito_identity: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response_headers(self) -> dict[str, str]:
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.invoked_function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
        }
        if self.client_context:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        if self.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = self.cognito_identity
        return headers


@dataclass
class Callbacks:
    # Blocks until an event is due; None means the environment is going away (the server answers 500 and the
    # client exits, as it does when Lambda shuts an environment down).
    next_event: Callable[[], Event | None]
    # (request_id, body, error_type or None) -> HTTP status to answer: 202, or 400 for an unknown/finished id.
    invocation_done: Callable[[str, bytes, str | None], int]
    init_error: Callable[[bytes, str], None]


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive: the client's native part (aws-lambda-cpp over curl) reuses one connection for next/response.
    protocol_version = "HTTP/1.1"
    server: "RuntimeApiServer"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass  # one line per request would drown the sandbox's own output

    def setup(self) -> None:
        super().setup()
        # Small request/response pairs on a kept-alive connection: without this, Nagle's algorithm and the
        # peer's delayed ACK add about 40 ms to every exchange.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, status: int, body: dict | bytes, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # Headers and body in one write (end_headers would send the headers on their own).
        self._headers_buffer.append(b"\r\n" + data)  # type: ignore[attr-defined]
        self.flush_headers()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, {"errorMessage": f"unknown path {self.path}", "errorType": "NotFound"})
            return
        event = self.server.callbacks.next_event()
        if event is None:
            self._reply(500, {"errorMessage": "environment shutting down", "errorType": "Runtime.Shutdown"})
            self.close_connection = True
            return
        self._reply(200, event.payload, event.response_headers())

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        if self.path == f"{PREFIX}/init/error":
            self.server.callbacks.init_error(body, error_type or "Runtime.Unknown")
            self._reply(202, {"status": "OK"})
            return
        found = _INVOCATION.match(self.path)
        if not found:
            self._reply(404, {"errorMessage": f"unknown path {self.path}", "errorType": "NotFound"})
            return
        kind = found["kind"]
        status = self.server.callbacks.invocation_done(found["id"], body,
                                                       (error_type or "Runtime.Unknown") if kind == "error" else None)
        if status == 202:
            self._reply(202, {"status": "OK"})
        else:
            self._reply(status, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})


class RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A killed environment drops its connection mid-request; that is how environments end, not an error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def __init__(self, callbacks: Callbacks, host: str = "127.0.0.1"):
        super().__init__((host, 0), _Handler)
        self.callbacks = callbacks
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                       name=f"runtime-api-{self.server_address[1]}", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> "RuntimeApiServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
