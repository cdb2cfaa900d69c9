"""The record-log wrapper: its lines, that it calls the user's handler unchanged, and how it is packaged."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import package
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import record_log
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import PackageError

ROOT = Path(__file__).resolve().parents[4]


def record(name, keys, old=None, new=None, seq="100"):
    ddb = {"Keys": keys, "SequenceNumber": seq, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old is not None:
        ddb["OldImage"] = old
    if new is not None:
        ddb["NewImage"] = new
    return {"eventID": "e-" + seq, "eventName": name, "eventSource": "aws:dynamodb", "dynamodb": ddb}


KEYS = {"user_id": {"S": "u1"}, "post_id": {"S": "p1"}}


def test_one_line_per_record_with_keys_and_only_the_probe_attribute_of_each_image():
    old = dict(KEYS, streamops_probe={"S": "v1"}, secret={"S": "not logged"})
    new = dict(KEYS, streamops_probe={"S": "v2"}, secret={"S": "not logged"})
    event = {"Records": [record("INSERT", KEYS, new=old, seq="1"), record("MODIFY", KEYS, old=old, new=new, seq="2"),
                         record("REMOVE", KEYS, old=new, seq="3")]}
    lines = [json.loads(line) for line in record_log.lines(event)]
    assert [line["eventName"] for line in lines] == ["INSERT", "MODIFY", "REMOVE"]
    assert all(line["kind"] == "streamops_record" and line["keys"] == KEYS for line in lines)
    assert "old_image" not in lines[0] and lines[0]["new_image"] == dict(KEYS, streamops_probe={"S": "v1"})
    assert lines[1]["old_image"]["streamops_probe"] == {"S": "v1"} and lines[1]["changed"] == ["streamops_probe"]
    assert "new_image" not in lines[2] and lines[2]["sequenceNumber"] == "3"
    assert "not logged" not in "".join(record_log.lines(event))


def test_other_events_and_odd_records_give_no_lines():
    assert record_log.lines({"hello": 1}) == []
    assert record_log.lines([1, 2]) == []
    assert record_log.lines({"Records": [{"eventName": "INSERT"}, "x"]}) == []


def test_a_logging_failure_never_stops_the_handler(capsys):
    class Broken:
        def write(self, _text):
            raise OSError("pipe closed")

        def flush(self):
            pass

    record_log.write_lines({"Records": [record("INSERT", KEYS, new=KEYS)]}, Broken())
    assert "could not log" in capsys.readouterr().err


def test_the_handler_gets_the_same_event_and_context_and_its_result_is_returned(monkeypatch, capsys):
    seen = {}
    result = {"batchItemFailures": [{"itemIdentifier": "2"}]}

    def user_handler(event, context):
        seen["event"], seen["context"] = event, context
        return result

    monkeypatch.setattr(record_log, "_HANDLER_FUNCTION", user_handler)
    event, context = {"Records": [record("INSERT", KEYS, new=KEYS)]}, object()
    assert record_log.lambda_handler(event, context) is result
    assert seen["event"] is event and seen["context"] is context
    assert json.loads(capsys.readouterr().out)["eventName"] == "INSERT"


def run_as_lambda(tmp_path, handler, code, event):
    """Import the wrapper the way Lambda's bootstrap does (top-level module, handler in the environment)."""
    (tmp_path / record_log.FILE_NAME).write_bytes(package.record_log_source())
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(code)
    script = ("import importlib, json, sys\nm = importlib.import_module(%r)\n"
              "print('RESULT', json.dumps(m.lambda_handler(json.loads(sys.argv[1]), None)))\n" % record_log.MODULE)
    env = dict(os.environ, PYTHONPATH=str(tmp_path), **{record_log.HANDLER_ENV: handler})
    return subprocess.run([sys.executable, "-c", script, json.dumps(event)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)


def test_as_lambda_loads_pkg_slash_module_handlers_and_passes_results_through(tmp_path):
    code = "def handler(event, context):\n    print('user', len(event['Records']))\n    return {'batchItemFailures': []}\n"
    proc = run_as_lambda(tmp_path, "app/main.handler", code, {"Records": [record("INSERT", KEYS, new=KEYS)]})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert json.loads(out[0])["kind"] == "streamops_record"
    assert out[1:] == ["user 1", 'RESULT {"batchItemFailures": []}']


def test_as_lambda_without_the_variable_fails_at_import_naming_it(tmp_path):
    proc = run_as_lambda(tmp_path, "", "def handler(e, c):\n    return 1\n", {})
    assert proc.returncode != 0 and record_log.HANDLER_ENV in proc.stderr


def test_the_wrapper_source_is_standard_library_only():
    imported = [line.split()[1] for line in package.record_log_source().decode().splitlines()
                if line.startswith(("import ", "from "))]
    assert set(imported) <= {"__future__", "importlib", "json", "os", "sys"}, imported


def test_stream_verify_probes_the_attribute_the_wrapper_keeps():
    role_vars = yaml.safe_load((ROOT / "roles/stream_verify/vars/main.yml").read_text())
    assert role_vars["__stream_verify_attribute"] == record_log.PROBE_ATTRIBUTE


def handler_dir(tmp_path, files):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    return str(src)


def test_package_adds_the_wrapper_and_keeps_checking_the_users_handler(tmp_path):
    src = handler_dir(tmp_path, {"app.py": "def handler(e, c):\n    return None\n"})
    built = package.build_deployment_package(src, handler="app.handler", runtime="python3.12", record_log=True)
    with zipfile.ZipFile(io.BytesIO(built["data"])) as archive:
        assert archive.namelist() == ["app.py", record_log.FILE_NAME]
        assert archive.read(record_log.FILE_NAME) == package.record_log_source()
    assert built["record_log"] == {"handler": "streamops_record_log.lambda_handler", "file": record_log.FILE_NAME,
                                   "environment": {"STREAMOPS_HANDLER": "app.handler"}}
    again = package.build_deployment_package(src, handler="app.handler", runtime="python3.12", record_log=True)
    assert again["sha256"] == built["sha256"]
    plain = package.build_deployment_package(src, handler="app.handler", runtime="python3.12")
    assert plain["files"] == ["app.py"] and plain["record_log"] is None
    with pytest.raises(PackageError, match="^handler: .*defines no top-level 'nope'"):
        package.build_deployment_package(src, handler="app.nope", runtime="python3.12", record_log=True)


@pytest.mark.parametrize("files, handler, runtime, message", [
    ({"streamops_record_log.py": "def lambda_handler(e, c):\n    pass\n", "app.py": "def h(e, c):\n    pass\n"},
     "app.h", "python3.12", "^record_log: .* holds streamops_record_log.py"),
    ({"streamops_record_log.py": "def lambda_handler(e, c):\n    pass\n"}, "streamops_record_log.lambda_handler",
     "python3.12", "^record_log: "),
    ({"index.js": "exports.h = () => 1;\n"}, "index.h", "nodejs20.x", "^record_log: the record-log wrapper is Python"),
])
def test_package_refuses_what_the_wrapper_cannot_wrap(tmp_path, files, handler, runtime, message):
    src = handler_dir(tmp_path, files)
    with pytest.raises(PackageError, match=message):
        package.build_deployment_package(src, handler=handler, runtime=runtime, record_log=True)
