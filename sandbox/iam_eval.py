"""Does an execution role allow an action on a resource? Evaluated from the role's policies in moto's IAM backend.

Lambda acts with the function's execution role: CreateEventSourceMapping checks that it can read the stream,
the stream poller reads with it, and the function's log lines reach CloudWatch Logs only if it may write them.
Evaluating the role's real policies makes least privilege a matter of behaviour, and "not allowed" a different
failure from the IAM propagation window (`sandbox.faults`).

Statement matching (Action/NotAction against the action, Resource against the resource, Effect) is moto's own
`moto.iam.access_control.IAMPolicyStatement`, which moto uses for its access control. Where it is not sound for
identity policies this module prepares the statement first or decides itself:
- moto matches actions case-sensitively; IAM action names are case-insensitive, so both sides are lowercased;
- moto turns a pattern into a regular expression by replacing `*` only, so `.` in an ARN matches any character
  and `?` is not a wildcard; patterns are escaped here (`*` and `?` stay wildcards);
- moto ignores NotResource and treats a statement without Resource as a trust-policy statement that grants
  (even with Effect Deny); NotResource is evaluated here, and a statement with neither does not apply;
- moto answers DENIED (an explicit deny) for an Allow statement whose Condition does not hold, and it has no
  request context to test conditions against; a statement with a Condition is treated as not applying (an Allow
  under a condition grants nothing here, a conditional Deny denies nothing), which can differ from AWS;
- permissions boundaries are applied (the boundary must allow too); SCPs and session policies do not exist here.
Across statements and policies the IAM rule holds: any applicable Deny denies, else any Allow allows, else no.

Results are cached per role and the state of its policies (inline documents, attached policies' default
versions, the boundary), so a change through IAM is seen at the next question without any invalidation call.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

# What Lambda needs on a DynamoDB stream, in the order its message names them.
STREAM_ACTIONS = ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                  "dynamodb:ListStreams")
# What the poller calls to read, in the order it calls them.
POLLER_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords")
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")

# sandbox.config.SandboxConfig once installed (knob `iam_evaluation`); None = evaluation on.
config: Any = None

_lock = threading.Lock()
# (account, role ARN) -> (fingerprint of its policies, prepared statements of its policies and of its boundary,
# {(action, resource): allowed})
_cache: dict[tuple[str, str], tuple[Any, list[Any], list[Any] | None, dict[tuple[str, str], bool]]] = {}
_MAX_ANSWERS = 10000  # per role, so per-log-stream questions cannot grow the cache without bound


def enabled() -> bool:
    return bool(getattr(config, "iam_evaluation", True)) if config is not None else True


# --- evaluation -----------------------------------------------------------------------------------------------

def _iam_backend(account_id: str, partition: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][partition]


def _role(account_id: str, role_arn: str) -> Any | None:
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    try:
        role = _iam_backend(account_id, parts[1] or "aws").get_role(parts[5].rsplit("/", 1)[-1])
    except Exception:  # moto's NoSuchEntity: an unknown role allows nothing
        return None
    return role if role.arn == role_arn else None


def _document(text: Any) -> dict[str, Any]:
    return json.loads(text) if isinstance(text, str) else dict(text)


def _default_version(policy: Any) -> Any:
    return next(v for v in list(policy.versions) if v.is_default)


def _fingerprint(account_id: str, role: Any) -> Any:
    # str hashes are cached by Python, so this stays cheap however long the documents are.
    inline = tuple(sorted((name, hash(doc if isinstance(doc, str) else json.dumps(doc, sort_keys=True)))
                          for name, doc in list(role.policies.items())))
    attached = tuple(sorted((arn, p.default_version_id, hash(_default_version(p).document))
                            for arn, p in list(role.managed_policies.items())))
    boundary = getattr(role, "permissions_boundary_arn", None)
    boundary_state = None
    if boundary:
        policy = _managed_policy(account_id, role.partition, boundary)
        boundary_state = (boundary, getattr(policy, "default_version_id", None))
    return role.id, inline, attached, boundary_state


def _managed_policy(account_id: str, partition: str, arn: str) -> Any | None:
    try:
        return _iam_backend(account_id, partition).get_policy(arn)
    except Exception:
        return None


def _escape(pattern: str) -> str:
    """An IAM pattern as moto's matcher needs it: regex-escaped, `*` left for moto, `?` as one character."""
    return "*".join(".".join(re.escape(piece) for piece in part.split("?")) for part in pattern.split("*"))


