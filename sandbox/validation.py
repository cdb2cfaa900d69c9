"""Request validation against botocore's service models, the way AWS validates before it does anything.

AWS checks each request's members against the constraints of its API model (required, length, pattern, range,
enum) and answers HTTP 400 with every violation in one message:
`1 validation error detected: Value 'not a name!' at 'functionName' failed to satisfy constraint: Member must
satisfy regular expression pattern: <pattern>`. moto checks little of this (a Lambda function name that its URL
routes do not match even gets Flask's HTML 404). botocore validates some constraints in the client, but other
clients (the aws CLI with --no-paramvalidation, curl, other SDKs) do not, so the sandbox validates every call of
the services the pipeline uses, in one place.

The wire request is parsed back into the operation's input with the service's protocol: json (DynamoDB, Streams,
Logs, SQS), rest-json (Lambda: URI labels, query string, headers and the JSON body) and query (IAM, SNS, SQS from
clients that still speak query). One validator per operation is built from the model on first use and cached.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Response

from .app import AwsRequest, SandboxApp, aws_error

try:  # Java-style \p{L} classes (tag keys); `regex` is pinned in requirements-sandbox.txt
    import regex as _regex
except ImportError:  # pragma: no cover - without it those few patterns go unchecked
    _regex = None

# signing name -> botocore service name
SERVICES = {"dynamodb": "dynamodb", "streams.dynamodb": "dynamodbstreams", "lambda": "lambda", "iam": "iam",
            "logs": "logs", "sqs": "sqs", "sns": "sns"}
# Models used only to name calls (S3's REST-XML requests are not validated: their members live in headers, query
# and XML bodies, which the validators here do not read).
ROUTED_ONLY = {"s3": "s3"}

# The error each service answers a constraint violation with (its model's or its documented error).
ERROR_CODES = {"iam": "ValidationError", "sns": "ValidationError", "logs": "InvalidParameterException",
               "sqs": "ValidationException"}
DEFAULT_ERROR_CODE = "ValidationException"

# Answered by sandbox/event_source_mappings.py, whose own checks name the parameter with Lambda's
# InvalidParameterValueException (and its tests pin that); the generic check stays out of its way.
SKIPPED = frozenset(("lambda", op) for op in ("CreateEventSourceMapping", "UpdateEventSourceMapping",
                                             "ListEventSourceMappings", "GetEventSourceMapping",
                                             "DeleteEventSourceMapping"))

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}
_VALIDATORS: dict[tuple[str, str], "tuple[_Node | None, Any]"] = {}
_LAMBDA_ROUTER: list[tuple[str, re.Pattern[str], str]] | None = None
_S3_ROUTER: list[tuple[str, re.Pattern[str], dict[str, str | None], tuple[str, ...], str]] | None = None


def _model(service: str) -> Any:
    name = SERVICES.get(service) or ROUTED_ONLY[service]
    model = _MODELS.get(name)
    if model is None:
        import botocore.session

        with _LOCK:
            model = _MODELS.get(name)
            if model is None:
                model = _MODELS[name] = botocore.session.get_session().get_service_model(name)
    return model


# --- REST routes from the model -------------------------------------------------------------------------------
def _uri_pattern(uri: str) -> re.Pattern[str]:
    """A model's request URI (without its query) as a regex: {Label} one segment, {Label+} the rest."""
    pattern = re.sub(r"\\\{(\w+)(\\\+)?\\\}",
                     lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})", re.escape(uri))
    return re.compile(f"^{pattern}/?$")


