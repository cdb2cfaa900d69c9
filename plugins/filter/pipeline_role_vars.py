# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter pipeline_role_vars: a pipeline's fields as the roles' variables, a null field left out."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pipeline_role_vars
version_added: 0.1.0
short_description: A pipeline's fields as role variables, leaving out the fields that are null
description:
  - Takes a pipeline (one expanded entry of C(streamops_pipelines)) and a mapping of role variable to pipeline field,
    and returns the role variables whose field is set. A field of a nested mapping is written with a dot
    (C(trigger.batch_size)).
  - A field that is null (or missing) is left out rather than given as null, so the role's own default applies.
    ansible-core before 2.19 renders a template that yields null as an empty string, which is neither unset nor
    what the role's argument spec expects.
options:
  _input:
    description: The pipeline, a mapping.
    type: dict
    required: true
  fields:
    description: Role variable -> pipeline field.
    type: dict
    required: true
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: Each pipeline as a host carrying its role variables
  ansible.builtin.add_host: >-
    {{ {'name': item.name, 'groups': 'pipelines'}
       | combine(item | streamops.dynamodb_lambda.pipeline_role_vars({'table_stream_table_name': 'table_name'})) }}
  loop: "{{ pipelines }}"
"""

RETURN = r"""
_value:
  description: Role variable -> the field's value, for each field that is not null.
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def field_value(pipeline, field):
    """The value at *field* (dotted) of *pipeline*, None when a part of the path is missing or null."""
    value = pipeline
    for part in field.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def pipeline_role_vars(pipeline, fields):
    if not isinstance(pipeline, Mapping):
        raise AnsibleFilterError("pipeline_role_vars: pipeline must be a mapping, got %s" % type(pipeline).__name__)
    if not isinstance(fields, Mapping):
        raise AnsibleFilterError("pipeline_role_vars: fields must be a mapping, got %s" % type(fields).__name__)
    found = {}
    for variable, field in fields.items():
        value = field_value(pipeline, field)
        if value is not None:
            found[variable] = value
    return found


class FilterModule:
    def filters(self):
        return {"pipeline_role_vars": pipeline_role_vars}
