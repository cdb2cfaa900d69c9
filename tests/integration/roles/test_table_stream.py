"""The table_stream role through ansible-playbook against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

PLAYBOOK = Path(__file__).parent / "playbooks" / "table_stream.yml"
OWNER = "streamops.dynamodb_lambda"


def play(run_playbook, extra_vars, *args):
    """Run the playbook with the json callback; return (stats for localhost, reported facts, raw output)."""
    proc = run_playbook(PLAYBOOK, extra_vars, *args, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON from ansible-playbook (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    stats = out["stats"].get("localhost", {})
    facts, failures = None, []
    for p in out["plays"]:
        for task in p["tasks"]:
            result = task["hosts"].get("localhost", {})
            if result.get("failed"):
                failures.append(result.get("msg", ""))
            if task["task"]["name"] == "Report the published facts":
                facts = result.get("msg")
    return stats, facts, failures


def table(aws, name="users_post"):
    try:
        return aws("dynamodb").describe_table(TableName=name)["Table"]
    except aws("dynamodb").exceptions.ResourceNotFoundException:
        return None


def tags(aws, name="users_post"):
    ddb = aws("dynamodb")
    arn = table(aws, name)["TableArn"]
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def test_create_idempotent_then_absent_deletes_only_what_it_created(run_playbook, aws):
    ev = {"table_stream_table_name": "users_post", "table_stream_create_table": True,
          "table_stream_tags": {"team": "data"}}
    checked, facts, _failures = play(run_playbook, ev, "--check")
    assert checked["failures"] == 0 and checked["changed"] >= 1, checked
    assert table(aws) is None
    assert facts["table_stream_stream_arn"].endswith("/stream/check-mode-placeholder")

    first, facts, failures = play(run_playbook, ev)
    assert first["failures"] == 0, failures
    assert first["changed"] == 1, first  # one dynamodb_stream call: table created with its stream enabled
    t = table(aws)
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in t["KeySchema"]] == ["user_id", "post_id"]
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert facts == {"table_stream_stream_arn": t["LatestStreamArn"], "table_stream_table_arn": t["TableArn"],
                     "table_stream_key_schema": [
                         {"attribute_name": "user_id", "key_type": "HASH", "attribute_type": "S"},
                         {"attribute_name": "post_id", "key_type": "RANGE", "attribute_type": "S"}]}
    assert tags(aws) == {"team": "data", "streamops:managed-by": OWNER, "streamops:table-created-by": OWNER,
                         "streamops:stream-enabled-by": OWNER}

    second, facts2, _failures = play(run_playbook, ev)
    assert second["changed"] == 0 and second["failures"] == 0, second
    assert facts2 == facts

    gone, _facts, failures = play(run_playbook, {**ev, "table_stream_state": "absent"})
    assert gone["failures"] == 0 and gone["changed"] == 1, failures
    assert table(aws) is None
    again, _facts, _failures = play(run_playbook, {**ev, "table_stream_state": "absent"})
    assert again["changed"] == 0 and again["failures"] == 0


def test_preexisting_table_and_stream_survive_absent(run_playbook, aws):
    ddb = aws("dynamodb")
    ddb.create_table(TableName="orders", BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    stream_arn = table(aws, "orders")["LatestStreamArn"]
    ev = {"table_stream_table_name": "orders", "table_stream_create_table": True}

    present, facts, failures = play(run_playbook, ev)
    assert present["failures"] == 0 and present["changed"] == 0, failures
    assert facts["table_stream_stream_arn"] == stream_arn
    # The table's own key, not the role's (user_id/post_id) defaults, which only apply to a table it creates.
    assert facts["table_stream_key_schema"] == [{"attribute_name": "id", "key_type": "HASH", "attribute_type": "N"}]
    assert tags(aws, "orders") == {}  # an existing table is not re-tagged or re-billed
    assert table(aws, "orders")["BillingModeSummary"]["BillingMode"] == "PROVISIONED" \
        if "BillingModeSummary" in table(aws, "orders") else True

    # Another view type would replace a stream other consumers read: refused, naming the variable.
    refused, _facts, failures = play(run_playbook, {**ev, "table_stream_view_type": "KEYS_ONLY"})
    # One failure printed: the role's own message (the module's refusal is not shown a second time).
    assert refused["failures"] == 1 and len(failures) == 1 and "table_stream_view_type" in failures[-1], failures
    assert "table_stream_replace_unowned_stream" in failures[-1], failures
    assert table(aws, "orders")["LatestStreamArn"] == stream_arn

    absent, _facts, failures = play(run_playbook, {**ev, "table_stream_state": "absent"})
    assert absent["failures"] == 0 and absent["changed"] == 0, failures
    t = table(aws, "orders")
    assert t["StreamSpecification"]["StreamEnabled"] is True and t["LatestStreamArn"] == stream_arn


def test_stream_enabled_on_foreign_table_is_disabled_but_table_kept(run_playbook, aws):
    aws("dynamodb").create_table(TableName="events", BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    ev = {"table_stream_table_name": "events", "table_stream_view_type": "KEYS_ONLY"}
    present, _facts, failures = play(run_playbook, ev)
    assert present["failures"] == 0 and present["changed"] == 1, failures
    assert tags(aws, "events") == {"streamops:stream-enabled-by": OWNER}
    absent, _facts, failures = play(run_playbook, {**ev, "table_stream_state": "absent"})
    assert absent["failures"] == 0 and absent["changed"] == 1, failures
    t = table(aws, "events")
    assert t is not None and not t.get("StreamSpecification", {}).get("StreamEnabled")
    assert tags(aws, "events") == {}


def test_bad_input_fails_before_any_change(run_playbook, aws, sandbox):
    sandbox.reset_stats()
    missing, _facts, failures = play(run_playbook, {"table_stream_table_name": "nope_table"})
    assert missing["failures"] == 1 and "table_stream_create_table" in failures[-1], failures
    bad_view, _facts, failures = play(run_playbook, {"table_stream_table_name": "users_post",
                                                     "table_stream_view_type": "ALL"})
    assert bad_view["failures"] == 1 and "table_stream_view_type" in failures[-1], failures
    assert sandbox.stats()["writes"] == 0


def dynamodb_calls(stats):
    """The role's calls from sandbox stats (the playbook makes no other AWS call)."""
    return {k: v for k, v in stats["calls"].items() if k.startswith(("dynamodb:", "streams.dynamodb:"))}


