"""Issue 7.3: out-of-band changes after a successful setup are reported by --check --diff and fixed by setup.

One setup serves two rounds of drift, each made with boto3 behind the collection's back:

1. the mapping's batch size changed and the mapping disabled, the inline policy widened to Resource "*", the
   function's code and environment changed: three resources, three tasks of three roles;
2. the stream's view type changed (disable + enable: a new stream ARN) and the inline policy deleted: the stream
   task, the policy task (it is scoped to the stream ARN) and the trigger (it must follow the new stream).

Each round: `setup.yml --check --diff` must report exactly the drifted resources' tasks as changed and leave the
drift in place (read back with boto3), then `setup.yml` must report the same tasks and undo the drift. The rounds
do not share resources in a way that would hide one drift behind another (the view type change replaces the
mapping and rewrites the policy, so it gets its own round).
"""

from __future__ import annotations

import copy
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[3]
HANDLER = ROOT / "files" / "lambda" / "stream_handler" / "handler.py"
HOST = "users_post"
ROUND_1 = ["execution_role : IAM role", "stream_function : Deploy function",
           "stream_trigger : Event source mapping"]
ROUND_2 = ["execution_role : IAM role", "stream_trigger : Event source mapping",
           "table_stream : Enable the stream"]


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll *probe* until it returns something truthy; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 2)


def assert_changed(run: Any, expected: list[str], phase: str) -> None:
    """The changed tasks (outside stream_verify, which writes its probe) are exactly the *expected* ones."""
    changed = sorted(f"{t.role} : {t.name}" for t in run.changed(HOST) if t.role != "stream_verify")
    assert len(changed) == len(expected) and all(c.startswith(e) for c, e in zip(changed, expected)), (
        f"{phase}: changed tasks {changed}, expected exactly {expected}")


def task(run: Any, role: str, prefix: str) -> dict[str, Any]:
    [result] = [t.result for t in run.tasks if t.host == HOST and t.role == role and t.name.startswith(prefix)]
    return result


def drifted_package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", HANDLER.read_text() + "\n# changed by hand in the console\n")
    return buffer.getvalue()


def function_settled(lam: Any) -> bool:
    config = lam.get_function_configuration(FunctionName="Lambda_demo_DynamoDB_stream")
    return config.get("State", "Active") == "Active" and config.get("LastUpdateStatus", "Successful") == "Successful"


