"""Switchable fault injection: throttling and the IAM propagation window.

Knobs live in `app.config` (`throttle`, `seed`, `iam_propagation_delay`) and are read on every call, so they can
be changed at run time through /_sandbox/config.

- throttle P: a fraction P of AWS calls (admin calls never) gets the service's real throttling error, drawn from
  `random.Random(seed)` so a failing run can be replayed. Calls a Lambda handler makes back into the sandbox are
  real AWS calls and are throttled too, as AWS would.
- iam_propagation_delay S: IAM is eventually consistent; for S seconds after a role or one of its policies
  changes, Lambda cannot assume it. CreateFunction / UpdateFunctionConfiguration then fail the way they do on AWS,
  and `role_recently_changed()` lets the event source mapping code fail CreateEventSourceMapping likewise.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from werkzeug.wrappers import Response

from .app import AwsRequest, SandboxApp, aws_error

# service -> (error code, HTTP status, message, extra JSON fields, extra headers): each service's own throttling
# error as botocore's service models define it (all are in botocore's retryable throttling codes except SNS's).
THROTTLING_ERRORS: dict[str, tuple[str, int, str, dict[str, Any], dict[str, str]]] = {
    "dynamodb": ("ThrottlingException", 400, "Rate of requests exceeds the allowed throughput.", {}, {}),
    "streams.dynamodb": ("LimitExceededException", 400, "Rate exceeded for shard", {}, {}),
    "lambda": ("TooManyRequestsException", 429, "Rate exceeded", {"Reason": "CallerRateLimitExceeded"},
               {"Retry-After": "1"}),
    "iam": ("Throttling", 400, "Rate exceeded", {}, {}),
    "sts": ("Throttling", 400, "Rate exceeded", {}, {}),
    "logs": ("ThrottlingException", 400, "Rate exceeded", {}, {}),
    "sqs": ("RequestThrottled", 400, "Rate exceeded", {}, {}),
    "sns": ("Throttled", 429, "Rate exceeded", {}, {}),
}
DEFAULT_THROTTLING_ERROR = ("ThrottlingException", 400, "Rate exceeded", {}, {})

ROLE_CANNOT_BE_ASSUMED = "The role defined for the function cannot be assumed by Lambda."

# IAM calls after which AWS needs time before other services see the change.
ROLE_CHANGING_OPERATIONS = ("CreateRole", "PutRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
                            "DeleteRolePolicy", "UpdateAssumeRolePolicy")


class _Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.app: SandboxApp | None = None
        self.rng = random.Random()
        self.rng_seed: object = object()  # the seed self.rng was built from; a sentinel forces the first build
        # (account, role name) -> monotonic time of the role's last change made while the knob was on
        self.role_changes: dict[tuple[str, str], float] = {}

    def draw(self, seed: int | None) -> float:
        with self.lock:
            if seed != self.rng_seed:
                self.rng, self.rng_seed = random.Random(seed), seed
            return self.rng.random()

    def reset(self) -> None:
        with self.lock:
            self.rng_seed = object()
            self.role_changes.clear()


_FAULTS = _Faults()


def _role_name(role_arn_or_name: str) -> str:
    # arn:aws:iam::123456789012:role/some/path/name -> name (role names are unique per account, paths are not part)
    return role_arn_or_name.rsplit("/", 1)[-1]


def role_recently_changed(account_id: str, role_arn: str) -> bool:
    """True while the IAM propagation window of this role is open.

    The window opens when the role or one of its policies changes while `iam_propagation_delay` is on, and lasts
    that many seconds, read live: setting the knob to 0 closes every window (a test can switch the fault off),
    and changes made while it was 0 never open one.
    """
    app = _FAULTS.app
    delay = app.config.iam_propagation_delay if app is not None else 0.0
    if delay <= 0:
        return False
    with _FAULTS.lock:
        changed = _FAULTS.role_changes.get((account_id, _role_name(role_arn)))
    return changed is not None and time.monotonic() - changed < delay


def _throttle(req: AwsRequest) -> Response | None:
    assert _FAULTS.app is not None
    config = _FAULTS.app.config
    probability = config.throttle
    if probability <= 0 or _FAULTS.draw(config.seed) >= probability:
        return None
    code, status, message, extra, headers = THROTTLING_ERRORS.get(req.service, DEFAULT_THROTTLING_ERROR)
    return aws_error(req, code, message, status, headers=headers, extra=extra)


def _record_role_change(req: AwsRequest, resp: Response) -> None:
    assert _FAULTS.app is not None
    delay = _FAULTS.app.config.iam_propagation_delay
    if resp.status_code != 200 or delay <= 0:
        return
    name = req.form().get("RoleName") or req.query.get("RoleName")
    if name:
        with _FAULTS.lock:
            _FAULTS.role_changes[(req.account_id, name)] = time.monotonic()


def _role_of_request(req: AwsRequest) -> str | None:
    try:
        body = req.json()
    except ValueError:
        return None
    role = body.get("Role") if isinstance(body, dict) else None
    if role or req.operation == "CreateFunction":
        return role
    # UpdateFunctionConfiguration without Role: Lambda still assumes the function's current role.
    from moto.awslambda.models import lambda_backends

    try:
        return lambda_backends[req.account_id][req.region].get_function(req.path_params.get("FunctionName", "")).role
    except Exception:  # unknown function: moto answers ResourceNotFoundException itself
        return None


def _refuse_unassumable_role(req: AwsRequest) -> Response | None:
    role = _role_of_request(req)
    if role and role_recently_changed(req.account_id, role):
        return aws_error(req, "InvalidParameterValueException", ROLE_CANNOT_BE_ASSUMED, 400)
    return None


def install(app: SandboxApp) -> None:
    _FAULTS.app = app
    _FAULTS.reset()
    app.before_any(_throttle)
    for operation in ROLE_CHANGING_OPERATIONS:
        app.after("iam", operation, _record_role_change)
    app.override("lambda", "CreateFunction", _refuse_unassumable_role)
    app.override("lambda", "UpdateFunctionConfiguration", _refuse_unassumable_role)
    app.on_reset(_FAULTS.reset)
