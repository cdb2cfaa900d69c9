"""Production packages in the sandbox: dependencies in the zip, layers, compiled modules, JSON logs."""

from __future__ import annotations

import io
import json
import re
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

REQUEST_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
HOST_PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content if isinstance(content, bytes) else textwrap.dedent(content))
    return buf.getvalue()


def elf_header(machine: int) -> bytes:
    """The first bytes of a 64-bit little-endian ELF shared object for *machine* (62 x86_64, 183 aarch64)."""
    return b"\x7fELF\x02\x01\x01" + b"\0" * 9 + (3).to_bytes(2, "little") + machine.to_bytes(2, "little") + b"\0" * 44


@pytest.fixture
def lam(aws):
    return aws("lambda")


@pytest.fixture
def make_function(aws, lam):
    role = aws.lambda_role("package-test")

    def make(name: str, files: dict[str, str | bytes], runtime: str = "python3.12", **kwargs):
        return lam.create_function(FunctionName=name, Runtime=runtime, Role=role, Handler="handler.main",
                                   Timeout=10, Code={"ZipFile": zip_bytes(files)}, **kwargs)

    return make


def invoke(lam, name: str, event: object = None) -> tuple[dict, object]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}))
    return response, json.loads(response["Payload"].read() or b"null")


def log_messages(aws, name: str, group: str | None = None) -> list[str]:
    try:
        events = aws("logs").filter_log_events(logGroupName=group or f"/aws/lambda/{name}")["events"]
    except ClientError:
        return []
    return [e["message"] for e in sorted(events, key=lambda e: (e["timestamp"], int(e["eventId"])))]


