#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: stream_function
version_added: 0.1.0
short_description: Deploy a Lambda function from a source directory, with its log group, in one call
description:
  - With O(state=present), packages O(src) into a deterministic zip (the same bytes and the same checks as
    M(streamops.dynamodb_lambda.lambda_package)), creates or updates the log group C(/aws/lambda/<name>) with
    O(log_retention_days) and tags B(before) the function (so Lambda never creates it without them), then creates
    the function or updates its configuration and its code, each only when it differs.
  - Code is uploaded only when the archive's base64 SHA-256 differs from the function's C(CodeSha256), so an
    unchanged source is never uploaded again.
  - A freshly created or changed execution role is not usable at once (C(The role defined for the function cannot
    be assumed by Lambda), C(The execution role does not have permissions ...)). Only those errors are retried,
    with backoff, within O(role_wait_timeout).
  - After a create or an update (unless O(wait=false)), and before any further update, the module polls until the
    function's C(State) is C(Active) and its C(LastUpdateStatus) is C(Successful), within O(wait_timeout).
  - With O(state=absent), deletes the function and then the log group, each only if it carries O(owner_tag); what
    does not carry it is left alone and reported in RV(not_owned).
  - Runs where the task runs. The source directory is read on that host (as M(amazon.aws.lambda) reads
    C(zip_file)); with this collection's action plugin and a local connection that is the controller.
