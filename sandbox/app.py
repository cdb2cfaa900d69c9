"""The sandbox's WSGI layer: identify each AWS call, then let sandbox hooks answer it or pass it to moto.

Every request is parsed once into an `AwsRequest` (service, operation, region, body). Hooks registered with
`SandboxApp.override(service, operation)` may answer a call themselves (return a `Response`) or return None
to let moto answer. Hooks registered with `SandboxApp.after(service, operation)` see moto's answer and may
observe or rewrite it. `SandboxApp.before_any` hooks run first for every call (fault injection lives there).

Admin endpoints (not AWS APIs) live under /_sandbox/: config (GET/POST JSON), reset (POST), stats (GET),
stats/reset (POST), health (GET).
"""

from __future__ import annotations

import collections
import io
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from .config import SandboxConfig

_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

# Lambda's REST API: (method, path regex) -> operation name. Named groups are path parameters.
_LAMBDA_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), op)
    for m, p, op in [
        ("POST", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/invocations/?$", "Invoke"),
        ("POST", r"^/2014-11-13/functions/(?P<FunctionName>[^/]+)/invoke-async/?$", "InvokeAsync"),
        ("POST", r"^/2015-03-31/event-source-mappings/?$", "CreateEventSourceMapping"),
        ("GET", r"^/2015-03-31/event-source-mappings/?$", "ListEventSourceMappings"),
        ("GET", r"^/2015-03-31/event-source-mappings/(?P<UUID>[^/]+)/?$", "GetEventSourceMapping"),
        ("PUT", r"^/2015-03-31/event-source-mappings/(?P<UUID>[^/]+)/?$", "UpdateEventSourceMapping"),
        ("DELETE", r"^/2015-03-31/event-source-mappings/(?P<UUID>[^/]+)/?$", "DeleteEventSourceMapping"),
        ("POST", r"^/2015-03-31/functions/?$", "CreateFunction"),
        ("GET", r"^/2015-03-31/functions/?$", "ListFunctions"),
        ("GET", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/?$", "GetFunction"),
        ("DELETE", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/?$", "DeleteFunction"),
        ("GET", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/configuration/?$", "GetFunctionConfiguration"),
        ("PUT", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/configuration/?$", "UpdateFunctionConfiguration"),
        ("PUT", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/code/?$", "UpdateFunctionCode"),
        ("POST", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/versions/?$", "PublishVersion"),
        ("GET", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/versions/?$", "ListVersionsByFunction"),
        ("POST", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/policy/?$", "AddPermission"),
        ("GET", r"^/2015-03-31/functions/(?P<FunctionName>[^/]+)/policy/?$", "GetPolicy"),
        ("GET", r"^/2017-03-31/tags/(?P<Resource>.+)$", "ListTags"),
        ("POST", r"^/2017-03-31/tags/(?P<Resource>.+)$", "TagResource"),
        ("DELETE", r"^/2017-03-31/tags/(?P<Resource>.+)$", "UntagResource"),
    ]
]

# Operations that only read; everything else counts as a write in /_sandbox/stats.
_READ_PREFIXES = ("Describe", "Get", "List", "Query", "Scan", "BatchGet", "Filter", "Invoke", "Receive")


@dataclass
class AwsRequest:
    """One AWS API call as the sandbox sees it."""

    service: str  # signing name: dynamodb, streams.dynamodb (dynamodb streams), lambda, iam, logs, sqs, sns, sts
    operation: str  # e.g. PutItem, CreateEventSourceMapping; "" when unknown
    region: str
    access_key: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    # Every query parameter in order, repeats kept (`query` keeps only the last value of a repeated key, e.g.
    # Lambda UntagResource's tagKeys=a&tagKeys=b).
    query_items: list[tuple[str, str]] = field(default_factory=list)

    def query_all(self, key: str) -> list[str]:
        return [v for k, v in self.query_items if k == key]

    @property
    def account_id(self) -> str:
        """The account moto attributes this call to (its default account unless the key belongs to another)."""
        from moto.iam.models import get_account_id_from

        return get_account_id_from(self.access_key)

    @property
    def is_write(self) -> bool:
        return bool(self.operation) and not self.operation.startswith(_READ_PREFIXES)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


def json_response(payload: Any, status: int = 200, content_type: str = "application/x-amz-json-1.0",
                  headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(payload), status=status, content_type=content_type)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def aws_error(req: AwsRequest, code: str, message: str, status: int = 400, *,
              headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> Response:
    """An error in the wire format of *req*'s protocol (JSON for dynamodb/logs/sqs/lambda, XML for query APIs).

    *extra* adds fields to a JSON error body (Lambda's `Reason`, for instance); *headers* adds response headers
    (`Retry-After`). Each format is the one botocore parses the error code from.
    """
    if req.service in ("iam", "sns", "sts", "cloudformation"):
        xmlns = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
                 "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}.get(req.service, "")
        body = (f'<ErrorResponse xmlns="{xmlns}"><Error><Type>Sender</Type><Code>{code}</Code>'
                f"<Message>{_xml_escape(message)}</Message></Error><RequestId>sandbox</RequestId></ErrorResponse>")
        resp = Response(body, status=status, content_type="text/xml")
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp
    if req.service == "lambda":
        # rest-json: botocore takes the code from x-amzn-ErrorType; Lambda's body carries Type and message.
        return json_response({"Type": "User", "message": message, **(extra or {})}, status=status,
                             content_type="application/json", headers={"x-amzn-ErrorType": code, **(headers or {})})
    prefix = {"dynamodb": "com.amazonaws.dynamodb.v20120810#", "streams.dynamodb": "com.amazonaws.dynamodb.v20120810#",
              "sqs": "com.amazonaws.sqs#"}
    content_type = "application/x-amz-json-1.1" if req.service == "logs" else "application/x-amz-json-1.0"
    out_headers = {"x-amzn-ErrorType": code, **(headers or {})}
    if req.service == "sqs":
        # SQS speaks JSON but stays query-compatible: botocore prefers the code in x-amzn-query-error.
        out_headers.setdefault("x-amzn-query-error", f"{code};Sender")
    return json_response({"__type": prefix.get(req.service, "") + code, "message": message, **(extra or {})},
                         status=status, content_type=content_type, headers=out_headers)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


Override = Callable[[AwsRequest], "Response | None"]
After = Callable[[AwsRequest, Response], "Response | None"]
BeforeAny = Callable[[AwsRequest], "Response | None"]


class SandboxApp:
    """WSGI app: sandbox hooks first, moto's DomainDispatcherApplication for everything else."""

    def __init__(self, config: SandboxConfig | None = None):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.config = config or SandboxConfig()
        self.url: str | None = None  # set by SandboxServer.start(); what a Lambda handler uses to call back in
        self.moto = DomainDispatcherApplication(create_backend_app)
        self._overrides: dict[tuple[str, str], list[Override]] = collections.defaultdict(list)
        self._after: dict[tuple[str, str], list[After]] = collections.defaultdict(list)
        self._before_any: list[BeforeAny] = []
        self._reset_hooks: list[Callable[[], None]] = []
        self._stats_lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()

    # --- registration -----------------------------------------------------------------------------------------
    def override(self, service: str, operation: str, fn: Override) -> None:
        self._overrides[(service, operation)].append(fn)

    def after(self, service: str, operation: str, fn: After) -> None:
        self._after[(service, operation)].append(fn)

    def before_any(self, fn: BeforeAny) -> None:
        self._before_any.append(fn)

    def on_reset(self, fn: Callable[[], None]) -> None:
        """Called by /_sandbox/reset (after moto's own reset) so sandbox state is cleared too."""
        self._reset_hooks.append(fn)

    # --- WSGI -------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/"):
            return self._admin(Request(environ))(environ, start_response)
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        req = self.identify(environ, body)
        if req is not None:
            with self._stats_lock:
                self.calls[f"{req.service}:{req.operation}"] += 1
            for hook in self._before_any:
                resp = hook(req)
                if resp is not None:
                    return resp(environ, start_response)
            for hook in self._overrides.get((req.service, req.operation), ()):
                resp = hook(req)
                if resp is not None:
                    return resp(environ, start_response)
            if self._after.get((req.service, req.operation)):
                return self._call_moto_then_after(req, environ, start_response)
        return self.moto(environ, start_response)

    def _call_moto_then_after(self, req: AwsRequest, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        try:
            chunks = self.moto(environ, capture)
            try:
                data = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            resp = Response(data, status=captured["status"], headers=captured["headers"])
        except Exception as exc:  # noqa: BLE001 - moto raises plain exceptions for some invalid input
            # After-hooks must still see the failure (to undo what an override prepared), and the caller gets the
            # 500 a crash would have given, in the service's error format.
            resp = aws_error(req, "InternalFailure", f"{type(exc).__name__}: {exc}", 500)
        for hook in self._after[(req.service, req.operation)]:
            resp = hook(req, resp) or resp
        return resp(environ, start_response)

    # --- request identification -------------------------------------------------------------------------------
    @staticmethod
    def identify(environ: dict[str, Any], body: bytes) -> AwsRequest | None:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        match = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
        if not match:
            return None
        access_key, region, service = match.groups()
        method = environ.get("REQUEST_METHOD", "GET")
        path = urllib.parse.unquote(environ.get("PATH_INFO", ""))
        query_items = urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        query = dict(query_items)
        operation, params = "", {}
        target = headers.get("x-amz-target")
        if target:
            operation = target.rsplit(".", 1)[-1]
        elif service == "lambda":
            for m, pattern, op in _LAMBDA_ROUTES:
                found = pattern.match(path)
                if m == method and found:
                    operation, params = op, found.groupdict()
                    break
        else:
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"))) if body else {}
            operation = form.get("Action") or query.get("Action", "")
        if service == "dynamodb" and target and target.startswith("DynamoDBStreams_"):
            service = "streams.dynamodb"
        return AwsRequest(service=service, operation=operation, region=region, access_key=access_key,
                          method=method, path=path, query=query, headers=headers, body=body, path_params=params,
                          query_items=query_items)

    # --- admin ------------------------------------------------------------------------------------------------
    def _admin(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        try:
            if path == "/_sandbox/health":
                return json_response({"status": "ok"}, content_type="application/json")
            if path == "/_sandbox/config":
                if request.method == "POST":
                    return json_response(self.config.update(request.get_json(force=True) or {}),
                                         content_type="application/json")
                return json_response(self.config.as_dict(), content_type="application/json")
            if path == "/_sandbox/reset" and request.method == "POST":
                self.reset()
                return json_response({"reset": True}, content_type="application/json")
            if path == "/_sandbox/stats":
                with self._stats_lock:
                    calls = dict(self.calls)
                writes = {k: v for k, v in calls.items() if AwsRequest(
                    service="", operation=k.split(":", 1)[1], region="", access_key="", method="", path="",
                    query={}, headers={}, body=b"").is_write}
                return json_response({"calls": calls, "total": sum(calls.values()), "writes": sum(writes.values()),
                                      "write_calls": writes}, content_type="application/json")
            if path == "/_sandbox/stats/reset" and request.method == "POST":
                with self._stats_lock:
                    self.calls.clear()
                return json_response({"reset": True}, content_type="application/json")
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400, content_type="application/json")
        return json_response({"error": f"no admin endpoint {request.method} {path}"}, status=404,
                             content_type="application/json")

    def reset(self) -> None:
        from moto.moto_api import _internal

        _internal.moto_api_backend.reset()
        for hook in self._reset_hooks:
            hook()
        with self._stats_lock:
            self.calls.clear()


def _read_body(environ: dict[str, Any]) -> bytes:
    # Content-Length: 0 must read nothing: read(-1) would wait for the client to close the connection.
    length = environ.get("CONTENT_LENGTH")
    if length:
        return environ["wsgi.input"].read(int(length)) if int(length) > 0 else b""
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return environ["wsgi.input"].read()
    return b""
