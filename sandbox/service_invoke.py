"""Lambda invoked by another AWS service on its own behalf (SNS, CloudWatch Logs, S3), gated by the resource policy.

moto delivers an SNS message to a `lambda` subscription, a log subscription filter's events and an S3
notification by calling into its Lambda backend directly, and runs nothing when it does (its Docker-less
invoke only returns a canned answer). On AWS these services act as service principals: the function's
resource-based policy (AddPermission) must allow `lambda:InvokeFunction` to that principal, with the caller's
SourceArn / SourceAccount when the statement names them; without such a statement the invocation does not
happen. These hooks apply that check and run the function in the sandbox's runtime, asynchronously, as those
services invoke Lambda.
"""

from __future__ import annotations

import fnmatch
import json
import sys
import threading
import time
import uuid
from typing import Any

_LOCAL = threading.local()
_INSTALLED = False


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    services = _as_list(principal.get("Service"))
    if "*" in _as_list(principal.get("AWS")):
        return True
    # CloudWatch Logs and others also accept the regional form (logs.<region>.amazonaws.com).
    prefix = service.split(".", 1)[0] + "."
    return any(s == service or (isinstance(s, str) and s.startswith(prefix) and s.endswith(".amazonaws.com"))
               for s in services)


def _condition_holds(condition: dict[str, Any], context: dict[str, str | None]) -> bool:
    """ArnLike / ArnEquals / StringEquals / StringLike on the keys AddPermission writes (AWS:SourceArn,
    AWS:SourceAccount, aws:PrincipalOrgID...). A key the caller does not supply fails the condition."""
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, clauses in (condition or {}).items():
        for key, expected in (clauses or {}).items():
            actual = lowered.get(key.lower())
            if actual is None:
                return False
            patterns = [str(p) for p in _as_list(expected)]
            if operator in ("ArnLike", "StringLike"):
                ok = any(fnmatch.fnmatchcase(actual, p) for p in patterns)
            elif operator in ("ArnEquals", "StringEquals"):
                ok = actual in patterns
            elif operator == "StringEqualsIgnoreCase":
                ok = actual.lower() in [p.lower() for p in patterns]
            else:
                ok = False  # an operator this check does not know: do not grant on a guess
            if not ok:
                return False
    return True


def _action_matches(action: Any) -> bool:
    return any(fnmatch.fnmatchcase("lambda:InvokeFunction", str(a)) or str(a).lower() == "lambda:invokefunction"
               for a in _as_list(action))


def _resource_matches(resource: Any, invoked_arn: str, qualifier: str | None) -> bool:
    for pattern in _as_list(resource):
        pattern = str(pattern)
        if fnmatch.fnmatchcase(invoked_arn, pattern):
            return True
        # moto writes a statement made with Qualifier on a version object as <version arn>:<qualifier>.
        if qualifier and pattern == f"{invoked_arn}:{qualifier}":
            return True
    return False


def resource_policy_allows(account_id: str, region: str, function_name: str, qualifier: str | None,
                           service: str, source_arn: str | None, source_account: str | None) -> bool:
    """True when the function's resource policy lets *service* invoke it (as the invoked ARN, with *qualifier*)."""
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[account_id][region]
    try:
        latest = backend.get_function(function_name)
    except Exception:  # noqa: BLE001 - no such function: nothing to invoke
        return False
    statements = list(latest.policy.statements)
    invoked_arn = latest.function_arn.split(":function:")[0] + ":function:" + latest.function_name
    if qualifier and qualifier != "$LATEST":
        invoked_arn = f"{invoked_arn}:{qualifier}"
        try:
            qualified = backend.get_function(function_name, qualifier)
            if qualified is not latest:
                statements += list(qualified.policy.statements)
        except Exception:  # noqa: BLE001
            return False
    context = {"AWS:SourceArn": source_arn, "AWS:SourceAccount": source_account}
    allowed = False
    for statement in statements:
        if not (_principal_matches(statement.get("Principal"), service) and _action_matches(statement.get("Action"))
                and _resource_matches(statement.get("Resource"), invoked_arn, qualifier)
                and _condition_holds(statement.get("Condition") or {}, context)):
            continue
        if statement.get("Effect", "Allow") == "Deny":
            return False
        allowed = True
    return allowed


