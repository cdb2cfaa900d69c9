"""The pipelines role's message filters: fields named as the user wrote them, rules in words, values quoted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.streamops.dynamodb_lambda.plugins.filter.pipeline_field_errors import pipeline_field_errors
from ansible_collections.streamops.dynamodb_lambda.plugins.filter.pipeline_name_error import pipeline_name_error

ROOT = Path(__file__).resolve().parents[4]


def entry_spec():
    """The pipelines role's entry spec with its one template (the key spec) filled in."""
    data = yaml.safe_load((ROOT / "roles" / "pipelines" / "vars" / "main.yml").read_text())
    spec = data["__pipelines_entry_spec"]
    for key in ("table_hash_key", "table_range_key"):
        spec[key]["options"] = data["__pipelines_key_spec"]
    return spec


BASE = {"table_name": "orders", "function_name": "orders_fn"}


@pytest.mark.parametrize("entry,expected", [
    ({"tabel_name": "orders", "function_name": "f"}, ["unknown field tabel_name (did you mean table_name?)"]),
    ({**BASE, "tabel_name": "x"}, ["unknown field tabel_name (did you mean table_name?)"]),
    ({**BASE, "trigger": {"batchsize": 1}}, ["unknown field trigger.batchsize (did you mean trigger.batch_size?)"]),
    ({**BASE, "table_hash_key": {"nme": "id"}},
     ["unknown field table_hash_key.nme (did you mean table_hash_key.name?)"]),
    ({"function_name": "f"}, ["table_name: required field missing"]),
    ({**BASE, "view_type": "new_image"},
     ["view_type: must be one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, got 'new_image'"]),
    ({**BASE, "trigger": {"batch_size": "lots"}}, ["trigger.batch_size: must be a whole number, got 'lots'"]),
    ({**BASE, "trigger": {"metrics": ["ByteCount"]}}, ["trigger.metrics[0]: must be one of EventCount, got 'ByteCount'"]),
    ({**BASE, "table_create": "perhaps"}, ["table_create: must be true or false, got 'perhaps'"]),
    ({**BASE, "tags": ["a"]}, ["tags: must be a mapping, got ['a']"]),
    ({**BASE, "zzzzzz": 1}, None),  # no close match: the known fields are listed
    ({**BASE, "table_range_key": None, "trigger": {"batch_size": "10"}}, []),
])
def test_field_errors(entry, expected):
    errors = pipeline_field_errors(entry, entry_spec())
    if expected is None:
        assert len(errors) == 1 and errors[0].startswith("unknown field zzzzzz (known fields: "), errors
    else:
        assert errors == expected


@pytest.mark.parametrize("value,kind,expected", [
    ("Lambda demo", "function_name",
     "must be a Lambda function name (1-64 characters: letters, digits, '-' and '_'), got 'Lambda demo' (11 characters)"),
    ("ab", "table_name", "must be a DynamoDB table name (3-255 characters: letters, digits, '_', '-' and '.'), got 'ab'"
     " (2 characters)"),
    ("a b", "role_name", "must be an IAM role name (1-64 characters: letters, digits and +=,.@_-), got 'a b' (3 characters)"),
    ("my-queue", "on_failure_destination", "must be an SQS queue or SNS topic ARN, got 'my-queue'"),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/t", "stream_arn", "must be a DynamoDB stream ARN "
     "(arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>), got 'arn:aws:dynamodb:us-east-1:123456789012:"
     "table/t'"),
    (None, "stream_arn", "must be a DynamoDB stream ARN (arn:aws:dynamodb:<region>:<account>:table/<table>/stream/"
     "<label>), got nothing"),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/label", "stream_arn", ""),
    ("arn:aws:s3:::k", "kms_key_arn", "must be a KMS key ARN, got 'arn:aws:s3:::k'"),
    ("Lambda_demo_DynamoDB_stream", "function_name", ""),
    ("users_post", "table_name", ""),
    ("arn:aws:sqs:us-east-1:123456789012:q", "on_failure_destination", ""),
    ("arn:aws:iam::123456789012:policy/boundary", "permissions_boundary", ""),
])
def test_name_errors_state_the_rule_in_words(value, kind, expected):
    assert pipeline_name_error(value, kind) == expected
    assert not re.search(r"\^|\$|\{\d", pipeline_name_error(value, kind))


def forward_mapping() -> dict[str, str]:
    """Role variable -> pipeline field: __streamops_fields, which the playbooks' validate play gives the pipelines
    role, whose add_host sets each non-null field as its role variable on the pipeline's host."""
    mapping = json.loads((ROOT / "playbooks" / "vars" / "pipeline_roles.json").read_text())
    return mapping["__streamops_fields"]


def test_the_hosts_get_their_role_variables_from_the_one_mapping():
    """validate.yml passes __streamops_fields to the pipelines role, whose add_host applies pipeline_role_vars, and
    then loads the same mapping onto every pipeline host at once (a run_once include_vars, whatever the tags)."""
    play, mapping_play = yaml.safe_load((ROOT / "playbooks" / "validate.yml").read_text())
    assert "vars/pipeline_roles.json" in play["vars_files"]
    assert mapping_play["hosts"] == "streamops_pipelines" and mapping_play["tags"] == ["always"]
    (load,) = mapping_play["tasks"]
    assert load["ansible.builtin.include_vars"]["file"] == "vars/pipeline_roles.json" and load["run_once"] is True
    (entry,) = play["roles"]
    assert entry["vars"]["pipelines_role_variables"] == "{{ __streamops_fields }}"
    tasks = yaml.safe_load((ROOT / "roles" / "pipelines" / "tasks" / "main.yml").read_text())
    (add_host,) = [task for task in tasks if "ansible.builtin.add_host" in task]
    assert "pipeline_role_vars(pipelines_role_variables)" in add_host["ansible.builtin.add_host"]


def test_no_pipeline_field_reaches_a_role_through_vars_files():
    """vars_files would pass a null field as "" on ansible-core before 2.19, and vars_files are stronger than the
    host variables the fields become: no variable may be both."""
    mapping = json.loads((ROOT / "playbooks" / "vars" / "pipeline_roles.json").read_text())
    passed_through = [variable for variable, template in mapping.items()
                      if re.fullmatch(r"\{\{ streamops_pipeline\.[\w.]+ \}\}", str(template))]
    assert passed_through == []
    assert not set(forward_mapping()) & set(mapping)


def test_a_null_field_left_unset_gives_the_role_a_null_default():
    """An omitted (null) field leaves the role's default in place: that default must be null too, as on 2.19."""
    pipeline_defaults = yaml.safe_load((ROOT / "roles" / "pipelines" / "defaults" / "main.yml").read_text())
    defaults = pipeline_defaults["pipelines_defaults"]
    null_fields = {}
    for variable, field in forward_mapping().items():
        value = defaults
        for part in field.split("."):
            value = value.get(part, "required") if isinstance(value, dict) else value
        if value is None:
            null_fields[variable] = field
    assert "stream_trigger_tags" in null_fields and "stream_function_reserved_concurrency" in null_fields
    roles = ("table_stream", "execution_role", "stream_function", "stream_trigger", "stream_verify")
    for variable, field in null_fields.items():
        role = next(r for r in roles if variable.startswith(r + "_"))
        role_defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
        assert variable in role_defaults and role_defaults[variable] is None, (variable, field)
