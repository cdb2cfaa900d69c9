"""End to end through ansible-playbook: a pipeline with the function settings set (arm64, a layer, X-Ray tracing,
JSON logs, reserved concurrency, /tmp size) is set up and verified, a second setup changes nothing, and teardown
removes what the collection created (the layer, published by the test, stays)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from urllib.parse import unquote

from ansible_collections.streamops.dynamodb_lambda.tests.integration.playbooks.checks import ok, recap

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"


def test_pipeline_with_function_settings_verifies_and_tears_down(run_playbook, aws, sandbox, tmp_path):
    lam = aws("lambda")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("python/streamops_shared.py", "VALUE = 1\n")
    layer = lam.publish_layer_version(LayerName="pfs-shared", Content={"ZipFile": zipped.getvalue()},
                                      CompatibleRuntimes=["python3.12"],
                                      CompatibleArchitectures=["arm64"])["LayerVersionArn"]
    pipeline = {"name": "pfs", "table_name": "pfs-table", "function_name": "pfs-fn",
                "function_architecture": "arm64", "function_layers": [layer], "function_tracing": "Active",
                "function_log_format": "JSON", "function_application_log_level": "INFO",
                "function_system_log_level": "WARN", "function_reserved_concurrency": 5,
                "function_ephemeral_storage": 1024, "verify": True}
    extra = {"streamops_pipelines": [pipeline], "streamops_verify_report_dir": str(tmp_path)}

    proc = run_playbook(SETUP, extra)
    ok(proc)
    report = json.loads((tmp_path / "pfs.json").read_text())
    assert report["passed"] is True, report

    found = lam.get_function(FunctionName="pfs-fn")
    conf = found["Configuration"]
    assert conf["Architectures"] == ["arm64"]
    assert [x["Arn"] for x in conf["Layers"]] == [layer]
    assert conf["TracingConfig"] == {"Mode": "Active"}
    assert conf["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN",
                                     "LogGroup": "/aws/lambda/pfs-fn"}
    assert conf["EphemeralStorage"] == {"Size": 1024}
    assert lam.get_function_concurrency(FunctionName="pfs-fn")["ReservedConcurrentExecutions"] == 5
    # Tracing Active: the execution role may write traces.
    doc = aws("iam").get_role_policy(RoleName="pfs-fn-role", PolicyName="streamops-stream-function")["PolicyDocument"]
    doc = json.loads(unquote(doc)) if isinstance(doc, str) else doc
    xray = [s for s in doc["Statement"] if any(a.startswith("xray:") for a in s["Action"])]
    assert xray and xray[0]["Resource"] == "*", doc

    sandbox.reset_stats()
    again = run_playbook(SETUP, {**extra, "streamops_pipelines": [dict(pipeline, verify=False)]})
    ok(again)
    assert recap(again)["pfs"]["changed"] == 0, again.stdout[-4000:]
    assert sandbox.stats()["writes"] == 0, sandbox.stats()["write_calls"]

    down = run_playbook(TEARDOWN, {"streamops_pipelines": [pipeline]})
    ok(down)
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == []
    assert aws("iam").list_roles()["Roles"] == []
    assert aws("logs").describe_log_groups()["logGroups"] == []
    assert aws("dynamodb").list_tables()["TableNames"] == []
    assert lam.list_layer_versions(LayerName="pfs-shared")["LayerVersions"]  # not ours: left alone


def test_pipeline_with_an_alias_rolls_forward_rolls_back_and_tears_down(run_playbook, aws, sandbox, tmp_path):
    lam = aws("lambda")
    source = tmp_path / "src"
    source.mkdir()
    handler = (ROOT / "files" / "lambda" / "stream_handler" / "handler.py").read_text()
    (source / "handler.py").write_text(handler)
    pipeline = {"name": "pfa", "table_name": "pfa-table", "function_name": "pfa-fn", "function_alias": "live",
                "function_source": str(source), "verify": True}

    first = run_playbook(SETUP, {"streamops_pipelines": [pipeline]})
    ok(first)
    v1 = lam.get_alias(FunctionName="pfa-fn", Name="live")["FunctionVersion"]
    [mapping] = lam.list_event_source_mappings(FunctionName="pfa-fn:live")["EventSourceMappings"]
    assert mapping["FunctionArn"].endswith(":function:pfa-fn:live"), mapping

    sandbox.reset_stats()
    again = run_playbook(SETUP, {"streamops_pipelines": [dict(pipeline, verify=False)]})
    ok(again)
    assert recap(again)["pfa"]["changed"] == 0 and sandbox.stats()["writes"] == 0, again.stdout[-3000:]

    # A new handler rolls forward: a new version under the alias, the trigger still on the alias.
    (source / "handler.py").write_text(handler + "\n# v2\n")
    forward = run_playbook(SETUP, {"streamops_pipelines": [pipeline]})
    ok(forward)
    v2 = lam.get_alias(FunctionName="pfa-fn", Name="live")["FunctionVersion"]
    assert v2 != v1
    assert [m["UUID"] for m in lam.list_event_source_mappings(FunctionName="pfa-fn:live")["EventSourceMappings"]] \
        == [mapping["UUID"]]

    # Rolling back is one field.
    back = run_playbook(SETUP, {"streamops_pipelines": [dict(pipeline, function_alias_version=v1)]})
    ok(back)
    assert lam.get_alias(FunctionName="pfa-fn", Name="live")["FunctionVersion"] == v1

    down = run_playbook(TEARDOWN, {"streamops_pipelines": [pipeline]})
    ok(down)
    assert lam.list_functions(FunctionVersion="ALL")["Functions"] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert aws("iam").list_roles()["Roles"] == [] and aws("dynamodb").list_tables()["TableNames"] == []