options:
  name:
    description: Name of the function (1-64 letters, digits, C(-) and C(_)). The log group is C(/aws/lambda/<name>).
    type: str
    required: true
    aliases: [function_name]
  state:
    description: Whether the function and its log group should exist.
    type: str
    choices: [present, absent]
    default: present
  src:
    description:
      - Directory holding the handler code; its contents become the root of the archive. Required when
        O(state=present).
      - C(__pycache__) directories, C(*.pyc) and C(*.pyo) are always left out.
    type: path
  exclude:
    description: Extra glob patterns (matched against each path relative to O(src) and its base name) to leave out.
    type: list
    elements: str
    default: []
  handler:
    description:
      - Handler string, C(<module>.<function>). Required when O(state=present). The handler's file must be in the
        package and, for Python, parse and define the function.
    type: str
  runtime:
    description:
      - Lambda runtime, for example C(python3.12). Required when O(state=present). Its language must match the
        handler file (C(pythonX.Y) for a C(.py) handler, C(nodejsN.x) for C(.js)).
    type: str
  role:
    description: ARN of the execution role. Required when O(state=present).
    type: str
  description:
    description: Description of the function (at most 256 characters).
    type: str
    default: ""
  memory_size:
    description: Memory in MB, 128-10240.
    type: int
    default: 128
  timeout:
    description: Timeout in seconds, 1-900.
    type: int
    default: 3
  environment_variables:
    description:
      - Environment variables of the function. Replaces the whole set; V({}) removes every variable.
      - Names are at least two characters, a letter then letters, digits and C(_); names Lambda reserves
        (C(AWS_REGION), C(AWS_LAMBDA_*), C(_HANDLER), ...) are rejected. Values are sent as strings.
    type: dict
    default: {}
  tags:
    description:
      - Tags of the function and of its log group. Omit to leave other tags alone. O(owner_tag) is always added.
    type: dict
  purge_tags:
    description: Remove tags not listed in O(tags) (only when O(tags) is given; O(owner_tag) is never removed).
    type: bool
    default: true
  owner_tag:
    description:
      - Tags (one or more) that mark what this collection created. Added to the function and the log group with O(state=present);
        with O(state=absent) only a function or log group that carries every one of them, with the same value, is deleted.
    type: dict
    default: {"streamops:managed-by": "streamops.dynamodb_lambda"}
  log_retention_days:
    description:
      - Retention of the log group in days, one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
        1096, 1827, 2192, 2557, 2922, 3288 or 3653.
      - Omitted or null means logs never expire (an existing retention policy is removed).
    type: int
  package_path:
    description:
      - Also write the archive to this path (missing directories are created), as a build artifact for inspection
        or caching. Written atomically, only when its bytes differ, in check mode too, and never reported as a
        change. Omit to build the archive in memory only.
    type: path
  role_wait_timeout:
    description: Seconds to keep retrying while Lambda cannot assume the execution role (IAM propagation), 0-3600.
    type: int
    default: 120
  wait:
    description:
      - Wait until the function is C(Active) with its last update C(Successful) after a create or an update.
      - V(false) returns as soon as Lambda accepted the write (RV(state) C(Pending) or RV(last_update_status)
        C(InProgress)), so a later task can wait for many functions at once (as M(streamops.dynamodb_lambda.pipeline_wait)
        does in the collection's playbooks). Waits that a later call of this module needs (an update after an
        update, reserved concurrency, an alias's new version) happen regardless.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the function to be C(Active) with its last update C(Successful), 1-3600.
    type: int
    default: 300
  architecture:
    description:
      - Instruction set of the function, C(x86_64) or C(arm64) (Lambda's C(Architectures), a one-element list).
      - Dependencies from O(requirements) are installed as wheels for it.
      - A change is sent with the code (C(UpdateFunctionCode) takes C(Architectures); C(UpdateFunctionConfiguration)
        does not).
    type: str
    default: x86_64
  layers:
    description:
      - Layer version ARNs (C(arn:aws:lambda:<region>:<account>:layer:<name>:<version>)), at most 5, applied in
        the order given. Each must be in the function's region and partition.
      - Replaces the whole list; V([]) removes every layer.
    type: list
    elements: str
    default: []
  tracing_mode:
    description:
      - X-Ray tracing, C(Active) or C(PassThrough) (Lambda's default). C(Active) needs C(xray:PutTraceSegments) and
        C(xray:PutTelemetryRecords) in the execution role.
    type: str
    default: PassThrough
  logging_config:
    description:
      - Format and levels of the function's logs. Omitted means Lambda's defaults (C(Text), the log group
        C(/aws/lambda/<name>)).
    type: dict
    suboptions:
      log_format:
        description: C(Text) or C(JSON).
        type: str
        default: Text
      application_log_level:
        description:
          - Lowest level of the function's own log records that Lambda keeps, one of C(TRACE), C(DEBUG), C(INFO),
            C(WARN), C(ERROR), C(FATAL). Only with O(logging_config.log_format=JSON); null there means C(INFO).
        type: str
      system_log_level:
        description:
          - Lowest level of Lambda's own log records (C(START), C(REPORT), ...), one of C(DEBUG), C(INFO), C(WARN).
            Only with O(logging_config.log_format=JSON); null there means C(INFO).
        type: str
      log_group:
        description:
          - Log group the function writes to; null means C(/aws/lambda/<name>). The module creates and converges
            this log group (retention and tags).
        type: str
  reserved_concurrency:
    description:
      - Reserved concurrent executions (C(PutFunctionConcurrency)), a whole number from 0 (stops every
        invocation) to the account's unreserved share. Null removes the reservation (C(DeleteFunctionConcurrency)).
    type: int
  ephemeral_storage:
    description: Size of C(/tmp) in MB, 512-10240.
    type: int
    default: 512
  kms_key_arn:
    description:
      - ARN of the customer managed KMS key that encrypts the environment variables at rest. Null or V("") means
        Lambda's default key (an existing key is removed).
    type: str
  vpc_config:
    description:
      - Subnets and security groups of a VPC the function connects to (Lambda's C(VpcConfig), SAM's C(VpcConfig),
        Terraform's C(vpc_config)). Lambda allows at most 16 subnets and 5 security groups, and needs both or
        neither. Omitted, or both lists empty, means no VPC; a function in a VPC leaves it (C(--diff) shows the
        lists before and after).
      - The execution role needs the permissions Lambda uses to manage the function's network interfaces (the
        execution_role role's C(execution_role_vpc_access)); the deploying identity needs C(ec2:DescribeSubnets),
        C(ec2:DescribeSecurityGroups) and C(ec2:DescribeVpcs), which Lambda checks the subnets with, and
        C(ec2:DescribeNetworkInterfaces) for the wait of O(eni_wait_timeout).
    type: dict
    suboptions:
      subnet_ids:
        description: Subnet IDs (C(subnet-...)), at most 16, all in one VPC; compared as a set.
        type: list
        elements: str
        default: []
      security_group_ids:
        description: Security group IDs (C(sg-...)), at most 5, in the subnets' VPC; compared as a set.
        type: list
        elements: str
        default: []
      ipv6_allowed_for_dual_stack:
        description: Allow outbound IPv6 traffic when the subnets are dual-stack. Only with subnets.
        type: bool
        default: false
  eni_wait_timeout:
    description:
      - With O(state=absent), seconds to wait, after deleting a function that was in a VPC (or, when it is gone
        already, whose O(vpc_config) is given), until Lambda has deleted its network interfaces
        (C(AWS Lambda VPC ENI-<name>...)). Lambda deletes them with the execution role's permissions, so the role
        must outlive them; a timeout fails the task before the role is touched, and a later run waits again.
      - 0 does not wait. 0-7200.
    type: int
    default: 2700
  requirements:
    description:
      - Which requirements file to install into the package, for O(runtime) and O(architecture) (Linux wheels, as
        M(streamops.dynamodb_lambda.lambda_package) installs them, cached under O(requirements_cache_dir)).
      - V(auto) installs C(requirements.txt) in O(src) when there is one and O(runtime) is a Python runtime;
        V(true) requires it; V(false) installs nothing (a C(requirements.txt) is then packaged as a plain file).
      - Any other value is the path of a requirements file, relative to O(src) unless absolute.
      - A requirement without a wheel for the function's platform fails before any AWS write.
    type: raw
    default: auto
  alias:
    description:
      - Name of an alias to keep on a published version (1-128 letters, digits, C(-) and C(_), not only digits),
        for example C(live), so a trigger can target C(<name>:<alias>). Null manages no alias.
      - Without O(alias_version), rolls forward. When C($LATEST) differs from the aliased version in code or
        configuration, publishes a version (C(PublishVersion)) and points the alias at it; otherwise changes
        nothing.
      - Deleting the function (O(state=absent)) deletes its versions and aliases with it.
    type: str
  alias_version:
    description:
      - Point O(alias) at this published version instead (a rollback is this one option); it must exist. Null
        rolls forward.
    type: str
  s3_bucket:
    description:
      - S3 bucket (in the function's region) to upload the package to; Lambda then reads the code from there
        (C(S3Bucket) and C(S3Key)). Needed for a package over Lambda's 50 MB limit for a direct upload (a larger
        package without it fails before any AWS write); given, the code always goes through S3, whatever its
        size (as SAM's C(--s3-bucket) does), so a package that grows past the limit changes nothing else.
      - The object key is content-addressed, O(s3_key_prefix)C(<name>/<sha256 hex>.zip), and the object carries
        O(owner_tag). A package already in the bucket is not uploaded again (C(HeadObject) first), and a code that
        Lambda already runs (same C(CodeSha256)) makes no S3 call at all.
      - The module never creates or deletes the bucket. With O(state=absent), it deletes the objects under
        O(s3_key_prefix)C(<name>/) that carry O(owner_tag), and leaves any other object alone.
      - The identity running the module needs C(s3:PutObject), C(s3:PutObjectTagging) and C(s3:GetObject)
        (C(HeadObject), and Lambda reads the object with the caller's rights) on
        C(arn:aws:s3:::<bucket>/<prefix>*), and for O(state=absent) C(s3:ListBucket) on the bucket and
        C(s3:GetObjectTagging) and C(s3:DeleteObject) on the objects. The execution role needs nothing.
    type: str
  s3_key_prefix:
    description:
      - Prefix of the object keys in O(s3_bucket) (at most 891 bytes, not starting with C(/)); V("") puts each
        function's packages at the top of the bucket, under C(<name>/).
    type: str
    default: streamops.dynamodb_lambda/
  record_log:
    description:
      - Put the record-log wrapper in front of O(handler), so M(streamops.dynamodb_lambda.stream_verify) can check
        any handler without depending on what it prints.
      - The package gains the file C(streamops_record_log.py) (standard library only); the function's C(Handler)
        becomes C(streamops_record_log.lambda_handler) and O(handler) goes into the environment variable
        C(STREAMOPS_HANDLER) (beside O(environment_variables), which must not set it). For each DynamoDB stream
        record the wrapper writes one compact JSON line to stdout (C(kind) C(streamops_record), event name, keys,
        and of each image the record carries only the key attributes and C(streamops_probe)), then calls the
        handler with the same event and context and returns its result, so partial batch failures still work.
      - Turning it on or off changes the code (one upload), C(Handler) and the environment; RV(handler) and the
        diff show the function as Lambda has it, RV(wrapped_handler) the handler the wrapper calls.
      - Python runtimes only.
    type: bool
    default: false
  requirements_cache_dir:
    description:
      - Directory of the dependency cache. Defaults to C($XDG_CACHE_HOME/streamops.dynamodb_lambda/deps), or
        C(~/.cache/streamops.dynamodb_lambda/deps). A cached re-run runs no pip and, the archive being the same
        bytes, uploads nothing.
    type: path
notes:
  - Supports check mode (reads only; the archive is still built to compare its SHA-256, and the dependency cache
    is filled) and diff mode (function settings, code SHA-256 and tags; log group retention and tags).
  - Makes the fewest calls it can. A run that changes nothing reads C(GetFunction) (configuration, code SHA-256,
    reserved concurrency and tags at once), C(DescribeLogGroups) and the log group's tags; only when
    O(reserved_concurrency=0) is wanted and C(GetFunction) reports no reservation, C(GetFunctionConcurrency) too.
  - With O(alias), a run reads C(GetAlias) and, unless the function changed, the aliased version's configuration.
  - With O(s3_bucket), a run that uploads code also reads C(HeadObject) and, when the object is missing, writes
    C(PutObject) before C(CreateFunction) or C(UpdateFunctionCode).
  - Lambda deletes a VPC function's network interfaces up to 20 minutes after the function is deleted or leaves
    its VPC, with the permissions of its execution role
    (U(https://docs.aws.amazon.com/lambda/latest/dg/foundation-networking.html#foundation-nw-eni-delete)); with
    O(state=absent) the module waits for that (O(eni_wait_timeout)), polling C(ec2:DescribeNetworkInterfaces).
  - Reserved concurrency is set with its own call (C(PutFunctionConcurrency) or C(DeleteFunctionConcurrency)),
    after the function exists.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: Deploy the stream handler with its log group
  streamops.dynamodb_lambda.stream_function:
    name: Lambda_demo_DynamoDB_stream
    src: "{{ playbook_dir }}/../files/lambda/stream_handler"
    handler: handler.lambda_handler
    runtime: python3.12
    role: "{{ execution_role_arn }}"
    memory_size: 128
    timeout: 30
    environment_variables:
      STREAMOPS_POISON_ATTRIBUTE: poison
    log_retention_days: 7
    tags:
      team: data
  register: deployed

- name: Deploy for Graviton with a layer, X-Ray tracing, JSON logs and a concurrency cap
  streamops.dynamodb_lambda.stream_function:
    name: Lambda_demo_DynamoDB_stream
    src: "{{ playbook_dir }}/../files/lambda/stream_handler"
    handler: handler.lambda_handler
    runtime: python3.12
    role: "{{ execution_role_arn }}"
    architecture: arm64
    layers:
      - arn:aws:lambda:us-east-1:123456789012:layer:shared-libs:3
    tracing_mode: Active
    logging_config:
      log_format: JSON
      application_log_level: WARN
      system_log_level: WARN
    reserved_concurrency: 10
    ephemeral_storage: 1024

- name: Connect the function to two private subnets with one security group
  streamops.dynamodb_lambda.stream_function:
    name: Lambda_demo_DynamoDB_stream
    src: "{{ playbook_dir }}/../files/lambda/stream_handler"
    handler: handler.lambda_handler
    runtime: python3.12
    role: "{{ execution_role_arn }}"
    vpc_config:
      subnet_ids: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
      security_group_ids: [sg-0123456789abcdef0]

- name: Delete the function and its log group if this collection created them
  streamops.dynamodb_lambda.stream_function:
    name: Lambda_demo_DynamoDB_stream
    state: absent
"""

RETURN = r"""
function_arn:
  description: Unqualified ARN of the function; null when it does not exist (absent, or check mode before creation).
  returned: always
  type: str
  sample: arn:aws:lambda:us-east-1:123456789012:function:Lambda_demo_DynamoDB_stream
function_name:
  description: Name of the function.
  returned: always
  type: str
  sample: Lambda_demo_DynamoDB_stream
code_sha256:
  description: Base64 SHA-256 of the deployed code (with O(state=present), the archive's, which it equals).
  returned: when state is present
  type: str
  sample: 3Jz4cFqOKb0y2X0tN2i0o2bTTm0n1Gk3Vr8qvO8y1e4=
code_uploaded:
  description: Whether this run uploaded code (or would, in check mode).
  returned: when state is present
  type: bool
  sample: false
state:
  description: The function's C(State); null when it does not exist yet (check mode).
  returned: when state is present
  type: str
  sample: Active
last_update_status:
  description: The function's C(LastUpdateStatus); null when it does not exist yet (check mode).
  returned: when state is present
  type: str
  sample: Successful
runtime:
  description: Runtime of the function.
  returned: when state is present
  type: str
  sample: python3.12
wrapped_handler:
  description: With O(record_log), the handler the wrapper calls (O(handler)); null without it.
  returned: when state is present
  type: str
  sample: app.handler
handler:
  description: Handler of the function (with O(record_log), the wrapper's C(streamops_record_log.lambda_handler)).
  returned: when state is present
  type: str
  sample: handler.lambda_handler
role:
  description: Execution role ARN of the function.
  returned: when state is present
  type: str
  sample: arn:aws:iam::123456789012:role/Lambda_demo_DynamoDB_stream-role
description:
  description: Description of the function.
  returned: when state is present
  type: str
  sample: DynamoDB stream handler (streamops.dynamodb_lambda)
memory_size:
  description: Memory in MB.
  returned: when state is present
  type: int
  sample: 128
timeout:
  description: Timeout in seconds.
  returned: when state is present
  type: int
  sample: 30
environment_variables:
  description: Environment variables of the function.
  returned: when state is present
  type: dict
  sample: {"STREAMOPS_POISON_ATTRIBUTE": "poison"}
tags:
  description: Tags of the function.
  returned: when state is present
  type: dict
  sample: {"streamops:managed-by": "streamops.dynamodb_lambda"}
architecture:
  description: Instruction set of the function.
  returned: when state is present
  type: str
  sample: arm64
layers:
  description: Layer version ARNs of the function, in order.
  returned: when state is present
  type: list
  elements: str
  sample: ["arn:aws:lambda:us-east-1:123456789012:layer:shared-libs:3"]
tracing_mode:
  description: X-Ray tracing mode.
  returned: when state is present
  type: str
  sample: PassThrough
logging_config:
  description: Log format, levels (with C(JSON) only) and log group of the function.
  returned: when state is present
  type: dict
  sample: {"log_format": "JSON", "application_log_level": "WARN", "system_log_level": "INFO",
           "log_group": "/aws/lambda/Lambda_demo_DynamoDB_stream"}
reserved_concurrency:
  description: Reserved concurrent executions; null when none is reserved.
  returned: when state is present
  type: int
  sample: 10
ephemeral_storage:
  description: Size of C(/tmp) in MB.
  returned: when state is present
  type: int
  sample: 512
kms_key_arn:
  description: KMS key of the environment variables; null for Lambda's default key.
  returned: when state is present
  type: str
  sample: null
vpc:
  description: Subnets and security groups of the function (sorted), and whether IPv6 is allowed; empty lists when
    it is in no VPC.
  returned: when state is present
  type: dict
  sample: {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"],
           "ipv6_allowed_for_dual_stack": false}
vpc_id:
  description: ID of the VPC of the subnets; null when the function is in no VPC (or in check mode before creation).
  returned: when state is present
  type: str
  sample: vpc-0123456789abcdef0
waited_for_enis:
  description: Whether O(state=absent) found network interfaces Lambda made for the function and waited until they
    were gone.
  returned: when state is absent
  type: bool
  sample: false
alias_arn:
  description: ARN of O(alias) (the function's ARN qualified with it); null without O(alias).
  returned: when state is present
  type: str
  sample: arn:aws:lambda:us-east-1:123456789012:function:Lambda_demo_DynamoDB_stream:live
alias_version:
  description: Version O(alias) points at; null without O(alias), or in check mode when a version would be published.
  returned: when state is present
  type: str
  sample: "3"
log_group_name:
  description: Name of the function's log group.
  returned: always
  type: str
  sample: /aws/lambda/Lambda_demo_DynamoDB_stream
log_group_arn:
  description: ARN of the log group (without the trailing C(:*)); null when it does not exist.
  returned: always
  type: str
  sample: arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/Lambda_demo_DynamoDB_stream
log_retention_days:
  description: Retention of the log group in days; null when logs never expire.
  returned: when state is present
  type: int
  sample: 7
log_group_tags:
  description: Tags of the log group.
  returned: when state is present
  type: dict
  sample: {"streamops:managed-by": "streamops.dynamodb_lambda"}
package:
  description:
    - The archive built from O(src) (C(path) is null unless O(package_path) is given).
    - C(s3_bucket) and C(s3_key) name the object the code is uploaded to (null without O(s3_bucket)).
  returned: when state is present
  type: dict
  sample: {"path": "/home/me/.cache/streamops.dynamodb_lambda/fn.zip", "sha256": "3Jz4...", "size": 2211,
           "files": ["handler.py"], "unzipped_size": 5120, "requirements": null, "dependencies": [],
           "cached": false, "s3_bucket": null, "s3_key": null}
operations:
  description: The AWS write operations this run made (in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "lambda:CreateFunction"]
deleted:
  description: What O(state=absent) deleted (or would delete in check mode), as C(function <name>),
    C(log group <name>) and C(s3 object s3://<bucket>/<key>).
  returned: when state is absent
  type: list
  elements: str
  sample: ["function Lambda_demo_DynamoDB_stream", "log group /aws/lambda/Lambda_demo_DynamoDB_stream"]
not_owned:
  description: What exists but was left alone because it does not carry O(owner_tag).
  returned: when state is absent
  type: list
  elements: str
  sample: ["log group /aws/lambda/Lambda_demo_DynamoDB_stream (no tag streamops:managed-by=streamops.dynamodb_lambda)"]
"""

import os
import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import ROLE_ARN
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import build_arn
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import function_name_problem
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import log_group_arn_beside
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import unqualified_function_arn
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import code_s3
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import function_settings
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import PackageError
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import build_deployment_package
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import needs_bucket_problem
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import record_log_settings
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import write_if_changed
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import OWNER_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import missing_owner_tags
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import owner_tag_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import owns
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import tag_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import with_owner
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitFailed
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import is_iam_propagation_error
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import retry_until_deadline
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import wait_function_usable
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import wait_lambda_enis_gone

# The settings UpdateFunctionConfiguration changes: (API field, result/diff key).
CONFIG_FIELDS = (("Runtime", "runtime"), ("Handler", "handler"), ("Role", "role"), ("Description", "description"),
                 ("MemorySize", "memory_size"), ("Timeout", "timeout"))


class FunctionError(Exception):
    pass


# --- input ----------------------------------------------------------------------------------------------------

def settings_of(params):
    """The function settings of function_settings.DEFAULTS, from the module's options."""
    logging_config = params.get("logging_config") or {}
    settings = {key: params.get(key, default) for key, default in function_settings.DEFAULTS.items()
                if key in params}
    settings.update({"log_format": logging_config.get("log_format") or function_settings.DEFAULT_LOG_FORMAT,
                     "application_log_level": logging_config.get("application_log_level"),
                     "system_log_level": logging_config.get("system_log_level"),
                     "log_group": logging_config.get("log_group"),
                     "vpc": params.get("vpc_config")})
    return settings


# function_settings words its messages after the flat setting names; the module's options nest the logging ones.
SETTING_OPTIONS = {"vpc": "vpc_config",
                   "log_format": "logging_config.log_format",
                   "application_log_level": "logging_config.application_log_level",
                   "system_log_level": "logging_config.system_log_level",
                   "log_group": "logging_config.log_group"}


def requirements_value(value):
    """The requirements option as build_deployment_package takes it: None (auto), True, False or a path."""
    if value is None or value == "auto":
        return None
    if isinstance(value, bool):
        return value
    text = str(value)
    if text.lower() in ("true", "yes", "on"):
        return True
    if text.lower() in ("false", "no", "off"):
        return False
    return text


def validate(params, region=None):
    """Every problem with the input, each starting with the option at fault; no AWS call.

    region is the client's region, to check that layers are in it (None: not checked)."""
    problems = []
    problem = function_name_problem(params["name"])
    if problem:
        problems.append("name: " + problem)
    problems.extend(owner_tag_problems("owner_tag", params["owner_tag"]))
    problems.extend(function_settings.code_location_problems(params.get("s3_bucket"), params.get("s3_key_prefix")))
    eni_wait = params.get("eni_wait_timeout", function_settings.DEFAULT_ENI_WAIT_TIMEOUT)
    if isinstance(eni_wait, bool) or not isinstance(eni_wait, int) or not 0 <= eni_wait <= 7200:
        problems.append("eni_wait_timeout: must be 0-7200 seconds (got %r)" % (eni_wait,))
    if params["state"] == "absent":
        problems.extend(function_settings.vpc_problems("vpc_config", params.get("vpc_config")))
        return problems
    for option in ("src", "handler", "runtime", "role"):
        if not params[option]:
            problems.append("%s: required when state is present" % option)
    if params["role"] and not ROLE_ARN.match(params["role"]):
        problems.append("role: must be an IAM role ARN, arn:aws:iam::<account>:role/<name> (got %r)"
                        % (params["role"],))
    if len(params["description"] or "") > 256:
        problems.append("description: at most 256 characters (got %d)" % len(params["description"]))
    problems.extend(function_settings.core_problems({option: params[option] for option in (
        "memory_size", "timeout", "environment_variables", "log_retention_days")}))
    problems.extend(tag_problems("tags", params["tags"]))
    if params.get("record_log"):
        for key in sorted(set(params["environment_variables"]) & set(record_log_settings("")["environment"])):
            problems.append("environment_variables: %s is set by record_log (it carries the handler to the "
                            "record-log wrapper)" % key)
    if not 0 <= params["role_wait_timeout"] <= 3600:
        problems.append("role_wait_timeout: must be 0-3600 seconds (got %s)" % params["role_wait_timeout"])
    if not 1 <= params["wait_timeout"] <= 3600:
        problems.append("wait_timeout: must be 1-3600 seconds (got %s)" % params["wait_timeout"])
    role = ROLE_ARN.match(params["role"] or "")
    problems.extend(function_settings.problems(settings_of(params), region, role.group(1) if role else None,
                                               SETTING_OPTIONS))
    problems.extend(function_settings.alias_problems(params.get("alias"), params.get("alias_version")))
    requirements = params.get("requirements")
    if isinstance(requirements, (dict, list)) or (isinstance(requirements, str) and not requirements):
        problems.append("requirements: must be auto, true, false or the path of a requirements file (got %r)"
                        % (requirements,))
    return problems


def environment(params):
    """The variables as Lambda stores them: every value a string (YAML may have made 1 an int, yes a bool).

    With record_log, plus the one that carries the function's own handler to the wrapper."""
    env = {k: v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
           for k, v in params["environment_variables"].items()}
    if params.get("record_log"):
        env.update(record_log_settings(params["handler"])["environment"])
    return env


def deployed_handler(params):
    """The Handler Lambda is given: the wrapper's with record_log, else the function's own."""
    return record_log_settings(params["handler"])["handler"] if params.get("record_log") else params["handler"]


def desired_tags(params, current):
    """(tags the resource should carry, purge) with the owner tag always present and never purged."""
    if params["tags"] is None:
        return with_owner(current, params["owner_tag"]), False
    return with_owner(params["tags"], params["owner_tag"]), params["purge_tags"]


def apply_tags(current, wanted, purge):
    to_set, to_unset = compare_aws_tags(current or {}, wanted, purge)
    after = {k: v for k, v in dict(current or {}, **to_set).items() if k not in to_unset}
    return to_set, to_unset, after


# --- reads ----------------------------------------------------------------------------------------------------

def get_function(lam, name):
    """GetFunction: configuration, code location and tags in one call; None when the function does not exist."""
    try:
        return lam.get_function(aws_retry=True, FunctionName=name)
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


def describe_log_group(logs, name):
    """The log group's description (exact name), or None. Names are listed in order, so it leads its prefix."""
    kwargs = {"logGroupNamePrefix": name}
    while True:
        page = logs.describe_log_groups(aws_retry=True, **kwargs)
        for group in page.get("logGroups", []):
            if group["logGroupName"] == name:
                return group
            if group["logGroupName"] > name:
                return None
        if not page.get("nextToken"):
            return None
        kwargs["nextToken"] = page["nextToken"]


def group_arn(group):
    return group.get("logGroupArn") or re.sub(r":\*$", "", group.get("arn", ""))


def log_group_tags(logs, arn):
    """Tags of the log group by ARN; None when it does not exist."""
    try:
        return logs.list_tags_for_resource(aws_retry=True, resourceArn=arn).get("tags", {})
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


# --- present --------------------------------------------------------------------------------------------------

def function_view(conf, tags, settings=None):
    """The function as the result and the diff show it; settings as function_settings.current() spells them."""
    view = {key: conf.get(field) for field, key in CONFIG_FIELDS}
    view["environment_variables"] = (conf.get("Environment") or {}).get("Variables") or {}
    view["code_sha256"] = conf.get("CodeSha256")
    view["tags"] = tags
    if settings is not None:
        view.update(settings)
    return view


def ensure_log_group(module, logs, params, name, arn_if_created, ops):
    """Create or converge the log group; returns (before view or {}, after view, arn)."""
    group = describe_log_group(logs, name)
    retention = params["log_retention_days"]
    if group is None:
        tags, _purge = desired_tags(params, None)
        if not module.check_mode:
            logs.create_log_group(aws_retry=True, logGroupName=name, tags=tags)
        ops.append("logs:CreateLogGroup")
        if retention:
            if not module.check_mode:
                logs.put_retention_policy(aws_retry=True, logGroupName=name, retentionInDays=retention)
            ops.append("logs:PutRetentionPolicy")
        after = {"log_group_name": name, "retention_days": retention, "tags": tags}
        return {}, after, (arn_if_created if not module.check_mode else None)
    arn = group_arn(group)
    current_tags = log_group_tags(logs, arn) or {}
    before = {"log_group_name": name, "retention_days": group.get("retentionInDays"), "tags": current_tags}
    wanted, purge = desired_tags(params, current_tags)
    to_set, to_unset, after_tags = apply_tags(current_tags, wanted, purge)
    if group.get("retentionInDays") != retention:
        if retention:
            if not module.check_mode:
                logs.put_retention_policy(aws_retry=True, logGroupName=name, retentionInDays=retention)
            ops.append("logs:PutRetentionPolicy")
        else:
            if not module.check_mode:
                logs.delete_retention_policy(aws_retry=True, logGroupName=name)
            ops.append("logs:DeleteRetentionPolicy")
    if to_set:
        if not module.check_mode:
            logs.tag_resource(aws_retry=True, resourceArn=arn, tags=to_set)
        ops.append("logs:TagResource")
    if to_unset:
        if not module.check_mode:
            logs.untag_resource(aws_retry=True, resourceArn=arn, tagKeys=to_unset)
        ops.append("logs:UntagResource")
    return before, {"log_group_name": name, "retention_days": retention, "tags": after_tags}, arn


def checked_ready(lam, name, timeout):
    """Wait for Active / Successful: Lambda refuses the next update before that; a Failed state is an error with
    Lambda's reason."""
    try:
        return wait_function_usable(lam, name, timeout)
    except WaitFailed as exc:
        raise FunctionError(str(exc)) from None


def settled(lam, params, conf, needed):
    """The configuration once the function is ready, when *needed* by a later call or asked for with wait;
    otherwise the write's answer as it is (Pending / InProgress), for a later task to wait on."""
    if needed or params["wait"]:
        return checked_ready(lam, params["name"], params["wait_timeout"])
    return conf


def check_code(conf, sha, code):
    """Lambda reports the CodeSha256 of the object it read: another one than the package's means the object was
    replaced between the upload (or HeadObject) and Lambda's read."""
    if "S3Key" in code and conf.get("CodeSha256") != sha:
        raise FunctionError("s3_bucket: Lambda read code with CodeSha256 %s from s3://%s/%s, not the package's %s "
                            "(was the object replaced?)" % (conf.get("CodeSha256"), code["S3Bucket"], code["S3Key"],
                                                            sha))


def code_stage(module, s3, params, archive, package, ops, seen):
    """The stage() of ensure_function: with s3_bucket, the package's object (uploaded unless the bucket has it,
    HeadObject first), else the archive itself. Records the object in seen (for the diff)."""
    def stage():
        if s3 is None:
            return {"ZipFile": archive}
        bucket, key = package["s3_bucket"], package["s3_key"]
        found = code_s3.find_object(s3, bucket, key, package["sha256"], package["size"])
        seen.update(before={"bucket": bucket, "key": key} if found else {}, after={"bucket": bucket, "key": key})
        if not found:
            ops.append("s3:PutObject")
            if not module.check_mode:
                try:
                    code_s3.upload(s3, bucket, key, archive, package["sha256"], params["owner_tag"])
                except is_boto3_error_code("NoSuchBucket"):
                    raise FunctionError("s3_bucket: bucket %s does not exist (the module never creates it); create "
                                        "it in the function's region first" % bucket)
                except is_boto3_error_code("AccessDenied"):
                    raise FunctionError("s3_bucket: access denied writing s3://%s/%s: the identity running the "
                                        "module needs s3:PutObject and s3:PutObjectTagging on it" % (bucket, key))
        return code_s3.code_fields(bucket, key)
    return stage


def busy(conf):
    return conf.get("State") == "Pending" or conf.get("LastUpdateStatus") == "InProgress"


def ensure_function(module, lam, params, archive, sha, ops, stage=None):
    """Create or converge the function; returns (before view or {}, after view, final configuration or None).

    stage() gives the code's fields for CreateFunction / UpdateFunctionCode (the archive itself by default; see
    code_stage) and is called only when the code must go up, before any Lambda write."""
    name = params["name"]
    stage = stage or (lambda: {"ZipFile": archive})
    env = environment(params)
    wanted_config = {"Runtime": params["runtime"], "Handler": deployed_handler(params), "Role": params["role"],
                     "Description": params["description"] or "", "MemorySize": params["memory_size"],
                     "Timeout": params["timeout"]}
    wanted_settings = function_settings.desired(settings_of(params), name)
    found = get_function(lam, name)

    def with_role_retry(call, **kwargs):
        # A role created or changed seconds ago is refused for a while (IAM is eventually consistent): retry only that.
        return retry_until_deadline(lambda: call(aws_retry=True, **kwargs), is_iam_propagation_error,
                                    params["role_wait_timeout"])

    def put_concurrency(value, current_value):
        # Reserved concurrency is not part of the configuration: its own calls, which need no ready function.
        if value == current_value:
            return
        if value is None:
            ops.append("lambda:DeleteFunctionConcurrency")
            if not module.check_mode:
                lam.delete_function_concurrency(aws_retry=True, FunctionName=name)
        else:
            ops.append("lambda:PutFunctionConcurrency")
            if not module.check_mode:
                lam.put_function_concurrency(aws_retry=True, FunctionName=name, ReservedConcurrentExecutions=value)

    if found is None:
        tags, _purge = desired_tags(params, None)
        after = function_view(dict(wanted_config, Environment={"Variables": env}, CodeSha256=sha), tags,
                              wanted_settings)
        code = stage()
        ops.append("lambda:CreateFunction")
        if module.check_mode:
            put_concurrency(wanted_settings["reserved_concurrency"], None)
            return {}, after, None
        conf = with_role_retry(lam.create_function, FunctionName=name, Code=code, PackageType="Zip",
                               Publish=False, Environment={"Variables": env}, Tags=tags,
                               **dict(wanted_config, **function_settings.create_fields(wanted_settings)))
        # Reserved concurrency and an alias's PublishVersion are refused while the function is Pending.
        conf = settled(lam, params, conf, wanted_settings["reserved_concurrency"] is not None or bool(params["alias"]))
        check_code(conf, sha, code)
        put_concurrency(wanted_settings["reserved_concurrency"], None)
        return {}, after, conf

    conf = found["Configuration"]
    current_tags = found.get("Tags") or {}
    concurrency = found.get("Concurrency")
    if concurrency is None and wanted_settings["reserved_concurrency"] == 0:
        # A reservation of 0 is falsy to some endpoints, which then leave Concurrency out of GetFunction; only in
        # that case ask GetFunctionConcurrency, so the usual run keeps its single read.
        concurrency = lam.get_function_concurrency(aws_retry=True, FunctionName=name)
    current_settings = function_settings.current(conf, concurrency, name)
    before = function_view(conf, current_tags, current_settings)
    config_changes = {field: value for field, value in wanted_config.items() if conf.get(field) != value}
    if before["environment_variables"] != env:
        config_changes["Environment"] = {"Variables": env}
    settings_changed = function_settings.changed(current_settings, wanted_settings)
    config_changes.update(function_settings.configuration_fields(wanted_settings, settings_changed))
    architecture_changed = "architecture" in settings_changed
    # Architectures goes with the code (UpdateFunctionCode), so a new architecture uploads the code again.
    code_changed = conf.get("CodeSha256") != sha or architecture_changed
    wanted_tags, purge = desired_tags(params, current_tags)
    to_set, to_unset, after_tags = apply_tags(current_tags, wanted_tags, purge)
    after = function_view(dict(conf, **dict(wanted_config, Environment={"Variables": env}, CodeSha256=sha)),
                          after_tags, wanted_settings)
    # Uploaded (when it goes through S3) before any Lambda write, so a refused upload changes nothing.
    code = stage() if code_changed else None
    if config_changes:
        ops.append("lambda:UpdateFunctionConfiguration")
    if code_changed:
        ops.append("lambda:UpdateFunctionCode")
    if to_set:
        ops.append("lambda:TagResource")
    if to_unset:
        ops.append("lambda:UntagResource")
    if module.check_mode:
        put_concurrency(wanted_settings["reserved_concurrency"], current_settings["reserved_concurrency"])
        return before, after, conf
    arn = unqualified_function_arn(conf["FunctionArn"])
    # What follows an update and is refused while it is in progress: a reservation change, an alias's publish.
    needs_ready_after = (wanted_settings["reserved_concurrency"] != current_settings["reserved_concurrency"]
                         or bool(params["alias"]))
    if config_changes:
        if busy(conf):
            conf = checked_ready(lam, name, params["wait_timeout"])
        conf = with_role_retry(lam.update_function_configuration, FunctionName=name, **config_changes)
        if not code_changed:
            conf = settled(lam, params, conf, needs_ready_after)
    if code_changed:
        if busy(conf):
            conf = checked_ready(lam, name, params["wait_timeout"])
        conf = lam.update_function_code(aws_retry=True, FunctionName=name, Publish=False,
                                        Architectures=[wanted_settings["architecture"]], **code)
        conf = settled(lam, params, conf, needs_ready_after)
        check_code(conf, sha, code)
    put_concurrency(wanted_settings["reserved_concurrency"], current_settings["reserved_concurrency"])
    if to_set:
        lam.tag_resource(aws_retry=True, Resource=arn, Tags=to_set)
    if to_unset:
        lam.untag_resource(aws_retry=True, Resource=arn, TagKeys=to_unset)
    return before, after, conf


def ensure_alias(module, lam, params, conf, ops):
    """Keep params' alias on a published version; returns (before view or {}, after view, alias version)."""
    alias, name = params["alias"], params["name"]
    current = None
    if conf is not None:
        try:
            current = lam.get_alias(aws_retry=True, FunctionName=name, Name=alias)
        except is_boto3_error_code("ResourceNotFoundException"):
            current = None
    before = {"name": alias, "version": current["FunctionVersion"]} if current else {}
    target = params["alias_version"]
    if target is not None:
        target = str(target)
        published = None
        if conf is not None:
            try:
                published = lam.get_function_configuration(aws_retry=True, FunctionName=name, Qualifier=target)
            except is_boto3_error_code("ResourceNotFoundException"):
                published = None
        if published is None:
            raise FunctionError("alias_version: function %s has no published version %s" % (name, target))
    else:
        function_changed = any(op in ops for op in ("lambda:CreateFunction", "lambda:UpdateFunctionConfiguration",
                                                    "lambda:UpdateFunctionCode"))
        published = None
        if current and not function_changed:
            published = lam.get_function_configuration(aws_retry=True, FunctionName=name,
                                                       Qualifier=current["FunctionVersion"])
        if function_changed or function_settings.needs_new_version(conf or {}, published):
            ops.append("lambda:PublishVersion")
            # PublishVersion returns the latest version as it is when $LATEST has not changed since it.
            target = None if module.check_mode else \
                lam.publish_version(aws_retry=True, FunctionName=name)["Version"]
        else:
            target = current["FunctionVersion"]
    if current is None:
        ops.append("lambda:CreateAlias")
        if not module.check_mode:
            lam.create_alias(aws_retry=True, FunctionName=name, Name=alias, FunctionVersion=target)
    elif current["FunctionVersion"] != target:
        ops.append("lambda:UpdateAlias")
        if not module.check_mode:
            lam.update_alias(aws_retry=True, FunctionName=name, Name=alias, FunctionVersion=target)
    return before, {"name": alias, "version": target if target is not None else "(new version)"}, target


def run_present(module, lam, logs, params, archive, package, s3=None):
    name = params["name"]
    group_name = (params.get("logging_config") or {}).get("log_group") or "/aws/lambda/" + name
    sha = package["sha256"]
    partition, account = ROLE_ARN.match(params["role"]).groups()
    # The function runs in its role's account (Lambda refuses a role of another account).
    arn_if_created = build_arn(partition, "logs", lam.meta.region_name, account, "log-group:" + group_name)
    ops = []
    # The log group first, so Lambda never creates it without retention and tags.
    group_before, group_after, group_arn_value = ensure_log_group(module, logs, params, group_name, arn_if_created,
                                                                  ops)
    seen = {}
    fn_before, fn_after, conf = ensure_function(module, lam, params, archive, sha, ops,
                                                code_stage(module, s3, params, archive, package, ops, seen))
    alias_before = alias_after = alias_version = None
    if params.get("alias"):
        alias_before, alias_after, alias_version = ensure_alias(module, lam, params, conf, ops)
    result = {
        "changed": bool(ops), "operations": ops, "function_name": name,
        "function_arn": unqualified_function_arn(conf["FunctionArn"]) if conf else None,
        "code_sha256": conf.get("CodeSha256") if conf and not module.check_mode else sha,
        "code_uploaded": "lambda:CreateFunction" in ops or "lambda:UpdateFunctionCode" in ops,
        "state": conf.get("State") if conf else None,
        "last_update_status": conf.get("LastUpdateStatus") if conf else None,
        "log_group_name": group_name, "log_group_arn": group_arn_value,
        "log_retention_days": group_after["retention_days"], "log_group_tags": group_after["tags"],
        "package": package,
        "wrapped_handler": params["handler"] if params.get("record_log") else None,
        "alias_version": alias_version,
        "vpc_id": ((conf.get("VpcConfig") or {}).get("VpcId") or None) if conf else None,
        "alias_arn": (unqualified_function_arn(conf["FunctionArn"]) + ":" + params["alias"])
        if conf and params.get("alias") else None,
    }
    settings_keys = tuple(function_settings.desired({}, name))
    for key in ("runtime", "handler", "role", "description", "memory_size", "timeout", "environment_variables",
                "tags") + settings_keys:
        result[key] = fn_after[key]
    if conf and not module.check_mode:
        # What Lambda reports after the changes, not what was asked for (reserved concurrency has no field in the
        # configuration: what was put).
        final = function_view(conf, fn_after["tags"],
                              function_settings.current(conf, {"ReservedConcurrentExecutions":
                                                               fn_after["reserved_concurrency"]}, name))
        for key in ("runtime", "handler", "role", "description", "memory_size", "timeout",
                    "environment_variables") + settings_keys:
            result[key] = final[key]
    if module._diff:
        result["diff"] = {"before": {"function": fn_before, "log_group": group_before},
                          "after": {"function": fn_after, "log_group": group_after}}
        if params.get("alias"):
            result["diff"]["before"]["alias"] = alias_before
            result["diff"]["after"]["alias"] = alias_after
        if seen:
            result["diff"]["before"]["s3_object"] = seen["before"]
            result["diff"]["after"]["s3_object"] = seen["after"]
    return result


# --- absent ---------------------------------------------------------------------------------------------------

def run_absent(module, lam, logs, params, s3=None, ec2_client=None):
    """Delete the function and its log group (each only when owned); after a VPC function, wait for its ENIs.

    ec2_client makes the EC2 client, only called when there are network interfaces to wait for."""
    name = params["name"]
    vpc_subnets = function_settings.vpc_value(params.get("vpc_config"))["subnet_ids"]
    group_name = "/aws/lambda/" + name
    owner_tag = params["owner_tag"]
    ops, deleted, not_owned = [], [], []
    before, after = {}, {}

    found = get_function(lam, name)
    if found is not None:
        conf = found["Configuration"]
        # The function may write to a log group of its own choosing (LoggingConfig.LogGroup).
        group_name = (conf.get("LoggingConfig") or {}).get("LogGroup") or group_name
        tags = found.get("Tags") or {}
        before["function"] = function_view(conf, tags)
        # The function's own subnets: the ones Lambda made interfaces in, whatever the caller now asks for.
        vpc_subnets = sorted((conf.get("VpcConfig") or {}).get("SubnetIds") or []) or vpc_subnets
        if owns(tags, owner_tag):
            if not module.check_mode:
                try:
                    lam.delete_function(aws_retry=True, FunctionName=name)
                except is_boto3_error_code("ResourceNotFoundException"):
                    pass  # deleted meanwhile: the goal holds
            ops.append("lambda:DeleteFunction")
            deleted.append("function %s" % name)
        else:
            not_owned.append("function %s (no tag %s)" % (name, ", ".join(missing_owner_tags(tags, owner_tag))))
            after["function"] = before["function"]
        # The log group lives in the function's partition, region and account: its ARN needs no extra read.
        arn = log_group_arn_beside(conf["FunctionArn"], group_name)
        tags = log_group_tags(logs, arn)
        if not tags:
            # Not found, or found without tags (some endpoints answer {} for a missing group): tell them apart.
            group = describe_log_group(logs, group_name)
            tags = None if group is None else (tags or {})
    else:
        group = describe_log_group(logs, group_name)
        arn = group_arn(group) if group else None
        tags = log_group_tags(logs, arn) if group else None

    if tags is not None:
        before["log_group"] = {"log_group_name": group_name, "tags": tags}
        if owns(tags, owner_tag):
            if not module.check_mode:
                try:
                    logs.delete_log_group(aws_retry=True, logGroupName=group_name)
                except is_boto3_error_code("ResourceNotFoundException"):
                    pass
            ops.append("logs:DeleteLogGroup")
            deleted.append("log group %s" % group_name)
        else:
            not_owned.append("log group %s (no tag %s)" % (group_name, ", ".join(missing_owner_tags(tags, owner_tag))))
            after["log_group"] = before["log_group"]

    if s3 is not None:
        # The packages this collection uploaded for the function (owner tag), never the bucket or other objects.
        bucket = params["s3_bucket"]
        prefix = code_s3.function_prefix(params["s3_key_prefix"], name)
        owned, others = code_s3.owned_objects(s3, bucket, prefix, params["owner_tag"])
        if owned or others:
            before["s3_objects"] = sorted(owned + others)
            after["s3_objects"] = sorted(others)
        for key in owned:
            if not module.check_mode:
                code_s3.delete_object(s3, bucket, key)
            ops.append("s3:DeleteObject")
            deleted.append("s3 object s3://%s/%s" % (bucket, key))
        not_owned.extend("s3 object s3://%s/%s (no tag %s)" % (bucket, key, ", ".join(missing_owner_tags({}, owner_tag)))
                         for key in others)

    waited = False
    eni_timeout = params.get("eni_wait_timeout", function_settings.DEFAULT_ENI_WAIT_TIMEOUT)
    if vpc_subnets and "function" not in after and eni_timeout and not module.check_mode:
        # Before the execution role goes: Lambda deletes these interfaces with its permissions.
        ec2 = ec2_client() if ec2_client else module.client("ec2", retry_decorator=aws_retry())
        waited = wait_lambda_enis_gone(ec2, name, vpc_subnets, eni_timeout,
                                       function_settings.eni_filters(name, vpc_subnets)) > 0

    result = {"changed": bool(ops), "operations": ops, "deleted": deleted, "not_owned": not_owned,
              "function_name": name, "function_arn": None, "log_group_name": group_name,
              "log_group_arn": arn if "log_group" in after else None, "waited_for_enis": waited}
    if "function" in after:
        result["function_arn"] = unqualified_function_arn(found["Configuration"]["FunctionArn"])
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    return result


# --- main -----------------------------------------------------------------------------------------------------

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True, aliases=["function_name"]),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    src=dict(type="path"),
    exclude=dict(type="list", elements="str", default=[]),
    handler=dict(type="str"),
    runtime=dict(type="str"),
    role=dict(type="str"),
    description=dict(type="str", default=""),
    memory_size=dict(type="int", default=128),
    timeout=dict(type="int", default=3),
    environment_variables=dict(type="dict", default={}),
    tags=dict(type="dict"),
    purge_tags=dict(type="bool", default=True),
    owner_tag=dict(type="dict", default=dict(OWNER_TAG)),
    log_retention_days=dict(type="int"),
    package_path=dict(type="path"),
    role_wait_timeout=dict(type="int", default=120),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
    # No choices here: function_settings.problems() checks them and words every message after the option.
    architecture=dict(type="str", default=function_settings.DEFAULT_ARCHITECTURE),
    layers=dict(type="list", elements="str", default=[]),
    tracing_mode=dict(type="str", default=function_settings.DEFAULT_TRACING_MODE),
    logging_config=dict(type="dict", options=dict(
        log_format=dict(type="str", default=function_settings.DEFAULT_LOG_FORMAT),
        application_log_level=dict(type="str"),
        system_log_level=dict(type="str"),
        log_group=dict(type="str"),
    )),
    reserved_concurrency=dict(type="int"),
    ephemeral_storage=dict(type="int", default=function_settings.DEFAULT_EPHEMERAL_STORAGE),
    # The ARN of a key, not key material ('key' in the name makes validate-modules ask).
    kms_key_arn=dict(type="str", no_log=False),
    vpc_config=dict(type="dict", options=dict(
        subnet_ids=dict(type="list", elements="str", default=[]),
        security_group_ids=dict(type="list", elements="str", default=[]),
        ipv6_allowed_for_dual_stack=dict(type="bool", default=False),
    )),
    eni_wait_timeout=dict(type="int", default=function_settings.DEFAULT_ENI_WAIT_TIMEOUT),
    requirements=dict(type="raw", default="auto"),
    requirements_cache_dir=dict(type="path"),
    s3_bucket=dict(type="str"),
    # A prefix of object keys, not key material ('key' in the name makes validate-modules ask).
    s3_key_prefix=dict(type="str", default=function_settings.DEFAULT_S3_KEY_PREFIX, no_log=False),
    record_log=dict(type="bool", default=False),
    alias=dict(type="str"),
    alias_version=dict(type="str"),
)


def build_package(module):
    """Validate and build the archive (no AWS call); write package_path when given. Fails naming the option."""
    params = module.params
    try:
        # Dependencies for the function's runtime and architecture; a cached re-run runs no pip and gives the same
        # bytes, so the code is not uploaded again.
        built = build_deployment_package(params["src"], params["exclude"], params["handler"], params["runtime"],
                                         architecture=params["architecture"],
                                         requirements=requirements_value(params["requirements"]),
                                         cache_dir=params["requirements_cache_dir"],
                                         record_log=params["record_log"])
    except PackageError as exc:
        # build_deployment_package names its own options; the cache directory is requirements_cache_dir here.
        module.fail_json(msg=re.sub(r"^cache_dir:", "requirements_cache_dir:", str(exc)))
    except OSError as exc:
        module.fail_json(msg="src: cannot read %s: %s" % (params["src"], exc))
    if built["needs_s3"] and not params["s3_bucket"]:
        module.fail_json(msg=needs_bucket_problem(built["size"]))
    archive = built["data"]
    package = {"path": params["package_path"], "sha256": built["sha256"], "size": built["size"],
               "files": built["files"], "s3_bucket": params["s3_bucket"],
               "s3_key": code_s3.object_key(params["s3_key_prefix"], params["name"], built["sha256"])
               if params["s3_bucket"] else None}
    for key in ("unzipped_size", "requirements", "dependencies", "cached"):
        package[key] = built[key]
    if params["package_path"]:
        # A build artifact, not a managed resource: written in check mode too and never a change.
        try:
            write_if_changed(params["package_path"], archive)
        except OSError as exc:
            module.fail_json(msg="package_path: cannot write %s: %s" % (params["package_path"], exc))
    return archive, package


def s3_client(module):
    """An S3 client; path-style addressing on another endpoint than AWS's (the sandbox, LocalStack, MinIO), where
    <bucket>.<host> names no host."""
    extra = {}
    if module.params.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
        extra["config"] = {"s3": {"addressing_style": "path"}}
    return module.client("s3", retry_decorator=aws_retry(), **extra)


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    # The client's region, so a layer of another region fails here rather than at CreateFunction.
    problems = validate(params, module.region)
    if problems:
        module.fail_json(msg="; ".join(problems))
    archive = package = None
    if params["state"] == "present":
        archive, package = build_package(module)
    lam = module.client("lambda", retry_decorator=aws_retry())
    logs = module.client("logs", retry_decorator=aws_retry())
    s3 = s3_client(module) if params["s3_bucket"] else None
    try:
        if params["state"] == "present":
            result = run_present(module, lam, logs, params, archive, package, s3)
        else:
            result = run_absent(module, lam, logs, params, s3)
    except (FunctionError, WaitTimeout) as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="failed to manage function %s and its log group" % params["name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