def test_dependencies_at_the_zip_root_are_importable(lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/python-package.html: dependencies installed with
    `pip install --target` sit at the root of the .zip next to the handler and are importable; the package's
    copy wins over the runtime's own."""
    make_function("deps", {
        "handler.py": "import vendored, jmespath\n"
                      "def main(e, c):\n    return [vendored.NAME, jmespath.__file__]\n",
        "vendored/__init__.py": "NAME = 'vendored'\n",
        "vendored-1.0.dist-info/METADATA": "Name: vendored\nVersion: 1.0\n",
        "jmespath/__init__.py": "# the package's own copy shadows the runtime's\n",
    })
    response, (name, path) = invoke(lam, "deps")
    assert "FunctionError" not in response
    assert name == "vendored"
    assert "site-packages" not in path and path.endswith("jmespath/__init__.py")


def test_layers_are_unpacked_in_order_and_on_the_path_like_opt_python(aws, lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/configuration-layers.html (and packaging-layers.html): a
    layer's content is extracted under /opt in the order the function lists the layers (a later layer's file
    replaces an earlier one's); for Python, /opt/python and /opt/python/lib/python3.x/site-packages are on
    the path, after the function's own code. The sandbox uses a directory per environment, never the host's
    /opt."""
    first = lam.publish_layer_version(LayerName="base", CompatibleRuntimes=["python3.12"], Content={"ZipFile": zip_bytes({
        "python/shared.py": "WHO = 'base'\n",
        "python/lib/python3.12/site-packages/sitelib.py": "WHO = 'site-packages'\n",
        "python/overridden.py": "WHO = 'layer'\n",
    })})["LayerVersionArn"]
    second = lam.publish_layer_version(LayerName="patch", Content={"ZipFile": zip_bytes({
        "python/shared.py": "WHO = 'patch'\n",
    })})["LayerVersionArn"]
    make_function("layered", {
        "handler.py": """
            import os, sys
            import shared, sitelib, overridden
            def main(event, context):
                opt = os.path.dirname(shared.__file__)
                return {"shared": shared.WHO, "sitelib": sitelib.WHO, "overridden": overridden.WHO,
                        "shared_file": shared.__file__, "sitelib_file": sitelib.__file__,
                        "root": os.environ["LAMBDA_TASK_ROOT"],
                        "order": [p for p in sys.path if p.startswith(os.path.dirname(opt))
                                  or p == os.environ["LAMBDA_TASK_ROOT"]]}
        """,
        "overridden.py": "WHO = 'function'\n",
    }, Layers=[first, second])
    response, got = invoke(lam, "layered")
    assert "FunctionError" not in response, got
    assert got["shared"] == "patch"
    assert got["sitelib"] == "site-packages"
    assert got["overridden"] == "function"  # the task root comes before the layers
    assert not got["shared_file"].startswith("/opt/") and not got["sitelib_file"].startswith("/opt/")
    assert got["shared_file"].endswith("/opt/python/shared.py")
    assert got["sitelib_file"].endswith("/opt/python/lib/python3.12/site-packages/sitelib.py")
    order = got["order"]
    assert order[0] == got["root"]
    assert [p.rsplit("/opt/", 1)[-1] for p in order[1:]] == ["python/lib/python3.12/site-packages", "python"]


def test_compiled_modules_for_the_sandboxs_python_run(lam, make_function):
    """A package with extension modules built for the interpreter the sandbox runs (here simplejson's C
    speedups, copied from the sandbox's own site-packages) imports and runs, when the function's runtime is
    that Python."""
    import simplejson

    package = Path(simplejson.__file__).parent
    files: dict[str, str | bytes] = {f"simplejson/{p.name}": p.read_bytes() for p in package.iterdir() if p.is_file()}
    files["handler.py"] = "import simplejson, simplejson._speedups as s\ndef main(e, c):\n    return s.__file__\n"
    make_function("native-ok", files, runtime=HOST_PYTHON)
    response, path = invoke(lam, "native-ok")
    assert "FunctionError" not in response, path
    assert "site-packages" not in path and path.endswith(".so")


@pytest.mark.parametrize(("runtime", "files", "named"), [
    ("python3.12", {"fast/_speed.cpython-312-x86_64-linux-gnu.so": elf_header(62)},
     "fast/_speed.cpython-312-x86_64-linux-gnu.so (built for CPython 3.12)"),
    (HOST_PYTHON, {"fast/_speed.cpython-311-aarch64-linux-gnu.so": elf_header(183)},
     "fast/_speed.cpython-311-aarch64-linux-gnu.so (built for aarch64)"),
    (HOST_PYTHON, {"fast.libs/libblas-1a2b.so.3": elf_header(183)}, "fast.libs/libblas-1a2b.so.3 (built for aarch64)"),
])
def test_packages_built_for_another_python_or_machine_fail_clearly(aws, lam, make_function, runtime, files, named):
    """python-package.html: dependencies with compiled code must be built for the function's runtime and
    architecture (manylinux wheels for that Python and x86_64 or arm64); otherwise the import fails and Lambda
    reports Runtime.ImportModuleError. The sandbox refuses before running, naming the mismatch."""
    make_function("wrong-build", {"handler.py": "def main(e, c):\n    return 'ran'\n", **files}, runtime=runtime)
    response, payload = invoke(lam, "wrong-build")
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"].startswith("Unable to import module 'handler': ")
    assert named in payload["errorMessage"]
    assert f"CPython {sys.version_info.major}.{sys.version_info.minor}" in payload["errorMessage"]
    messages = log_messages(aws, "wrong-build")
    assert any(m.startswith("[ERROR] Runtime.ImportModuleError") for m in messages)
    assert re.search(r"Status: error\tError Type: Runtime.ImportModuleError$", messages[-1])


def test_an_arm64_function_with_x86_64_modules_fails_as_it_would_on_lambda(lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/foundation-arch.html: a function for arm64 needs its
    dependencies built for arm64; x86_64 extension modules do not load there."""
    make_function("arm", {"handler.py": "def main(e, c):\n    return 'ran'\n",
                          f"fast/_speed.cpython-{sys.version_info.major}{sys.version_info.minor}-x86_64-linux-gnu.so":
                          elf_header(62)}, runtime=HOST_PYTHON, Architectures=["arm64"])
    payload = invoke(lam, "arm")[1]
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "built for x86_64" in payload["errorMessage"] and "on arm64" in payload["errorMessage"]


def test_a_layer_with_compiled_modules_for_another_python_fails_clearly(lam, make_function):
    layer = lam.publish_layer_version(LayerName="native", Content={"ZipFile": zip_bytes({
        "python/lib/python3.12/site-packages/pydantic_core/_core.cpython-312-x86_64-linux-gnu.so": elf_header(62),
    })})["LayerVersionArn"]
    make_function("layer-native", {"handler.py": "def main(e, c):\n    return 'ran'\n"}, Layers=[layer])
    payload = invoke(lam, "layer-native")[1]
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "pydantic_core/_core.cpython-312-x86_64-linux-gnu.so (built for CPython 3.12)" in payload["errorMessage"]


JSON_LOGGER = """
import logging
logger = logging.getLogger()

def main(event, context):
    print("plain print")
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warning line", extra={"orderId": 42})
    logger.error({"structured": True})
    return "ok"
"""


def test_json_log_format_as_lambda_writes_it(aws, lam, make_function):
    """https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html (JSON log format and
    log-level filtering): with LogFormat JSON the Python runtime writes each logging record as a JSON object
    with timestamp, level, message, logger and requestId (extra fields added); records below
    ApplicationLogLevel are dropped; system logs become JSON records (platform.start, platform.report)."""
    make_function("json-logs", {"handler.py": JSON_LOGGER},
                  LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO"})
    response, _ = invoke(lam, "json-logs")
    request_id = response["ResponseMetadata"]["RequestId"]
    messages = log_messages(aws, "json-logs")
    text = "\n".join(messages)
    assert "debug line" not in text and "info line" not in text
    assert "plain print" in messages  # print() is not a logging record: it stays plain text
    records = [json.loads(m) for m in messages if m.startswith("{")]
    warning = next(r for r in records if r.get("message") == "warning line")
    assert warning["level"] == "WARNING" and warning["requestId"] == request_id and warning["logger"] == "root"
    assert warning["orderId"] == 42
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", warning["timestamp"])
    assert any(r.get("message") == {"structured": True} and r["level"] == "ERROR" for r in records)
    start = next(r for r in records if r.get("type") == "platform.start")
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    report = next(r for r in records if r.get("type") == "platform.report")
    assert report["record"]["requestId"] == request_id and report["record"]["status"] == "success"
    assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"} <= set(
        report["record"]["metrics"])
    assert not any(m.startswith(("START RequestId", "END RequestId", "REPORT RequestId")) for m in messages)


def test_json_levels_and_custom_log_group(aws, lam, make_function):
    """monitoring-cloudwatchlogs-advanced.html: SystemLogLevel WARN drops the INFO-level platform records;
    ApplicationLogLevel DEBUG keeps debug lines; LoggingConfig.LogGroup sends the logs to that group."""
    make_function("json-levels", {"handler.py": JSON_LOGGER},
                  LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN",
                                 "LogGroup": "/custom/shared-group"})
    invoke(lam, "json-levels")
    assert log_messages(aws, "json-levels") == []
    records = [json.loads(m) for m in log_messages(aws, "json-levels", "/custom/shared-group") if m.startswith("{")]
    assert {"debug line", "info line", "warning line"} <= {str(r.get("message")) for r in records}
    assert not any("type" in r for r in records)


def test_switching_back_to_text_takes_effect(aws, lam, make_function):
    """A configuration change retires the environments, so the new log format applies to the next call."""
    make_function("fmt", {"handler.py": JSON_LOGGER}, LoggingConfig={"LogFormat": "JSON"})
    invoke(lam, "fmt")
    assert any(m.startswith('{"time"') for m in log_messages(aws, "fmt"))
    lam.update_function_configuration(FunctionName="fmt", LoggingConfig={"LogFormat": "Text"})
    response, _ = invoke(lam, "fmt")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log_messages(aws, "fmt")
