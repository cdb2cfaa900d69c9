"""End to end through ansible-playbook: playbooks/setup.yml, verify.yml and teardown.yml against the sandbox.

Each test is a whole user story (several playbook runs), because a playbook run costs seconds; the assertions
read the resulting state back through the AWS APIs, not only Ansible's output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ansible_collections.streamops.dynamodb_lambda.tests.integration.playbooks.checks import ok, recap, text

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
VERIFY = ROOT / "playbooks" / "verify.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"
FUNCTION = "Lambda_demo_DynamoDB_stream"


def changed_tasks(proc: Any, host: str) -> list[str]:
    """Names of the tasks that reported changed for host (for failure messages about change counts)."""
    names, task = [], None
    for line in proc.stdout.splitlines():
        header = re.match(r"^TASK \[(.*)\]", line)
        if header:
            task = header.group(1)
        elif re.match(rf"^changed: \[{re.escape(host)}(?: -> \S+)?\]", line):
            names.append(task)
    return names


def reports(directory: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in directory.glob("*.json")}


def mappings(aws: Any) -> list[dict[str, Any]]:
    return aws("lambda").list_event_source_mappings()["EventSourceMappings"]


def leftovers(aws: Any) -> list[str]:
    """Everything a pipeline could have left behind, except tables (checked per test: some are not ours)."""
    found = [f"mapping {m['UUID']}" for m in mappings(aws)]
    found += [f"function {f['FunctionName']}" for f in aws("lambda").list_functions()["Functions"]]
    found += [f"role {r['RoleName']}" for r in aws("iam").list_roles()["Roles"]]
    found += [f"log group {g['logGroupName']}" for g in aws("logs").describe_log_groups()["logGroups"]]
    return found


def test_walkthrough_setup_is_idempotent_verifies_and_tears_down_twice(run_playbook, aws, sandbox, tmp_path):
    proc = run_playbook(SETUP, {"streamops_verify_report_dir": str(tmp_path)})
    ok(proc)
    # In setup, verify reuses table_stream's read of the key schema instead of reading the table again.
    assert re.search(r"^TASK \[[^\]]*: Read the table's key schema and stream\][ *]*\nskipping: \[users_post\]",
                     proc.stdout, re.M), proc.stdout[-4000:]
    assert "INSERT, MODIFY and REMOVE seen as NEW_AND_OLD_IMAGES promises" in text(proc)
    # The printed table names each key attribute beside its value.
    assert re.search(r"MODIFY\s+user_id=streamops-verify-a\d-[0-9a-f]{8}, post_id=probe\s+v1\s+v2\s+ok", proc.stdout), \
        proc.stdout[-4000:]
    report = reports(tmp_path)["users_post"]
    assert report["passed"] is True and report["view_type"] == "NEW_AND_OLD_IMAGES"
    # The walkthrough's table: MODIFY carries old+new, INSERT new only, REMOVE old only.
    rows = {r["event"]: r for r in report["records"]}
    assert rows["INSERT"]["old_image"] is None and rows["INSERT"]["new_image"]["streamops_probe"] == "v1"
    assert rows["MODIFY"]["old_image"]["streamops_probe"] == "v1"
    assert rows["MODIFY"]["new_image"]["streamops_probe"] == "v2"
    assert rows["REMOVE"]["old_image"]["streamops_probe"] == "v2" and rows["REMOVE"]["new_image"] is None

    table = aws("dynamodb").describe_table(TableName="users_post")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    [mapping] = mappings(aws)
    assert mapping["EventSourceArn"] == table["LatestStreamArn"]
    assert (mapping["BatchSize"], mapping["StartingPosition"], mapping["State"]) == (100, "LATEST", "Enabled")
    # The probe was removed, and verify never wrote anything else.
    assert aws("dynamodb").scan(TableName="users_post")["Items"] == []

    # Verify on: its probe leaves nothing behind, so a second setup reports no change at all (what verify saw is in
    # its output and report).
    again = run_playbook(SETUP, {"streamops_verify_report_dir": str(tmp_path)})
    ok(again)
    assert "INSERT, MODIFY and REMOVE seen as NEW_AND_OLD_IMAGES promises" in text(again)
    assert recap(again)["users_post"]["changed"] == 0, changed_tasks(again, "users_post")

    # verify.yml alone builds its probe from the table's real key (one read), whatever key settings the pipeline
    # description carries: they only apply to a table the collection creates.
    sandbox.reset_stats()
    wrong_keys = [{"table_name": "users_post", "function_name": FUNCTION,
                   "table_hash_key": {"name": "order_id", "type": "N"}, "table_range_key": None}]
    alone = run_playbook(VERIFY, {"streamops_pipelines": wrong_keys})
    ok(alone)
    # One dynamodb_stream_info read (its ListTagsOfResource); the other DescribeTables are dynamodb_item's, one
    # per probe write.
    calls = sandbox.stats()["calls"]
    assert (calls.get("dynamodb:ListTagsOfResource"), calls.get("dynamodb:DescribeTable")) == (1, 4), calls
    assert aws("dynamodb").scan(TableName="users_post")["Items"] == []

    # setup.yml --tags verify verifies what is deployed and sets up nothing: the pipeline play is skipped, so
    # verify has no key schema from table_stream and reads the table itself, as verify.yml does.
    sandbox.reset_stats()
    tagged = run_playbook(SETUP, None, "--tags", "verify")
    ok(tagged)
    assert "INSERT, MODIFY and REMOVE seen as NEW_AND_OLD_IMAGES promises" in text(tagged)
    stats = sandbox.stats()
    assert stats["calls"].get("dynamodb:ListTagsOfResource") == 1, stats["calls"]
    # The probe's item writes only (INSERT and MODIFY are puts, REMOVE a delete): nothing was created or changed.
    assert set(stats["write_calls"]) == {"dynamodb:PutItem", "dynamodb:DeleteItem"}, stats
    assert aws("dynamodb").scan(TableName="users_post")["Items"] == []

    down = run_playbook(TEARDOWN)
    ok(down)
    assert recap(down)["users_post"]["changed"] > 0
    assert leftovers(aws) == []
    assert aws("dynamodb").list_tables()["TableNames"] == []  # created by the collection, so deleted

    twice = run_playbook(TEARDOWN)
    ok(twice)
    assert recap(twice)["users_post"]["changed"] == 0, twice.stdout[-4000:]


def test_invalid_pipeline_list_fails_before_any_aws_call(run_playbook, sandbox):
    sandbox.reset_stats()
    pipelines = [
        {"name": "orders", "table_name": "orders", "function_name": "orders_fn"},
        {"name": "orders", "table_name": "orders_v2", "function_name": "orders_fn2"},
        {"table_name": "audit", "function_name": "audit_fn", "view_type": "EVERYTHING"},
    ]
    bad_field = run_playbook(SETUP, {"streamops_pipelines": pipelines})
    assert bad_field.returncode != 0
    assert "streamops_pipelines[2] (audit)" in text(bad_field) and "view_type" in text(bad_field)

    pipelines[2]["view_type"] = "KEYS_ONLY"
    duplicate = run_playbook(SETUP, {"streamops_pipelines": pipelines})
    assert duplicate.returncode != 0
    assert ("streamops_pipelines[1] (orders): name: duplicate 'orders', also the name of streamops_pipelines[0] (orders)"
            in text(duplicate))

    missing = run_playbook(TEARDOWN, {"streamops_pipelines": [{"name": "x", "function_name": "f"}]})
    assert missing.returncode != 0
    assert "streamops_pipelines[0] (x): table_name: required field missing" in text(missing)
    assert sandbox.stats()["total"] == 0


def test_two_pipelines_in_parallel_view_type_change_and_a_table_that_is_not_ours(run_playbook, aws, tmp_path):
    ddb = aws("dynamodb")
    # A table that existed before: number keys, no sort key, one item that must survive everything.
    ddb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "N"}])
    existing = {"order_id": {"N": "42"}, "status": {"S": "paid"}}
    ddb.put_item(TableName="orders", Item=existing)
    pipelines = [
        {"table_name": "users_post", "function_name": "users_fn", "view_type": "KEYS_ONLY"},
        {"table_name": "orders", "function_name": "orders_fn", "table_create": False,
         "table_hash_key": {"name": "order_id", "type": "N"}, "table_range_key": None, "view_type": "NEW_IMAGE",
         "trigger": {"batch_size": 10}},
    ]
    proc = run_playbook(SETUP, {"streamops_pipelines": pipelines, "streamops_verify_report_dir": str(tmp_path)})
    ok(proc)
    seen = reports(tmp_path)
    assert {name: r["passed"] for name, r in seen.items()} == {"users_post": True, "orders": True}
    keys_only = {r["event"]: r for r in seen["users_post"]["records"]}
    assert all(keys_only[e]["old_image"] is None and keys_only[e]["new_image"] is None for e in keys_only)
    new_image = {r["event"]: r for r in seen["orders"]["records"]}
    assert new_image["MODIFY"]["new_image"]["streamops_probe"] == "v2" and new_image["MODIFY"]["old_image"] is None
    assert new_image["REMOVE"]["new_image"] is None and new_image["REMOVE"]["old_image"] is None
    assert ddb.scan(TableName="orders")["Items"] == [existing]
    by_function = {m["FunctionArn"].rsplit(":", 1)[-1]: m for m in mappings(aws)}
    assert sorted(by_function) == ["orders_fn", "users_fn"]
    assert by_function["orders_fn"]["BatchSize"] == 10

    # A new view type replaces the stream (new ARN); the trigger must follow it and verify must pass again.
    old_arn = ddb.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    pipelines[1]["view_type"] = "OLD_IMAGE"
    tmp2 = tmp_path / "second"
    tmp2.mkdir()
    changed = run_playbook(SETUP, {"streamops_pipelines": pipelines, "streamops_verify_report_dir": str(tmp2)})
    ok(changed)
    table = ddb.describe_table(TableName="orders")["Table"]
    assert table["StreamSpecification"]["StreamViewType"] == "OLD_IMAGE" and table["LatestStreamArn"] != old_arn
    orders_mappings = [m for m in mappings(aws) if m["FunctionArn"].endswith(":orders_fn")]
    assert [m["EventSourceArn"] for m in orders_mappings] == [table["LatestStreamArn"]]
    old_image = {r["event"]: r for r in reports(tmp2)["orders"]["records"]}
    assert old_image["MODIFY"]["old_image"]["streamops_probe"] == "v1" and old_image["MODIFY"]["new_image"] is None
    assert old_image["REMOVE"]["old_image"]["streamops_probe"] == "v2"
    # Nothing changes on users_post: verify's probe leaves nothing behind, so its writes and report are no change.
    assert recap(changed)["users_post"]["changed"] == 0, changed_tasks(changed, "users_post")

    down = run_playbook(TEARDOWN, {"streamops_pipelines": pipelines})
    ok(down)
    assert leftovers(aws) == []
    assert ddb.list_tables()["TableNames"] == ["orders"]  # ours deleted, theirs kept
    orders = ddb.describe_table(TableName="orders")["Table"]
    assert not (orders.get("StreamSpecification") or {}).get("StreamEnabled")  # we enabled it, so we disabled it
    assert ddb.scan(TableName="orders")["Items"] == [existing]


def test_verify_retries_a_late_latest_mapping_and_reports_a_wrong_record(run_playbook, aws, sandbox, tmp_path):
    # A LATEST mapping that starts polling late never delivers what was written before: the first probe is lost.
    # 12 s: well over the second or two between the trigger's creation and the first probe write, and well under
    # the 5 attempts of >= 4 s each that verify makes (with modules run in a fork an attempt takes little more than
    # its 4 s wait, so a 30 s delay outlasted all five).
    sandbox.configure(poller_start_delay=12)
    proc = run_playbook(SETUP, {"streamops_verify_report_dir": str(tmp_path), "stream_verify_attempt_timeout": 4})
    ok(proc)
    report = reports(tmp_path)["users_post"]
    assert report["passed"] is True and report["attempts"] >= 2, report

    # Verify alone, from the collection's installed name, expecting a view type the stream does not have.
    aws("dynamodb").put_item(TableName="users_post", Item={"user_id": {"S": "u1"}, "post_id": {"S": "p1"}})
    wrong = run_playbook("streamops.dynamodb_lambda.verify", {"stream_verify_view_type": "KEYS_ONLY"})
    assert wrong.returncode != 0
    assert "INSERT: unexpected new_image (KEYS_ONLY carries none here)" in text(wrong)
    assert "MODIFY: unexpected old_image" in text(wrong)
    # Only the item that was there before is left: the probe is gone although the assertion failed.
    assert aws("dynamodb").scan(TableName="users_post")["Items"] == [
        {"user_id": {"S": "u1"}, "post_id": {"S": "p1"}}]
    ok(run_playbook(TEARDOWN))


def test_teardown_after_a_setup_that_failed_half_way(run_playbook, aws):
    # The filter has the shape of an event pattern (so the pipeline list passes its up-front checks) but an
    # operator only Lambda checks: CreateEventSourceMapping refuses it after the table, its stream, the role and
    # the function exist.
    pipelines = [{"table_name": "users_post", "function_name": "half_fn",
                  "trigger": {"filters": [{"eventName": [{"prefixx": "INS"}]}]}}]
    half = run_playbook(SETUP, {"streamops_pipelines": pipelines})
    assert half.returncode != 0
    assert "prefixx" in text(half), half.stdout[-3000:]
    assert aws("dynamodb").list_tables()["TableNames"] == ["users_post"]
    assert [r["RoleName"] for r in aws("iam").list_roles()["Roles"]] == ["half_fn-role"]
    assert [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]] == ["half_fn"]
    assert mappings(aws) == []

    down = run_playbook(TEARDOWN, {"streamops_pipelines": pipelines})
    ok(down)
    assert leftovers(aws) == []
    assert aws("dynamodb").list_tables()["TableNames"] == []