def lambda_operation(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The Lambda operation a REST call names, with its URI labels, from the model's request URIs."""
    global _LAMBDA_ROUTER
    if _LAMBDA_ROUTER is None:
        routes = []
        model = _model("lambda")
        for name in model.operation_names:
            http = model.operation_model(name).http
            uri = http["requestUri"].split("?", 1)[0]
            routes.append((http["method"], _uri_pattern(uri), name))
        # Literal segments before labels: /functions/{F}/versions must win over a greedy label elsewhere.
        routes.sort(key=lambda r: -len(r[1].pattern.replace("[^/]+", "").replace(".+", "")))
        _LAMBDA_ROUTER = routes
    for route_method, pattern, name in _LAMBDA_ROUTER:
        if route_method == method:
            found = pattern.match(path)
            if found:
                return name, found.groupdict()
    return None


def s3_operation(method: str, path: str, query: dict[str, str], headers: dict[str, str]) -> str | None:
    """The S3 operation a path-style REST call names, from the model: request URI and method, then the query keys
    and headers the operation requires (PUT /{Bucket}/{Key+} is PutObject, with x-amz-copy-source CopyObject, with
    ?partNumber&uploadId UploadPart); the most specific match wins."""
    global _S3_ROUTER
    if _S3_ROUTER is None:
        routes = []
        model = _model("s3")
        for name in model.operation_names:
            op = model.operation_model(name)
            uri, _, literal = op.http["requestUri"].partition("?")
            wanted: dict[str, str | None] = {}
            for part in filter(None, literal.split("&")):
                key, _, value = part.partition("=")
                if key != "x-id":  # botocore names the operation there only for some; never required
                    wanted[key] = value or None
            needed_headers = []
            shape = op.input_shape
            for member in (shape.required_members if shape is not None else ()):
                member_shape = shape.members[member]
                where = member_shape.serialization.get("location")
                if where == "querystring":
                    wanted.setdefault(member_shape.serialization.get("name", member), None)
                elif where == "header":
                    needed_headers.append(member_shape.serialization.get("name", member).lower())
            routes.append((op.http["method"], _uri_pattern(uri), wanted, tuple(needed_headers), name))
        routes.sort(key=lambda r: -(len(r[2]) + len(r[3])))
        _S3_ROUTER = routes
    for route_method, pattern, wanted, needed_headers, name in _S3_ROUTER:
        if route_method != method or not pattern.match(path):
            continue
        if all(key in query and (value is None or query[key] == value) for key, value in wanted.items()) and \
                all(header in headers for header in needed_headers):
            return name
    return None


# --- validators -----------------------------------------------------------------------------------------------
class _Node:
    """The checks for one shape; children only where a constraint lives below."""

    __slots__ = ("type", "checks", "members", "required", "element", "key", "value", "sensitive")

    def __init__(self, type_name: str, sensitive: bool = False):
        self.type = type_name
        self.sensitive = sensitive  # AWS leaves a sensitive value out of the message: "Value at 'x' ..."
        self.checks: list[Callable[[Any], str | None]] = []
        self.members: dict[str, tuple[str, _Node | None]] = {}  # name -> (message name, node)
        self.required: tuple[str, ...] = ()
        self.element: _Node | None = None
        self.key: _Node | None = None
        self.value: _Node | None = None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _compile(pattern: str) -> Callable[[str], bool] | None:
    try:
        return re.compile(pattern).fullmatch  # AWS (Java) matches the whole value
    except re.error:
        pass
    if _regex is not None:
        try:
            return _regex.compile(pattern).fullmatch
        except _regex.error:
            return None
    return None


def _length_checks(meta: dict[str, Any]) -> list[Callable[[Any], str | None]]:
    """The model's min/max of a string's, a list's or a map's length, in AWS's words."""
    checks: list[Callable[[Any], str | None]] = []
    if "min" in meta:
        checks.append(lambda v, n=meta["min"]: None if len(v) >= n else
                      f"Member must have length greater than or equal to {n}")
    if "max" in meta:
        checks.append(lambda v, n=meta["max"]: None if len(v) <= n else
                      f"Member must have length less than or equal to {n}")
    return checks


def _build(shape: Any, seen: dict[Any, _Node | None], key_of_map: bool = False) -> _Node | None:
    """A node for *shape*, or None when nothing in it is constrained (so its values are not walked at all)."""
    memo = (shape.name, key_of_map)
    if memo in seen:
        return seen[memo]
    seen[memo] = None  # recursive shapes (rare here) stop at the second visit
    meta = shape.metadata
    node = _Node(shape.type_name, bool(meta.get("sensitive")))
    if shape.type_name == "string":
        node.checks.extend(_length_checks(meta))
        if "pattern" in meta:
            pattern = meta["pattern"]
            match = _compile(pattern)
            if match is not None:
                node.checks.append(lambda v, m=match, p=pattern: None if m(v) else
                                   f"Member must satisfy regular expression pattern: {p}")
        if shape.enum and not key_of_map:
            # Not on map keys: services answer an unknown key their own way (SQS: InvalidAttributeName).
            allowed, listed = frozenset(shape.enum), ", ".join(shape.enum)
            node.checks.append(lambda v, a=allowed, t=listed: None if v in a else
                               f"Member must satisfy enum value set: [{t}]")
    elif shape.type_name in ("integer", "long", "float", "double"):
        if "min" in meta:
            low = meta["min"]
            node.checks.append(lambda v, n=low: None if v >= n else
                               f"Member must have value greater than or equal to {n}")
        if "max" in meta:
            high = meta["max"]
            node.checks.append(lambda v, n=high: None if v <= n else
                               f"Member must have value less than or equal to {n}")
    elif shape.type_name in ("list", "map"):
        node.checks.extend(_length_checks(meta))
        if shape.type_name == "list":
            node.element = _build(shape.member, seen)
        else:
            node.key, node.value = _build(shape.key, seen, key_of_map=True), _build(shape.value, seen)
    elif shape.type_name == "structure":
        node.required = tuple(shape.required_members)
        for name, member in shape.members.items():
            child = _build(member, seen)
            if child is not None or name in node.required:
                node.members[name] = (_camel(name), child)
    if not (node.checks or node.members or node.required or node.element or node.key or node.value):
        node = None  # type: ignore[assignment]
    seen[memo] = node
    return node


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _walk(node: _Node, value: Any, where: str, errors: list[str]) -> None:
    if node.type == "structure":
        if not isinstance(value, dict):
            return  # a type mismatch is the deserializer's error (SerializationException), not this one's
        for name in node.required:
            if value.get(name) is None:
                at = f"{where}.{_camel(name)}" if where else _camel(name)
                errors.append(f"Value null at '{at}' failed to satisfy constraint: Member must not be null")
        for name, (label, child) in node.members.items():
            if child is not None and value.get(name) is not None:
                _walk(child, value[name], f"{where}.{label}" if where else label, errors)
        return
    kind = node.type
    if kind == "string" and not isinstance(value, str):
        return
    if kind in ("integer", "long", "float", "double") and (isinstance(value, bool)
                                                           or not isinstance(value, (int, float))):
        return
    if kind == "list" and not isinstance(value, list):
        return
    if kind == "map" and not isinstance(value, dict):
        return
    problem = _first_problem(node, value)
    if problem:
        shown = "Value" if node.sensitive else f"Value '{_show(value)}'"
        errors.append(f"{shown} at '{where}' failed to satisfy constraint: {problem}")
    if kind == "list" and node.element is not None:
        for index, item in enumerate(value, 1):
            if item is not None:
                _walk(node.element, item, f"{where}.{index}.member", errors)
    elif kind == "map":
        key_node, value_node = node.key, node.value
        if key_node is not None:
            # AWS reports a bad key at the map: "Map keys must satisfy constraint: [<rule>]"
            for key in value:
                problem = _first_problem(key_node, key) if isinstance(key, str) else None
                if problem:
                    shown = "Value" if node.sensitive or key_node.sensitive else f"Value '{_show(value)}'"
                    errors.append(f"{shown} at '{where}' failed to satisfy constraint: "
                                  f"Map keys must satisfy constraint: [{problem}]")
                    break
        if value_node is not None:
            for key, item in value.items():
                if item is not None:
                    _walk(value_node, item, f"{where}.{key}", errors)


def _first_problem(node: _Node, value: Any) -> str | None:
    for check in node.checks:
        problem = check(value)
        if problem:
            return problem  # AWS names one broken rule per member
    return None


def _validator(service: str, operation: str) -> tuple[_Node | None, Any]:
    key = (service, operation)
    cached = _VALIDATORS.get(key)
    if cached is not None:
        return cached
    model = _model(service)
    try:
        op = model.operation_model(operation)
        if service == "sqs":
            # SQS's model constrains only attribute-name enums, and SQS answers those itself
            # (InvalidAttributeName "Unknown Attribute ..."), not with a model validation error.
            raise LookupError(operation)
    except Exception:  # noqa: BLE001 - an operation the model does not know: moto answers it
        cached = (None, None)
    else:
        cached = (_build(op.input_shape, {}) if op.input_shape is not None else None, op)
    _VALIDATORS[key] = cached  # a race builds the same validator twice, harmlessly
    return cached


# --- wire -> parameters ---------------------------------------------------------------------------------------
def _number(text: str, type_name: str) -> Any:
    try:
        return int(text) if type_name in ("integer", "long") else float(text)
    except ValueError:
        return text  # left as text: the walk skips it, moto answers the malformed value


def _rest_json_params(req: AwsRequest, op: Any) -> dict[str, Any] | None:
    shape = op.input_shape
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    if payload is not None:
        if req.body:
            params[payload] = req.body  # the raw body is the member (Invoke's Payload, InvokeAsync's InvokeArgs)
    else:
        try:
            body = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        params.update(body)
    labels = req.path_params
    for name, member in shape.members.items():
        where, wire = member.serialization.get("location"), member.serialization.get("name", name)
        if where == "uri":
            if wire in labels:
                params[name] = labels[wire]
        elif where == "querystring":
            if member.type_name == "list":
                found = req.query_all(wire)
                if found:
                    params[name] = found
            elif wire in req.query:
                text = req.query[wire]
                params[name] = _number(text, member.type_name) if member.type_name in (
                    "integer", "long", "float", "double") else text
        elif where == "header":
            text = req.headers.get(wire.lower())
            if text is not None:
                params[name] = _number(text, member.type_name) if member.type_name in (
                    "integer", "long") else text
    return params


def _query_value(shape: Any, form: dict[str, str], key: str, keys: list[str]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            sub = f"{key}.{member.serialization.get('name', name)}" if key else member.serialization.get("name", name)
            value = _query_value(member, form, sub, keys)
            if value is not None:
                out[name] = value
        if key and not out and not any(k.startswith(key + ".") for k in keys):
            return None
        return out
    if kind == "list":
        prefix = f"{key}." if shape.serialization.get("flattened") else f"{key}.member."
        if key in form and form[key] == "":
            return []  # the query protocol's empty list
        indices = sorted({int(k[len(prefix):].split(".", 1)[0]) for k in keys
                          if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()})
        if not indices:
            return None
        return [_query_value(shape.member, form, f"{prefix}{i}", keys) for i in indices]
    if kind == "map":
        prefix = f"{key}." if shape.serialization.get("flattened") else f"{key}.entry."
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        indices = sorted({int(k[len(prefix):].split(".", 1)[0]) for k in keys
                          if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()})
        if not indices:
            return None
        return {form.get(f"{prefix}{i}.{key_name}", ""): _query_value(shape.value, form, f"{prefix}{i}.{value_name}",
                                                                     keys) for i in indices}
    if key not in form:
        return None
    if kind in ("integer", "long", "float", "double"):
        return _number(form[key], kind)
    return form[key]


def _query_params(req: AwsRequest, op: Any) -> dict[str, Any]:
    form = dict(req.query)
    if req.body and req.method == "POST":
        form.update(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    return _query_value(op.input_shape, form, "", list(form)) or {}


def parameters(req: AwsRequest, op: Any) -> dict[str, Any] | None:
    """*req*'s input members as botocore would have built them, or None when the wire form is unreadable."""
    if req.service == "lambda":
        return _rest_json_params(req, op)
    if req.headers.get("x-amz-target"):
        try:
            body = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            return None
        return body if isinstance(body, dict) else None
    return _query_params(req, op)


def problems(req: AwsRequest) -> list[str]:
    """Every constraint *req* breaks, as AWS words them (empty when valid or not validated)."""
    if req.service not in SERVICES or not req.operation or (req.service, req.operation) in SKIPPED:
        return []
    node, op = _validator(req.service, req.operation)
    if node is None:
        return []
    params = parameters(req, op)
    if params is None:
        return []
    errors: list[str] = []
    _walk(node, params, "", errors)
    return errors


def message(errors: list[str]) -> str:
    count = len(errors)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors)


def _validate(req: AwsRequest) -> Response | None:
    errors = problems(req)
    if not errors:
        return None
    return aws_error(req, ERROR_CODES.get(req.service, DEFAULT_ERROR_CODE), message(errors), 400)


def install(app: SandboxApp) -> None:
    app.before_any(_validate)
