"""setup.yml and teardown.yml leave the function's and the trigger's transitions to one pipeline_wait task at the
end of the play (so they overlap across pipelines): the run still ends with everything settled, a failure names
the pipeline, a re-run changes nothing, and check mode waits for nothing."""

from __future__ import annotations

import re
from pathlib import Path

from ansible_collections.streamops.dynamodb_lambda.tests.integration.playbooks.checks import ok, recap, text

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"
PIPELINES = [{"name": "orders", "table_name": "orders", "function_name": "orders_fn"},
             {"name": "audit", "table_name": "audit", "function_name": "audit_fn"}]


def test_deferred_waits_end_settled_and_a_rerun_changes_nothing(run_playbook, aws, sandbox):
    # Transitions that outlast the tasks that start them: a role that returned at once leaves them running.
    sandbox.configure(function_transition=2, mapping_transition=3)
    try:
        setup = run_playbook(SETUP, {"streamops_pipelines": PIPELINES, "streamops_verify": False})
        ok(setup)
        lam = aws("lambda")
        # Read right after the playbook returned: nothing is left mid-transition.
        for pipeline in PIPELINES:
            conf = lam.get_function_configuration(FunctionName=pipeline["function_name"])
            assert (conf["State"], conf.get("LastUpdateStatus", "Successful")) == ("Active", "Successful"), conf
        states = sorted(m["State"] for m in lam.list_event_source_mappings()["EventSourceMappings"])
        assert states == ["Enabled", "Enabled"]
        # The trigger task returned while its mapping was still Creating; the last task waited for it.
        assert re.search(r"TASK \[Wait until every function is Active and every trigger Enabled", setup.stdout)

        sandbox.reset_stats()
        again = run_playbook(SETUP, {"streamops_pipelines": PIPELINES, "streamops_verify": False})
        ok(again)
        assert all(c["changed"] == 0 for h, c in recap(again).items() if h != "localhost"), recap(again)
        assert sandbox.stats().get("writes", 0) == 0, sandbox.stats()

        teardown = run_playbook(TEARDOWN, {"streamops_pipelines": PIPELINES})
        ok(teardown)
        # Not even Deleting: teardown ends once the mappings are gone, so setup can map the same pairs again.
        assert lam.list_event_source_mappings()["EventSourceMappings"] == []
        assert lam.list_functions()["Functions"] == []
    finally:
        sandbox.configure(function_transition=0, mapping_transition=0)


def test_a_trigger_lambda_disables_fails_the_run_naming_the_pipeline(run_playbook, aws, sandbox):
    sandbox._call("POST", "/_sandbox/lambda/next-mapping-state", {"state": "Failed", "seconds": 0.5,
                                                                  "reason": "cannot read the stream"})
    proc = run_playbook(SETUP, {"streamops_pipelines": PIPELINES[:1], "streamops_verify": False})
    assert proc.returncode != 0
    uuid = aws("lambda").list_event_source_mappings()["EventSourceMappings"][0]["UUID"]
    assert (f"streamops_pipelines[0] (orders): event source mapping {uuid} ended Disabled instead of Enabled: "
            "PROBLEM: cannot read the stream") in text(proc), proc.stdout[-3000:]
    # The wait ran once for all pipelines and did not fail itself; the failure is the pipeline's own host's.
    assert "fatal: [orders]: FAILED!" in proc.stdout and proc.stdout.count("fatal: [") == 1, proc.stdout[-3000:]
    ok(run_playbook(TEARDOWN, {"streamops_pipelines": PIPELINES[:1]}))


def test_one_pipeline_failing_its_wait_leaves_the_others_ok(run_playbook, aws, sandbox):
    """One wait for both pipelines: Lambda disabling one trigger fails that pipeline only, naming it; the other
    settles, and its host ends the play without a failure."""
    sandbox._call("POST", "/_sandbox/lambda/next-mapping-state", {"state": "Failed", "seconds": 0.5,
                                                                  "reason": "cannot read the stream"})
    try:
        proc = run_playbook(SETUP, {"streamops_pipelines": PIPELINES, "streamops_verify": False})
        assert proc.returncode != 0
        mappings = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
        disabled = [m for m in mappings if m["State"] == "Disabled"]
        assert len(disabled) == 1 and len(mappings) == 2, mappings
        index = next(i for i, p in enumerate(PIPELINES) if disabled[0]["FunctionArn"].endswith(":" + p["function_name"]))
        failed, healthy = PIPELINES[index]["name"], PIPELINES[1 - index]["name"]
        assert (f"streamops_pipelines[{index}] ({failed}): event source mapping {disabled[0]['UUID']} ended Disabled "
                "instead of Enabled: PROBLEM: cannot read the stream") in text(proc), proc.stdout[-3000:]
        assert proc.stdout.count("fatal: [") == 1 and f"fatal: [{failed}]: FAILED!" in proc.stdout, proc.stdout[-3000:]
        counts = recap(proc)
        assert counts[failed]["failed"] == 1 and counts[healthy]["failed"] == 0, counts
    finally:
        ok(run_playbook(TEARDOWN, {"streamops_pipelines": PIPELINES}))


def test_check_mode_on_an_empty_account_waits_for_nothing(run_playbook, sandbox):
    sandbox.reset_stats()
    proc = run_playbook(SETUP, {"streamops_pipelines": PIPELINES, "streamops_verify": False}, "--check")
    ok(proc)
    calls = sandbox.stats()["calls"]
    assert not [c for c in calls if c in ("lambda:GetEventSourceMapping", "lambda:GetFunctionConfiguration")], calls
