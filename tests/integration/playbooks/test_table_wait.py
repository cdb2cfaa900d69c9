"""setup.yml does not wait for a new table's CREATING in the table_stream role (so the tables of all pipelines are
created side by side): the trigger, the first step that needs a live stream, waits for it before it creates the
mapping. The run still ends with everything settled, and a re-run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"
PIPELINES = [{"name": "orders", "table_name": "orders", "function_name": "orders_fn"},
             {"name": "audit", "table_name": "audit", "function_name": "audit_fn"}]
TABLE_TASK = "Enable the stream (creating the table when allowed) with view type NEW_AND_OLD_IMAGES"
TRIGGER_TASK = "Event source mapping of "
JSON = {"ANSIBLE_STDOUT_CALLBACK": "json"}


def results(proc, task_prefix):
    """host -> the result of the task whose name starts with *task_prefix* (the json callback's output)."""
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    found = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            # "<role> : <task name>"
            if task["task"]["name"].split(" : ", 1)[-1].startswith(task_prefix):
                found.update(task["hosts"])
    return found, report["stats"]


def test_the_trigger_waits_for_a_table_table_stream_left_creating(run_playbook, aws, sandbox):
    sandbox.configure(table_create_transition=3)
    try:
        sandbox.reset_stats()
        setup = run_playbook(SETUP, {"streamops_pipelines": PIPELINES, "streamops_verify": False}, env=JSON)

        tables, _stats = results(setup, TABLE_TASK)
        triggers, _stats = results(setup, TRIGGER_TASK)
        assert sorted(tables) == sorted(triggers) == ["audit", "orders"]
        for host, result in tables.items():
            # The table_stream task returned with its table still CREATING, without reading its stream.
            assert result["created"] is True and result["table_status"] == "CREATING", (host, result)
            assert result["stream_arn"], (host, result)
            assert triggers[host]["changed"] is True and triggers[host]["event_source_arn"] == result["stream_arn"]
        calls = sandbox.stats()["calls"]
        # Every DescribeStream of the run is the trigger's wait (table_stream reads no stream without its wait,
        # verify is off): at least one per pipeline.
        assert calls.get("streams.dynamodb:DescribeStream", 0) >= len(PIPELINES), calls
        ddb, lam = aws("dynamodb"), aws("lambda")
        for pipeline in PIPELINES:
            assert ddb.describe_table(TableName=pipeline["table_name"])["Table"]["TableStatus"] == "ACTIVE"
        states = sorted(m["State"] for m in lam.list_event_source_mappings()["EventSourceMappings"])
        assert states == ["Enabled", "Enabled"]

        sandbox.reset_stats()
        again = run_playbook(SETUP, {"streamops_pipelines": PIPELINES, "streamops_verify": False}, env=JSON)
        tables, stats = results(again, TABLE_TASK)
        assert all(c["changed"] == 0 for h, c in stats.items() if h != "localhost"), stats
        assert {r["table_status"] for r in tables.values()} == {"ACTIVE"}
        # The tables are ACTIVE: the trigger's wait does not run, and the streams are not read.
        assert "streams.dynamodb:DescribeStream" not in sandbox.stats()["calls"], sandbox.stats()
        assert sandbox.stats().get("writes", 0) == 0, sandbox.stats()

        teardown = run_playbook(TEARDOWN, {"streamops_pipelines": PIPELINES})
        assert teardown.returncode == 0, teardown.stdout[-4000:]
        assert ddb.list_tables()["TableNames"] == []
    finally:
        sandbox.configure(table_create_transition=0)


def test_with_zero_latency_a_new_table_costs_no_extra_call(run_playbook, sandbox):
    """The sandbox's CreateTable answers ACTIVE: the trigger's wait does not run, no stream is read."""
    sandbox.reset_stats()
    setup = run_playbook(SETUP, {"streamops_pipelines": PIPELINES[:1], "streamops_verify": False}, env=JSON)

    tables, _stats = results(setup, TABLE_TASK)
    assert tables["orders"]["created"] is True and tables["orders"]["table_status"] == "ACTIVE"
    calls = sandbox.stats()["calls"]
    assert "streams.dynamodb:DescribeStream" not in calls, calls
    assert calls.get("dynamodb:DescribeTable") == 1, calls


def test_setup_teardown_setup_in_one_run_reads_this_setups_arns(run_playbook, aws, tmp_path):
    """setup.yml publishes the roles' values once per pipeline, after the four module tasks: the role and the trigger
    before it read this run's ARNs, not the facts an earlier play of the same ansible-playbook run left on the
    host (teardown's cleared values, or the first setup's stream, which a new table no longer has)."""
    playbook = tmp_path / "again.yml"
    playbook.write_text("".join("- ansible.builtin.import_playbook: %s\n" % p for p in (SETUP, TEARDOWN, SETUP)))
    pipelines = PIPELINES[:1]
    proc = run_playbook(playbook, {"streamops_pipelines": pipelines, "streamops_verify": False}, env=JSON)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    setups = [play for play in report["plays"] if play["play"]["name"].startswith("Set up each pipeline")]
    assert len(setups) == 2, [play["play"]["name"] for play in report["plays"]]
    second = {}
    for task in setups[1]["tasks"]:
        second[task["task"]["name"].split(" : ", 1)[-1].split(" ", 1)[0]] = task["hosts"]["orders"]
    table = second["Enable"]
    # Teardown deleted the table this collection created; the second setup created it again, with a new stream.
    assert table["created"] is True, table
    ddb, lam, iam = aws("dynamodb"), aws("lambda"), aws("iam")
    stream_arn = ddb.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    assert table["stream_arn"] == stream_arn
    assert second["Event"]["event_source_arn"] == stream_arn, second["Event"]
    role_arn = iam.get_role(RoleName=second["IAM"]["role_name"])["Role"]["Arn"]
    assert lam.get_function_configuration(FunctionName="orders_fn")["Role"] == role_arn
    policy = iam.get_role_policy(RoleName=second["IAM"]["role_name"],
                                 PolicyName=second["IAM"]["policy_name"])["PolicyDocument"]
    assert stream_arn in json.dumps(policy), policy
    teardown = run_playbook(TEARDOWN, {"streamops_pipelines": pipelines}, env=JSON)
    assert teardown.returncode == 0, teardown.stdout[-3000:]
