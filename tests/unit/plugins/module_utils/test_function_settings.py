"""function_settings: the rules of the function settings, their one home. The roles' argument specs, the pipelines
role's field spec and defaults, and the module's argument spec are bound to the constants here: a copy that drifts
fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.streamops.dynamodb_lambda.plugins.filter.pipeline_function_setting_errors import \
    pipeline_function_setting_errors
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import function_settings as fs
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_function as sf

ROOT = Path(__file__).resolve().parents[4]
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:libs:3"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def load(path):
    return yaml.safe_load((ROOT / path).read_text())


def role_options():
    return load("roles/stream_function/meta/argument_specs.yml")["argument_specs"]["main"]["options"]


def test_rules_are_lambdas():
    assert fs.ARCHITECTURE_CHOICES == ("x86_64", "arm64") and fs.DEFAULT_ARCHITECTURE == "x86_64"
    assert fs.MAX_LAYERS == 5
    assert fs.TRACING_MODES == ("Active", "PassThrough") and fs.DEFAULT_TRACING_MODE == "PassThrough"
    assert fs.LOG_FORMATS == ("Text", "JSON")
    assert fs.EPHEMERAL_STORAGE_RANGE == (512, 10240) and fs.DEFAULT_EPHEMERAL_STORAGE == 512


def test_role_argument_spec_matches_the_constants():
    options = role_options()
    assert options["stream_function_architecture"]["choices"] == list(fs.ARCHITECTURE_CHOICES)
    assert options["stream_function_tracing"]["choices"] == list(fs.TRACING_MODES)
    assert options["stream_function_log_format"]["choices"] == list(fs.LOG_FORMATS)
    # The levels have no choices (null must pass); their descriptions list the allowed values.
    for option, levels in (("stream_function_application_log_level", fs.APPLICATION_LOG_LEVELS),
                           ("stream_function_system_log_level", fs.SYSTEM_LOG_LEVELS)):
        text = " ".join(options[option]["description"])
        assert all("C(%s)" % level in text for level in levels), option
    low, high = fs.EPHEMERAL_STORAGE_RANGE
    assert "%d-%d" % (low, high) in options["stream_function_ephemeral_storage"]["description"]


def test_role_defaults_are_the_constants():
    defaults = load("roles/stream_function/defaults/main.yml")
    options = role_options()
    expected = {"stream_function_architecture": fs.DEFAULT_ARCHITECTURE, "stream_function_layers": [],
                "stream_function_tracing": fs.DEFAULT_TRACING_MODE, "stream_function_log_format": fs.DEFAULT_LOG_FORMAT,
                "stream_function_application_log_level": None, "stream_function_system_log_level": None,
                "stream_function_reserved_concurrency": None,
                "stream_function_ephemeral_storage": fs.DEFAULT_EPHEMERAL_STORAGE,
                "stream_function_kms_key_arn": None, "stream_function_requirements": "auto"}
    for variable, value in expected.items():
        assert defaults[variable] == value, variable
        assert options[variable].get("default") == value, variable


def test_pipeline_field_spec_and_defaults_match_the_constants():
    spec = load("roles/pipelines/vars/main.yml")["__pipelines_entry_spec"]
    assert spec["function_architecture"]["choices"] == list(fs.ARCHITECTURE_CHOICES)
    assert spec["function_tracing"]["choices"] == list(fs.TRACING_MODES)
    assert spec["function_log_format"]["choices"] == list(fs.LOG_FORMATS)
    assert spec["function_application_log_level"]["choices"] == list(fs.APPLICATION_LOG_LEVELS)
    assert spec["function_system_log_level"]["choices"] == list(fs.SYSTEM_LOG_LEVELS)
    defaults = load("roles/pipelines/defaults/main.yml")["pipelines_defaults"]
    fields = {"architecture": "function_architecture", "layers": "function_layers", "tracing_mode": "function_tracing",
              "log_format": "function_log_format", "application_log_level": "function_application_log_level",
              "system_log_level": "function_system_log_level", "reserved_concurrency": "function_reserved_concurrency",
              "ephemeral_storage": "function_ephemeral_storage", "kms_key_arn": "function_kms_key_arn"}
    for setting, field in fields.items():
        assert defaults[field] == fs.DEFAULTS[setting], field
        assert field in spec, field
    assert defaults["function_requirements"] == "auto"


def test_pipeline_mapping_passes_every_field_to_its_role_variable():
    mapping = json.loads((ROOT / "playbooks/vars/pipeline_roles.json").read_text())
    for name in ("architecture", "layers", "tracing", "log_format", "application_log_level", "system_log_level",
                 "reserved_concurrency", "ephemeral_storage", "kms_key_arn", "requirements"):
        variable = "stream_function_" + name
        assert mapping["__streamops_fields"][variable] == "function_" + name, variable
    assert "function_tracing == 'Active'" in mapping["execution_role_tracing"]


def test_module_defaults_are_the_constants():
    spec = sf.ARGUMENT_SPEC
    assert spec["architecture"]["default"] == fs.DEFAULT_ARCHITECTURE
    assert spec["tracing_mode"]["default"] == fs.DEFAULT_TRACING_MODE
    assert spec["ephemeral_storage"]["default"] == fs.DEFAULT_EPHEMERAL_STORAGE
    assert spec["logging_config"]["options"]["log_format"]["default"] == fs.DEFAULT_LOG_FORMAT
    assert spec["layers"]["default"] == [] and "default" not in spec["reserved_concurrency"]


GOOD = dict(fs.DEFAULTS)


@pytest.mark.parametrize("change, option", [
    ({"architecture": "sparc"}, "architecture"),
    ({"architecture": "aarch64"}, "architecture"),
    ({"layers": [LAYER.replace("us-east-1", "eu-west-1")]}, "layers[0]"),
    ({"layers": ["libs:3"]}, "layers[0]"),
    ({"layers": [LAYER] * 2}, "layers"),
    ({"layers": ["arn:aws:lambda:us-east-1:123456789012:layer:l%d:1" % i for i in range(6)]}, "layers"),
    ({"tracing_mode": "active"}, "tracing_mode"),
    ({"log_format": "json"}, "log_format"),
    ({"application_log_level": "INFO"}, "application_log_level"),
    ({"log_format": "JSON", "application_log_level": "VERBOSE"}, "application_log_level"),
    ({"log_format": "JSON", "system_log_level": "ERROR"}, "system_log_level"),
    ({"reserved_concurrency": -1}, "reserved_concurrency"),
    ({"reserved_concurrency": True}, "reserved_concurrency"),
    ({"ephemeral_storage": 511}, "ephemeral_storage"),
    ({"ephemeral_storage": 10241}, "ephemeral_storage"),
    ({"kms_key_arn": "alias/aws/lambda"}, "kms_key_arn"),
    ({"kms_key_arn": KEY.replace("aws:kms", "aws-cn:kms")}, "kms_key_arn"),
])
def test_each_bad_value_is_one_problem_naming_the_setting(change, option):
    problems = fs.problems(dict(GOOD, **change), "us-east-1", "aws")
    assert len(problems) == 1 and problems[0].startswith(option + ":"), problems


def test_good_values_have_no_problem():
    assert fs.problems(GOOD, "us-east-1", "aws") == []
    assert fs.problems(dict(GOOD, architecture="arm64", layers=[LAYER], tracing_mode="Active", log_format="JSON",
                            application_log_level="TRACE", system_log_level="WARN", reserved_concurrency=0,
                            ephemeral_storage=10240, kms_key_arn=KEY), "us-east-1", "aws") == []
    # Without a region, a layer's region is not judged.
    assert fs.problems(dict(GOOD, layers=[LAYER.replace("us-east-1", "eu-west-1")])) == []


def test_current_of_a_default_function_equals_desired_of_the_defaults():
    conf = {"Architectures": ["x86_64"], "TracingConfig": {"Mode": "PassThrough"}, "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}}
    assert fs.current(conf, None, "fn") == fs.desired(GOOD, "fn")
    # Older functions answer without Architectures or LoggingConfig: still the defaults.
    assert fs.current({}, None, "fn") == fs.desired(GOOD, "fn")


def test_changed_names_exactly_the_changed_settings_and_the_api_fields():
    before = fs.desired(GOOD, "fn")
    after = fs.desired(dict(GOOD, layers=[LAYER], log_format="JSON"), "fn")
    assert fs.changed(before, after) == ["layers", "logging_config"]
    assert fs.configuration_fields(after, ["layers", "logging_config"]) == {
        "Layers": [LAYER], "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/aws/lambda/fn",
                                             "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"}}
    # Back to Lambda's key is an empty string in UpdateFunctionConfiguration.
    assert fs.configuration_fields(fs.desired(GOOD, "fn"), ["kms_key_arn"]) == {"KMSKeyArn": ""}
    # Architecture and concurrency are not configuration fields.
    assert fs.configuration_fields(after, ["architecture", "reserved_concurrency"]) == {}
    assert fs.create_fields(fs.desired(GOOD, "fn"))["Architectures"] == ["x86_64"]


def test_pipeline_filter_names_the_pipeline_fields():
    entry = {"function_architecture": "arm64", "function_layers": [LAYER.replace("us-east-1", "eu-west-1")],
             "function_log_format": "Text", "function_application_log_level": "DEBUG",
             "function_ephemeral_storage": "100", "function_reserved_concurrency": -3}
    problems = pipeline_function_setting_errors(entry, "us-east-1")
    assert [p.split(":", 1)[0] for p in problems] == [
        "function_layers[0]", "function_application_log_level", "function_reserved_concurrency",
        "function_ephemeral_storage"], problems
    assert "'DEBUG'" in problems[1] and "function_log_format" in problems[1]
    assert pipeline_function_setting_errors({}, "us-east-1") == []


@pytest.mark.parametrize("alias, version, option", [
    ("123", None, "alias"),
    ("live alias", None, "alias"),
    ("x" * 129, None, "alias"),
    (None, "1", "alias_version"),
    ("live", "v1", "alias_version"),
])
def test_alias_problems_name_the_option(alias, version, option):
    problems = fs.alias_problems(alias, version)
    assert len(problems) == 1 and problems[0].startswith(option + ":"), problems


def test_good_aliases():
    assert fs.alias_problems("live", None) == fs.alias_problems("blue-2", "7") == fs.alias_problems(None, None) == []


def test_a_new_version_is_needed_only_when_a_frozen_field_differs():
    latest = {"CodeSha256": "a", "MemorySize": 128, "Layers": [{"Arn": LAYER, "CodeSize": 10}],
              "Environment": {"Variables": {"A": "1"}}, "Version": "$LATEST", "RevisionId": "r1",
              "LastModified": "now"}
    published = dict(latest, Version="3", RevisionId="r2", LastModified="then",
                     Layers=[{"Arn": LAYER, "CodeSize": 11}])
    assert fs.needs_new_version(latest, published) is False
    assert fs.needs_new_version(latest, dict(published, CodeSha256="b")) is True
    assert fs.needs_new_version(latest, dict(published, Environment={"Variables": {}})) is True
    assert fs.needs_new_version(latest, None) is True


# --- VPC ----------------------------------------------------------------------------------------------------

SUBNET_A, SUBNET_B = "subnet-0123456789abcdef0", "subnet-1a2b3c4d"
GROUP = "sg-0fedcba9876543210"


def vpc(subnets=(SUBNET_A,), groups=(GROUP,), ipv6=False):
    return {"subnet_ids": list(subnets), "security_group_ids": list(groups), "ipv6_allowed_for_dual_stack": ipv6}


def test_vpc_limits_are_lambdas():
    assert fs.MAX_SUBNETS == 16 and fs.MAX_SECURITY_GROUPS == 5
    assert fs.DEFAULTS["vpc"] is None


@pytest.mark.parametrize("value, option", [
    (vpc(subnets=["subnet-xyz"]), "vpc.subnet_ids[0]"),
    (vpc(subnets=["sg-01234567"]), "vpc.subnet_ids[0]"),
    (vpc(groups=["sg-0123"]), "vpc.security_group_ids[0]"),
    (vpc(groups=["subnet-01234567"]), "vpc.security_group_ids[0]"),
    (vpc(subnets=["subnet-%08x" % i for i in range(17)]), "vpc.subnet_ids"),
    (vpc(groups=["sg-%08x" % i for i in range(6)]), "vpc.security_group_ids"),
    (vpc(subnets=[SUBNET_A, SUBNET_A]), "vpc.subnet_ids"),
    (vpc(groups=[]), "vpc.security_group_ids"),
    (vpc(subnets=[]), "vpc.subnet_ids"),
    (vpc(subnets=[], groups=[], ipv6=True), "vpc.ipv6_allowed_for_dual_stack"),
    (vpc(ipv6="yes"), "vpc.ipv6_allowed_for_dual_stack"),
    (dict(vpc(), subnets=[SUBNET_A]), "vpc"),
    (["subnet-01234567"], "vpc"),
    ({"subnet_ids": SUBNET_A, "security_group_ids": [GROUP]}, "vpc.subnet_ids"),
])
def test_each_bad_vpc_is_one_problem_naming_the_key(value, option):
    problems = fs.problems(dict(GOOD, vpc=value), "us-east-1", "aws")
    assert len(problems) == 1 and problems[0].startswith(option + ":"), problems


def test_good_vpcs_have_no_problem_and_the_limits_themselves_pass():
    for value in (None, vpc(subnets=[], groups=[]), vpc(), vpc([SUBNET_A, SUBNET_B], ipv6=True),
                  vpc(["subnet-%08x" % i for i in range(16)], ["sg-%08x" % i for i in range(5)])):
        assert fs.problems(dict(GOOD, vpc=value)) == [], value


def test_vpc_problems_use_the_callers_word():
    problems = fs.problems(dict(GOOD, vpc=vpc(groups=[])), names={"vpc": "function_vpc"})
    assert problems == ["function_vpc.security_group_ids: at least one security group is needed with subnets "
                        "(got %r)" % [SUBNET_A]]


def test_vpc_is_compared_as_sets_and_a_function_without_vpc_equals_no_vpc():
    wanted = fs.desired(dict(GOOD, vpc=vpc([SUBNET_B, SUBNET_A])), "fn")
    conf = {"VpcConfig": {"SubnetIds": [SUBNET_A, SUBNET_B], "SecurityGroupIds": [GROUP], "VpcId": "vpc-1"}}
    assert fs.changed(fs.current(conf, None, "fn"), wanted) == []
    # Lambda answers empty lists (and an empty VpcId) once a function has left its VPC.
    left = {"VpcConfig": {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": ""}}
    for settings in (GOOD, dict(GOOD, vpc=vpc(subnets=[], groups=[]))):
        assert fs.changed(fs.current(left, None, "fn"), fs.desired(settings, "fn")) == []
        assert fs.changed(fs.current({}, None, "fn"), fs.desired(settings, "fn")) == []


def test_vpc_api_fields_join_removal_is_empty_lists_and_no_vpc_is_not_sent_at_create():
    wanted = fs.desired(dict(GOOD, vpc=vpc(ipv6=True)), "fn")
    assert fs.changed(fs.desired(GOOD, "fn"), wanted) == ["vpc"]
    assert fs.configuration_fields(wanted, ["vpc"]) == {
        "VpcConfig": {"SubnetIds": [SUBNET_A], "SecurityGroupIds": [GROUP], "Ipv6AllowedForDualStack": True}}
    assert fs.create_fields(wanted)["VpcConfig"]["SubnetIds"] == [SUBNET_A]
    none = fs.desired(GOOD, "fn")
    assert fs.configuration_fields(none, ["vpc"]) == {"VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []}}
    assert "VpcConfig" not in fs.create_fields(none)


def test_a_vpc_change_needs_a_new_version_and_the_order_does_not():
    latest = {"CodeSha256": "a", "VpcConfig": {"SubnetIds": [SUBNET_A, SUBNET_B], "SecurityGroupIds": [GROUP],
                                               "VpcId": "vpc-1"}}
    assert fs.needs_new_version(latest, dict(latest, VpcConfig={"SubnetIds": [SUBNET_B, SUBNET_A],
                                                                "SecurityGroupIds": [GROUP]})) is False
    assert fs.needs_new_version(latest, dict(latest, VpcConfig={"SubnetIds": [SUBNET_A],
                                                                "SecurityGroupIds": [GROUP]})) is True


def test_eni_filters_name_the_function_and_its_subnets():
    assert fs.eni_filters("fn", [SUBNET_A]) == [
        {"Name": "description", "Values": ["AWS Lambda VPC ENI-fn*"]}, {"Name": "subnet-id", "Values": [SUBNET_A]}]
    assert fs.DEFAULT_ENI_WAIT_TIMEOUT >= 20 * 60


def test_pipeline_filter_names_function_vpc():
    problems = pipeline_function_setting_errors({"function_vpc": vpc(subnets=["subnet-bad"])}, "us-east-1")
    assert [p.split(":", 1)[0] for p in problems] == ["function_vpc.subnet_ids[0]"], problems
    assert pipeline_function_setting_errors({"function_vpc": None}, "us-east-1") == []


def test_the_vpc_setting_is_bound_through_role_pipeline_mapping_and_module():
    assert load("roles/stream_function/defaults/main.yml")["stream_function_vpc"] is fs.DEFAULTS["vpc"]
    assert load("roles/execution_role/defaults/main.yml")["execution_role_vpc"] is None
    assert load("roles/pipelines/defaults/main.yml")["pipelines_defaults"]["function_vpc"] is fs.DEFAULTS["vpc"]
    spec = load("roles/pipelines/vars/main.yml")["__pipelines_entry_spec"]["function_vpc"]
    assert sorted(spec["options"]) == sorted(fs.NO_VPC)
    for options in (role_options()["stream_function_vpc"]["options"], sf.ARGUMENT_SPEC["vpc_config"]["options"]):
        assert {k: v.get("default") for k, v in options.items()} == fs.NO_VPC
    assert "default" not in sf.ARGUMENT_SPEC["vpc_config"]
    assert sf.ARGUMENT_SPEC["eni_wait_timeout"]["default"] == fs.DEFAULT_ENI_WAIT_TIMEOUT
    assert role_options()["stream_function_eni_wait_timeout"]["default"] == fs.DEFAULT_ENI_WAIT_TIMEOUT
    assert load("roles/stream_function/defaults/main.yml")["stream_function_eni_wait_timeout"] == \
        fs.DEFAULT_ENI_WAIT_TIMEOUT
    mapping = json.loads((ROOT / "playbooks/vars/pipeline_roles.json").read_text())
    for variable in ("stream_function_vpc", "execution_role_vpc"):
        assert mapping["__streamops_fields"][variable] == "function_vpc", variable
