# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter event_pattern_errors: what is wrong with one event source mapping filter pattern, checked on the
controller so the pipelines role can reject it before anything is created (Jinja's from_json cannot be guarded:
a string that is not JSON stops the template instead of yielding an error message)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: event_pattern_errors
version_added: 0.1.0
short_description: Problems with a Lambda event filter pattern, as a list of messages
description:
  - Takes one filter pattern as M(streamops.dynamodb_lambda.stream_trigger) accepts it (a mapping, or a string
    holding JSON) and returns what Lambda would reject, without calling AWS. An empty list means valid.
  - Checks that it is a JSON object, that every field's value is a non-empty array of alternatives or a nested
    object (EventBridge pattern syntax; C($or) takes two or more patterns), and that its JSON text is at most
    4096 characters (Lambda's limit per pattern, measured on the compact form the module sends).
  - Matcher operators inside the arrays (C(prefix), C(numeric), ...) are left to AWS.
options:
  _input:
    description: The pattern.
    type: raw
    required: true
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: Reject bad filters before creating anything
  ansible.builtin.assert:
    that: filters | map('streamops.dynamodb_lambda.event_pattern_errors') | flatten | length == 0
"""

RETURN = r"""
_value:
  description: One message per problem, each naming where in the pattern it is; empty when the pattern is valid.
  type: list
  elements: str
"""

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.event_source_mapping import pattern_problems


def event_pattern_errors(pattern):
    """The module stream_trigger's own check of one pattern (module_utils/event_source_mapping.pattern_problems)."""
    return pattern_problems(pattern)


class FilterModule:
    def filters(self):
        return {"event_pattern_errors": event_pattern_errors}
