# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""IAM helpers: input checks that need no AWS call, policy documents compared by meaning, role reads.

Every ``check_*`` function returns a problem string that starts with the option name, or None.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import arns

LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
# The same rule in words, for messages that state the rule rather than print the pattern.
ROLE_NAME_RULE = "1-64 characters: letters, digits and +=,.@_-"
_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
# arn:<partition>:iam::<account or "aws">:policy/<optional path/>name
_POLICY_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::(\d{12}|aws):policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}$")
# IAM counts the aggregate inline policy size of a role without whitespace; one policy cannot exceed it.
INLINE_POLICY_MAX_CHARS = 10240
TRUST_POLICY_MAX_CHARS = 2048
DESCRIPTION_MAX_CHARS = 1000


def check_role_name(option, name):
    problem = role_name_problem(name)
    return "%s: %s" % (option, problem) if problem else None


def role_name_problem(name):
    """What is wrong with an IAM role name, or None (the words of check_role_name without the option)."""
    if isinstance(name, str) and _ROLE_NAME.match(name):
        return None
    if not isinstance(name, str):
        return "must be an IAM role name (%s), got %s %r" % (ROLE_NAME_RULE, type(name).__name__, name)
    return "must be an IAM role name (%s), got %r (%d characters)" % (ROLE_NAME_RULE, name, len(name))


def check_policy_name(option, name):
    if not isinstance(name, str) or not _POLICY_NAME.match(name):
        return ("%s: %r is not a valid IAM policy name (1-128 characters: letters, digits and +=,.@_-)"
                % (option, name))
    return None


def policy_arn_problem(arn):
    """What is wrong with an IAM managed policy ARN, or None."""
    if isinstance(arn, str) and _POLICY_ARN.match(arn):
        return None
    return "must be an IAM managed policy ARN (arn:aws:iam::<account or aws>:policy/[path/]<name>), got %s" % (
        "'%s'" % arn if isinstance(arn, str) else "%s %r" % (type(arn).__name__, arn))


def check_policy_arn(option, arn):
    problem = policy_arn_problem(arn)
    return "%s: %s" % (option, problem) if problem else None


def parse_policy(option, value, max_chars):
    """(document as a dict, problem or None) for a policy given as a JSON string or a mapping."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            return None, "%s: not valid JSON (%s)" % (option, exc)
    if not isinstance(value, dict):
        return None, "%s: expected a JSON object (a policy document), got %s" % (option, type(value).__name__)
    statements = value.get("Statement")
    if not statements or not isinstance(statements, (list, dict)):
        return None, "%s: a policy document needs a Statement (an object or a non-empty list)" % option
    size = len(re.sub(r"\s", "", json.dumps(value, separators=(",", ":"))))
    if size > max_chars:
        return None, "%s: %d characters without whitespace, IAM accepts at most %d" % (option, size, max_chars)
    return value, None


def decode_policy(document):
    """A policy document as IAM returns it (botocore decodes it; some endpoints leave it URL-encoded) -> dict."""
    if isinstance(document, str):
        return json.loads(unquote(document))
    return document


def policies_differ(current, wanted):
    """Compare two documents by meaning: statement order, single values vs one-element lists, key order."""
    if current is None or wanted is None:
        return current is not wanted
    return compare_policies(current, wanted)


def get_role(client, name):
    """The role (GetRole, tags included) or None."""
    try:
        return client.get_role(aws_retry=True, RoleName=name)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        return None


def role_tags(role):
    return boto3_tag_list_to_ansible_dict(role.get("Tags") or [])


def get_role_policy(client, role_name, policy_name):
    """The inline policy's document (a dict) or None when the role has no policy of that name."""
    try:
        document = client.get_role_policy(aws_retry=True, RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    except is_boto3_error_code("NoSuchEntity"):
        return None
    return decode_policy(document)


def _pages(client, operation, key, **kwargs):
    items, marker = [], None
    while True:
        if marker:
            kwargs["Marker"] = marker
        page = getattr(client, operation)(aws_retry=True, **kwargs)
        items.extend(page.get(key) or [])
        if not page.get("IsTruncated"):
            return items
        marker = page.get("Marker")


def attached_policy_arns(client, role_name):
    return sorted(p["PolicyArn"] for p in _pages(client, "list_attached_role_policies", "AttachedPolicies",
                                                 RoleName=role_name))


def inline_policy_names(client, role_name):
    return sorted(_pages(client, "list_role_policies", "PolicyNames", RoleName=role_name))


def instance_profile_names(client, role_name):
    return sorted(p["InstanceProfileName"] for p in _pages(client, "list_instance_profiles_for_role",
                                                           "InstanceProfiles", RoleName=role_name))


def ignore_missing(call, **kwargs):
    """Run a delete/detach call; True when it did something, False when the entity was already gone."""
    try:
        call(aws_retry=True, **kwargs)
    except is_boto3_error_code("NoSuchEntity"):
        return False
    return True


# --- what a VPC function's execution role needs --------------------------------------------------------------

# Lambda creates and deletes a VPC function's network interfaces with its execution role
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#vpc-permissions; AWS's managed policy
# AWSLambdaVPCAccessExecutionRole grants the same actions on "*"). Scoped here as far as IAM accepts
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html).
VPC_DESCRIBE_ACTIONS = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")
VPC_CREATE_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:AssignPrivateIpAddresses")
VPC_CLEANUP_ACTIONS = ("ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses")


