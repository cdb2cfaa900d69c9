# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A Lambda function's runtime settings beyond code and memory: the one home of their rules (no AWS calls).

Architecture, layers, tracing, logging format and levels, reserved concurrency, ephemeral storage, the KMS key
of the environment and the VPC (subnets and security groups). The module stream_function validates with these, the pipelines role checks pipeline fields
with them (through the filter plugins), and a unit test binds the roles' argument specs to them.

Rules and defaults (what AWS applies when a setting is not given, so a function deployed without them is unchanged):
https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

import re

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dependencies import ARCHITECTURES
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dependencies import DEFAULT_ARCHITECTURE

# Lambda's Architectures is a one-element list of these.
ARCHITECTURE_CHOICES = tuple(ARCHITECTURES)
# A function may use at most 5 layers, applied in the order given.
MAX_LAYERS = 5
TRACING_MODES = ("Active", "PassThrough")
DEFAULT_TRACING_MODE = "PassThrough"
LOG_FORMATS = ("Text", "JSON")
DEFAULT_LOG_FORMAT = "Text"
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
# With LogFormat JSON and no level given, Lambda applies INFO to both.
DEFAULT_LOG_LEVEL = "INFO"
EPHEMERAL_STORAGE_RANGE = (512, 10240)
DEFAULT_EPHEMERAL_STORAGE = 512
# 0 stops every invocation; the upper bound is the account's unreserved share, which only Lambda knows.
MIN_RESERVED_CONCURRENCY = 0

# arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>
LAYER_VERSION_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*):lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9_-]{1,140}):(\d+)$")
KMS_KEY_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*):kms:([a-z0-9-]+):(\d{12}):key/[a-zA-Z0-9-]+$")
# VpcConfig: at most 16 subnets and 5 security groups, IDs of 8 or 17 characters after the prefix
# (https://docs.aws.amazon.com/lambda/latest/api/API_VpcConfig.html,
# https://docs.aws.amazon.com/inspector/v2/APIReference/API_LambdaVpcConfig.html).
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
SUBNET_ID = re.compile(r"^subnet-([a-z0-9]{8}|[a-z0-9]{17})$")
SECURITY_GROUP_ID = re.compile(r"^sg-([a-z0-9]{8}|[a-z0-9]{17})$")
# No VPC: what Lambda applies without VpcConfig, and what empty lists return a function to.
NO_VPC = {"subnet_ids": [], "security_group_ids": [], "ipv6_allowed_for_dual_stack": False}

# The settings as the module's options, their defaults, and the words used in messages.
DEFAULTS = {
    "architecture": DEFAULT_ARCHITECTURE,
    "layers": [],
    "tracing_mode": DEFAULT_TRACING_MODE,
    "log_format": DEFAULT_LOG_FORMAT,
    "application_log_level": None,
    "system_log_level": None,
    "log_group": None,
    "reserved_concurrency": None,
    "ephemeral_storage": DEFAULT_EPHEMERAL_STORAGE,
    "kms_key_arn": None,
    # None or empty lists: no VPC (an existing VPC configuration is removed).
    "vpc": None,
}


def _choice(option, value, choices):
    if value in choices:
        return None
    return "%s: must be one of %s (got %r)" % (option, ", ".join(choices), value)


def layer_problems(option, layers, region=None, partition=None):
    """Problems with a list of layer version ARNs for a function in *region* / *partition* (None: not checked)."""
    problems = []
    if not isinstance(layers, list):
        return ["%s: must be a list of layer version ARNs (got %r)" % (option, layers)]
    if len(layers) > MAX_LAYERS:
        problems.append("%s: at most %d layers (got %d)" % (option, MAX_LAYERS, len(layers)))
    if len(set(layers)) != len(layers):
        problems.append("%s: a layer is listed twice (got %r)" % (option, layers))
    for index, arn in enumerate(layers):
        match = LAYER_VERSION_ARN.match(arn) if isinstance(arn, str) else None
        where = "%s[%d]" % (option, index)
        if not match:
            problems.append("%s: must be a layer version ARN, arn:aws:lambda:<region>:<account>:layer:<name>:<version>"
                            " (got %r)" % (where, arn))
            continue
        # Lambda only attaches a layer of the function's own region (and so partition).
        if region and match.group(2) != region:
            problems.append("%s: the layer is in region %s, the function in %s; a layer must be in the function's "
                            "region (got %r)" % (where, match.group(2), region, arn))
        elif partition and match.group(1) != partition:
            problems.append("%s: the layer is in partition %s, the function in %s (got %r)"
                            % (where, match.group(1), partition, arn))
    return problems


