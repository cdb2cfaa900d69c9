# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.streamops.dynamodb_lambda.plugins.filter.pipeline_role_vars import FilterModule
from ansible_collections.streamops.dynamodb_lambda.plugins.filter.pipeline_role_vars import pipeline_role_vars

ROOT = Path(__file__).resolve().parents[4]


def test_a_set_field_becomes_its_role_variable_and_a_null_one_is_left_out():
    fields = {"table_stream_table_name": "table_name", "stream_function_memory": "function_memory",
              "stream_trigger_batch_size": "trigger.batch_size", "stream_trigger_tags": "trigger.tags"}
    pipeline = {"table_name": "orders", "function_memory": None, "trigger": {"batch_size": 10, "tags": None}}
    assert pipeline_role_vars(pipeline, fields) == {"table_stream_table_name": "orders", "stream_trigger_batch_size": 10}


def test_false_zero_and_empty_values_are_set_not_left_out():
    fields = {"a": "enabled", "b": "count", "c": "tags", "d": "name"}
    assert pipeline_role_vars({"enabled": False, "count": 0, "tags": {}, "name": ""}, fields) == \
        {"a": False, "b": 0, "c": {}, "d": ""}


def test_a_missing_field_or_a_path_through_a_non_mapping_sets_nothing():
    fields = {"a": "missing", "b": "trigger.batch_size", "c": "name.first"}
    assert pipeline_role_vars({"trigger": None, "name": "x"}, fields) == {}


def test_one_field_can_feed_several_variables():
    fields = {"table_stream_tags": "tags", "execution_role_tags": "tags"}
    assert pipeline_role_vars({"tags": {"team": "a"}}, fields) == {"table_stream_tags": {"team": "a"},
                                                                   "execution_role_tags": {"team": "a"}}


@pytest.mark.parametrize("pipeline, fields, word", [(["x"], {}, "pipeline"), ({}, ["x"], "fields")])
def test_a_non_mapping_fails_naming_the_argument(pipeline, fields, word):
    with pytest.raises(AnsibleFilterError, match="pipeline_role_vars: %s must be a mapping" % word):
        pipeline_role_vars(pipeline, fields)


def test_the_playbooks_mapping_on_the_walkthrough_pipeline_sets_only_what_is_not_null():
    fields = json.loads((ROOT / "playbooks" / "vars" / "pipeline_roles.json").read_text())["__streamops_fields"]
    pipeline = {"table_name": "users_post", "function_name": "Lambda_demo_DynamoDB_stream", "function_memory": None,
                "trigger": {"batch_size": 100, "tags": None}}
    found = pipeline_role_vars(pipeline, fields)
    assert found["table_stream_table_name"] == found["stream_trigger_table_name"] == "users_post"
    assert found["stream_function_name"] == found["execution_role_function_name"] == "Lambda_demo_DynamoDB_stream"
    assert found["stream_trigger_batch_size"] == 100
    assert "stream_function_memory" not in found and "stream_trigger_tags" not in found


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {"pipeline_role_vars": pipeline_role_vars}
