#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: execution_role
version_added: 0.1.0
short_description: Manage a Lambda execution role, its inline policy and managed policy attachments in one call
description:
  - Creates, updates or deletes an IAM role that Lambda assumes, with its trust policy, description, permissions
    boundary, tags, one inline policy and, optionally, an exact list of attached managed policies.
  - Everything is read first and compared, policy documents by meaning (statement order, a single value versus a
    one-element list and key order never count as a change), so a run with nothing to change makes no write call.
    An existing role costs at most three reads (C(GetRole), C(GetRolePolicy), and C(ListAttachedRolePolicies) when
    O(managed_policy_arns) is given); a new one is created with its tags in one C(CreateRole) call.
  - IAM is eventually consistent, so the calls right after C(CreateRole) retry C(NoSuchEntity) with backoff.
  - With O(state=absent) the role is deleted only when it carries every tag of O(owner_tag); a role without them
    is left alone and reported in RV(skipped_reason). The inline policy O(policy_name) and the policies in
    O(managed_policy_arns) are removed first without listing anything; only when IAM refuses the delete
    (C(DeleteConflict)) are the role's remaining inline policies, managed policies and instance profiles listed
    and removed.
  - Use this instead of M(amazon.aws.iam_role) plus M(amazon.aws.iam_policy) when one call per state matters; it
    manages only what a Lambda execution role needs (no instance profiles, no path, no session duration).
author:
  - streamops maintainers (@streamops)
options:
  name:
    description: Name of the role (1-64 characters, letters, digits and C(+=,.@_-)).
    required: true
    type: str
    aliases: [role_name]
  state:
    description: Whether the role should exist.
    default: present
    choices: [present, absent]
    type: str
  description:
    description:
      - Description of the role (at most 1000 characters). Omit to leave an existing description unchanged.
    type: str
  assume_role_policy_document:
    description:
      - Trust policy, as a mapping or a JSON string. Omit for the Lambda trust policy (C(lambda.amazonaws.com) may
        call C(sts:AssumeRole)).
    type: json
  permissions_boundary:
    description:
      - ARN of the managed policy to use as the role's permissions boundary. V("") removes a boundary; omit to
        leave it unmanaged.
    type: str
  tags:
    description:
      - Tags of the role. Omit to leave tags unmanaged. The tags of O(owner_tag) are added when the role is created
        and never purged while the role carries them.
    type: dict
  purge_tags:
    description: Remove tags not listed in O(tags) (only when O(tags) is given).
    default: true
    type: bool
  policy_name:
    description:
      - Name of the role's inline policy that this module manages. Other inline policies are left alone (and are
        removed only with the role).
      - With O(state=absent) this policy is deleted before the role, without listing the role's policies.
    type: str
  policy_document:
    description:
      - The inline policy O(policy_name), as a mapping or a JSON string. Required with O(policy_name) when
        O(state=present).
    type: json
  managed_policy_arns:
    description:
      - ARNs of the managed policies the role has attached, kept exactly; missing ones are attached, others are
        detached. V([]) detaches every managed policy. Omit to leave attachments unmanaged (no read either).
      - With O(state=absent), the policies the caller knows to be attached; they are detached before the role is
        deleted, without listing the role's attachments.
    type: list
    elements: str
  owner_tag:
    description:
      - Tags (one or more) that mark what this collection created. Added to the role with O(state=present);
        with O(state=absent) only a role that carries every one of them, with the same value, is deleted.
    type: dict
    default: {"streamops:managed-by": "streamops.dynamodb_lambda"}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The walkthrough's execution role, least privilege
  streamops.dynamodb_lambda.execution_role:
    name: Lambda_demo_DynamoDB_stream-role
    description: Execution role of Lambda function Lambda_demo_DynamoDB_stream
    tags:
      streamops:managed-by: streamops.dynamodb_lambda
    policy_name: streamops-stream-function
    policy_document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: [dynamodb:DescribeStream, dynamodb:GetRecords, dynamodb:GetShardIterator]
          Resource: arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-05-01T12:00:00.000
        - Effect: Allow
          Action: [dynamodb:ListStreams]
          Resource: "*"
    managed_policy_arns: []
  register: role

- name: The walkthrough taken literally (step 2b), with a permissions boundary
  streamops.dynamodb_lambda.execution_role:
    name: Lambda_demo_DynamoDB_stream-role
    permissions_boundary: arn:aws:iam::123456789012:policy/lambda-boundary
    managed_policy_arns:
      - arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess
      - arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole

- name: Delete the role if this collection created it
  streamops.dynamodb_lambda.execution_role:
    name: Lambda_demo_DynamoDB_stream-role
    state: absent
    policy_name: streamops-stream-function
    owner_tag:
      streamops:managed-by: streamops.dynamodb_lambda
