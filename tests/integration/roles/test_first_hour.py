"""What a user meets in the first hour with the roles: the README's roles example, names the roles require, and
failures printed once in the words the user wrote."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOKS = Path(__file__).parent / "playbooks"
ONE_ROLE = PLAYBOOKS / "one_role.yml"
# Nothing listens there: every AWS call fails with a connection error.
CLOSED_ENDPOINT = "http://127.0.0.1:9"


def output(proc) -> str:
    """stdout with whitespace collapsed (the yaml callback wraps long messages)."""
    return " ".join(proc.stdout.split())


def test_readme_roles_example_sets_up_and_verifies(run_playbook, aws):
    proc = run_playbook(PLAYBOOKS / "readme_roles.yml")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "INSERT, MODIFY and REMOVE seen as NEW_AND_OLD_IMAGES promises" in output(proc)
    [mapping] = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert mapping["State"] == "Enabled"
    # The printed table names each key attribute beside its value.
    assert re.search(r"INSERT\s+user_id=streamops-verify-a\d-[0-9a-f]{8}, post_id=probe\s+-\s+v1\s+ok", proc.stdout), \
        proc.stdout[-4000:]


@pytest.mark.parametrize("role,given,missing", [
    ("stream_trigger", {"stream_trigger_table_name": "users_post"}, "stream_trigger_function_name"),
    ("stream_trigger", {"stream_trigger_function_name": "fn"}, "stream_trigger_table_name or stream_trigger_stream_arn"),
    ("stream_verify", {"stream_verify_function_name": "fn"}, "stream_verify_table_name"),
    ("stream_verify", {"stream_verify_table_name": "users_post"}, "stream_verify_function_name"),
])
def test_resource_names_are_required_not_the_walkthrough_s(run_playbook, aws, sandbox, role, given, missing):
    # The walkthrough's resources exist, so a role that fell back to their names would find something to change.
    aws("dynamodb").create_table(
        TableName="users_post", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    sandbox.reset_stats()
    proc = run_playbook(ONE_ROLE, {"role_under_test": role, **given})
    assert proc.returncode != 0, proc.stdout[-4000:]
    assert missing in output(proc), proc.stdout[-4000:]
    assert sandbox.stats()["total"] == 0, sandbox.stats()


def test_ansible_doc_marks_the_names_required():
    doc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", "role", "--json",
                          "streamops.dynamodb_lambda.stream_trigger", "streamops.dynamodb_lambda.stream_verify"],
                         cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": "/usr/bin:/bin"})
    roles = json.loads(doc.stdout)
    options = {name: roles[f"streamops.dynamodb_lambda.{name}"]["entry_points"]["main"]["options"]
               for name in ("stream_trigger", "stream_verify")}
    assert options["stream_trigger"]["stream_trigger_function_name"].get("required") is True
    assert options["stream_verify"]["stream_verify_table_name"].get("required") is True
    assert options["stream_verify"]["stream_verify_function_name"].get("required") is True
    for role, opts in options.items():
        for name, spec in opts.items():
            assert spec.get("default") not in ("users_post", "Lambda_demo_DynamoDB_stream"), (role, name)


@pytest.mark.parametrize("role,variables", [
    ("table_stream", {"table_stream_table_name": "users_post"}),
    ("stream_function", {"stream_function_name": "fn",
                         "stream_function_role_arn": "arn:aws:iam::123456789012:role/fn-role"}),
])
def test_an_aws_error_is_printed_once(run_playbook, tmp_path, role, variables):
    proc = run_playbook(ONE_ROLE, {"role_under_test": role, **variables, "streamops_endpoint_url": CLOSED_ENDPOINT},
                        env={"AWS_ENDPOINT_URL": CLOSED_ENDPOINT, "XDG_CACHE_HOME": str(tmp_path)})
    assert proc.returncode != 0
    # One failed task (Ansible shows it twice: an [ERROR] line and the callback's fatal result), no rescue repeating it.
    assert proc.stdout.count("fatal: [localhost]") == 1, proc.stdout[-4000:]
    assert proc.stdout.count("[ERROR]: Task failed") == 1, proc.stdout[-4000:]
    assert "Could not connect to the endpoint URL" in output(proc), proc.stdout[-4000:]


def test_a_refusal_names_the_role_variable(run_playbook, sandbox):
    proc = run_playbook(ONE_ROLE, {"role_under_test": "table_stream", "table_stream_table_name": "nope_table"})
    assert proc.returncode != 0
    assert proc.stdout.count("fatal: [localhost]") == 1, proc.stdout[-4000:]
    assert "table_stream_create_table: is false and table 'nope_table' does not exist" in output(proc), \
        proc.stdout[-4000:]
    assert sandbox.stats()["writes"] == 0


@pytest.mark.parametrize("variables,message", [
    ({"stream_trigger_batch_size": 0}, "stream_trigger_batch_size: must be between 1 and 10000, got 0"),
    ({"stream_trigger_filters": ["{not json"]}, "stream_trigger_filters[0]: is not valid JSON"),
])
def test_a_trigger_module_error_names_the_role_variable(run_playbook, sandbox, variables, message):
    sandbox.reset_stats()
    proc = run_playbook(ONE_ROLE, {"role_under_test": "stream_trigger", "stream_trigger_function_name": "fn",
                                   "stream_trigger_table_name": "users_post", **variables})
    assert proc.returncode != 0
    assert message in output(proc), proc.stdout[-4000:]
    assert proc.stdout.count("fatal: [localhost]") == 1, proc.stdout[-4000:]
    assert sandbox.stats()["total"] == 0


def test_an_execution_role_module_error_names_the_role_variable(run_playbook, sandbox):
    sandbox.reset_stats()
    proc = run_playbook(ONE_ROLE, {
        "role_under_test": "execution_role", "execution_role_name": "fn role!", "execution_role_function_name": "fn",
        "execution_role_stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"})
    assert proc.returncode != 0
    assert ("execution_role_name: must be an IAM role name (1-64 characters: letters, digits and +=,.@_-), got "
            "'fn role!'") in output(proc), proc.stdout[-4000:]
    assert proc.stdout.count("fatal: [localhost]") == 1, proc.stdout[-4000:]
    assert sandbox.stats()["writes"] == 0