def vpc_access_statements(vpc, partition, region, account):
    """The execution role's policy statements for a function with VPC configuration *vpc* (subnet_ids,
    security_group_ids; None: not in a VPC, no statement).

    With subnets: create interfaces only in those subnets with those groups. With empty lists (the function leaves
    its VPC): no create, but Lambda still deletes the interfaces it made, up to 20 minutes later and with this
    role (https://docs.aws.amazon.com/lambda/latest/dg/foundation-networking.html#foundation-nw-eni-delete), so
    describe and delete stay until the VPC setting is dropped altogether."""
    if vpc is None:
        return []
    subnets = list(vpc.get("subnet_ids") or [])
    groups = list(vpc.get("security_group_ids") or [])
    prefix = "arn:%s:ec2:%s:%s:" % (partition, region, account)
    statements = [{
        # DescribeNetworkInterfaces and DescribeSubnets have no resource types: IAM honours them only with "*"
        # (configuration-vpc.html: "This action only works if it's allowed on all resources"). They read network
        # metadata of the account, nothing inside the VPC.
        "Sid": "DescribeNetworkInterfacesHasNoResourceLevelPermissions",
        "Effect": "Allow",
        "Action": list(VPC_DESCRIBE_ACTIONS),
        "Resource": "*",
    }]
    if subnets:
        statements.append({
            "Sid": "CreateNetworkInterfacesInTheseSubnetsWithTheseGroups",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [prefix + "network-interface/*"] + [prefix + "subnet/" + s for s in subnets]
            + [prefix + "security-group/" + g for g in groups],
        })
    # The interfaces' IDs are Lambda's choice, and Lambda also deletes those of subnets the function has left
    # (after this policy stopped naming them): scoped to the interfaces of this account and region, the resource
    # AWS's guide gives for DeleteNetworkInterface.
    statements.append({
        "Sid": "ManageLambdasNetworkInterfacesInThisRegion",
        "Effect": "Allow",
        "Action": (["ec2:AssignPrivateIpAddresses"] if subnets else []) + list(VPC_CLEANUP_ACTIONS),
        "Resource": prefix + "network-interface/*",
    })
    return statements


def execution_policy(stream_arn, function_name, on_failure_destination=None, tracing=False, vpc=None):
    """The execution role's inline policy document: what a function needs to read one stream and write its logs.

    Read this one stream (DescribeStream, GetRecords, GetShardIterator on its ARN); list streams; create this
    function's log group and write its streams. As asked: send failed batches' details to the on-failure
    destination (SQS or SNS, by its ARN), write X-Ray traces, let Lambda manage a VPC function's network interfaces
    (vpc_access_statements). Region, account and partition come from the stream ARN, so no STS call is needed.
    """
    log_group = arns.log_group_arn_beside(stream_arn, "/aws/lambda/" + function_name)
    statements = [
        {
            "Sid": "ReadThisStream",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            "Resource": stream_arn,
        },
        {
            # dynamodb:ListStreams is not resource-scoped: the Service Authorization Reference lists no resource
            # type for it, so IAM only honours it with Resource "*". It returns stream ARNs and labels of the
            # account, never records; reading records (GetRecords) stays limited to this one stream.
            "Sid": "ListStreamsHasNoResourceLevelPermissions",
            "Effect": "Allow",
            "Action": ["dynamodb:ListStreams"],
            "Resource": "*",
        },
        {
            "Sid": "CreateThisFunctionsLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup"],
            "Resource": [log_group, log_group + ":*"],
        },
        {
            "Sid": "WriteThisFunctionsLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_group + ":*",
        },
    ]
    if on_failure_destination:
        service = arns.parse_arn(on_failure_destination).service
        statements.append({
            "Sid": "SendFailedBatchesToTheOnFailureDestination",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"] if service == "sqs" else ["sns:Publish"],
            "Resource": on_failure_destination,
        })
    if tracing:
        # xray:PutTraceSegments and xray:PutTelemetryRecords have no resource types in the Service Authorization
        # Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html), so IAM
        # only honours them with Resource "*". They write this function's traces, never read anyone's.
        statements.append({
            "Sid": "WriteTracesXRayHasNoResourceLevelPermissions",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        })
    if vpc:
        stream = arns.parse_arn(stream_arn)
        statements.extend(vpc_access_statements(vpc, stream.partition, stream.region, stream.account_id))
    return {"Version": "2012-10-17", "Statement": statements}
