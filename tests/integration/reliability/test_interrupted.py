"""Issue 7.2: setup interrupted after each of its resource steps; teardown cleans up, a rerun converges.

How the run is stopped: setup.yml offers no variable or tag that ends it after step N (its roles carry no tags
but `verify`, and --start-at-task only skips), so the callback plugin callback_plugins/abort_before_role.py
SIGKILLs ansible-playbook when the first task of the next role starts (stream_verify after the last step). That
is a hard interruption: no rescue/always block of the collection runs.

Each case runs two pipelines, A (the walkthrough's users_post) and B, so one interrupted run serves two checks:
teardown of A alone must leave nothing of A (and leave B alone), and setup of B must resume from B's partial
state, change only what the interruption left undone, and pass verify.
"""

from __future__ import annotations

import json

import pytest

STEPS = ["table_stream", "execution_role", "stream_function", "stream_trigger"]
A = {"table_name": "users_post", "function_name": "Lambda_demo_DynamoDB_stream"}
B = {"table_name": "interrupted_b", "function_name": "interrupted_b_fn"}


@pytest.mark.parametrize("step", STEPS)
def test_setup_stopped_after_a_step_tears_down_clean_and_reruns_to_a_verified_pipeline(
        step, rel, aws, run_playbook, run_json, abort_env, tmp_path):
    assert STEPS == rel.STEPS
    done = STEPS[: STEPS.index(step) + 1]
    following = (STEPS + ["stream_verify"])[len(done)]
    expected_kinds = set().union(*(rel.STEP_KINDS[s] for s in done))

    env, marker = abort_env(following)
    partial = run_playbook(rel.SETUP, {"streamops_pipelines": [A, B]}, env=env)
    # -9: killed by the callback, and nowhere else (the marker names the role it was about to start).
    assert partial.returncode == -9, rel.failure_text(partial)
    assert marker.read_text().splitlines()[0] == following
    found = rel.resources(aws)
    for pipeline in (A, B):
        kinds = {r.kind for r in rel.of_pipeline(found, pipeline["table_name"], pipeline["function_name"])}
        assert kinds == expected_kinds, f"{pipeline['table_name']} after {step}: {rel.names(found)}"
    b_partial = rel.names(rel.of_pipeline(found, B["table_name"], B["function_name"]))

    down = run_playbook(rel.TEARDOWN, {"streamops_pipelines": [A]})
    rel.assert_ok(down)
    found = rel.resources(aws)
    assert rel.names(rel.of_pipeline(found, A["table_name"], A["function_name"])) == []
    assert rel.names(found) == b_partial, "teardown of A touched B or left something of A"

    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    up = run_json(rel.SETUP, {"streamops_pipelines": [B], "streamops_verify_report_dir": str(report_dir)}, "--diff")
    up.assert_ok()
    # The rerun resumes: the steps that completed before the kill change nothing.
    redone = sorted({t.role for t in up.changed("interrupted_b")} - {"stream_verify"})
    assert set(redone) <= set(STEPS) - set(done), "rerun after {} changed:\n{}".format(step, "\n".join(
        f"{t.role} : {t.name}: {json.dumps({k: t.result.get(k) for k in ('diff', 'msg', 'configuration')})[:3000]}"
        for t in up.changed("interrupted_b") if t.role != "stream_verify"))
    report = json.loads((report_dir / "interrupted_b.json").read_text())
    assert report["passed"] is True, report

    found = rel.resources(aws)
    assert {r.kind for r in found} == set().union(*rel.STEP_KINDS.values())
    stream = rel.one(found, "stream", B["table_name"])
    mapping = rel.one(found, "mapping", f"{B['table_name']} -> {B['function_name']}")
    function = rel.one(found, "function", B["function_name"])
    role = rel.one(found, "role", f"{B['function_name']}-role")
    assert (mapping.detail["EventSourceArn"], mapping.detail["State"]) == (stream.detail["arn"], "Enabled")
    assert function.detail["role"] == role.detail["arn"]
    policy = rel.one(found, "inline_policy", f"{B['function_name']}-role/{rel.POLICY}")
    assert stream.detail["arn"] in json.dumps(policy.detail["document"])
