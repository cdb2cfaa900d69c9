"""What a user meets in the first hour with the playbooks: an undefined pipelines variable, a typo in a field, a bad
name, an error from a role, each through playbooks/setup.yml as a user's own playbook imports it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"


def text(proc: Any) -> str:
    """Output with whitespace collapsed: the yaml callback wraps long messages."""
    return " ".join((proc.stdout + proc.stderr).split())


def importing_setup(tmp_path: Path, pipelines: Any) -> Path:
    """A user's playbook that imports the collection's setup with its own pipelines value (a template or a list)."""
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- name: Set up my pipelines\n"
        "  ansible.builtin.import_playbook: streamops.dynamodb_lambda.setup\n"
        "  vars:\n"
        f"    streamops_pipelines: {json.dumps(pipelines)}\n")
    return playbook


def nothing_created(aws: Any) -> None:
    assert aws("dynamodb").list_tables()["TableNames"] == []
    assert aws("lambda").list_functions()["Functions"] == []
    assert aws("iam").list_roles()["Roles"] == []


@pytest.mark.parametrize("pipelines,undefined", [
    ("{{ my_pipelines }}", "my_pipelines"),
    ([{"table_name": "orders", "function_name": "orders_fn"},
      {"table_name": "audit", "function_name": "{{ audit_function }}"}], "audit_function"),
], ids=["whole_value", "one_field_of_one_entry"])
def test_an_undefined_pipelines_value_fails_naming_it_and_writes_nothing(run_playbook, aws, sandbox, tmp_path,
                                                                         pipelines, undefined):
    sandbox.reset_stats()
    proc = run_playbook(importing_setup(tmp_path, pipelines))
    assert proc.returncode != 0, proc.stdout[-4000:]
    assert f"'{undefined}' is undefined" in text(proc), proc.stdout[-4000:]
    # Not the walkthrough's pipeline instead.
    assert "users_post" not in proc.stdout and "Lambda_demo_DynamoDB_stream" not in proc.stdout
    assert sandbox.stats()["writes"] == 0, sandbox.stats()
    nothing_created(aws)


@pytest.mark.parametrize("entry,message,absent", [
    ({"tabel_name": "orders", "function_name": "orders_fn"},
     "streamops_pipelines[0] (unnamed): unknown field tabel_name (did you mean table_name?)",
     ["missing required", "Supported parameters", "table_name: required"]),
    ({"table_name": "orders", "function_name": "orders_fn", "trigger": {"batchsize": 10}},
     "streamops_pipelines[0] (orders): unknown field trigger.batchsize (did you mean trigger.batch_size?)",
     ["Supported parameters"]),
    ({"table_name": "orders", "function_name": "Lambda demo"},
     "streamops_pipelines[0] (orders): function_name: must be a Lambda function name (1-64 characters: letters,"
     " digits, '-' and '_'), got 'Lambda demo'",
     ["role_name", "^[", "does not match ^"]),
    ({"table_name": "orders", "function_name": "orders_fn", "view_type": "new_image"},
     "streamops_pipelines[0] (orders): view_type: must be one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE,"
     " NEW_AND_OLD_IMAGES, got 'new_image'", ["value of view_type"]),
    ({"table_name": "orders", "function_name": "orders_fn", "trigger": {"batch_size": 0}},
     "streamops_pipelines[0] (orders): trigger.batch_size: must be between 1 and 10000, got 0", []),
], ids=["unknown_field", "unknown_trigger_field", "bad_function_name", "bad_choice", "out_of_range"])
def test_a_bad_entry_names_the_field_as_written(run_playbook, sandbox, entry, message, absent):
    sandbox.reset_stats()
    proc = run_playbook(SETUP, {"streamops_pipelines": [entry]})
    assert proc.returncode != 0
    assert message in text(proc), proc.stdout[-4000:]
    for fragment in absent:
        assert fragment not in text(proc), (fragment, proc.stdout[-4000:])
    assert sandbox.stats()["total"] == 0


def test_a_role_failure_through_setup_names_the_pipeline_field(run_playbook, sandbox):
    sandbox.reset_stats()
    proc = run_playbook(SETUP, {"streamops_pipelines": [
        {"name": "orders", "table_name": "orders", "function_name": "orders_fn", "table_create": False}]})
    assert proc.returncode != 0
    assert ("streamops_pipelines[0] (orders): table_create: is false and table 'orders' does not exist"
            in text(proc)), proc.stdout[-4000:]
    assert "table_stream_create_table" not in text(proc)
    assert proc.stdout.count("fatal: [orders]") == 1, proc.stdout[-4000:]
    assert sandbox.stats()["writes"] == 0


def test_validate_playbook_checks_without_aws(run_playbook, sandbox):
    sandbox.reset_stats()
    good = run_playbook(ROOT / "playbooks" / "validate.yml",
                        {"streamops_pipelines": [{"table_name": "orders", "function_name": "orders_fn"}]})
    assert good.returncode == 0, good.stdout[-4000:]
    assert sandbox.stats()["total"] == 0


def test_a_refused_view_type_change_names_the_pipeline_field(run_playbook, aws, sandbox):
    aws("dynamodb").create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    sandbox.reset_stats()
    proc = run_playbook(SETUP, {"streamops_pipelines": [
        {"name": "orders", "table_name": "orders", "function_name": "orders_fn", "table_create": False}]})
    assert proc.returncode != 0
    assert ("streamops_pipelines[0] (orders): view_type: table 'orders' already has a KEYS_ONLY stream that this"
            " collection did not enable" in text(proc)), proc.stdout[-4000:]
    # A pipeline has no field for the role's override, so the message does not offer it.
    assert "table_stream_" not in text(proc).rsplit("fatal:", maxsplit=1)[-1], proc.stdout[-4000:]
    assert sandbox.stats()["writes"] == 0