def vpc_problems(option, vpc):
    """Problems with a VPC configuration (subnet_ids, security_group_ids, ipv6_allowed_for_dual_stack; None: no VPC),
    each starting with *option* or one of its keys."""
    if vpc is None:
        return []
    if not isinstance(vpc, dict):
        return ["%s: must be a mapping with subnet_ids and security_group_ids (got %r)" % (option, vpc)]
    found = []
    unknown = sorted(set(vpc) - set(NO_VPC))
    if unknown:
        found.append("%s: unknown key %s; known: %s" % (option, ", ".join(map(str, unknown)), ", ".join(NO_VPC)))
    lists = {}
    for key, pattern, limit, words in (("subnet_ids", SUBNET_ID, MAX_SUBNETS, "a subnet ID, subnet-<8 or 17 "
                                        "letters or digits>"),
                                       ("security_group_ids", SECURITY_GROUP_ID, MAX_SECURITY_GROUPS,
                                        "a security group ID, sg-<8 or 17 letters or digits>")):
        where = "%s.%s" % (option, key)
        values = vpc.get(key)
        if values is None:
            values = []
        if not isinstance(values, list):
            found.append("%s: must be a list of IDs (got %r)" % (where, values))
            return found
        if len(values) > limit:
            found.append("%s: at most %d (got %d)" % (where, limit, len(values)))
        if len(set(map(str, values))) != len(values):
            found.append("%s: an ID is listed twice (got %r)" % (where, values))
        for index, value in enumerate(values):
            if not (isinstance(value, str) and pattern.match(value)):
                found.append("%s[%d]: must be %s (got %r)" % (where, index, words, value))
        lists[key] = values
    # Lambda needs both or neither: a subnet without a security group (or the reverse) is refused.
    if lists["subnet_ids"] and not lists["security_group_ids"]:
        found.append("%s.security_group_ids: at least one security group is needed with subnets (got %r)"
                     % (option, lists["subnet_ids"]))
    if lists["security_group_ids"] and not lists["subnet_ids"]:
        found.append("%s.subnet_ids: at least one subnet is needed with security groups (got %r)"
                     % (option, lists["security_group_ids"]))
    ipv6 = vpc.get("ipv6_allowed_for_dual_stack")
    if ipv6 is not None and not isinstance(ipv6, bool):
        found.append("%s.ipv6_allowed_for_dual_stack: must be true or false (got %r)" % (option, ipv6))
    elif ipv6 and not lists["subnet_ids"]:
        found.append("%s.ipv6_allowed_for_dual_stack: only with subnets (got true without them)" % option)
    return found


def vpc_value(vpc):
    """The VPC configuration as compared: sorted lists (Lambda keeps no order), False for a missing flag."""
    vpc = vpc or {}
    subnets = sorted(vpc.get("subnet_ids") or [])
    return {"subnet_ids": subnets, "security_group_ids": sorted(vpc.get("security_group_ids") or []),
            "ipv6_allowed_for_dual_stack": bool(vpc.get("ipv6_allowed_for_dual_stack")) and bool(subnets)}


def problems(settings, region=None, partition=None, names=None):
    """Every problem with *settings* (the option names of DEFAULTS), each starting with the option at fault.

    names maps an option to the word to use in its messages (a role variable or a pipeline field)."""
    names = names or {}

    def name(option):
        return names.get(option, option)

    found = []
    for option, choices in (("architecture", ARCHITECTURE_CHOICES), ("tracing_mode", TRACING_MODES),
                            ("log_format", LOG_FORMATS)):
        problem = _choice(name(option), settings.get(option), choices)
        if problem:
            found.append(problem)
    found.extend(layer_problems(name("layers"), settings.get("layers") or [], region, partition))
    json_format = settings.get("log_format") == "JSON"
    for option, choices in (("application_log_level", APPLICATION_LOG_LEVELS),
                            ("system_log_level", SYSTEM_LOG_LEVELS)):
        value = settings.get(option)
        if value is None:
            continue
        if not json_format:
            # Lambda refuses a log level with LogFormat Text (InvalidParameterValueException).
            found.append("%s: a log level needs %s JSON (got %r with %r)"
                         % (name(option), name("log_format"), value, settings.get("log_format")))
        else:
            problem = _choice(name(option), value, choices)
            if problem:
                found.append(problem)
    group = settings.get("log_group")
    if group is not None and not re.match(r"^[\.\-_/#A-Za-z0-9]{1,512}$", str(group)):
        found.append("%s: must be a CloudWatch Logs group name (got %r)" % (name("log_group"), group))
    concurrency = settings.get("reserved_concurrency")
    if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                    or concurrency < MIN_RESERVED_CONCURRENCY):
        found.append("%s: must be a whole number >= %d, or null for no reservation (got %r)"
                     % (name("reserved_concurrency"), MIN_RESERVED_CONCURRENCY, concurrency))
    storage = settings.get("ephemeral_storage")
    low, high = EPHEMERAL_STORAGE_RANGE
    if isinstance(storage, bool) or not isinstance(storage, int) or not low <= storage <= high:
        found.append("%s: must be %d-%d MB (got %r)" % (name("ephemeral_storage"), low, high, storage))
    key = settings.get("kms_key_arn")
    if key:
        match = KMS_KEY_ARN.match(key) if isinstance(key, str) else None
        if not match:
            found.append("%s: must be a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>, or empty for Lambda's "
                         "default key (got %r)" % (name("kms_key_arn"), key))
        elif partition and match.group(1) != partition:
            found.append("%s: the key is in partition %s, the function in %s (got %r)"
                         % (name("kms_key_arn"), match.group(1), partition, key))
    found.extend(vpc_problems(name("vpc"), settings.get("vpc")))
    return found


