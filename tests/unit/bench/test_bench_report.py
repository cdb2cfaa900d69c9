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


def run(seconds: float, total: int = 10, writes: int = 0, ok: bool = True, error: str = "") -> dict:
    return {"seconds": seconds, "total": total, "writes": writes, "ok": ok, "error": error}


def verdicts(summary, latency=None) -> dict[str, report.Verdict]:
    return {v.name: v for v in report.targets(summary, latency or {})}


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


def test_scale_target_and_not_measured_without_fifty():
    one = {"ours setup": [run(10.0)]}
    assert verdicts(report.summarise(one))["scale"].status == "not measured"
    assert verdicts(report.summarise({**one, "ours setup x50": [run(100.0)]}))["scale"].status == "met"
    assert verdicts(report.summarise({**one, "ours setup x50": [run(100.5)]}))["scale"].status == "missed"


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
    text = report.render({"commit": "abc123", "date": "today", "iam_pause": 10}, summary, {}, {}, {}, {})
    assert "`abc123`" in text and "| setup speed |" in text and "**met**" in text
    assert "without it the peer would take about 10.00 s" in text
