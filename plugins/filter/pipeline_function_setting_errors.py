# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter pipeline_function_setting_errors: what is wrong with the function settings of one pipeline entry, with
the rules the module stream_function applies (plugins/module_utils/function_settings.py), each message naming the
pipeline field."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pipeline_function_setting_errors
version_added: 0.1.0
short_description: Problems with the function settings of one pipeline description, as a list of messages
description:
  - >-
    Checks C(function_memory), C(function_timeout), C(function_environment), C(log_retention_days),
    C(function_architecture), C(function_layers), C(function_tracing), C(function_log_format),
    C(function_application_log_level), C(function_system_log_level), C(function_reserved_concurrency),
    C(function_ephemeral_storage), C(function_kms_key_arn), C(function_vpc), C(function_alias),
    C(function_alias_version), C(function_s3_bucket) and C(function_s3_key_prefix) of one entry (defaults filled in)
    with the rules of
    the module C(streamops.dynamodb_lambda.stream_function), and returns one message per problem, each starting
    with the field (for example C(function_layers[0]: the layer is in region eu-west-1, ...)). An empty list means
    valid.
options:
  _input:
    description: The pipeline entry, defaults filled in.
    type: dict
    required: true
  region:
    description: The functions' region, to check the layers' region; null or empty does not check it.
    type: str
  package:
    description:
      - The result of M(streamops.dynamodb_lambda.lambda_package) for the entry's handler, to check that a package
        over Lambda's direct-upload limit has C(function_s3_bucket); null or empty does not check it.
    type: dict
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: Check the function settings of one entry for a function in us-east-1
  ansible.builtin.assert:
    that: entry | streamops.dynamodb_lambda.pipeline_function_setting_errors('us-east-1') | length == 0
"""

RETURN = r"""
_value:
  description: One message per problem, each starting with the field.
  type: list
  elements: str
"""

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import function_settings
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import needs_bucket_problem

# function_settings' setting -> the pipeline field that holds it.
FUNCTION_SETTING_FIELDS = {
    "architecture": "function_architecture",
    "layers": "function_layers",
    "tracing_mode": "function_tracing",
    "log_format": "function_log_format",
    "application_log_level": "function_application_log_level",
    "system_log_level": "function_system_log_level",
    "reserved_concurrency": "function_reserved_concurrency",
    "ephemeral_storage": "function_ephemeral_storage",
    "kms_key_arn": "function_kms_key_arn",
    "vpc": "function_vpc",
}


# The module's core options (memory, timeout, environment, log retention) -> the pipeline fields.
CORE_FIELDS = {
    "memory_size": "function_memory",
    "timeout": "function_timeout",
    "environment_variables": "function_environment",
    "log_retention_days": "log_retention_days",
}


def _number(value):
    """Values from YAML or templates may come as text: the field check has already refused what is no number."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def pipeline_function_setting_errors(entry, region=None, package=None):
    """Problems with the function settings of one entry (defaults filled in), each starting with its field; with
    the same rules as the module stream_function (plugins/module_utils/function_settings.py). region is the
    function's (None or empty: layers' regions are not checked); package is lambda_package's result for the
    entry's handler (None or empty: its size is not checked)."""
    settings = {}
    for setting, field in FUNCTION_SETTING_FIELDS.items():
        value = entry.get(field, function_settings.DEFAULTS[setting])
        # Values from YAML or templates may come as text: the field check has already refused what is no number.
        if setting in ("reserved_concurrency", "ephemeral_storage"):
            value = _number(value)
        settings[setting] = value
    core = {}
    for option, field in CORE_FIELDS.items():
        if field in entry:
            value = entry[field]
            core[option] = _number(value) if option != "environment_variables" else value
    return function_settings.core_problems(core, CORE_FIELDS) + \
        function_settings.problems(settings, region or None, None, FUNCTION_SETTING_FIELDS) + \
        function_settings.alias_problems(entry.get("function_alias"), entry.get("function_alias_version"),
                                         {"alias": "function_alias", "alias_version": "function_alias_version"}) + \
        code_location_errors(entry, package)


def code_location_errors(entry, package=None):
    """function_s3_bucket / function_s3_key_prefix, and a package too big to go without the bucket."""
    bucket = entry.get("function_s3_bucket") or None
    found = function_settings.code_location_problems(
        bucket, entry.get("function_s3_key_prefix", function_settings.DEFAULT_S3_KEY_PREFIX),
        {"s3_bucket": "function_s3_bucket", "s3_key_prefix": "function_s3_key_prefix"})
    size = (package or {}).get("size")
    if bucket is None and isinstance(size, int):
        problem = needs_bucket_problem(size, "function_s3_bucket")
        if problem:
            found.append(problem)
    return found


class FilterModule:
    def filters(self):
        return {"pipeline_function_setting_errors": pipeline_function_setting_errors}
