"""stream_function: every bad input is rejected before any AWS call, naming the option; the pure helpers.
No network: building an AWS client fails the test."""

from __future__ import annotations

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import package as pkg
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_function as sf

ROLE = "arn:aws:iam::123456789012:role/fn-role"
OWNER = {"streamops:managed-by": "streamops.dynamodb_lambda"}


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "handler.py").write_text("def lambda_handler(event, context):\n    return event\n")
    return root


def base(src):
    return {"name": "fn", "src": str(src), "handler": "handler.lambda_handler", "runtime": "python3.12", "role": ROLE}


@pytest.mark.parametrize("args, option", [
    ({"name": "bad name"}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"name": ""}, "name"),
    ({"role": "fn-role"}, "role"),
    ({"role": "arn:aws:iam::123456789012:user/someone"}, "role"),
    ({"role": None}, "role"),
    ({"src": None}, "src"),
    ({"handler": None}, "handler"),
    ({"runtime": None}, "runtime"),
    ({"description": "x" * 257}, "description"),
    ({"memory_size": 127}, "memory_size"),
    ({"memory_size": 10241}, "memory_size"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": 901}, "timeout"),
    ({"environment_variables": {"AWS_REGION": "x"}}, "environment_variables"),
    ({"environment_variables": {"AWS_LAMBDA_FUNCTION_NAME": "x"}}, "environment_variables"),
    ({"environment_variables": {"1BAD": "x"}}, "environment_variables"),
    ({"environment_variables": {"OK": {"nested": 1}}}, "environment_variables"),
    ({"tags": {"aws:owner": "x"}}, "tags"),
    ({"owner_tag": {}}, "owner_tag"),
    ({"owner_tag": {"aws:owner": "x"}}, "owner_tag"),
    ({"owner_tag": {"a": ""}}, "owner_tag"),
    ({"log_retention_days": 2}, "log_retention_days"),
    ({"log_retention_days": 0}, "log_retention_days"),
    ({"role_wait_timeout": -1}, "role_wait_timeout"),
    ({"wait_timeout": 0}, "wait_timeout"),
    ({"wait_timeout": 3601}, "wait_timeout"),
    ({"state": "gone"}, "state"),
    ({"memory_size": "lots"}, "memory_size"),
    # The packaging checks, with lambda_package's messages.
    ({"src": "/nonexistent/handler"}, "src"),
    ({"handler": "handler.missing"}, "handler"),
    ({"handler": "nodot"}, "handler"),
    ({"runtime": "nodejs20.x"}, "handler"),
    ({"runtime": "python3"}, "runtime"),
    ({"runtime": "java21"}, "runtime"),
])
def test_bad_input_is_rejected_naming_the_option(offline_main, src, args, option):
    params = {k: v for k, v in dict(base(src), **args).items() if v is not None}
    result = offline_main(sf, **params)
    assert result["failed"] is True
    assert option in result["msg"], result["msg"]
    if "state" not in args and args.get("memory_size") != "lots":  # those two are AnsibleModule's own messages
        assert result["msg"].startswith(option + ":"), result["msg"]


def test_every_problem_is_reported_at_once(offline_main, src):
    result = offline_main(sf, **dict(base(src), name="bad name", memory_size=64, timeout=0, role="nope"))
    for option in ("name:", "memory_size:", "timeout:", "role:"):
        assert option in result["msg"], result["msg"]


def test_absent_needs_only_a_valid_name(offline_main):
    result = offline_main(sf, name="bad name", state="absent")
    assert result["failed"] is True and result["msg"].startswith("name:")


def test_package_path_is_reported_as_its_option(offline_main, src, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = offline_main(sf, **dict(base(src), package_path=str(blocker / "sub" / "fn.zip")))
    assert result["failed"] is True and result["msg"].startswith("package_path:"), result["msg"]


def test_archive_is_lambda_packages_archive(src, tmp_path):
    data, names = pkg.build_archive(str(src), (), "handler.lambda_handler", "python3.12")
    packaged = pkg.package(str(src), str(tmp_path / "fn.zip"))
    assert names == ["handler.py"] and pkg.code_sha256(data) == packaged["sha256"]


def test_environment_values_become_strings():
    params = {"environment_variables": {"A": "x", "B": 1, "C": True, "D": False, "E": 1.5}}
    assert sf.environment(params) == {"A": "x", "B": "1", "C": "true", "D": "false", "E": "1.5"}


def test_desired_tags_always_carry_the_owner_tag():
    params = {"tags": {"a": "1"}, "purge_tags": True, "owner_tag": OWNER}
    assert sf.desired_tags(params, {"old": "x"}) == ({"a": "1", **OWNER}, True)
    params = {"tags": {"a": "1", "streamops:managed-by": "other"}, "purge_tags": False, "owner_tag": OWNER}
    assert sf.desired_tags(params, None) == ({"a": "1", **OWNER}, False)
    # Tags omitted: the current ones stay, the owner tag is added, nothing is purged.
    params = {"tags": None, "purge_tags": True, "owner_tag": OWNER}
    assert sf.desired_tags(params, {"old": "x"}) == ({"old": "x", **OWNER}, False)


def test_apply_tags():
    to_set, to_unset, after = sf.apply_tags({"a": "1", "b": "2"}, {"a": "1", "c": "3"}, True)
    assert (to_set, sorted(to_unset), after) == ({"c": "3"}, ["b"], {"a": "1", "c": "3"})
    to_set, to_unset, after = sf.apply_tags({"a": "1", "b": "2"}, {"a": "9"}, False)
    assert (to_set, to_unset, after) == ({"a": "9"}, [], {"a": "9", "b": "2"})


def test_function_view_reads_what_lambda_answers():
    conf = {"Runtime": "python3.12", "Handler": "h.f", "Role": ROLE, "Description": "", "MemorySize": 128,
            "Timeout": 3, "CodeSha256": "abc="}
    assert sf.function_view(conf, {}) == {"runtime": "python3.12", "handler": "h.f", "role": ROLE, "description": "",
                                          "memory_size": 128, "timeout": 3, "environment_variables": {},
                                          "code_sha256": "abc=", "tags": {}}


def test_one_letter_environment_names_are_refused_as_lambda_does():
    """Lambda's Environment.Variables keys match [a-zA-Z]([a-zA-Z0-9_])+: two characters at least
    (https://docs.aws.amazon.com/lambda/latest/api/API_Environment.html)."""
    from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_function

    params = {"name": "fn", "state": "present", "owner_tag": {"streamops:managed-by": "streamops.dynamodb_lambda"},
              "src": "/src", "handler": "handler.main", "runtime": "python3.12",
              "role": "arn:aws:iam::123456789012:role/r", "description": "", "memory_size": 128, "timeout": 3,
              "environment_variables": {"X": "1", "XY": "2"}, "tags": None, "log_retention_days": None,
              "role_wait_timeout": 120, "wait_timeout": 300}
    problems = [p for p in stream_function.validate(params) if p.startswith("environment_variables")]
    assert problems == ["environment_variables: 'X' is not a valid name (a letter, then one or more letters, digits, "
                        "_)"]