"""

RETURN = r"""
arn:
  description: The role's ARN; null in check mode before the role is created, and when there is no role.
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:role/Lambda_demo_DynamoDB_stream-role
role_name:
  description: The role's name.
  returned: always
  type: str
  sample: Lambda_demo_DynamoDB_stream-role
role_id:
  description: The role's unique ID; null when there is no role (yet).
  returned: always
  type: str
  sample: AROA1234567890EXAMPLE
description:
  description: The role's description.
  returned: when the role exists or is to be created
  type: str
  sample: Execution role of Lambda function Lambda_demo_DynamoDB_stream
assume_role_policy_document:
  description: The trust policy.
  returned: when the role exists or is to be created
  type: dict
  sample: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
           "Principal": {"Service": "lambda.amazonaws.com"}}]}
permissions_boundary:
  description: ARN of the permissions boundary; null when there is none.
  returned: when the role exists or is to be created
  type: str
  sample: arn:aws:iam::123456789012:policy/lambda-boundary
tags:
  description: The role's tags.
  returned: when the role exists or is to be created
  type: dict
  sample: {"streamops:managed-by": "streamops.dynamodb_lambda"}
policy_name:
  description: The inline policy this module manages; null when O(policy_name) is not given.
  returned: always
  type: str
  sample: streamops-stream-function
policy_document:
  description: The inline policy's document after the run.
  returned: when O(policy_name) is given and O(state=present)
  type: dict
  sample: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["dynamodb:ListStreams"],
           "Resource": "*"}]}
managed_policy_arns:
  description: The attached managed policies, sorted; null when attachments are unmanaged and were not read.
  returned: when O(state=present)
  type: list
  elements: str
  sample: ["arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess"]
created:
  description: True when this run created the role (or would, in check mode).
  returned: when O(state=present)
  type: bool
  sample: false
deleted:
  description: True when this run deleted the role (or would, in check mode).
  returned: when O(state=absent)
  type: bool
  sample: true
skipped_reason:
  description: Why an existing role was left alone (it does not carry O(owner_tag)); null otherwise.
  returned: when O(state=absent)
  type: str
  sample: "role fn-role does not carry tag streamops:managed-by=streamops.dynamodb_lambda: left alone"
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import iam
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import OWNER_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import not_owned_reason
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import owner_tag_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import tag_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import with_owner

# Right after CreateRole, other IAM calls may not see the role yet (eventual consistency): retry NoSuchEntity.
NEW_ROLE_RETRY = aws_retry(retries=8, delay=1, max_delay=10, catch_extra_error_codes=["NoSuchEntity"])
# After the role was emptied, IAM may still count a removed attachment for a moment: retry DeleteConflict.
EMPTIED_ROLE_RETRY = aws_retry(retries=6, delay=1, max_delay=10, catch_extra_error_codes=["DeleteConflict"])


def validate(params):
    """Every problem with the options, each naming its option; parsed documents go back into a dict."""
    problems, parsed = [], {}
    problem = iam.check_role_name("name", params["name"])
    if problem:
        problems.append(problem)
    if params["description"] is not None and len(params["description"]) > iam.DESCRIPTION_MAX_CHARS:
        problems.append("description: at most %d characters" % iam.DESCRIPTION_MAX_CHARS)
    if params["assume_role_policy_document"] is not None:
        parsed["trust"], problem = iam.parse_policy("assume_role_policy_document",
                                                    params["assume_role_policy_document"], iam.TRUST_POLICY_MAX_CHARS)
        if problem:
            problems.append(problem)
    else:
        parsed["trust"] = iam.LAMBDA_TRUST_POLICY
    if params["permissions_boundary"]:
        problem = iam.check_policy_arn("permissions_boundary", params["permissions_boundary"])
        if problem:
            problems.append(problem)
    if params["policy_name"] is not None:
        problem = iam.check_policy_name("policy_name", params["policy_name"])
        if problem:
            problems.append(problem)
    if params["policy_document"] is not None:
        if params["policy_name"] is None:
            problems.append("policy_document: needs policy_name")
        parsed["policy"], problem = iam.parse_policy("policy_document", params["policy_document"],
                                                     iam.INLINE_POLICY_MAX_CHARS)
        if problem:
            problems.append(problem)
    elif params["policy_name"] is not None and params["state"] == "present":
        problems.append("policy_document: required with policy_name when state=present")
    for index, arn in enumerate(params["managed_policy_arns"] or []):
        problem = iam.check_policy_arn("managed_policy_arns[%d]" % index, arn)
        if problem:
            problems.append(problem)
    problems.extend(tag_problems("tags", params["tags"]))
    problems.extend(owner_tag_problems("owner_tag", params["owner_tag"]))
    return problems, parsed