def test_api_call_budget_cold_rerun_view_change_teardown(run_playbook, aws, sandbox):
    ev = {"table_stream_table_name": "users_post", "table_stream_create_table": True}
    sandbox.reset_stats()
    first, facts, failures = play(run_playbook, ev)
    cold = sandbox.stats()
    assert first["failures"] == 0 and first["changed"] == 1, failures
    # DescribeTable (missing), CreateTable with stream and tags, at most one DescribeTable until ACTIVE.
    assert cold["total"] <= 3 and cold["write_calls"] == {"dynamodb:CreateTable": 1}, cold
    assert cold["total"] == sum(dynamodb_calls(cold).values()), cold

    sandbox.reset_stats()
    second, facts2, _failures = play(run_playbook, ev)
    rerun = sandbox.stats()
    assert second["changed"] == 0 and facts2 == facts, second
    assert rerun["writes"] == 0 and rerun["total"] <= 2, rerun

    # A view type change still works: disable, wait, enable, a new ARN published.
    changed, facts3, failures = play(run_playbook, {**ev, "table_stream_view_type": "KEYS_ONLY"})
    assert changed["failures"] == 0 and changed["changed"] == 1, failures
    t = table(aws)
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert facts3["table_stream_stream_arn"] == t["LatestStreamArn"] != facts["table_stream_stream_arn"]
    assert facts3["table_stream_key_schema"] == facts["table_stream_key_schema"]

    sandbox.reset_stats()
    gone, _facts, failures = play(run_playbook, {**ev, "table_stream_state": "absent"})
    teardown = sandbox.stats()
    assert gone["failures"] == 0 and gone["changed"] == 1, failures
    assert teardown["total"] <= 3 and teardown["write_calls"] == {"dynamodb:DeleteTable": 1}, teardown
    assert table(aws) is None


def test_check_mode_on_existing_table_publishes_placeholder_only_for_a_new_stream(run_playbook, aws, sandbox):
    aws("dynamodb").create_table(TableName="events", BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    arn = table(aws, "events")["TableArn"]
    ev = {"table_stream_table_name": "events"}
    sandbox.reset_stats()
    checked, facts, failures = play(run_playbook, ev, "--check")
    assert checked["failures"] == 0 and checked["changed"] == 1, failures
    assert sandbox.stats()["writes"] == 0
    assert facts["table_stream_table_arn"] == arn
    assert facts["table_stream_stream_arn"] == arn + "/stream/check-mode-placeholder"
    assert facts["table_stream_key_schema"] == [{"attribute_name": "id", "key_type": "HASH", "attribute_type": "S"}]
    assert "StreamSpecification" not in table(aws, "events")

    enabled, facts, failures = play(run_playbook, ev)
    assert enabled["failures"] == 0 and enabled["changed"] == 1, failures
    # A view type change in check mode: the new stream's ARN is not knowable, so a placeholder again.
    changing, cfacts, failures = play(run_playbook, {**ev, "table_stream_view_type": "NEW_IMAGE"}, "--check")
    assert changing["failures"] == 0 and changing["changed"] == 1, failures
    assert cfacts["table_stream_stream_arn"] == arn + "/stream/check-mode-placeholder"
    assert table(aws, "events")["LatestStreamArn"] == facts["table_stream_stream_arn"]