def _listify(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _prepare(statement: dict[str, Any]) -> tuple[str, Any, list[str] | None] | None:
    """(effect, moto statement for action+resource matching, NotResource patterns) or None if it cannot apply."""
    if statement.get("Condition"):
        return None
    has_resource, has_not_resource = "Resource" in statement, "NotResource" in statement
    if has_resource == has_not_resource:
        return None
    from moto.iam.access_control import IAMPolicyStatement

    prepared: dict[str, Any] = {"Effect": statement.get("Effect", "")}
    for key in ("Action", "NotAction"):
        if key in statement:
            prepared[key] = [_escape(a.lower()) for a in _listify(statement[key])]
    if "Action" not in prepared and "NotAction" not in prepared:
        return None
    prepared["Resource"] = [_escape(r) for r in _listify(statement["Resource"])] if has_resource else ["*"]
    not_resource = [_escape(r) for r in _listify(statement["NotResource"])] if has_not_resource else None
    return statement.get("Effect", ""), IAMPolicyStatement(prepared), not_resource


def _statements(documents: list[dict[str, Any]]) -> list[Any]:
    out = []
    for doc in documents:
        for statement in _listify_statements(doc.get("Statement")):
            prepared = _prepare(statement)
            if prepared is not None:
                out.append(prepared)
    return out


def _listify_statements(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [s for s in value or [] if isinstance(s, dict)]


def _decide(statements: list[Any], action: str, resource: str) -> bool:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    allowed = False
    for effect, statement, not_resource in statements:
        if not_resource is not None and any(IAMPolicyStatement._match(p, resource) for p in not_resource):
            continue  # the resource is excluded, so the statement does not apply
        result = statement.is_action_permitted(action.lower(), resource)
        if result == PermissionResult.DENIED:
            return False
        if result == PermissionResult.PERMITTED and effect == "Allow":
            allowed = True
    return allowed


def _load(account_id: str, role: Any) -> tuple[list[Any], list[Any] | None]:
    # Copies first: pollers ask from their own threads while IAM calls may be changing these dicts.
    documents = [_document(doc) for doc in list(role.policies.values())]
    documents += [_document(_default_version(p).document) for p in list(role.managed_policies.values())]
    boundary = None
    if getattr(role, "permissions_boundary_arn", None):
        policy = _managed_policy(account_id, role.partition, role.permissions_boundary_arn)
        boundary = _statements([_document(_default_version(policy).document)]) if policy is not None else []
    return _statements(documents), boundary


def role_allows(account_id: str, role_arn: str, action: str, resource: str) -> bool:
    """True when the role's identity policies (within its permissions boundary) allow *action* on *resource*.

    *action* is `service:Operation` (any case), *resource* a full ARN. An unknown role allows nothing. This is the
    evaluation itself; whether the sandbox evaluates IAM at all (knob `iam_evaluation`) is for the callers.
    """
    role = _role(account_id, role_arn)
    if role is None:
        return False
    fingerprint = _fingerprint(account_id, role)
    key = (account_id, role_arn)
    with _lock:
        entry = _cache.get(key)
    if entry is None or entry[0] != fingerprint:
        statements, boundary = _load(account_id, role)
        entry = (fingerprint, statements, boundary, {})
        with _lock:
            _cache[key] = entry
    _, statements, boundary, answers = entry
    question = (action.lower(), resource)
    answer = answers.get(question)
    if answer is None:
        answer = _decide(statements, action, resource) and (boundary is None or _decide(boundary, action, resource))
        with _lock:
            if len(answers) >= _MAX_ANSWERS:
                answers.clear()
            answers[question] = answer
    return answer


# --- what Lambda does with the execution role ------------------------------------------------------------------

def function_role(account_id: str, region: str, function: str) -> str | None:
    """The execution role ARN of a function (name, ARN or name:qualifier; moto's lambda backend), or None."""
    from moto.awslambda.models import lambda_backends

    name, qualifier = function, None
    if ":function:" in function:
        name = function.split(":function:", 1)[1]
    if ":" in name:
        name, qualifier = name.split(":", 1)
    try:
        return lambda_backends[account_id][region].get_function(name, qualifier).role
    except Exception:
        return None


def missing_stream_permissions(account_id: str, role_arn: str, stream_arn: str,
                               actions: tuple[str, ...] = STREAM_ACTIONS) -> list[str]:
    """The stream actions *role_arn* may not perform on *stream_arn* (empty when it may do them all)."""
    return [a for a in actions if not role_allows(account_id, role_arn, a, stream_arn)]


def stream_read_problem(account_id: str, region: str, function: str, stream_arn: str) -> str | None:
    """Lambda's LastProcessingResult when the function's role cannot read the stream, else None.

    The wording is what Lambda reports for a poller whose role lacks a stream action: the STS access-denied
    text, "PROBLEM: User: arn:aws:sts::<account>:assumed-role/<role>/awslambda_<n>_<time> is not authorized to
    perform: <action> on resource: <stream ARN>".
    """
    if not enabled():
        return None
    role_arn = function_role(account_id, region, function)
    if role_arn is None:
        return None  # an unknown function fails at invoke, which reports its own problem
    missing = missing_stream_permissions(account_id, role_arn, stream_arn, POLLER_ACTIONS)
    if not missing:
        return None
    partition = role_arn.split(":", 2)[1]
    session = f"assumed-role/{role_arn.rsplit('/', 1)[-1]}/awslambda_0_00000000000000000"
    return (f"PROBLEM: User: arn:{partition}:sts::{account_id}:{session} is not authorized to perform: "
            f"{missing[0]} on resource: {stream_arn}")


def log_group_arn(account_id: str, region: str, function_name: str, partition: str = "aws",
                  log_group: str | None = None) -> str:
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group or '/aws/lambda/' + function_name}"


def function_may_write_logs(account_id: str, region: str, function_name: str, log_stream: str | None = None,
                            log_group: str | None = None) -> bool:
    """True when the function's role may create log streams and put log events in its log group: /aws/lambda/<name>,
    or *log_group* when its LoggingConfig names another.

    Both actions are evaluated on a log stream of the group (`<group ARN>:log-stream:<name>`), the resource AWS
    authorizes them on, so `...:log-group:/aws/lambda/<name>:*` and `...:log-stream:*` policies both count and
    a policy naming only the group does not. False for an unknown function; True while `iam_evaluation` is off.
    """
    if not enabled():
        return True
    name = function_name.split(":function:", 1)[-1].split(":", 1)[0]
    role_arn = function_role(account_id, region, name)
    if role_arn is None:
        return False
    partition = role_arn.split(":", 2)[1]
    resource = f"{log_group_arn(account_id, region, name, partition, log_group)}:log-stream:{log_stream or 'any'}"
    return all(role_allows(account_id, role_arn, action, resource) for action in LOG_ACTIONS)


# --- sandbox glue ---------------------------------------------------------------------------------------------

# IAM calls that can change what a role may do; pollers waiting on a denied role look again after each.
ROLE_POLICY_OPERATIONS = ("PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
                          "CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicyVersion",
                          "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary", "CreateRole", "DeleteRole")


def _wake_pollers(req: Any, resp: Any) -> None:
    from . import streams

    streams.notify()


def reset() -> None:
    with _lock:
        _cache.clear()


def install(app: Any) -> None:
    global config
    config = app.config
    for operation in ROLE_POLICY_OPERATIONS:
        app.after("iam", operation, _wake_pollers)
    app.after("lambda", "UpdateFunctionConfiguration", _wake_pollers)  # a new role may read where the old could not
    app.on_reset(reset)