def view(role_name, description, trust, boundary, tags, policy_name, policy, managed):
    """What --diff shows of a role (before or after)."""
    out = {"role_name": role_name, "description": description, "assume_role_policy_document": trust,
           "permissions_boundary": boundary, "tags": tags}
    if policy_name is not None:
        out["inline_policies"] = {policy_name: policy}
    if managed is not None:
        out["managed_policy_arns"] = managed
    return out


def owner_problem(name, tags, owner_tag):
    reason = not_owned_reason("role %s" % name, tags, owner_tag)
    return reason and reason + ": left alone"


def create(module, client, params, parsed):
    name, policy_name = params["name"], params["policy_name"]
    tags = with_owner(params["tags"], params["owner_tag"])
    managed = sorted(set(params["managed_policy_arns"] or []))
    after = view(name, params["description"], parsed["trust"], params["permissions_boundary"] or None, tags,
                 policy_name, parsed.get("policy"), managed if params["managed_policy_arns"] is not None else None)
    result = {"changed": True, "created": True, "arn": None, "role_id": None, "role_name": name}
    result.update(after)
    result.pop("inline_policies", None)
    result.update(policy_name=policy_name, policy_document=parsed.get("policy"),
                  managed_policy_arns=after.get("managed_policy_arns"))
    if module._diff:
        result["diff"] = {"before": {}, "after": after}
    if module.check_mode:
        return result

    kwargs = {"RoleName": name, "AssumeRolePolicyDocument": json.dumps(parsed["trust"])}
    if params["description"] is not None:
        kwargs["Description"] = params["description"]
    if params["permissions_boundary"]:
        kwargs["PermissionsBoundary"] = params["permissions_boundary"]
    if tags:
        kwargs["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    role = client.create_role(aws_retry=True, **kwargs)["Role"]
    if policy_name is not None:
        NEW_ROLE_RETRY(client.put_role_policy)(RoleName=name, PolicyName=policy_name,
                                               PolicyDocument=json.dumps(parsed["policy"]))
    for arn in managed:
        NEW_ROLE_RETRY(client.attach_role_policy)(RoleName=name, PolicyArn=arn)
    result.update(arn=role["Arn"], role_id=role["RoleId"])
    return result


def update(module, client, role, params, parsed):
    name, policy_name = params["name"], params["policy_name"]
    current_trust = iam.decode_policy(role.get("AssumeRolePolicyDocument"))
    current_description = role.get("Description")
    current_boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    current_tags = iam.role_tags(role)
    current_policy = iam.get_role_policy(client, name, policy_name) if policy_name is not None else None
    manage_attachments = params["managed_policy_arns"] is not None
    current_managed = iam.attached_policy_arns(client, name) if manage_attachments else None

    trust_changed = iam.policies_differ(current_trust, parsed["trust"])
    wanted_description = current_description if params["description"] is None else params["description"]
    description_changed = (wanted_description or "") != (current_description or "")
    if params["permissions_boundary"] is None:
        wanted_boundary = current_boundary
    else:
        wanted_boundary = params["permissions_boundary"] or None
    boundary_changed = wanted_boundary != current_boundary
    if params["tags"] is None:
        tags_to_set, tags_to_unset = {}, []
    else:
        wanted_tags = dict(params["tags"])
        # The owner's tags are never purged from a role that carries them.
        wanted_tags.update((k, v) for k, v in params["owner_tag"].items() if k in current_tags)
        tags_to_set, tags_to_unset = compare_aws_tags(current_tags, wanted_tags, params["purge_tags"])
    wanted_tags_after = dict((k, v) for k, v in dict(current_tags, **tags_to_set).items() if k not in tags_to_unset)
    policy_changed = policy_name is not None and iam.policies_differ(current_policy, parsed["policy"])
    wanted_managed = sorted(set(params["managed_policy_arns"])) if manage_attachments else None
    to_attach = [a for a in wanted_managed if a not in current_managed] if manage_attachments else []
    to_detach = [a for a in current_managed if a not in wanted_managed] if manage_attachments else []

    changed = any((trust_changed, description_changed, boundary_changed, tags_to_set, tags_to_unset, policy_changed,
                   to_attach, to_detach))
    after_policy = parsed.get("policy") if policy_name is not None else None
    result = {"changed": changed, "created": False, "arn": role["Arn"], "role_id": role["RoleId"], "role_name": name,
              "description": wanted_description, "assume_role_policy_document": parsed["trust"],
              "permissions_boundary": wanted_boundary, "tags": wanted_tags_after, "policy_name": policy_name,
              "policy_document": after_policy, "managed_policy_arns": wanted_managed}
    if module._diff:
        result["diff"] = {
            "before": view(name, current_description, current_trust, current_boundary, current_tags, policy_name,
                           current_policy, current_managed),
            "after": view(name, wanted_description, parsed["trust"], wanted_boundary, wanted_tags_after, policy_name,
                          after_policy, wanted_managed)}
    if module.check_mode or not changed:
        return result

    if trust_changed:
        client.update_assume_role_policy(aws_retry=True, RoleName=name, PolicyDocument=json.dumps(parsed["trust"]))
    if description_changed:
        client.update_role(aws_retry=True, RoleName=name, Description=wanted_description or "")
    if boundary_changed and wanted_boundary:
        client.put_role_permissions_boundary(aws_retry=True, RoleName=name, PermissionsBoundary=wanted_boundary)
    elif boundary_changed:
        client.delete_role_permissions_boundary(aws_retry=True, RoleName=name)
    if tags_to_unset:
        client.untag_role(aws_retry=True, RoleName=name, TagKeys=tags_to_unset)
    if tags_to_set:
        client.tag_role(aws_retry=True, RoleName=name, Tags=ansible_dict_to_boto3_tag_list(tags_to_set))
    if policy_changed:
        client.put_role_policy(aws_retry=True, RoleName=name, PolicyName=policy_name,
                               PolicyDocument=json.dumps(parsed["policy"]))
    for arn in to_detach:
        iam.ignore_missing(client.detach_role_policy, RoleName=name, PolicyArn=arn)
    for arn in to_attach:
        client.attach_role_policy(aws_retry=True, RoleName=name, PolicyArn=arn)
    return result


def ensure_present(module, client, params, parsed):
    role = iam.get_role(client, params["name"])
    if role is None:
        return create(module, client, params, parsed)
    return update(module, client, role, params, parsed)


def empty_role(client, name):
    """Everything IAM wants gone before DeleteRole: attachments, inline policies, instance profiles."""
    for arn in iam.attached_policy_arns(client, name):
        iam.ignore_missing(client.detach_role_policy, RoleName=name, PolicyArn=arn)
    for policy in iam.inline_policy_names(client, name):
        iam.ignore_missing(client.delete_role_policy, RoleName=name, PolicyName=policy)
    for profile in iam.instance_profile_names(client, name):
        iam.ignore_missing(client.remove_role_from_instance_profile, InstanceProfileName=profile, RoleName=name)


def ensure_absent(module, client, params):
    name = params["name"]
    result = {"changed": False, "deleted": False, "skipped_reason": None, "arn": None, "role_id": None,
              "role_name": name, "policy_name": params["policy_name"]}
    role = iam.get_role(client, name)
    if role is None:
        if module._diff:
            result["diff"] = {"before": {}, "after": {}}
        return result
    tags = iam.role_tags(role)
    result.update(arn=role["Arn"], role_id=role["RoleId"], tags=tags)
    skipped = owner_problem(name, tags, params["owner_tag"])
    if skipped:
        result["skipped_reason"] = skipped
        if module._diff:
            result["diff"] = {"before": {"role_name": name, "tags": tags}, "after": {"role_name": name, "tags": tags}}
        return result
    result.update(changed=True, deleted=True)
    if module._diff:
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        before = view(name, role.get("Description"), iam.decode_policy(role.get("AssumeRolePolicyDocument")),
                      boundary, tags, None, None, None)
        result["diff"] = {"before": before, "after": {}}
    if module.check_mode:
        return result
    if params["policy_name"] is not None:
        iam.ignore_missing(client.delete_role_policy, RoleName=name, PolicyName=params["policy_name"])
    for arn in params["managed_policy_arns"] or []:
        iam.ignore_missing(client.detach_role_policy, RoleName=name, PolicyArn=arn)
    try:
        iam.ignore_missing(client.delete_role, RoleName=name)
    except is_boto3_error_code("DeleteConflict"):
        # Policies or instance profiles the caller did not name: list them only now, remove them, try again.
        empty_role(client, name)
        try:
            EMPTIED_ROLE_RETRY(client.delete_role)(RoleName=name)
        except is_boto3_error_code("NoSuchEntity"):
            pass
    return result


ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True, aliases=["role_name"]),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    description=dict(type="str"),
    assume_role_policy_document=dict(type="json"),
    permissions_boundary=dict(type="str"),
    tags=dict(type="dict"),
    purge_tags=dict(type="bool", default=True),
    policy_name=dict(type="str"),
    policy_document=dict(type="json"),
    managed_policy_arns=dict(type="list", elements="str"),
    owner_tag=dict(type="dict", default=dict(OWNER_TAG)),
)


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    problems, parsed = validate(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems))
    client = module.client("iam", retry_decorator=aws_retry())
    try:
        if module.params["state"] == "present":
            result = ensure_present(module, client, module.params, parsed)
        else:
            result = ensure_absent(module, client, module.params)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="failed to manage IAM role %s" % module.params["name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