# --- core settings: memory, timeout, environment, log retention ---------------------------------------------

MEMORY_RANGE = (128, 10240)
TIMEOUT_RANGE = (1, 900)
# The retention periods CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
# Lambda's pattern for variable names, [a-zA-Z]([a-zA-Z0-9_])+: at least two characters.
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]+$")
# Lambda sets these itself and rejects them in a function's environment.
RESERVED_ENVIRONMENT = re.compile(r"^(_HANDLER|_X_AMZN_TRACE_ID|AWS_REGION|AWS_DEFAULT_REGION|AWS_EXECUTION_ENV|"
                                  r"AWS_LAMBDA_.*|AWS_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|"
                                  r"AWS_SESSION_TOKEN|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR|AWS_XRAY_.*)$")


def core_problems(values, names=None):
    """Problems with memory_size, timeout, environment_variables and log_retention_days (those present in
    *values*), each starting with the option (or its word in *names*)."""
    names = names or {}

    def name(option):
        return names.get(option, option)

    found = []
    for option, (low, high), unit in (("memory_size", MEMORY_RANGE, "MB"), ("timeout", TIMEOUT_RANGE, "seconds")):
        value = values.get(option)
        if option in values and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            found.append("%s: must be %d-%d %s (got %s)" % (name(option), low, high, unit, value))
    for key, value in (values.get("environment_variables") or {}).items():
        if not ENVIRONMENT_NAME.match(str(key)):
            found.append("%s: %r is not a valid name (a letter, then one or more letters, digits, _)"
                         % (name("environment_variables"), key))
        elif RESERVED_ENVIRONMENT.match(key):
            found.append("%s: %s is reserved by Lambda (it sets it itself)" % (name("environment_variables"), key))
        if isinstance(value, (dict, list)) or value is None:
            found.append("%s: the value of %s must be a string" % (name("environment_variables"), key))
    retention = values.get("log_retention_days")
    if retention is not None and retention not in LOG_RETENTION_DAYS:
        found.append("%s: must be one of the periods CloudWatch Logs accepts, %s, or null (got %s)"
                     % (name("log_retention_days"), ", ".join(str(d) for d in LOG_RETENTION_DAYS), retention))
    return found


# --- plan: what the function should carry, what it carries, and how to get there ----------------------------

def desired(settings, function_name):
    """The settings as comparable values (the keys of current())."""
    log_format = settings.get("log_format") or DEFAULT_LOG_FORMAT
    logging = {"log_format": log_format,
               "log_group": settings.get("log_group") or "/aws/lambda/" + function_name}
    if log_format == "JSON":
        logging["application_log_level"] = settings.get("application_log_level") or DEFAULT_LOG_LEVEL
        logging["system_log_level"] = settings.get("system_log_level") or DEFAULT_LOG_LEVEL
    return {
        "architecture": settings.get("architecture") or DEFAULT_ARCHITECTURE,
        "layers": list(settings.get("layers") or []),
        "tracing_mode": settings.get("tracing_mode") or DEFAULT_TRACING_MODE,
        "logging_config": logging,
        "ephemeral_storage": settings.get("ephemeral_storage") or DEFAULT_EPHEMERAL_STORAGE,
        "kms_key_arn": settings.get("kms_key_arn") or None,
        "reserved_concurrency": settings.get("reserved_concurrency"),
        "vpc": vpc_value(settings.get("vpc")),
    }