def test_check_reports_drift_without_fixing_it_and_setup_fixes_exactly_that(rel, aws, run_json, tmp_path):
    ddb, lam, iam = aws("dynamodb"), aws("lambda"), aws("iam")
    setup = run_json(rel.SETUP, None, "--skip-tags", "verify")
    setup.assert_ok()
    base = rel.resources(aws)
    base_mapping = rel.one(base, "mapping", f"{rel.TABLE} -> {rel.FUNCTION}")
    base_policy = rel.one(base, "inline_policy", f"{rel.ROLE}/{rel.POLICY}").detail["document"]
    base_function = rel.one(base, "function", rel.FUNCTION).detail
    base_stream = rel.one(base, "stream", rel.TABLE).detail
    uuid = base_mapping.detail["UUID"]
    assert (base_mapping.detail["BatchSize"], base_mapping.detail["State"]) == (100, "Enabled")

    # Round 1 ------------------------------------------------------------------------------------------------
    lam.update_event_source_mapping(UUID=uuid, BatchSize=250, Enabled=False)
    wait_until("the mapping to be Disabled",
               lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled")
    wide = copy.deepcopy(base_policy)
    for statement in wide["Statement"]:
        statement["Resource"] = "*"
    iam.put_role_policy(RoleName=rel.ROLE, PolicyName=rel.POLICY, PolicyDocument=json.dumps(wide))
    lam.update_function_code(FunctionName=rel.FUNCTION, ZipFile=drifted_package())
    wait_until("the code update to finish", lambda: function_settled(lam))
    lam.update_function_configuration(FunctionName=rel.FUNCTION, Environment={"Variables": {"DEBUG": "1"}})
    wait_until("the configuration update to finish", lambda: function_settled(lam))
    drifted = rel.resources(aws)
    assert rel.one(drifted, "function", rel.FUNCTION).detail["code_sha256"] != base_function["code_sha256"]

    check = run_json(rel.SETUP, None, "--check", "--diff")
    check.assert_ok()
    assert_changed(check, ROUND_1, "check after round 1")
    diff = task(check, "stream_trigger", "Event source mapping")["diff"]
    assert (diff["before"]["batch_size"], diff["before"]["enabled"]) == (250, False), diff
    assert (diff["after"]["batch_size"], diff["after"]["enabled"]) == (100, True), diff
    assert rel.resources(aws) == drifted  # same resources ...
    assert_same_details(rel.resources(aws), drifted, "check mode changed something in round 1")  # ... unchanged

    fix = run_json(rel.SETUP, None, "--skip-tags", "verify")
    fix.assert_ok()
    assert_changed(fix, ROUND_1, "setup after round 1")
    fixed = rel.resources(aws)
    mapping = rel.one(fixed, "mapping", f"{rel.TABLE} -> {rel.FUNCTION}").detail
    assert (mapping["UUID"], mapping["BatchSize"], mapping["State"]) == (uuid, 100, "Enabled")
    assert rel.one(fixed, "inline_policy", f"{rel.ROLE}/{rel.POLICY}").detail["document"] == base_policy
    function = rel.one(fixed, "function", rel.FUNCTION).detail
    # Back to what setup deployed: the record log's one variable (the drifted DEBUG gone).
    assert (function["code_sha256"], function["environment"]) == (base_function["code_sha256"],
                                                                  base_function["environment"])
    assert base_function["environment"] == {"STREAMOPS_HANDLER": "handler.lambda_handler"}

    # Round 2 ------------------------------------------------------------------------------------------------
    ddb.update_table(TableName=rel.TABLE, StreamSpecification={"StreamEnabled": False})

    def stream_off() -> bool:
        table = ddb.describe_table(TableName=rel.TABLE)["Table"]
        return table["TableStatus"] == "ACTIVE" and not (table.get("StreamSpecification") or {}).get("StreamEnabled")

    wait_until("the table to be ACTIVE with its stream off", stream_off)
    ddb.update_table(TableName=rel.TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})

    def new_stream_on() -> bool:
        table = ddb.describe_table(TableName=rel.TABLE)["Table"]
        return table["TableStatus"] == "ACTIVE" and table.get("LatestStreamArn") not in (None, base_stream["arn"])

    wait_until("the table to be ACTIVE with a KEYS_ONLY stream", new_stream_on)
    iam.delete_role_policy(RoleName=rel.ROLE, PolicyName=rel.POLICY)
    drifted = rel.resources(aws)
    keys_only = rel.one(drifted, "stream", rel.TABLE).detail
    assert keys_only["view_type"] == "KEYS_ONLY"
    assert [r for r in drifted if r.kind == "inline_policy"] == []

    check = run_json(rel.SETUP, None, "--check", "--diff")
    check.assert_ok()
    assert_changed(check, ROUND_2, "check after round 2")
    assert rel.resources(aws) == drifted
    assert_same_details(rel.resources(aws), drifted, "check mode changed something in round 2")

    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    fix = run_json(rel.SETUP, {"streamops_verify_report_dir": str(report_dir)})
    fix.assert_ok()
    assert_changed(fix, ROUND_2, "setup after round 2")
    fixed = rel.resources(aws)
    stream = rel.one(fixed, "stream", rel.TABLE).detail
    assert stream["view_type"] == "NEW_AND_OLD_IMAGES"
    assert stream["arn"] not in (base_stream["arn"], keys_only["arn"])
    mapping = rel.one(fixed, "mapping", f"{rel.TABLE} -> {rel.FUNCTION}").detail
    assert (mapping["EventSourceArn"], mapping["BatchSize"], mapping["State"]) == (stream["arn"], 100, "Enabled")
    policy = rel.one(fixed, "inline_policy", f"{rel.ROLE}/{rel.POLICY}").detail["document"]
    assert policy == json.loads(json.dumps(base_policy).replace(base_stream["arn"], stream["arn"]))
    report = json.loads((report_dir / f"{HOST}.json").read_text())
    assert report["passed"] is True and report["view_type"] == "NEW_AND_OLD_IMAGES", report


VOLATILE = {"LastModified", "LastProcessingResult", "StateTransitionReason", "ResponseMetadata"}


def assert_same_details(now: list[Any], before: list[Any], message: str) -> None:
    def view(found: list[Any]) -> dict[str, Any]:
        return {str(r): {k: v for k, v in r.detail.items() if k not in VOLATILE} for r in found}

    assert view(now) == view(before), message
