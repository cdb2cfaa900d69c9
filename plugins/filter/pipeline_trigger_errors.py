# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter pipeline_trigger_errors: what is wrong with the trigger settings of one pipeline entry, with the checks
the module stream_trigger runs (plugins/module_utils/event_source_mapping.settings_problems), each message naming
the pipeline field (trigger.<option>)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pipeline_trigger_errors
version_added: 0.1.0
short_description: Problems with the trigger settings of one pipeline description, as a list of messages
description:
  - >-
    Checks the C(trigger) mapping of one entry (defaults filled in) with the rules of the module
    C(streamops.dynamodb_lambda.stream_trigger): the ranges of Lambda's event source mapping settings, the starting
    position, the on-failure destination and KMS key ARNs, the metrics, the filter patterns and the tags. Returns
    one message per problem, each starting with the field (for example C(trigger.batch_size: must be between 1 and
    10000, got 0)). An empty list means valid.
options:
  _input:
    description: The entry's trigger mapping.
    type: dict
    required: true
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: Check the trigger of one entry
  ansible.builtin.assert:
    that: entry.trigger | streamops.dynamodb_lambda.pipeline_trigger_errors | length == 0
"""

RETURN = r"""
_value:
  description: One message per problem, each starting with C(trigger.<option>).
  type: list
  elements: str
"""

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import event_source_mapping as esm

# Options holding whole numbers: YAML or templates may hand them over as text.
_NUMBERS = tuple(option for option, _low, _high in esm.RANGES) + ("maximum_record_age", "wait_timeout")


def pipeline_trigger_errors(trigger):
    settings = dict(trigger or {})
    for option in _NUMBERS:
        value = settings.get(option)
        if isinstance(value, str):
            try:
                settings[option] = int(value)
            except ValueError:
                # The field check has named it already (must be a whole number).
                settings.pop(option)
    for option in ("on_failure_destination", "kms_key_arn", "tags"):
        if settings.get(option) in ("", None):
            settings.pop(option, None)
    return ["trigger." + problem for problem in esm.settings_problems(settings)]


class FilterModule:
    def filters(self):
        return {"pipeline_trigger_errors": pipeline_trigger_errors}
