"""The sandbox's WSGI layer: identify each AWS call, then let sandbox hooks answer it or pass it to moto.

Every request is parsed once into an `AwsRequest` (service, operation, region, body). Hooks registered with
`SandboxApp.override(service, operation)` may answer a call themselves (return a `Response`) or return None
to let moto answer. Hooks registered with `SandboxApp.after(service, operation)` see moto's answer and may
observe or rewrite it. `SandboxApp.before_any` hooks run first for every call (fault injection lives there).

Admin endpoints (not AWS APIs) live under /_sandbox/: config (GET/POST JSON), reset (POST), stats (GET),
stats/reset (POST), health (GET).

The sandbox runs whatever code it is sent, so it answers only requests whose Host header names an address it
listens on (a web page the developer visits cannot reach it through DNS rebinding), and it sends CORS headers
only for origins it was explicitly given (so such a page cannot read its answers either).
"""

from __future__ import annotations

import collections
import io
import ipaddress
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
_READ_PREFIXES = ("Describe", "Get", "List", "Query", "Scan", "BatchGet", "Filter", "Invoke", "Receive", "Head")


@dataclass
class AwsRequest:
    """One AWS API call as the sandbox sees it."""

    service: str  # signing name: dynamodb, streams.dynamodb (dynamodb streams), lambda, iam, logs, sqs, sns, sts, s3
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


def json_body(resp: Response) -> dict[str, Any] | None:
    """A successful answer's JSON object (what after-hooks rewrite), or None for an error or a non-object body."""
    if resp.status_code not in (200, 201):
        return None
    try:
        data = json.loads(resp.get_data())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def rewrite_json(resp: Response, data: dict[str, Any]) -> Response:
    """Replace an answer's body with *data* as JSON."""
    resp.set_data(json.dumps(data))
    # moto signs some answers with a CRC32 of the body; a rewritten body needs it dropped, not stale.
    resp.headers.pop("x-amz-crc32", None)
    resp.headers.pop("X-Amz-Crc32", None)
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


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_name(host_header: str) -> str:
    """The name part of a Host header, lower-cased: 'LocalHost:4566' -> 'localhost', '[::1]:80' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_loopback(host: str) -> bool:
    name = host_name(host) if host.startswith("[") else host.strip().lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class SandboxApp:
    """WSGI app: sandbox hooks first, moto's DomainDispatcherApplication for everything else.

    *allowed_hosts*: Host header names answered (any port: an SSH tunnel or port mapping changes the port, and
    the name alone is what DNS rebinding cannot forge); loopback names by default. *cors_origins*: origins that
    get CORS headers (none by default; "*" for any).
    """

    def __init__(self, config: SandboxConfig | None = None, *, allowed_hosts: list[str] | None = None,
                 cors_origins: list[str] | None = None):
        import moto.moto_server.werkzeug_app as werkzeug_app

        # moto's server answers every origin with Access-Control-Allow-Origin (flask-cors); the sandbox decides.
        werkzeug_app.DISABLE_GLOBAL_CORS = True
        self.config = config or SandboxConfig()
        self.url: str | None = None  # set by SandboxServer.start(); what a Lambda handler uses to call back in
        self.moto = werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app)
        self.allowed_hosts = {host_name(h) for h in (allowed_hosts or LOOPBACK_HOSTS)}
        self.cors_origins = set(cors_origins or ())
        self._overrides: dict[tuple[str, str], list[Override]] = collections.defaultdict(list)
        self._after: dict[tuple[str, str], list[After]] = collections.defaultdict(list)
        self._before_any: list[BeforeAny] = []
        self._reset_hooks: list[Callable[[], None]] = []
        self._admin_endpoints: dict[tuple[str, str], Callable[[Request], Response]] = {}
        self._stats_lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()

    # --- registration -----------------------------------------------------------------------------------------
    def override(self, service: str, operation: str, fn: Override) -> None:
        self._overrides[(service, operation)].append(fn)

    def after(self, service: str, operation: str, fn: After) -> None:
        self._after[(service, operation)].append(fn)

    def before_any(self, fn: BeforeAny) -> None:
        self._before_any.append(fn)

    def admin_endpoint(self, method: str, path: str, fn: Callable[[Request], Response]) -> None:
        """An extension's own admin endpoint under /_sandbox/ (fn may raise ValueError for a 400)."""
        self._admin_endpoints[(method, path.rstrip("/"))] = fn

    def on_reset(self, fn: Callable[[], None]) -> None:
        """Called by /_sandbox/reset (after moto's own reset) so sandbox state is cleared too."""
        self._reset_hooks.append(fn)

    # --- WSGI -------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = environ.get("HTTP_HOST")
        # Browsers always send Host; a request without one is not a web page's, and HTTP/1.0 clients may omit it.
        if host is not None and host_name(host) not in self.allowed_hosts:
            return json_response({"error": f"sandbox: Host {host!r} is not a name this sandbox answers to "
                                           f"(allowed: {', '.join(sorted(self.allowed_hosts))})"},
                                 status=403, content_type="application/json")(environ, start_response)
        origin = environ.get("HTTP_ORIGIN")
        cors = origin is not None and ("*" in self.cors_origins or origin in self.cors_origins)
        if cors and environ.get("REQUEST_METHOD") == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            return self._preflight(environ)(environ, start_response)

        def cors_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            if cors:
                headers += [("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", "*"),
                            ("Vary", "Origin")]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self._dispatch(environ, cors_start_response)

    @staticmethod
    def _preflight(environ: dict[str, Any]) -> Response:
        resp = Response(status=200)
        resp.headers["Access-Control-Allow-Origin"] = environ["HTTP_ORIGIN"]
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, HEAD, PATCH"
        resp.headers["Access-Control-Allow-Headers"] = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "*")
        resp.headers["Access-Control-Max-Age"] = "600"
        resp.headers["Vary"] = "Origin"
        return resp

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
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
                from .validation import lambda_operation

                routed = lambda_operation(method, path)
                if routed is not None:
                    operation, params = routed
        elif service == "s3":
            from .validation import s3_operation

            operation = s3_operation(method, path, query, headers) or ""
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
            endpoint = self._admin_endpoints.get((request.method, path))
            if endpoint is not None:
                return endpoint(request)
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
