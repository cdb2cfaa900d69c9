"""Verify for any handler: with the record log on (the default of a verified pipeline) verify reads the wrapper's
lines whatever the handler prints; with it off, the walkthrough handler still verifies from its own lines and any
other handler fails with a message that says to turn the record log on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
# The blueprint's habit: print the whole record (Python's repr, not JSON), nothing verify can parse.
PRINTING_HANDLER = ("def lambda_handler(event, context):\n"
                    "    for record in event['Records']:\n"
                    "        print(record)\n"
                    "    return 'Successfully processed {} records.'.format(len(event['Records']))\n")
SILENT_HANDLER = "def lambda_handler(event, context):\n    return {'batchItemFailures': []}\n"
# Short waits for the cases that must fail: a handler that logs nothing is waited for until the deadline.
QUICK = {"stream_verify_timeout": 30, "stream_verify_attempt_timeout": 10}


def source(tmp_path: Path, code: str) -> str:
    src = tmp_path / "src"
    src.mkdir()
    (src / "handler.py").write_text(code)
    return str(src)


def setup(run_playbook, tmp_path: Path, extra_vars: dict[str, Any] | None = None, **pipeline: Any):
    entry = {"name": "anyh", "table_name": "anyh-table", "function_name": "anyh-fn", **pipeline}
    proc = run_playbook(SETUP, {"streamops_pipelines": [entry], "streamops_verify_report_dir": str(tmp_path),
                                **(extra_vars or {})})
    report_path = tmp_path / "anyh.json"
    return proc, json.loads(report_path.read_text()) if report_path.exists() else None


def sources(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(row["event"], row["source"]) for row in report["records"]]


def failure(proc: Any) -> str:
    """The failed tasks' output on one line (Ansible folds a long message over several)."""
    return " ".join(" ".join(re.findall(r"^fatal: .*(?:\n.+)*", proc.stdout, re.M)).split())


def test_a_handler_that_only_prints_verifies_through_the_record_log(run_playbook, aws, tmp_path):
    proc, report = setup(run_playbook, tmp_path, function_source=source(tmp_path, PRINTING_HANDLER))
    assert proc.returncode == 0, failure(proc) + proc.stdout[-3000:]
    assert report["passed"] is True
    assert sources(report) == [("INSERT", "streamops_record"), ("MODIFY", "streamops_record"),
                               ("REMOVE", "streamops_record")]
    assert report["records"][1]["old_image"]["streamops_probe"] == "v1"
    assert report["records"][1]["new_image"]["streamops_probe"] == "v2"
    conf = aws("lambda").get_function_configuration(FunctionName="anyh-fn")
    assert conf["Handler"] == "streamops_record_log.lambda_handler"
    assert conf["Environment"]["Variables"] == {"STREAMOPS_HANDLER": "handler.lambda_handler"}


def test_the_walkthrough_handler_without_the_record_log_verifies_from_its_own_lines(run_playbook, aws, tmp_path):
    proc, report = setup(run_playbook, tmp_path, function_record_log=False)
    assert proc.returncode == 0, failure(proc) + proc.stdout[-3000:]
    assert sources(report) == [("INSERT", "stream_record"), ("MODIFY", "stream_record"), ("REMOVE", "stream_record")]
    conf = aws("lambda").get_function_configuration(FunctionName="anyh-fn")
    assert conf["Handler"] == "handler.lambda_handler" and "Environment" not in conf or \
        not conf["Environment"].get("Variables")


def test_another_handler_without_the_record_log_fails_saying_to_turn_it_on(run_playbook, tmp_path):
    proc, report = setup(run_playbook, tmp_path, QUICK, function_source=source(tmp_path, PRINTING_HANDLER),
                         function_record_log=False)
    assert proc.returncode != 0
    message = failure(proc)
    assert "INSERT record missing" in message and "record log is off" in message, message
    assert "in another form: it is not the walkthrough handler; turn the record log on" in message, message
    assert report["passed"] is False


def test_a_silent_handler_without_the_record_log_fails_saying_to_turn_it_on(run_playbook, tmp_path):
    proc, _report = setup(run_playbook, tmp_path, QUICK, function_source=source(tmp_path, SILENT_HANDLER),
                          function_record_log=False)
    assert proc.returncode != 0
    message = failure(proc)
    assert "the function logged none for the probe; with a handler of your own, turn the record log on" in message, \
        message


def test_a_source_with_the_wrappers_file_name_fails_before_any_write(run_playbook, sandbox, tmp_path):
    src = Path(source(tmp_path, SILENT_HANDLER))
    (src / "streamops_record_log.py").write_text("# a file of the user's own\n")
    sandbox.reset_stats()
    proc, _report = setup(run_playbook, tmp_path, function_source=str(src))
    assert proc.returncode != 0
    message = " ".join(proc.stdout.split())
    assert "streamops_pipelines[0] (anyh): function_record_log: " in message, proc.stdout[-3000:]
    assert "holds streamops_record_log.py, the name of the record-log wrapper" in message
    assert sandbox.stats()["writes"] == 0, sandbox.stats()["write_calls"]