def _dispatch(account_id: str, region: str, function_name: str, qualifier: str | None, service: str,
              source_arn: str | None, source_account: str | None, event: dict[str, Any]) -> bool:
    if not resource_policy_allows(account_id, region, function_name, qualifier, service, source_arn, source_account):
        print(f"sandbox: {service} may not invoke {function_name}{':' + qualifier if qualifier else ''} "
              f"(source {source_arn}): no statement in the function's resource policy allows it", file=sys.stderr,
              flush=True)
        return False
    from . import lambda_runtime

    def run() -> None:
        try:
            lambda_runtime.invoke(account_id, region, function_name, json.dumps(event).encode(), qualifier,
                                  invocation_type="Event")
        except (lambda_runtime.FunctionNotFound, lambda_runtime.TooManyRequests):
            pass  # deleted meanwhile, or the sandbox was reset: the event is lost, as an expired one is

    threading.Thread(target=run, name=f"lambda-{service.split('.')[0]}-{function_name}", daemon=True).start()
    return True


# --- SNS ---------------------------------------------------------------------------------------------------------

def _sns_event(subscription: Any, message: str, subject: str | None, message_id: str | None) -> dict[str, Any]:
    """The event Lambda receives from SNS (Lambda developer guide, "Using Lambda with Amazon SNS")."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
    topic_arn = subscription.topic.arn
    region = topic_arn.split(":")[3]
    return {"Records": [{
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription.arn,
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1",
            "Timestamp": stamp,
            "Signature": "EXAMPLE",
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-sandbox.pem",
            "MessageId": message_id or str(uuid.uuid4()),
            "Message": message,
            "MessageAttributes": getattr(_LOCAL, "attributes", None) or {},
            "Type": "Notification",
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                              f"{subscription.arn}",
            "TopicArn": topic_arn,
            "Subject": subject,
        },
    }]}


def _patch_sns() -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.sns.models import Subscription

    original_publish = Subscription.publish

    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        _LOCAL.subscription, _LOCAL.message_id, _LOCAL.attributes = self, message_id, message_attributes
        try:
            return original_publish(self, message, message_id, subject, message_attributes, *args, **kwargs)
        finally:
            _LOCAL.subscription = _LOCAL.message_id = _LOCAL.attributes = None

    def send_sns_message(self: Any, function_name: str, message: str, subject: str | None = None,
                         qualifier: str | None = None) -> None:
        subscription = getattr(_LOCAL, "subscription", None)
        if subscription is None:
            return
        topic_arn = subscription.topic.arn
        _dispatch(self.account_id, self.region_name, function_name, qualifier, "sns.amazonaws.com", topic_arn,
                  topic_arn.split(":")[4], _sns_event(subscription, message, subject, _LOCAL.message_id))

    Subscription.publish = publish  # type: ignore[method-assign]
    LambdaBackend.send_sns_message = send_sns_message  # type: ignore[method-assign]


# --- CloudWatch Logs subscription filters ------------------------------------------------------------------------

def _patch_logs() -> None:
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.send_log_event

    def send_log_event(self: Any, function_arn: str, filter_name: str, log_group_name: str, log_stream_name: str,
                       log_events: Any) -> None:
        captured: dict[str, Any] = {}

        class _Capture:
            def invoke(self, body: str, *_args: Any) -> None:
                captured["event"] = json.loads(body)

        lambdas = self._lambdas
        real_get_arn = lambdas.get_arn
        lambdas.get_arn = lambda _arn: _Capture()  # moto builds the gzip'd awslogs event; we only take it
        try:
            original(self, function_arn, filter_name, log_group_name, log_stream_name, log_events)
        finally:
            lambdas.get_arn = real_get_arn
        name, _sep, qualifier = function_arn.split(":function:", 1)[-1].partition(":")
        source_arn = f"arn:aws:logs:{self.region_name}:{self.account_id}:log-group:{log_group_name}:*"
        _dispatch(self.account_id, self.region_name, name, qualifier or None, "logs.amazonaws.com", source_arn,
                  self.account_id, captured["event"])

    LambdaBackend.send_log_event = send_log_event  # type: ignore[method-assign]


# --- S3 event notifications --------------------------------------------------------------------------------------

def _patch_s3() -> None:
    from moto.s3 import notifications

    def invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        try:
            bucket_arn = event_body["Records"][0]["s3"]["bucket"]["arn"]
        except (KeyError, IndexError, TypeError):
            bucket_arn = None
        parts = fn_arn.split(":")
        region = parts[3] if len(parts) > 3 else region_name
        name, _sep, qualifier = fn_arn.split(":function:", 1)[-1].partition(":")
        _dispatch(account_id, region, name, qualifier or None, "s3.amazonaws.com", bucket_arn, account_id, event_body)

    notifications._invoke_awslambda = invoke_awslambda


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    _patch_sns()
    _patch_logs()
    _patch_s3()
