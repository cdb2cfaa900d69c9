"""stream_function's function settings against the sandbox: architecture, layers, tracing, logging, reserved
concurrency, ephemeral storage, the environment's KMS key and requirements. Each is set on create and read back,
changed in check mode with a diff that shows exactly that setting, applied, and a second run writes nothing."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

NAME = "sfs-fn"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
HANDLER = "def lambda_handler(event, context):\n    return {'batchItemFailures': []}\n"
# The unit tests' wheel builder (tests/unit/plugins/conftest.py), loaded by path: no network, no index.
_spec = importlib.util.spec_from_file_location(
    "_wheels", Path(__file__).resolve().parents[2] / "unit" / "plugins" / "conftest.py")
_wheels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_wheels)


@pytest.fixture
def role_arn(aws):
    return aws("iam").create_role(RoleName="sfs-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    return root


def layer_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/shared.py", "X = 1\n")
    return buffer.getvalue()


@pytest.fixture
def layers(aws):
    """Two published layer versions (ARNs)."""
    lam = aws("lambda")
    return [lam.publish_layer_version(LayerName=f"sfs-layer-{i}", Content={"ZipFile": layer_zip()},
                                      CompatibleRuntimes=["python3.12"],
                                      CompatibleArchitectures=["x86_64", "arm64"])["LayerVersionArn"]
            for i in (1, 2)]


@pytest.fixture
def kms_key(aws):
    return aws("kms").create_key(Description="sfs env")["KeyMetadata"]["Arn"]


def deploy(run_module, src, role_arn, **args):
    params = {"function_name": NAME, "src": str(src), "handler": "handler.lambda_handler", "runtime": "python3.12",
              "role": role_arn, "requirements_cache_dir": str(src.parent / "deps"), **args}
    return run_module("stream_function", **params)


def writes(sandbox):
    return {k: v for k, v in sandbox.stats()["write_calls"].items() if not k.startswith("iam:")}


def read_back(aws):
    found = aws("lambda").get_function(FunctionName=NAME)
    conf = found["Configuration"]
    return {
        "architecture": conf["Architectures"][0],
        "layers": [layer["Arn"] for layer in conf.get("Layers") or []],
        "tracing_mode": conf["TracingConfig"]["Mode"],
        "log_format": conf["LoggingConfig"]["LogFormat"],
        "levels": (conf["LoggingConfig"].get("ApplicationLogLevel"), conf["LoggingConfig"].get("SystemLogLevel")),
        "ephemeral_storage": conf["EphemeralStorage"]["Size"],
        "kms_key_arn": conf.get("KMSKeyArn"),
        # GetFunction answers a reservation of 0 as 0 and leaves Concurrency out when there is none, as AWS does.
        "reserved_concurrency": (found.get("Concurrency") or {}).get("ReservedConcurrentExecutions"),
    }


DEFAULTS = {"architecture": "x86_64", "layers": [], "tracing_mode": "PassThrough", "log_format": "Text",
            "levels": (None, None), "ephemeral_storage": 512, "kms_key_arn": None, "reserved_concurrency": None}


def test_defaults_are_lambdas_and_change_nothing(run_module, aws, sandbox, src, role_arn):
    created = deploy(run_module, src, role_arn)
    assert created["changed"] is True, created
    assert read_back(aws) == DEFAULTS
    assert created["logging_config"] == {"log_format": "Text", "log_group": f"/aws/lambda/{NAME}"}
    sandbox.reset_stats()
    again = deploy(run_module, src, role_arn, diff=True)
    assert again["changed"] is False and again["operations"] == [] and writes(sandbox) == {}, again


def test_every_setting_on_create_is_read_back_and_idempotent(run_module, aws, sandbox, src, role_arn, layers,
                                                             kms_key):
    settings = {"architecture": "arm64", "layers": layers, "tracing_mode": "Active",
                "logging_config": {"log_format": "JSON", "application_log_level": "WARN", "system_log_level": "DEBUG"},
                "reserved_concurrency": 3, "ephemeral_storage": 1024, "kms_key_arn": kms_key}
    sandbox.reset_stats()
    checked = deploy(run_module, src, role_arn, check=True, diff=True, **settings)
    assert checked["changed"] is True and writes(sandbox) == {}, checked
    assert checked["operations"] == ["logs:CreateLogGroup", "lambda:CreateFunction", "lambda:PutFunctionConcurrency"]
    assert checked["diff"]["after"]["function"]["architecture"] == "arm64"

    created = deploy(run_module, src, role_arn, **settings)
    assert created["changed"] is True, created
    assert created["operations"][-2:] == ["lambda:CreateFunction", "lambda:PutFunctionConcurrency"]
    assert read_back(aws) == {"architecture": "arm64", "layers": layers, "tracing_mode": "Active",
                              "log_format": "JSON", "levels": ("WARN", "DEBUG"), "ephemeral_storage": 1024,
                              "kms_key_arn": kms_key, "reserved_concurrency": 3}
    assert (created["architecture"], created["layers"], created["reserved_concurrency"]) == ("arm64", layers, 3)

    sandbox.reset_stats()
    again = deploy(run_module, src, role_arn, diff=True, **settings)
    assert again["changed"] is False and writes(sandbox) == {}, again
    assert again["diff"]["before"]["function"] == again["diff"]["after"]["function"]


# (options to apply over the defaults, the diff keys that must change, the write calls, what reads back)
CHANGES = {
    "architecture": ({"architecture": "arm64"}, ["architecture"], {"lambda:UpdateFunctionCode": 1},
                     {"architecture": "arm64"}),
    "layers": (lambda layers, key: {"layers": layers}, ["layers"], {"lambda:UpdateFunctionConfiguration": 1},
               lambda layers, key: {"layers": layers}),
    "layers_reordered": (lambda layers, key: {"layers": layers[::-1]}, ["layers"],
                         {"lambda:UpdateFunctionConfiguration": 1}, lambda layers, key: {"layers": layers[::-1]}),
    "tracing": ({"tracing_mode": "Active"}, ["tracing_mode"], {"lambda:UpdateFunctionConfiguration": 1},
                {"tracing_mode": "Active"}),
    "log_format": ({"logging_config": {"log_format": "JSON", "application_log_level": "ERROR"}}, ["logging_config"],
                   {"lambda:UpdateFunctionConfiguration": 1}, {"log_format": "JSON", "levels": ("ERROR", "INFO")}),
    "reserved_concurrency": ({"reserved_concurrency": 5}, ["reserved_concurrency"],
                             {"lambda:PutFunctionConcurrency": 1}, {"reserved_concurrency": 5}),
    # 0 stops every invocation. The sandbox's GetFunction leaves a 0 out of Concurrency (AWS returns it), so the
    # way back to null is not checked for it here.
    "reserved_concurrency_zero": ({"reserved_concurrency": 0}, ["reserved_concurrency"],
                                  {"lambda:PutFunctionConcurrency": 1}, {"reserved_concurrency": 0}),
    "ephemeral_storage": ({"ephemeral_storage": 10240}, ["ephemeral_storage"],
                          {"lambda:UpdateFunctionConfiguration": 1}, {"ephemeral_storage": 10240}),
    "kms_key_arn": (lambda layers, key: {"kms_key_arn": key}, ["kms_key_arn"],
                    {"lambda:UpdateFunctionConfiguration": 1}, lambda layers, key: {"kms_key_arn": key}),
}


@pytest.mark.parametrize("case", list(CHANGES))
def test_one_setting_changed_check_diff_apply_idempotent(run_module, aws, sandbox, src, role_arn, layers, kms_key,
                                                         case):
    options, changed_keys, expected_writes, expected = CHANGES[case]
    options = options(layers, kms_key) if callable(options) else options
    expected = expected(layers, kms_key) if callable(expected) else expected
    start = {"layers": layers} if case == "layers_reordered" else {}
    assert deploy(run_module, src, role_arn, **start)["changed"] is True
    before_code = aws("lambda").get_function(FunctionName=NAME)["Configuration"]["CodeSha256"]

    sandbox.reset_stats()
    checked = deploy(run_module, src, role_arn, check=True, diff=True, **options)
    assert checked["changed"] is True and writes(sandbox) == {}, checked
    before, after = checked["diff"]["before"]["function"], checked["diff"]["after"]["function"]
    assert [key for key in after if before.get(key) != after[key]] == changed_keys, (before, after)
    assert read_back(aws) == dict(DEFAULTS, **start and {"layers": layers})

    sandbox.reset_stats()
    applied = deploy(run_module, src, role_arn, diff=True, **options)
    assert applied["changed"] is True and applied["operations"] == checked["operations"], applied
    assert writes(sandbox) == expected_writes
    assert read_back(aws) == dict(DEFAULTS, **dict(start and {"layers": layers}, **expected))
    assert aws("lambda").get_function(FunctionName=NAME)["Configuration"]["LastUpdateStatus"] == "Successful"
    if case == "architecture":
        # Same code, new architecture: the code goes up again with Architectures (UpdateFunctionCode).
        assert applied["code_uploaded"] is True and applied["code_sha256"] == before_code

    sandbox.reset_stats()
    again = deploy(run_module, src, role_arn, **options)
    assert again["changed"] is False and writes(sandbox) == {}, again
    # The reservation (0 included) comes with GetFunction: the re-run needs no GetFunctionConcurrency.
    assert "lambda:GetFunctionConcurrency" not in sandbox.stats()["calls"], sandbox.stats()

    # Back to the default: the setting is removed, not left behind.
    back = deploy(run_module, src, role_arn, **start)
    assert back["changed"] is True, back
    assert read_back(aws) == dict(DEFAULTS, **start and {"layers": layers})


@pytest.mark.parametrize("args, option", [
    ({"architecture": "sparc"}, "architecture"),
    ({"layers": ["arn:aws:lambda:eu-west-1:123456789012:layer:libs:1"]}, r"layers\[0\]"),
    ({"layers": ["libs"]}, r"layers\[0\]"),
    ({"layers": ["arn:aws:lambda:us-east-1:123456789012:layer:l%d:1" % i for i in range(6)]}, "layers"),
    ({"tracing_mode": "On"}, "tracing_mode"),
    ({"logging_config": {"log_format": "XML"}}, r"logging_config\.log_format"),
    ({"logging_config": {"log_format": "Text", "application_log_level": "DEBUG"}},
     r"logging_config\.application_log_level"),
    ({"logging_config": {"log_format": "JSON", "system_log_level": "ERROR"}}, r"logging_config\.system_log_level"),
    ({"reserved_concurrency": -1}, "reserved_concurrency"),
    ({"ephemeral_storage": 511}, "ephemeral_storage"),
    ({"ephemeral_storage": 10241}, "ephemeral_storage"),
    ({"kms_key_arn": "alias/mine"}, "kms_key_arn"),
])
def test_bad_value_fails_naming_the_option_without_aws_calls(run_module, sandbox, src, args, option):
    sandbox.reset_stats()
    failed = deploy(run_module, src, "arn:aws:iam::123456789012:role/sfs-role", **args)
    assert failed["failed"] is True, failed
    assert re.match(option + ":", failed["msg"]), failed["msg"]
    assert sandbox.stats()["total"] == 0


@pytest.fixture
def wheels(tmp_path):
    folder = tmp_path / "wheels"
    folder.mkdir()
    _wheels.make_wheel(folder, "tinydep", "1.0", {"tinydep.py": "X = 1\n"})
    _wheels.make_wheel(folder, "cext", "1.0", {"cext.py": "X = 1\n"}, tag="cp312-cp312-manylinux2014_x86_64")
    return folder


def test_requirements_installed_for_the_architecture_and_cached(run_module, aws, sandbox, src, role_arn, wheels):
    # pip options in the file itself: install only from the local folder.
    (src / "requirements.txt").write_text(f"--no-index\n--find-links {wheels}\ntinydep==1.0\ncext==1.0\n")
    created = deploy(run_module, src, role_arn)
    assert created["changed"] is True, created
    assert created["package"]["cached"] is False
    assert {"name": "cext", "version": "1.0"} in created["package"]["dependencies"]
    assert {"tinydep.py", "cext.py", "handler.py"} <= set(created["package"]["files"])

    sandbox.reset_stats()
    again = deploy(run_module, src, role_arn)
    assert again["changed"] is False and again["package"]["cached"] is True, again
    assert again["code_uploaded"] is False and writes(sandbox) == {}

    # cext has a wheel for x86_64 only: arm64 fails before any write, naming requirements and the package.
    sandbox.reset_stats()
    failed = deploy(run_module, src, role_arn, architecture="arm64")
    assert failed["failed"] is True and failed["msg"].startswith("requirements:"), failed
    assert "cext" in failed["msg"]
    assert writes(sandbox) == {}

    # requirements false: the file is packaged as it is, nothing installed.
    plain = deploy(run_module, src, role_arn, requirements=False, check=True)
    assert "tinydep.py" not in plain["package"]["files"] and "requirements.txt" in plain["package"]["files"]


def test_alias_rolls_forward_rolls_back_and_goes_with_the_function(run_module, aws, sandbox, src, role_arn):
    lam = aws("lambda")
    checked = deploy(run_module, src, role_arn, alias="live", check=True, diff=True)
    assert checked["operations"][-2:] == ["lambda:PublishVersion", "lambda:CreateAlias"], checked
    assert checked["diff"]["after"]["alias"] == {"name": "live", "version": "(new version)"}
    assert writes(sandbox) == {}

    first = deploy(run_module, src, role_arn, alias="live")
    assert first["operations"][-2:] == ["lambda:PublishVersion", "lambda:CreateAlias"], first
    v1 = first["alias_version"]
    assert lam.get_alias(FunctionName=NAME, Name="live")["FunctionVersion"] == v1
    assert first["alias_arn"] == first["function_arn"] + ":live"

    sandbox.reset_stats()
    same = deploy(run_module, src, role_arn, alias="live")
    assert same["changed"] is False and writes(sandbox) == {} and same["alias_version"] == v1, same

    # A change rolls forward: a new version, the alias on it, the old version kept for a rollback.
    (src / "handler.py").write_text(HANDLER + "# v2\n")
    forward = deploy(run_module, src, role_arn, alias="live", diff=True)
    v2 = forward["alias_version"]
    assert forward["operations"][-3:] == ["lambda:UpdateFunctionCode", "lambda:PublishVersion",
                                          "lambda:UpdateAlias"], forward
    assert v2 != v1 and forward["diff"]["before"]["alias"] == {"name": "live", "version": v1}
    assert lam.get_alias(FunctionName=NAME, Name="live")["FunctionVersion"] == v2

    # Rolling back is one option; the code of $LATEST stays, so no write but the alias.
    sandbox.reset_stats()
    back = deploy(run_module, src, role_arn, alias="live", alias_version=v1)
    assert back["operations"] == ["lambda:UpdateAlias"] and writes(sandbox) == {"lambda:UpdateAlias": 1}, back
    assert lam.get_alias(FunctionName=NAME, Name="live")["FunctionVersion"] == v1
    sandbox.reset_stats()
    assert deploy(run_module, src, role_arn, alias="live", alias_version=v1)["changed"] is False
    assert writes(sandbox) == {}

    missing = deploy(run_module, src, role_arn, alias="live", alias_version="99")
    assert missing["failed"] is True and missing["msg"].startswith("alias_version:"), missing

    # Deleting the function deletes its versions and aliases with it.
    gone = run_module("stream_function", function_name=NAME, state="absent")
    assert gone["changed"] is True, gone
    assert lam.list_functions(FunctionVersion="ALL")["Functions"] == []


@pytest.mark.parametrize("args, option", [
    ({"alias": "123"}, "alias"),
    ({"alias": "bad alias"}, "alias"),
    ({"alias_version": "1"}, "alias_version"),
    ({"alias": "live", "alias_version": "v1"}, "alias_version"),
])
def test_bad_alias_fails_naming_the_option_without_aws_calls(run_module, sandbox, src, args, option):
    sandbox.reset_stats()
    failed = deploy(run_module, src, "arn:aws:iam::123456789012:role/sfs-role", **args)
    assert failed["failed"] is True and failed["msg"].startswith(option + ":"), failed
    assert sandbox.stats()["total"] == 0
