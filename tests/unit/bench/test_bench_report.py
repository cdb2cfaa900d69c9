"""The benchmark's arithmetic and formatting: summaries, ratios, target verdicts, latency from a task timeline.

No timing is asserted here; these tests feed made-up samples and check what the report concludes from them.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402


def run(seconds: float, total: int = 10, writes: int = 0, ok: bool = True, error: str = "",
        cpu: float | None = None) -> dict:
    return {"seconds": seconds, "total": total, "writes": writes, "ok": ok, "error": error,
            "extra": {} if cpu is None else {"cpu": cpu}}


def verdicts(summary, latency=None, profile="zero") -> dict[str, report.Verdict]:
    return {v.name: v for v in report.targets(summary, latency or {}, profile)}


def test_summary_takes_median_of_successful_runs_and_max_writes():
    s = report.summarise({"ours rerun": [run(3.0, 20, 0), run(1.0, 22, 2), run(2.0, 21, 0),
                                         run(99.0, ok=False, error="boom")]})["ours rerun"]
    assert (s.seconds, s.low, s.high, s.total, s.writes, s.runs) == (2.0, 1.0, 3.0, 21, 2, 3)
    assert s.failures == ["boom"] and not s.ok


def test_summary_of_only_failures_has_no_runs():
    s = report.summarise({"x": [run(1.0, ok=False, error="e")]})["x"]
    assert s.runs == 0 and math.isnan(s.seconds)


@pytest.mark.parametrize("a,b,expected", [(4.0, 2.0, 2.0), (1.0, 0.0, None), (None, 2.0, None),
                                          (float("nan"), 2.0, None), (1.0, float("nan"), None)])
def test_ratio(a, b, expected):
    assert report.ratio(a, b) == expected


def test_table_rows_show_ratios_to_floor_and_peer():
    summary = report.summarise({"floor setup": [run(0.5, 9, 7)], "peer setup": [run(30.0, 22, 7)],
                                "ours setup": [run(15.0, 36, 9)]})
    rows = {line.split(" | ")[0].lstrip("| "): line for line in report.table(summary)}
    ours = rows["ours: setup.yml, 1 pipeline, no verify"]
    assert "| 30.00x | 0.50x | 36 | 9 | 4.00x |" in ours
    assert "n/a" not in rows["peer: setup, 1 pipeline (naive playbook)"]


@pytest.mark.parametrize("ours,peer,status", [(20.0, 30.0, "met"), (30.0, 30.0, "met"), (31.0, 30.0, "missed")])
def test_setup_speed_target(ours, peer, status):
    summary = report.summarise({"ours setup": [run(ours)], "peer setup": [run(peer)]})
    assert verdicts(summary)["setup speed"].status == status


@pytest.mark.parametrize("rerun,writes,status", [(6.0, 0, "met"), (6.1, 0, "missed"), (1.0, 1, "missed")])
def test_rerun_target_needs_no_writes_and_at_most_60_percent(rerun, writes, status):
    summary = report.summarise({"ours setup": [run(10.0)], "ours rerun": [run(rerun, writes=writes)]})
    assert verdicts(summary)["idempotent re-run"].status == status


def test_scale_target_is_eight_times_one_pipeline_without_waits_and_not_measured_without_fifty():
    one = {"ours setup": [run(10.0)]}
    assert verdicts(report.summarise(one))["scale (setup)"].status == "not measured"
    assert verdicts(report.summarise({**one, "ours setup x50": [run(80.0)]}))["scale (setup)"].status == "met"
    assert verdicts(report.summarise({**one, "ours setup x50": [run(80.5)]}))["scale (setup)"].status == "missed"


@pytest.mark.parametrize("ours,status", [([2.0, 2.1, 9.0], "met"), ([2.3, 2.4], "missed")])
def test_verify_latency_target_compares_medians_plus_two_seconds(ours, status):
    v = verdicts({}, {"ours verify": ours, "sandbox write->log": [0.2, 0.3, 0.1]})["verify latency"]
    assert v.status == status


def test_api_call_target_is_twice_the_floor():
    summary = report.summarise({"floor setup": [run(1, total=9)], "ours setup": [run(1, total=18)],
                                "floor teardown": [run(1, total=7)], "ours teardown": [run(1, total=15)]})
    v = verdicts(summary)
    assert v["API calls (setup)"].status == "met"
    assert v["API calls (teardown)"].status == "missed"


def row(host, action, start, end, status="ok", role="r", task=None):
    return {"host": host, "action": action, "start": start, "end": end, "status": status, "role": role,
            "task": task or f"{action}@{start}", "changed": False}


def test_verify_latency_from_timeline_uses_last_change_before_last_wait_and_first_assert_after():
    timeline = [
        row("a", "streamops.dynamodb_lambda.dynamodb_item", 0, 1),
        row("a", "streamops.dynamodb_lambda.dynamodb_item", 1, 2),
        row("a", "streamops.dynamodb_lambda.log_events_info", 2, 5),
        row("a", "ansible.builtin.assert", 5, 5.5),
        row("a", "ansible.builtin.assert", 5.5, 6),
        row("a", "streamops.dynamodb_lambda.dynamodb_item", 6, 7),  # cleanup after the assertion: not a change
        row("b", "streamops.dynamodb_lambda.dynamodb_item", 0, 1),
        row("b", "streamops.dynamodb_lambda.log_events_info", 1, 2),
        row("c", "streamops.dynamodb_lambda.dynamodb_item", 0, 1, status="skipped"),
    ]
    assert sorted(report.verify_latency_from_timeline(timeline)) == [1.0, 3.5]


def test_profile_groups_by_role_and_counts_skips():
    timeline = [row("a", "x", 0, 2, role="table_stream"), row("b", "x", 0, 3, role="table_stream"),
                row("a", "y", 3, 3.1, role="table_stream", status="skipped"), row("a", "z", 4, 5, role=None)]
    groups = {g["role"]: g for g in report.profile(timeline)}
    assert groups["table_stream"]["host_seconds"] == pytest.approx(5.0)
    assert groups["table_stream"]["wall"] == pytest.approx(3.1)
    assert (groups["table_stream"]["results"], groups["table_stream"]["skipped"]) == (2, 1)
    assert "(play tasks)" in groups


def test_render_names_commit_and_verdicts():
    summary = report.summarise({"ours setup": [run(10.0)], "peer setup": [run(20.0)]})
    text = report.render({"commit": "abc123", "date": "today", "iam_pause": 10}, {"zero": summary}, {}, {}, {}, {})
    assert "`abc123`" in text and "| `zero` | setup speed |" in text and "**met**" in text
    assert "without it the peer would take about 10.00 s" in text


# --- the aws profile, controller CPU, ratios per profile ----------------------------------------------------------
@pytest.mark.parametrize("ours,status", [(12.5, "met"), (12.6, "missed")])
def test_aws_setup_is_held_to_a_quarter_more_than_the_floor_under_the_same_profile(ours, status):
    summary = report.summarise({"floor setup": [run(10.0)], "ours setup": [run(ours)]})
    v = verdicts(summary, profile="aws")["setup vs floor"]
    assert v.status == status and v.profile == "aws"


@pytest.mark.parametrize("what", ["setup", "teardown"])
@pytest.mark.parametrize("fifty,status", [(15.0, "met"), (15.1, "missed")])
def test_aws_fifty_pipelines_are_held_to_one_and_a_half_times_one_for_setup_and_teardown(what, fifty, status):
    summary = report.summarise({f"ours {what}": [run(10.0)], f"ours {what} x50": [run(fifty)]})
    assert verdicts(summary, profile="aws")[f"scale ({what})"].status == status


@pytest.mark.parametrize("rerun,writes,status", [(1.5, 0, "met"), (1.6, 0, "missed"), (0.5, 1, "missed")])
def test_aws_rerun_must_write_nothing_and_take_at_most_15_percent(rerun, writes, status):
    summary = report.summarise({"ours setup": [run(10.0)], "ours rerun": [run(rerun, writes=writes)]})
    assert verdicts(summary, profile="aws")["idempotent re-run"].status == status


def test_aws_targets_without_runs_are_not_measured_and_carry_no_zero_only_targets():
    v = verdicts({}, profile="aws")
    assert {name for name in v} == {"setup vs floor", "scale (setup)", "scale (teardown)", "idempotent re-run",
                                    "controller CPU per pipeline"}
    assert all(x.status == "not measured" for x in v.values())


@pytest.mark.parametrize("cpu,status", [(25.0, "met"), (25.5, "missed")])
def test_controller_cpu_is_per_pipeline_of_the_largest_setup_run(cpu, status):
    summary = report.summarise({"ours setup": [run(1.0, cpu=2.0)], "ours setup x10": [run(5.0, cpu=1.0)],
                                "ours setup x50": [run(9.0, cpu=cpu)], "ours teardown x50": [run(9.0, cpu=999.0)],
                                "ours setup+verify": [run(9.0, cpu=999.0)]})
    v = verdicts(summary)["controller CPU per pipeline"]
    assert v.status == status and "for 50 pipelines" in v.measured


def test_controller_cpu_is_also_given_in_task_floors_and_the_verdict_stays_on_seconds():
    summary = report.summarise({"ours setup x50": [run(9.0, cpu=30.0)]})
    v = {x.name: x for x in report.targets(summary, {}, "aws", task_floor=20.0)}["controller CPU per pipeline"]
    assert v.measured == "30.0 s for 50 pipelines = 0.60 s each (30x the task floor of 20 ms)"
    assert v.status == "missed"
    assert "task floor" not in verdicts(summary)["controller CPU per pipeline"].measured


def test_render_names_the_task_floor_the_run_measured():
    summary = report.summarise({"ours setup x50": [run(9.0, cpu=30.0)]})
    floor = {"cpu": 34.0, "tasks": 1000, "hosts": 50, "ms_per_task": 34.0}
    text = report.render({"task_floor": floor}, {"zero": summary}, {}, {}, {}, {})
    assert "34.0 ms (34.0 s for 1000 set_fact tasks on 50 local hosts)" in text
    assert "= 0.60 s each (18x the task floor of 34 ms)" in text
    failed = report.render({"task_floor": {"error": "task_floor.yml exited 2"}}, {"zero": summary}, {}, {}, {}, {})
    assert "FAILED: task_floor.yml exited 2" in failed and "x the task floor" not in failed
    assert "task floor" not in report.render({}, {"zero": summary}, {}, {}, {}, {})


def test_controller_cpu_is_not_measured_without_cpu_figures():
    assert verdicts(report.summarise({"ours setup x50": [run(9.0)]}))["controller CPU per pipeline"].status == \
        "not measured"


def test_cpu_is_the_median_of_successful_runs_and_the_table_shows_it_per_pipeline():
    summary = report.summarise({"ours setup x10": [run(5.0, cpu=3.0), run(5.0, cpu=5.0), run(5.0, cpu=4.0),
                                                   run(1.0, ok=False, cpu=100.0)]})
    assert summary["ours setup x10"].cpu == 4.0
    row = [line for line in report.table(summary) if line.startswith("| ours: setup.yml, 10 pipelines")][0]
    assert row.endswith("| 4.0 (0.40) |")


@pytest.mark.parametrize("key,n", [("ours setup x50", 50), ("ours setup", 1), ("floor teardown x10", 10),
                                   ("ours setup+verify", 1)])
def test_pipelines_of_a_run_key(key, n):
    assert report.pipelines(key) == n


def test_ratios_line_up_each_profile_in_its_own_column():
    zero = report.summarise({"ours setup": [run(2.0)], "floor setup": [run(1.0)]})
    aws = report.summarise({"ours setup": [run(30.0)], "floor setup": [run(20.0)]})
    lines = report.ratios({"aws": aws, "zero": zero})
    assert lines[0] == "| ratio (median wall time) | `zero` | `aws` |"
    assert "| ours setup / floor setup (1 pipeline) | 2.00x | 1.50x |" in lines
    assert not any(line.startswith("| ours teardown x50") for line in lines)  # no profile measured it


def test_render_lists_a_note_per_missed_target_with_the_attempts_from_the_readme():
    summary = report.summarise({"ours setup": [run(10.0)], "ours rerun": [run(9.0)]})
    text = report.render({}, {"aws": summary}, {}, {}, {}, {}, ["Fork the controller: 8.3 s -> 3.0 s"])
    assert "## Missed targets: what was tried and what each attempt bought" in text
    assert "- `aws` idempotent re-run (0 write calls and <= 15% of cold setup time): 0 writes" in text
    assert "- Fork the controller: 8.3 s -> 3.0 s" in text


def test_render_has_no_missed_section_when_nothing_is_missed():
    summary = report.summarise({"ours setup": [run(10.0)], "ours rerun": [run(1.0)]})
    assert "## Missed targets" not in report.render({}, {"aws": summary}, {}, {}, {}, {}, ["x"])


def test_attempts_come_from_the_designs_tried_sections_only():
    readme = "\n".join(["# Benchmarks", "- not an attempt", "## Designs tried, and what each bought", "",
                        "| table | row |", "- **One** thing: 10 -> 5 s", "  (wrapped line)", "- **Two**: no gain",
                        "## Other", "- not one either", "## Designs tried under aws", "- **Three**: 3 s"])
    assert report.attempts_from_readme(readme) == ["**One** thing: 10 -> 5 s (wrapped line)", "**Two**: no gain",
                                                   "**Three**: 3 s"]


def test_notes_on_missed_targets_come_from_their_readme_section_by_profile_and_name():
    readme = "\n".join(["## Notes on missed targets", "", "- `aws` scale (setup): tried A (10x -> 4x),",
                        "  then B (no gain)", "- `zero` idempotent re-run: nothing waits there", "",
                        "## Other", "- `aws` scale (teardown): not a note"])
    assert report.notes_from_readme(readme) == {("aws", "scale (setup)"): "tried A (10x -> 4x), then B (no gain)",
                                                ("zero", "idempotent re-run"): "nothing waits there"}


def test_a_missed_target_shows_its_note_or_says_that_it_has_none():
    summary = report.summarise({"ours setup": [run(10.0)], "ours rerun": [run(9.0)]})
    noted = report.render({}, {"aws": summary}, {}, {}, {}, {}, [],
                          notes={("aws", "idempotent re-run"): "what was tried, and what it bought"})
    assert "of cold setup time): 0 writes (max over runs), 9.00 s = 90% of 10.00 s. Note: what was tried, and what " \
           "it bought" in noted
    bare = report.render({}, {"aws": summary}, {}, {}, {}, {}, [])
    assert 'Note: _none yet: add one to bench/README.md, "Notes on missed targets"._' in bare


def test_render_lists_each_failure_message_once_with_its_count():
    summary = report.summarise({"peer rerun": [run(1.0, ok=False, error="in use"), run(1.0, ok=False, error="in use")],
                                "peer teardown": [run(1.0, ok=False, error="a"), run(1.0, ok=False, error="b")]})
    text = report.render({}, {"aws": summary}, {}, {}, {}, {})
    failed = text.split("## Failed runs", 1)[1].split("\n## ", 1)[0]
    assert "- `aws` peer rerun (2 runs): in use" in failed
    assert "- `aws` peer teardown: a" in failed and "- `aws` peer teardown: b" in failed
    assert failed.count("in use") == 1
