"""dynamodb_stream: input validation (before any AWS call), the enable/replace/disable/ownership plan, and the
documentation of dynamodb_stream and dynamodb_stream_info against their argument specs. No network."""

from __future__ import annotations

import contextlib
import importlib
import io
import json

import pytest
import yaml

from ansible_collections.streamops.dynamodb_lambda.plugins.modules import dynamodb_stream

FRAGMENTS = ["amazon.aws.common.modules", "amazon.aws.region.modules", "amazon.aws.boto3"]


def run_main(module, monkeypatch, **args):
    """Run module.main() with *args*; any attempt to build an AWS client fails the test."""
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

    def no_client(*_a, **_k):
        raise AssertionError("the module built an AWS client before rejecting its input")

    monkeypatch.setattr(AnsibleAWSModule, "client", no_client)
    out = io.StringIO()
    with patch_module_args(dict(args, region="us-east-1")), contextlib.redirect_stdout(out):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.parametrize("args, option", [
    ({"table_name": "ab"}, "table_name"),
    ({"table_name": "x" * 256}, "table_name"),
    ({"table_name": "bad name"}, "table_name"),
    ({"table_name": "a/b/c"}, "table_name"),
    ({"table_name": "users_post", "wait_timeout": 0}, "wait_timeout"),
    ({"table_name": "users_post", "wait_timeout": -5}, "wait_timeout"),
    ({"table_name": "users_post", "wait_timeout": 3601}, "wait_timeout"),
    ({"table_name": "users_post", "view_type": "ALL"}, "view_type"),
    ({"table_name": "users_post", "view_type": "new_image"}, "view_type"),
    ({"table_name": "users_post", "state": "disabled"}, "state"),
    ({"table_name": "users_post", "mark_owner": "perhaps"}, "mark_owner"),
    ({}, "table_name"),
])
def test_bad_input_is_rejected_naming_the_option(monkeypatch, args, option):
    result = run_main(dynamodb_stream, monkeypatch, **args)
    assert result["failed"] is True
    assert option in result["msg"], result["msg"]


def test_info_rejects_bad_table_name(monkeypatch):
    info = importlib.import_module("ansible_collections.streamops.dynamodb_lambda.plugins.modules.dynamodb_stream_info")
    result = run_main(info, monkeypatch, table_name="no")
    assert result["failed"] is True and "table_name" in result["msg"]


def facts(enabled, view=None, arn="arn:s1"):
    return {"table_name": "t", "table_arn": "arn:t", "stream_enabled": enabled, "view_type": view if enabled else None,
            "stream_arn": arn if enabled else None, "stream_label": None}


@pytest.mark.parametrize("enabled, view, owned, state, mark_owner, expected", [
    # state=present
    (False, None, False, "present", False, dict(enable=True)),
    (False, None, False, "present", True, dict(enable=True, tag=True)),
    (True, "NEW_AND_OLD_IMAGES", False, "present", True, dict()),  # someone else's stream: not claimed
    (True, "KEYS_ONLY", False, "present", False, dict(disable=True, enable=True)),
    (True, "KEYS_ONLY", True, "present", True, dict(disable=True, enable=True)),  # already tagged
    (True, "KEYS_ONLY", False, "present", True, dict(disable=True, enable=True, tag=True)),
    # state=absent
    (False, None, False, "absent", False, dict()),
    (False, None, True, "absent", True, dict(untag=True)),  # stale tag is cleaned up
    (True, "NEW_IMAGE", False, "absent", False, dict(disable=True)),
    (True, "NEW_IMAGE", True, "absent", False, dict(disable=True, untag=True)),
    (True, "NEW_IMAGE", True, "absent", True, dict(disable=True, untag=True)),
    (True, "NEW_IMAGE", False, "absent", True, dict(skipped=True)),
])
def test_plan(enabled, view, owned, state, mark_owner, expected):
    steps = dynamodb_stream.plan(facts(enabled, view), owned, state, "NEW_AND_OLD_IMAGES", mark_owner)
    for key in ("disable", "enable", "tag", "untag"):
        assert steps[key] is bool(expected.get(key)), key
    assert bool(steps["skipped_reason"]) is bool(expected.get("skipped"))


def test_validate_params_accepts_defaults():
    assert dynamodb_stream.validate_params({"table_name": "users_post", "wait_timeout": 300,
                                            "view_type": "NEW_AND_OLD_IMAGES"}) == []


@pytest.mark.parametrize("name", ["dynamodb_stream", "dynamodb_stream_info", "stream_trigger", "stream_trigger_info"])
def test_documentation_matches_argument_spec(name):
    module = importlib.import_module(f"ansible_collections.streamops.dynamodb_lambda.plugins.modules.{name}")
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name and doc["version_added"] == "0.1.0"
    assert doc["extends_documentation_fragment"] == FRAGMENTS
    assert set(doc["options"]) == set(module.ARGUMENT_SPEC)
    for option, arg in module.ARGUMENT_SPEC.items():
        documented = doc["options"][option]
        assert documented["type"] == arg.get("type", "str"), option
        assert documented.get("default") == arg.get("default"), option
        assert documented.get("choices") == arg.get("choices"), option
        assert bool(documented.get("required")) == bool(arg.get("required")), option
        assert documented.get("elements") == arg.get("elements"), option
        assert documented["description"], option
    for key, meta in yaml.safe_load(module.RETURN).items():
        assert {"description", "returned", "type", "sample"} <= set(meta), key
    tasks = yaml.safe_load(module.EXAMPLES)
    used = [t[f"streamops.dynamodb_lambda.{name}"] for t in tasks if f"streamops.dynamodb_lambda.{name}" in t]
    assert used
    for args in used:
        assert set(args) <= set(doc["options"]), set(args) - set(doc["options"])
