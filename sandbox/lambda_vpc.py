"""A VPC function's subnets, security groups and network interfaces, as Lambda handles them.

- CreateFunction / UpdateFunctionConfiguration with VpcConfig: every subnet and security group must exist in
  moto's EC2 (the sandbox serves EC2, with a default VPC), the subnets in one VPC and the groups in it; otherwise
  InvalidParameterValueException naming the ID, as Lambda answers after its own DescribeSubnets /
  DescribeSecurityGroups (the wording is the sandbox's). With IAM evaluation on, the execution role must allow
  ec2:CreateNetworkInterface on the subnets, the groups and network-interface/* (Lambda: "The provided execution
  role does not have permissions to call CreateNetworkInterface on EC2").
- Lambda's Hyperplane ENIs: one per subnet and security-group set, shared by every function of the account with
  that combination, created in moto's EC2 with the description "AWS Lambda VPC ENI-<function name>-<id>" of the
  function that needed it first. When no function uses one any more (DeleteFunction, a VPC change or removal),
  it is deleted after the knob `eni_release_delay` seconds (0 by default; AWS takes up to 20 minutes,
  https://docs.aws.amazon.com/lambda/latest/dg/foundation-networking.html#foundation-nw-eni-delete), with the
  permissions of the execution role of the function that used it last: if that role is gone or no longer allows
  ec2:DeleteNetworkInterface then (IAM evaluation on), the ENI is left behind for good, as on AWS.
- Published versions keep no interfaces of their own here (on AWS a version in a VPC keeps its ENIs in use).
Deletion falls due lazily: checked before every request (a dictionary look-up when nothing is pending).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from werkzeug.wrappers import Response

from .app import AwsRequest, SandboxApp, aws_error, json_body

DESCRIPTION_PREFIX = "AWS Lambda VPC ENI-"
NO_CREATE_PERMISSION = "The provided execution role does not have permissions to call CreateNetworkInterface on EC2"

_APP: SandboxApp | None = None
_lock = threading.Lock()
# (account, region) -> {(subnet, sorted security groups): interface}
_interfaces: dict[tuple[str, str], dict[tuple[str, tuple[str, ...]], dict[str, Any]]] = {}
# (account, region, function name) -> the combinations it uses
_uses: dict[tuple[str, str, str], set[tuple[str, tuple[str, ...]]]] = {}


def reset() -> None:
    with _lock:
        _interfaces.clear()
        _uses.clear()


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def _arn(req: AwsRequest, kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{req.region}:{req.account_id}:{kind}/{resource_id}"


def _iam_on() -> bool:
    return bool(_APP is not None and getattr(_APP.config, "iam_evaluation", False))


def _role_allows(account_id: str, role_arn: str | None, action: str, resource: str) -> bool:
    from . import iam_eval

    return bool(role_arn) and iam_eval.role_allows(account_id, role_arn, action, resource)


def _vpc_spec(req: AwsRequest) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    try:
        body = req.json()
    except ValueError:
        return None, {}
    if not isinstance(body, dict) or not isinstance(body.get("VpcConfig"), dict):
        return None, body if isinstance(body, dict) else {}
    return body["VpcConfig"], body


def _check(req: AwsRequest) -> Response | None:
    """Refuse a VpcConfig whose subnets or groups EC2 does not know, or that the role may not use."""
    spec, body = _vpc_spec(req)
    if spec is None:
        return None
    subnets = list(spec.get("SubnetIds") or [])
    groups = list(spec.get("SecurityGroupIds") or [])
    if not subnets and not groups:
        return None
    if not subnets or not groups:
        return aws_error(req, "InvalidParameterValueException",
                         "Subnets and security groups must both be given to connect a function to a VPC", 400)
    ec2 = _ec2(req.account_id, req.region)
    vpcs = set()
    for subnet_id in subnets:
        try:
            vpcs.add(ec2.get_subnet(subnet_id).vpc_id)
        except Exception:  # noqa: BLE001 - moto raises InvalidSubnetIdError
            return aws_error(req, "InvalidParameterValueException",
                             f"Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
                             f"EC2 Error Message: The subnet ID '{subnet_id}' does not exist", 400)
    if len(vpcs) > 1:
        return aws_error(req, "InvalidParameterValueException",
                         f"The subnets {', '.join(subnets)} are in different VPCs ({', '.join(sorted(vpcs))})", 400)
    for group_id in groups:
        group = ec2.get_security_group_from_id(group_id)
        if group is None:
            return aws_error(req, "InvalidParameterValueException",
                             f"Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
                             f"EC2 Error Message: The security group '{group_id}' does not exist", 400)
        if group.vpc_id not in vpcs:
            return aws_error(req, "InvalidParameterValueException",
                             f"Security group {group_id} is in {group.vpc_id}, the subnets in {vpcs.pop()}", 400)
    if _iam_on():
        role = body.get("Role")
        if not role and req.operation == "UpdateFunctionConfiguration":
            from . import iam_eval

            role = iam_eval.function_role(req.account_id, req.region, req.path_params.get("FunctionName", ""))
        resources = ([_arn(req, "subnet", s) for s in subnets] + [_arn(req, "security-group", g) for g in groups]
                     + [_arn(req, "network-interface", "*")])
        if not all(_role_allows(req.account_id, role, "ec2:CreateNetworkInterface", r) for r in resources):
            return aws_error(req, "InvalidParameterValueException", NO_CREATE_PERMISSION, 400)
    return None


def _release_at() -> float:
    delay = float(getattr(_APP.config, "eni_release_delay", 0.0)) if _APP is not None else 0.0
    return time.monotonic() + delay


def _use(account_id: str, region: str, name: str, role: str | None, vpc: dict[str, Any] | None) -> None:
    """Point function *name*'s interfaces at *vpc*'s combinations (None or empty: none)."""
    subnets = list((vpc or {}).get("SubnetIds") or [])
    groups = tuple(sorted((vpc or {}).get("SecurityGroupIds") or []))
    wanted = {(subnet, groups) for subnet in subnets} if groups else set()
    with _lock:
        pool = _interfaces.setdefault((account_id, region), {})
        before = _uses.get((account_id, region, name), set())
        for combination in wanted:
            eni = pool.get(combination)
            if eni is None:
                ec2 = _ec2(account_id, region)
                made = ec2.create_network_interface(
                    ec2.get_subnet(combination[0]), None, group_ids=list(groups),
                    description=f"{DESCRIPTION_PREFIX}{name}-{uuid.uuid4()}")
                eni = pool[combination] = {"id": made.id, "users": set(), "release_at": None, "role": role}
            eni["users"].add(name)
            eni["release_at"] = None
            eni["role"] = role
        for combination in before - wanted:
            eni = pool.get(combination)
            if eni is None:
                continue
            eni["users"].discard(name)
            if not eni["users"]:
                eni["release_at"] = _release_at()
        if wanted:
            _uses[(account_id, region, name)] = wanted
        else:
            _uses.pop((account_id, region, name), None)
    _release_due()


def _release_due() -> None:
    """Delete the interfaces whose time has come, with the permissions of the role that used them last."""
    now = time.monotonic()
    with _lock:
        due = [(key, combination, eni) for key, pool in _interfaces.items() for combination, eni in pool.items()
               if eni["release_at"] is not None and eni["release_at"] <= now]
        for key, combination, eni in due:
            del _interfaces[key][combination]
    for (account_id, region), _combination, eni in due:
        arn = f"arn:aws:ec2:{region}:{account_id}:network-interface/{eni['id']}"
        if _iam_on() and not _role_allows(account_id, eni["role"], "ec2:DeleteNetworkInterface", arn):
            continue  # Lambda cannot delete it: left behind (available), as AWS leaves it
        try:
            _ec2(account_id, region).delete_network_interface(eni["id"])
        except Exception:  # noqa: BLE001 - deleted by hand meanwhile
            pass


def _before_any(req: AwsRequest) -> Response | None:
    if any(eni["release_at"] is not None for pool in list(_interfaces.values()) for eni in list(pool.values())):
        _release_due()
    return None


def _after_write(req: AwsRequest, resp: Response) -> Response | None:
    data = json_body(resp)
    if data is None or not data.get("FunctionName"):
        return None
    if req.operation == "UpdateFunctionConfiguration" and "VpcConfig" not in (_vpc_spec(req)[1] or {}):
        return None  # the VPC is kept as it was
    _use(req.account_id, req.region, data["FunctionName"], data.get("Role"), data.get("VpcConfig"))
    return None


def _after_delete(req: AwsRequest, resp: Response) -> Response | None:
    if resp.status_code not in (200, 204) or req.query.get("Qualifier"):
        return None
    name = req.path_params.get("FunctionName", "")
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    _use(req.account_id, req.region, name.split(":", 1)[0], None, None)
    return None


def lingering(account_id: str, region: str) -> list[str]:
    """IDs of the interfaces no function uses any more and Lambda has not deleted yet (for tests)."""
    with _lock:
        return sorted(eni["id"] for pool in [_interfaces.get((account_id, region), {})] for eni in pool.values()
                      if not eni["users"])


def install(app: SandboxApp) -> None:
    global _APP
    _APP = app
    reset()
    app.override("lambda", "CreateFunction", _check)
    app.override("lambda", "UpdateFunctionConfiguration", _check)
    app.after("lambda", "CreateFunction", _after_write)
    app.after("lambda", "UpdateFunctionConfiguration", _after_write)
    app.after("lambda", "DeleteFunction", _after_delete)
    app.before_any(_before_any)
    app.on_reset(reset)