def current(conf, concurrency, function_name):
    """The settings of GetFunction's Configuration and Concurrency, as desired() spells them."""
    logging_conf = conf.get("LoggingConfig") or {}
    logging = {"log_format": logging_conf.get("LogFormat") or DEFAULT_LOG_FORMAT,
               "log_group": logging_conf.get("LogGroup") or "/aws/lambda/" + function_name}
    if logging["log_format"] == "JSON":
        logging["application_log_level"] = logging_conf.get("ApplicationLogLevel") or DEFAULT_LOG_LEVEL
        logging["system_log_level"] = logging_conf.get("SystemLogLevel") or DEFAULT_LOG_LEVEL
    return {
        "architecture": (conf.get("Architectures") or [DEFAULT_ARCHITECTURE])[0],
        "layers": [layer["Arn"] for layer in conf.get("Layers") or []],
        "tracing_mode": (conf.get("TracingConfig") or {}).get("Mode") or DEFAULT_TRACING_MODE,
        "logging_config": logging,
        "ephemeral_storage": (conf.get("EphemeralStorage") or {}).get("Size") or DEFAULT_EPHEMERAL_STORAGE,
        "kms_key_arn": conf.get("KMSKeyArn") or None,
        "reserved_concurrency": (concurrency or {}).get("ReservedConcurrentExecutions"),
        "vpc": vpc_value({"subnet_ids": (conf.get("VpcConfig") or {}).get("SubnetIds"),
                          "security_group_ids": (conf.get("VpcConfig") or {}).get("SecurityGroupIds"),
                          "ipv6_allowed_for_dual_stack": (conf.get("VpcConfig") or {}).get("Ipv6AllowedForDualStack")}),
    }


# --- the function's network interfaces in its VPC -----------------------------------------------------------

# Lambda describes the Hyperplane ENIs it creates for a function as "AWS Lambda VPC ENI-<function name>..."; after the
# function is deleted (or leaves its VPC) Lambda deletes them, which can take up to 20 minutes, with the
# permissions of the function's execution role
# (https://docs.aws.amazon.com/lambda/latest/dg/foundation-networking.html#foundation-nw-eni-delete).
ENI_DESCRIPTION_PREFIX = "AWS Lambda VPC ENI-"
# The Terraform AWS provider waits at least 45 minutes for them (the Lambda team's P99 is about 35 minutes).
DEFAULT_ENI_WAIT_TIMEOUT = 2700


def eni_filters(function_name, subnet_ids):
    """DescribeNetworkInterfaces filters for the ENIs Lambda created for *function_name* in *subnet_ids*."""
    filters = [{"Name": "description", "Values": [ENI_DESCRIPTION_PREFIX + function_name + "*"]}]
    if subnet_ids:
        filters.append({"Name": "subnet-id", "Values": list(subnet_ids)})
    return filters


def changed(before, after):
    """The settings that differ, in a fixed order."""
    return [key for key in after if before.get(key) != after[key]]


def _logging_api(logging):
    out = {"LogFormat": logging["log_format"], "LogGroup": logging["log_group"]}
    if logging["log_format"] == "JSON":
        out["ApplicationLogLevel"] = logging["application_log_level"]
        out["SystemLogLevel"] = logging["system_log_level"]
    return out


def _vpc_api(vpc):
    # Empty lists detach the function from its VPC
    # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#vpc-configuring-api).
    out = {"SubnetIds": vpc["subnet_ids"], "SecurityGroupIds": vpc["security_group_ids"]}
    if vpc["subnet_ids"]:
        out["Ipv6AllowedForDualStack"] = vpc["ipv6_allowed_for_dual_stack"]
    return out


# UpdateFunctionConfiguration / CreateFunction fields of each setting. Architecture goes with the code
# (CreateFunction, UpdateFunctionCode: https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html)
# and reserved concurrency has its own call (PutFunctionConcurrency / DeleteFunctionConcurrency).
_CONFIG_API = {
    "layers": lambda v: {"Layers": v},
    "tracing_mode": lambda v: {"TracingConfig": {"Mode": v}},
    "logging_config": lambda v: {"LoggingConfig": _logging_api(v)},
    "ephemeral_storage": lambda v: {"EphemeralStorage": {"Size": v}},
    # "" returns the environment to Lambda's default key.
    "kms_key_arn": lambda v: {"KMSKeyArn": v or ""},
    "vpc": lambda v: {"VpcConfig": _vpc_api(v)},
}
CONFIGURATION_SETTINGS = tuple(_CONFIG_API)


