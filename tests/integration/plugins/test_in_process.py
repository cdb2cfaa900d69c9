"""Modules run in a fork of the controller give exactly what the same modules give when run as usual.

The same playbook runs twice against the same sandbox state, once in a fork (the default for a local connection on
the controller's Python) and once with STREAMOPS_IN_PROCESS=0, and every registered result is compared: writes,
reads, check mode, diff, a failing call, bad arguments, no_log, a loop.
"""

from __future__ import annotations

import json
from pathlib import Path

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/streamops.dynamodb_lambda.aws:
      endpoint_url: "{{ streamops_endpoint_url }}"
      region: "{{ streamops_region }}"
  tasks:
    - name: Create a table to write to (a plain boto3 call keeps the comparison to this collection's modules)
      ansible.builtin.command:
        argv: [ "{{ ansible_playbook_python }}", "-c", "{{ create_table }}" ]
      changed_when: false

    - name: Read a table that exists
      streamops.dynamodb_lambda.dynamodb_stream_info: {table_name: "{{ table }}"}
      register: read

    - name: Put an item in check mode with diff
      streamops.dynamodb_lambda.dynamodb_item:
        table_name: "{{ table }}"
        item: {pk: a, v: 1}
      check_mode: true
      diff: true
      register: put_check

    - name: Put items in a loop
      streamops.dynamodb_lambda.dynamodb_item:
        table_name: "{{ table }}"
        item: {pk: "{{ item }}", v: 1}
      loop: [a, b]
      register: put_loop

    - name: Put the same item again (no change)
      streamops.dynamodb_lambda.dynamodb_item:
        table_name: "{{ table }}"
        item: {pk: a, v: 1}
      register: put_again

    - name: A call AWS rejects
      streamops.dynamodb_lambda.dynamodb_item:
        table_name: no-such-table
        item: {pk: a}
      register: aws_error
      ignore_errors: true

    - name: Bad arguments
      streamops.dynamodb_lambda.dynamodb_item:
        table_name: "{{ table }}"
        item: {pk: a}
        no_such_option: 1
      register: bad_args
      ignore_errors: true

    - name: no_log
      streamops.dynamodb_lambda.dynamodb_stream_info: {table_name: "{{ table }}"}
      no_log: true
      register: hidden

    - name: Clean up
      streamops.dynamodb_lambda.dynamodb_item:
        table_name: "{{ table }}"
        key: {pk: "{{ item }}"}
        state: absent
      loop: [a, b]

    - name: Save the results
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'read': read, 'put_check': put_check, 'put_loop': put_loop, 'put_again': put_again,
                      'aws_error': aws_error, 'bad_args': bad_args, 'hidden': hidden} | to_nice_json }}"
        mode: "0600"
"""

CREATE_TABLE = (
    "import boto3, os; c = boto3.client('dynamodb', endpoint_url=os.environ['EP']);"
    "c.create_table(TableName='in_process', BillingMode='PAY_PER_REQUEST',"
    " AttributeDefinitions=[{'AttributeName': 'pk', 'AttributeType': 'S'}],"
    " KeySchema=[{'AttributeName': 'pk', 'KeyType': 'HASH'}])"
)


def _run(run_playbook, sandbox, tmp_path: Path, name: str, env: dict[str, str]) -> tuple[dict, str]:
    sandbox.reset()
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    out = tmp_path / f"{name}.json"
    proc = run_playbook(playbook, {"table": "in_process", "out": str(out), "create_table": CREATE_TABLE},
                        "-vvv", env={"EP": sandbox.url, **env})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def _normalise(results: dict) -> dict:
    """Drop what differs between any two runs (timings, invocation echoes, tracebacks' paths)."""
    text = json.dumps(results, sort_keys=True)
    data = json.loads(text)
    for result in [data[k] for k in data] + data["put_loop"]["results"]:
        for key in ("invocation", "exception", "module_stderr", "module_stdout", "response_metadata"):
            result.pop(key, None)
        if isinstance(result.get("error"), dict):
            result["error"].pop("message", None)
    return data


def test_fork_and_normal_runs_give_the_same_results(run_playbook, sandbox, tmp_path):
    forked, forked_log = _run(run_playbook, sandbox, tmp_path, "forked", {})
    normal, normal_log = _run(run_playbook, sandbox, tmp_path, "normal", {"STREAMOPS_IN_PROCESS": "0"})

    # A task that runs its module once runs it in its worker; the loop runs each item's module in a fork of it.
    assert "streamops: running streamops.dynamodb_lambda.dynamodb_item in the controller's worker process" in forked_log
    assert ("streamops: running streamops.dynamodb_lambda.dynamodb_item in a fork of the controller's worker"
            in forked_log)
    assert "runs as a normal module" not in forked_log
    assert "streamops: running streamops.dynamodb_lambda" not in normal_log
    assert "runs as a normal module: STREAMOPS_IN_PROCESS=0" in normal_log

    # The behaviours themselves, so that two equally broken runs cannot pass.
    assert forked["read"]["table_exists"] is True and forked["read"]["changed"] is False
    assert forked["put_check"]["changed"] is True and forked["put_check"]["diff"]["after"]
    assert [r["changed"] for r in forked["put_loop"]["results"]] == [True, True]
    assert forked["put_again"]["changed"] is False
    assert forked["aws_error"]["failed"] is True and "no-such-table" in json.dumps(forked["aws_error"])
    assert forked["bad_args"]["failed"] is True and "no_such_option" in forked["bad_args"]["msg"]
    assert "no_log: true" in forked_log and "censored" in forked_log

    assert _normalise(forked) == _normalise(normal)
