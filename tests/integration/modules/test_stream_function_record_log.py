"""stream_function with record_log against the sandbox, whose Lambda runtime is AWS's awslambdaric: the wrapper
runs there in front of a handler that prints nothing, in Text and JSON log format, writes its lines as whole log
events, and hands the handler's result (partial batch failures) back unchanged. Turning it off restores the plain
handler."""

from __future__ import annotations

import json

import pytest

NAME = "srl-fn"
# A handler of the user's own: silent, and it fails the second record (a partial batch failure).
HANDLER = ("def handler(event, context):\n"
           "    records = event['Records']\n"
           "    assert context.function_name == 'srl-fn'\n"
           "    return {'batchItemFailures': [{'itemIdentifier': r['dynamodb']['SequenceNumber']} for r in records[1:2]]}\n")
KEYS = {"user_id": {"S": "u-1"}}


def stream_event():
    def rec(name, seq, old=None, new=None):
        ddb = {"Keys": KEYS, "SequenceNumber": seq, "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        if old:
            ddb["OldImage"] = old
        if new:
            ddb["NewImage"] = new
        return {"eventID": "e" + seq, "eventName": name, "eventSource": "aws:dynamodb", "eventVersion": "1.1",
                "awsRegion": "us-east-1", "dynamodb": ddb}
    v1 = dict(KEYS, streamops_probe={"S": "v1"}, body={"S": "private"})
    v2 = dict(KEYS, streamops_probe={"S": "v2"}, body={"S": "private"})
    return {"Records": [rec("INSERT", "1", new=v1), rec("MODIFY", "2", old=v1, new=v2), rec("REMOVE", "3", old=v2)]}


def deploy(run_module, src, role, **extra):
    return run_module("stream_function", function_name=NAME, src=str(src), handler="app.handler", runtime="python3.12",
                      role=role, **extra)


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_the_wrapper_logs_each_record_and_returns_the_handlers_result(run_module, aws, lambda_role, tmp_path,
                                                                      log_format):
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(HANDLER)
    role = lambda_role()
    result = deploy(run_module, src, role, record_log=True, logging_config={"log_format": log_format})
    assert not result.get("failed"), result
    assert result["handler"] == "streamops_record_log.lambda_handler" and result["wrapped_handler"] == "app.handler"
    assert result["environment_variables"] == {"STREAMOPS_HANDLER": "app.handler"}
    assert "streamops_record_log.py" in result["package"]["files"]

    lam = aws("lambda")
    answer = lam.invoke(FunctionName=NAME, Payload=json.dumps(stream_event()).encode())
    assert "FunctionError" not in answer, answer
    assert json.loads(answer["Payload"].read()) == {"batchItemFailures": [{"itemIdentifier": "2"}]}

    events = aws("logs").filter_log_events(logGroupName="/aws/lambda/" + NAME)["events"]
    lines = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
    records = [line for line in lines if line.get("kind") == "streamops_record"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"], [e["message"] for e in events]
    assert records[1]["old_image"] == dict(KEYS, streamops_probe={"S": "v1"})
    assert records[1]["changed"] == ["streamops_probe"]
    assert all("private" not in e["message"] for e in events)
    if log_format == "JSON":  # the platform's own lines are JSON records; the wrapper's stay whole lines
        assert any(line.get("type") == "platform.start" for line in lines), lines

    again = deploy(run_module, src, role, record_log=True, logging_config={"log_format": log_format})
    assert again["changed"] is False, again["operations"]

    off = deploy(run_module, src, role, record_log=False, logging_config={"log_format": log_format}, diff=True)
    assert off["changed"] is True and "lambda:UpdateFunctionCode" in off["operations"]
    assert off["handler"] == "app.handler" and off["environment_variables"] == {} and off["wrapped_handler"] is None
    assert off["diff"]["before"]["function"]["handler"] == "streamops_record_log.lambda_handler"
    assert lam.get_function_configuration(FunctionName=NAME)["Handler"] == "app.handler"


def test_a_variable_the_wrapper_needs_is_refused_before_any_call(run_module, lambda_role, tmp_path, sandbox):
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(HANDLER)
    role = lambda_role()
    sandbox.reset_stats()
    result = deploy(run_module, src, role, record_log=True,
                    environment_variables={"STREAMOPS_HANDLER": "other.handler"})
    assert result["failed"] and result["msg"].startswith("environment_variables: STREAMOPS_HANDLER is set by record_log")
    assert sandbox.stats()["writes"] == 0
