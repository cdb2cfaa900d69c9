"""The Runtime API the sandbox serves to each execution environment, spoken to over plain HTTP.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html: GET /2018-06-01/runtime/invocation/next blocks
until an event arrives and carries the request id, deadline and invoked ARN in Lambda-Runtime-* headers;
POST .../invocation/<id>/response and .../error answer 202; POST /2018-06-01/runtime/init/error answers 202.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox.runtime_api import Callbacks, Event, RuntimeApiServer  # noqa: E402 - after the path is set


class FakeEnvironment:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.ready = threading.Condition()
        self.done: list[tuple[str, bytes, str | None]] = []
        self.init_errors: list[tuple[bytes, str]] = []
        self.closing = False

    def next_event(self) -> Event | None:
        with self.ready:
            self.ready.wait_for(lambda: self.events or self.closing, timeout=10)
            return self.events.pop(0) if self.events else None

    def invocation_done(self, request_id: str, body: bytes, error_type: str | None) -> int:
        if request_id != "req-1" or any(d[0] == request_id for d in self.done):
            return 400
        self.done.append((request_id, body, error_type))
        return 202

    def init_error(self, body: bytes, error_type: str) -> None:
        self.init_errors.append((body, error_type))


def call(server: RuntimeApiServer, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    host, port = server.address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def test_next_response_error_and_init_error():
    env = FakeEnvironment()
    server = RuntimeApiServer(Callbacks(env.next_event, env.invocation_done, env.init_error)).start()
    try:
        got: list[http.client.HTTPResponse] = []
        waiter = threading.Thread(target=lambda: got.append(call(server, "GET", "/2018-06-01/runtime/invocation/next")))
        waiter.start()
        waiter.join(timeout=0.3)
        assert waiter.is_alive(), "next must block until there is an event"
        with env.ready:
            env.events.append(Event("req-1", b'{"k": 1}', 1700000000123, "arn:aws:lambda:us-east-1:1:function:f"))
            env.ready.notify_all()
        waiter.join(timeout=10)
        response = got[0]
        assert response.status == 200
        assert json.loads(response.body) == {"k": 1}  # type: ignore[attr-defined]
        assert response.headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
        assert response.headers["Lambda-Runtime-Deadline-Ms"] == "1700000000123"
        assert response.headers["Lambda-Runtime-Invoked-Function-Arn"] == "arn:aws:lambda:us-east-1:1:function:f"
        assert "Lambda-Runtime-Trace-Id" in response.headers

        ok = call(server, "POST", "/2018-06-01/runtime/invocation/req-1/response", b'"done"')
        assert ok.status == 202
        assert env.done == [("req-1", b'"done"', None)]
        # A second answer for the same request, or one for an unknown request, is refused.
        assert call(server, "POST", "/2018-06-01/runtime/invocation/req-1/response", b'"again"').status == 400
        refused = call(server, "POST", "/2018-06-01/runtime/invocation/nope/error", b"{}",
                       {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
        assert refused.status == 400

        error = {"errorMessage": "bad", "errorType": "Runtime.ImportModuleError", "stackTrace": []}
        answer = call(server, "POST", "/2018-06-01/runtime/init/error", json.dumps(error).encode(),
                      {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
        assert answer.status == 202
        assert env.init_errors == [(json.dumps(error).encode(), "Runtime.ImportModuleError")]
        assert call(server, "GET", "/2018-06-01/runtime/unknown").status == 404
    finally:
        env.closing = True
        with env.ready:
            env.ready.notify_all()
        server.stop()
