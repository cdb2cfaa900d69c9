# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter pipeline_field_errors: what is wrong with the fields of one entry of streamops_pipelines, in the words
of the pipeline description (field names as the user wrote them, values quoted, rules in words).

The pipelines role runs it on the controller before anything is created. validate_argument_spec is not used for
the entries: its messages name no field for a typo ("missing required arguments: table_name; tabel_name.
Supported parameters include: ..." reads as if the typo were required) and print choices as Python values."""

from __future__ import annotations

import difflib

DOCUMENTATION = r"""
name: pipeline_field_errors
version_added: 0.1.0
short_description: Problems with the fields of one pipeline description, as a list of messages
description:
  - >-
    Checks one mapping against an argument-spec-like description of its fields (C(type), C(required),
    C(choices), C(elements), C(options) for nested mappings) and returns one message per problem, each starting
    with the field as the user wrote it (for example C(trigger.batch_size), then the problem). An empty list
    means valid.
  - An unknown field is reported as C(unknown field tabel_name (did you mean table_name?)) when a known field is
    close enough; a required field that such a suggestion already points at is not reported again as missing.
  - A null value counts as not given (as in an argument spec), so it is only an error for a required field.
options:
  _input:
    description: The pipeline entry.
    type: raw
    required: true
  spec:
    description: The fields, as in an argument spec's C(options).
    type: dict
    required: true
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: Check one entry
  ansible.builtin.assert:
    that: entry | streamops.dynamodb_lambda.pipeline_field_errors(spec) | length == 0
"""

RETURN = r"""
_value:
  description: One message per problem, each starting with the field (or C(unknown field ...)).
  type: list
  elements: str
"""

from ansible.module_utils.common.validation import check_type_bool
from ansible.module_utils.common.validation import check_type_dict
from ansible.module_utils.common.validation import check_type_int
from ansible.module_utils.common.validation import check_type_list
from ansible.module_utils.common.validation import check_type_path
from ansible.module_utils.common.validation import check_type_raw
from ansible.module_utils.common.validation import check_type_str

# type -> (converter that raises TypeError/ValueError, the type in words)
_TYPES = {
    "str": (lambda v: check_type_str(v, allow_conversion=True), "a string"),
    "path": (check_type_path, "a path (a string)"),
    "int": (check_type_int, "a whole number"),
    "bool": (check_type_bool, "true or false"),
    "dict": (check_type_dict, "a mapping"),
    "list": (check_type_list, "a list"),
    "raw": (check_type_raw, "any value"),
}


def _shown(value):
    """The value as the user would write it: strings quoted, everything else as YAML-ish text."""
    if isinstance(value, str):
        return "'%s'" % value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _convert(value, field_spec):
    """(converted value, problem or None)."""
    kind = field_spec.get("type", "str")
    convert, words = _TYPES.get(kind, _TYPES["raw"])
    if kind == "str" and isinstance(value, (dict, list)):
        return None, "must be %s, got %s" % (words, "a mapping" if isinstance(value, dict) else "a list")
    try:
        return convert(value), None
    except (TypeError, ValueError):
        return None, "must be %s, got %s" % (words, _shown(value))


def _choice_problem(value, choices):
    if value in choices:
        return None
    return "must be one of %s, got %s" % (", ".join(str(c) for c in choices), _shown(value))


def _errors(entry, spec, prefix):
    errors = []
    unknown = [key for key in entry if key not in spec]
    suggested = set()
    for key in unknown:
        # Every known field is a candidate, given or not: "tabel_name" beside a "table_name" is still a typo of it.
        close = difflib.get_close_matches(str(key), list(spec), n=1)
        if close:
            suggested.add(close[0])
            errors.append("unknown field %s%s (did you mean %s%s?)" % (prefix, key, prefix, close[0]))
        else:
            errors.append("unknown field %s%s (known fields: %s)" % (prefix, key, ", ".join(sorted(spec))))
    for name, field_spec in spec.items():
        field_spec = field_spec or {}
        where = prefix + name
        value = entry.get(name)
        if value is None:
            if field_spec.get("required") and name not in suggested:
                errors.append("%s: required field missing" % where)
            continue
        converted, problem = _convert(value, field_spec)
        if problem:
            errors.append("%s: %s" % (where, problem))
            continue
        choices = field_spec.get("choices")
        if field_spec.get("type") == "list":
            for index, element in enumerate(converted):
                if field_spec.get("elements") not in (None, "raw"):
                    element, problem = _convert(element, {"type": field_spec["elements"]})
                    if problem:
                        errors.append("%s[%d]: %s" % (where, index, problem))
                        continue
                if choices and _choice_problem(element, choices):
                    errors.append("%s[%d]: %s" % (where, index, _choice_problem(element, choices)))
        elif choices and _choice_problem(converted, choices):
            errors.append("%s: %s" % (where, _choice_problem(converted, choices)))
        if field_spec.get("options") and isinstance(converted, dict):
            errors.extend(_errors(converted, field_spec["options"], where + "."))
    return errors


def pipeline_field_errors(entry, spec):
    if not isinstance(entry, dict):
        return ["must be a mapping of fields, got %s" % _shown(entry)]
    return _errors(entry, spec, "")


class FilterModule:
    def filters(self):
        return {"pipeline_field_errors": pipeline_field_errors}