def create_fields(wanted):
    """CreateFunction's fields for the settings (all but reserved concurrency)."""
    fields = {"Architectures": [wanted["architecture"]]}
    for key, api in _CONFIG_API.items():
        if key == "kms_key_arn" and not wanted[key]:
            continue
        if key == "layers" and not wanted[key]:
            continue
        if key == "vpc" and not wanted[key]["subnet_ids"]:
            continue
        fields.update(api(wanted[key]))
    return fields


def configuration_fields(wanted, keys):
    """UpdateFunctionConfiguration's fields for the changed *keys*."""
    fields = {}
    for key in keys:
        if key in _CONFIG_API:
            fields.update(_CONFIG_API[key](wanted[key]))
    return fields


# --- code location: a bucket to upload the package to -------------------------------------------------------

# A package over Lambda's direct-upload limit (dependencies.DIRECT_UPLOAD_LIMIT) must come from S3: an object in a
# bucket of the function's region (API_FunctionCode.html, S3Bucket). General purpose bucket names: 3-63 lowercase
# letters, digits, '.' and '-', starting and ending with a letter or digit, not shaped like an IP address
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
S3_BUCKET_NAME = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Object keys are at most 1024 bytes; the collection adds <function name>/<64 hex digits>.zip (at most 133).
DEFAULT_S3_KEY_PREFIX = "streamops.dynamodb_lambda/"
MAX_S3_KEY_PREFIX = 1024 - (64 + 1 + 64 + 4)


def code_location_problems(bucket, prefix, names=None):
    """Problems with the bucket (None: no bucket) and key prefix the package is uploaded with."""
    names = names or {}
    found = []
    if bucket is not None and not (isinstance(bucket, str) and S3_BUCKET_NAME.match(bucket)):
        found.append("%s: must be an S3 bucket name (3-63 lowercase letters, digits, '.' and '-', starting and "
                     "ending with a letter or digit) (got %r)" % (names.get("s3_bucket", "s3_bucket"), bucket))
    if prefix is not None:
        if not isinstance(prefix, str):
            found.append("%s: must be a string (got %r)" % (names.get("s3_key_prefix", "s3_key_prefix"), prefix))
        elif len(prefix.encode("utf-8")) > MAX_S3_KEY_PREFIX or prefix.startswith("/"):
            found.append("%s: must be at most %d bytes and not start with '/' (got %r)"
                         % (names.get("s3_key_prefix", "s3_key_prefix"), MAX_S3_KEY_PREFIX, prefix))
    return found


# --- alias: a name for a published version, what a trigger may target ---------------------------------------

# Alias names: 1-128 letters, digits, '-' and '_', not only digits (that would read as a version).
# https://docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html
ALIAS_NAME = re.compile(r"^(?![0-9]+$)[a-zA-Z0-9_-]{1,128}$")
VERSION = re.compile(r"^[0-9]+$")
# What a published version freezes (PublishVersion copies $LATEST's code and configuration): $LATEST needs a new
# version when one of these differs from the aliased version's.
VERSIONED_FIELDS = ("CodeSha256", "Runtime", "Handler", "Role", "Description", "MemorySize", "Timeout",
                    "Environment", "Layers", "Architectures", "TracingConfig", "LoggingConfig", "EphemeralStorage",
                    "KMSKeyArn", "VpcConfig")


def alias_problems(alias, version, names=None):
    names = names or {}
    found = []
    if alias is not None and not (isinstance(alias, str) and ALIAS_NAME.match(alias)):
        found.append("%s: must be an alias name, 1-128 letters, digits, '-' and '_', not only digits (got %r)"
                     % (names.get("alias", "alias"), alias))
    if version is not None:
        if not VERSION.match(str(version)):
            found.append("%s: must be a published version number (got %r)"
                         % (names.get("alias_version", "alias_version"), version))
        elif alias is None:
            found.append("%s: needs %s (got %r without it)" % (names.get("alias_version", "alias_version"),
                                                               names.get("alias", "alias"), version))
    return found


def needs_new_version(latest, published):
    """Whether $LATEST differs from the published version's configuration in anything a version freezes."""
    if published is None:
        return True

    def norm(conf, field):
        value = conf.get(field)
        if field == "Layers":
            return [layer.get("Arn") for layer in value or []]
        if field == "Environment":
            return (value or {}).get("Variables") or {}
        if field == "VpcConfig":
            value = value or {}
            return vpc_value({"subnet_ids": value.get("SubnetIds"), "security_group_ids": value.get("SecurityGroupIds"),
                              "ipv6_allowed_for_dual_stack": value.get("Ipv6AllowedForDualStack")})
        return value
    return any(norm(latest, f) != norm(published, f) for f in VERSIONED_FIELDS)
