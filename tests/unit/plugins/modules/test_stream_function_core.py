"""stream_function's core (run_present / ensure_function / run_absent) against fakes that answer like Lambda and
CloudWatch Logs mid-transition: Pending -> Active, LastUpdateStatus InProgress -> Successful or Failed, a new role
not yet assumable. Every wait runs on the fake clock."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from aws_fakes import ROLE_ARN
from aws_fakes import ROLE_NOT_ASSUMABLE
from aws_fakes import FakeEC2
from aws_fakes import FakeLambda
from aws_fakes import FakeLogs
from aws_fakes import FakeModule
from aws_fakes import client_error
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_function as sf

OWNER = {"streamops:managed-by": "streamops.dynamodb_lambda"}
GROUP = "/aws/lambda/fn"
ARCHIVE = b"PK-zip-bytes"


def params(**overrides):
    values = {option: spec.get("default") for option, spec in sf.ARGUMENT_SPEC.items()}
    values.update(name="fn", src="/src", handler="handler.lambda_handler", runtime="python3.12", role=ROLE_ARN)
    values.update(overrides)
    return values


def package(sha="new-sha"):
    return {"path": None, "sha256": sha, "size": len(ARCHIVE), "files": ["handler.py"]}


def present(lam, logs, check_mode=False, sha="new-sha", **overrides):
    return sf.run_present(FakeModule(check_mode=check_mode), lam, logs, params(**overrides), ARCHIVE, package(sha))


# --- creating ---------------------------------------------------------------------------------------------------

def test_create_waits_until_the_new_function_is_active(clock):
    lam, logs = FakeLambda(), FakeLogs()
    lam.create_script = [{"State": "Pending"}, {"State": "Pending"},
                         {"State": "Active", "LastUpdateStatus": "Successful"}]

    result = present(lam, logs)

    assert result["changed"] is True
    assert result["operations"] == ["logs:CreateLogGroup", "lambda:CreateFunction"]
    # The group first, so Lambda never creates it itself without retention and tags.
    assert logs.writes() == ["create_log_group"]
    assert lam.operations() == ["get_function", "create_function"] + ["get_function_configuration"] * 3
    assert result["state"] == "Active" and result["last_update_status"] == "Successful"
    assert result["function_arn"] == lam.function_arn("fn")
    assert result["code_uploaded"] is True
    assert lam.tags[lam.function_arn("fn")] == OWNER
    assert len(clock.sleeps) == 2


def test_create_retries_while_the_new_role_cannot_be_assumed(clock):
    lam, logs = FakeLambda(), FakeLogs()
    refused = client_error("InvalidParameterValueException", ROLE_NOT_ASSUMABLE, "CreateFunction")
    lam.fail("create_function", refused, refused)

    result = present(lam, logs)

    assert lam.operations().count("create_function") == 3
    assert result["state"] == "Active"
    assert clock.sleeps[:2] == [1.0, 1.5]


def test_create_gives_up_on_the_role_error_at_role_wait_timeout(clock):
    lam, logs = FakeLambda(), FakeLogs()
    lam.fail("create_function", *[client_error("InvalidParameterValueException", ROLE_NOT_ASSUMABLE,
                                               "CreateFunction")] * 50)

    with pytest.raises(ClientError, match="cannot be assumed"):
        present(lam, logs, role_wait_timeout=10)

    assert sum(clock.sleeps) == pytest.approx(10)
    assert "fn" not in lam.functions


def test_create_does_not_retry_other_invalid_parameters(clock):
    lam, logs = FakeLambda(), FakeLogs()
    lam.fail("create_function", client_error("InvalidParameterValueException", "Unzipped size must be smaller "
                                             "than 262144000 bytes", "CreateFunction"))

    with pytest.raises(ClientError, match="Unzipped size"):
        present(lam, logs)

    assert lam.operations().count("create_function") == 1
    assert clock.sleeps == []


def test_a_function_that_fails_to_become_active_is_an_error_with_lambdas_reason(clock):
    lam, logs = FakeLambda(), FakeLogs()
    lam.create_script = [{"State": "Failed", "StateReason": "The function could not be created: subnet full"}]

    with pytest.raises(sf.FunctionError) as failed:
        present(lam, logs)
    assert str(failed.value) == "function fn failed to become Active: The function could not be created: subnet full"


# --- updating ---------------------------------------------------------------------------------------------------

def test_code_update_waits_for_the_configuration_update_to_finish(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER)
    # The fake refuses UpdateFunctionCode with ResourceConflictException while this is still InProgress.
    lam.update_script = [{"LastUpdateStatus": "InProgress"}, {"LastUpdateStatus": "InProgress"},
                         {"LastUpdateStatus": "Successful"}]

    result = present(lam, logs, memory_size=256)

    assert result["operations"] == ["lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode"]
    polls = ["get_function_configuration"] * 3
    assert lam.operations() == (["get_function", "update_function_configuration"] + polls
                                + ["update_function_code"] + polls)
    assert result["memory_size"] == 256
    assert result["code_sha256"] == "sha-of-new-upload"
    assert result["last_update_status"] == "Successful"


def test_a_function_busy_before_the_run_is_waited_for_first(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER, LastUpdateStatus="InProgress",
                     script=[{}, {"LastUpdateStatus": "Successful"}])

    result = present(lam, logs, sha="old-sha", timeout=30)

    ops = lam.operations()
    assert ops.index("update_function_configuration") > ops.index("get_function_configuration")
    assert result["timeout"] == 30


def test_a_failed_update_is_an_error_with_lambdas_reason_and_stops_the_run(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER)
    reason = "Lambda was unable to configure access to your environment variables because the KMS key is invalid"
    lam.update_script = [{"LastUpdateStatus": "InProgress"},
                         {"LastUpdateStatus": "Failed", "LastUpdateStatusReason": reason,
                          "LastUpdateStatusReasonCode": "KMSKeyNotFound"}]

    with pytest.raises(sf.FunctionError) as failed:
        present(lam, logs, environment_variables={"MODE": "prod"})
    assert str(failed.value) == "the last update of function fn failed: " + reason

    # The code is not uploaded onto a function whose configuration did not apply.
    assert "update_function_code" not in lam.operations()


def test_tags_are_converged_on_the_unqualified_arn(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=dict(OWNER, stale="1"))

    result = present(lam, logs, sha="old-sha", tags={"team": "data"})

    assert result["operations"] == ["logs:TagResource", "lambda:TagResource", "lambda:UntagResource"]
    assert lam.calls[-2:] == [("tag_resource", {"Resource": lam.function_arn("fn"), "Tags": {"team": "data"}}),
                              ("untag_resource", {"Resource": lam.function_arn("fn"), "TagKeys": ["stale"]})]
    assert lam.tags[lam.function_arn("fn")] == dict(OWNER, team="data")
    assert result["tags"] == dict(OWNER, team="data")


def test_an_up_to_date_function_is_not_changed(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER)

    result = present(lam, logs, sha="old-sha")

    assert result["changed"] is False and result["operations"] == []
    assert lam.writes() == [] and logs.writes() == []
    assert result["code_uploaded"] is False


# --- check mode -------------------------------------------------------------------------------------------------

def test_check_mode_reports_the_creation_of_a_function_that_does_not_exist_yet(clock):
    lam, logs = FakeLambda(), FakeLogs()

    result = present(lam, logs, check_mode=True, log_retention_days=7)

    assert result["changed"] is True
    assert result["operations"] == ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "lambda:CreateFunction"]
    assert lam.writes() == [] and logs.writes() == []
    assert result["function_arn"] is None and result["log_group_arn"] is None
    assert result["code_sha256"] == "new-sha" and result["code_uploaded"] is True
    assert result["state"] is None and result["last_update_status"] is None
    assert result["diff"]["before"] == {"function": {}, "log_group": {}}
    assert result["diff"]["after"]["function"]["memory_size"] == 128


def test_check_mode_on_an_existing_function_predicts_the_updates_without_writing(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER)

    result = present(lam, logs, check_mode=True, handler="app.main")

    assert result["operations"] == ["lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode"]
    assert lam.writes() == [] and logs.writes() == []
    assert result["handler"] == "app.main" and result["code_sha256"] == "new-sha"
    assert result["function_arn"] == lam.function_arn("fn")


# --- absent -----------------------------------------------------------------------------------------------------

def test_absent_deletes_the_owned_function_and_log_group(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER)

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"))

    assert result["operations"] == ["lambda:DeleteFunction", "logs:DeleteLogGroup"]
    assert lam.functions == {} and logs.groups == {}
    assert result["not_owned"] == [] and result["function_arn"] is None
    assert result["deleted"] == ["function fn", "log group " + GROUP]
    assert result["diff"]["before"]["function"]["role"] == ROLE_ARN
    assert result["diff"]["before"]["log_group"] == {"log_group_name": GROUP, "tags": OWNER}
    assert result["diff"]["after"] == {}


def test_absent_when_the_function_went_away_meanwhile_still_succeeds(clock):
    lam, logs = FakeLambda(), FakeLogs()
    lam.add_function("fn", tags=OWNER)
    lam.fail("delete_function", client_error("ResourceNotFoundException", "Function not found", "DeleteFunction"))
    logs.add_group(GROUP, tags=OWNER)
    logs.fail("delete_log_group", client_error("ResourceNotFoundException", "The specified log group does not "
                                               "exist.", "DeleteLogGroup"))

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"))

    assert result["changed"] is True and result["deleted"] == ["function fn", "log group " + GROUP]


def test_absent_leaves_what_it_does_not_own(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags={"team": "x"})
    lam.add_function("fn", tags={"team": "x"})

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"))

    assert result["changed"] is False and lam.writes() == [] and logs.writes() == []
    ownership = "(no tag streamops:managed-by=streamops.dynamodb_lambda)"
    assert result["not_owned"] == ["function fn " + ownership, "log group %s %s" % (GROUP, ownership)]
    assert result["diff"]["after"] == result["diff"]["before"]
    assert result["diff"]["after"]["function"]["tags"] == {"team": "x"}
    assert result["function_arn"] == lam.function_arn("fn") and result["log_group_arn"] == logs.arn(GROUP)


def test_absent_in_check_mode_writes_nothing(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER)

    result = sf.run_absent(FakeModule(check_mode=True), lam, logs, params(state="absent"))

    assert result["changed"] is True and lam.writes() == [] and logs.writes() == []


def test_absent_with_only_a_log_group_left(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"))

    assert result["operations"] == ["logs:DeleteLogGroup"] and logs.groups == {}


# --- the log group ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("check_mode", [False, True])
def test_a_new_log_group_gets_retention_and_the_owner_tag(clock, check_mode):
    lam, logs = FakeLambda(), FakeLogs()
    lam.add_function("fn", tags=OWNER)

    result = present(lam, logs, check_mode=check_mode, sha="old-sha", log_retention_days=14)

    assert result["operations"] == ["logs:CreateLogGroup", "logs:PutRetentionPolicy"]
    assert result["diff"]["before"]["log_group"] == {}
    assert result["diff"]["after"]["log_group"] == {"log_group_name": GROUP, "retention_days": 14, "tags": OWNER}
    assert result["log_retention_days"] == 14 and result["log_group_tags"] == OWNER
    if check_mode:
        assert logs.writes() == [] and result["log_group_arn"] is None
    else:
        assert logs.calls[1:] == [("create_log_group", {"logGroupName": GROUP, "tags": OWNER}),
                                  ("put_retention_policy", {"logGroupName": GROUP, "retentionInDays": 14})]
        assert result["log_group_arn"] == logs.arn(GROUP)


@pytest.mark.parametrize("check_mode", [False, True])
@pytest.mark.parametrize("before, wanted, op, call", [
    (30, 7, "logs:PutRetentionPolicy", ("put_retention_policy", {"logGroupName": GROUP, "retentionInDays": 7})),
    (30, None, "logs:DeleteRetentionPolicy", ("delete_retention_policy", {"logGroupName": GROUP})),
    (None, 7, "logs:PutRetentionPolicy", ("put_retention_policy", {"logGroupName": GROUP, "retentionInDays": 7})),
])
def test_an_existing_log_group_converges_its_retention(clock, check_mode, before, wanted, op, call):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=dict(OWNER, extra="1"), retention=before)
    lam.add_function("fn", tags=OWNER)

    result = present(lam, logs, check_mode=check_mode, sha="old-sha", log_retention_days=wanted,
                     tags={"team": "data"})

    assert result["operations"] == [op, "logs:TagResource", "logs:UntagResource", "lambda:TagResource"]
    assert result["diff"]["before"]["log_group"] == {"log_group_name": GROUP, "retention_days": before,
                                                     "tags": dict(OWNER, extra="1")}
    assert result["diff"]["after"]["log_group"] == {"log_group_name": GROUP, "retention_days": wanted,
                                                    "tags": dict(OWNER, team="data")}
    assert result["log_group_arn"] == logs.arn(GROUP)
    group_writes = [(o, kw) for o, kw in logs.calls if o in logs.writes()]
    if check_mode:
        assert group_writes == []
    else:
        assert group_writes == [call, ("tag_resource", {"resourceArn": logs.arn(GROUP), "tags": {"team": "data"}}),
                                ("untag_resource", {"resourceArn": logs.arn(GROUP), "tagKeys": ["extra"]})]
        assert logs.groups[GROUP].get("retentionInDays") == wanted


def test_an_up_to_date_log_group_is_only_read(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER, retention=7)
    lam.add_function("fn", tags=OWNER)

    result = present(lam, logs, sha="old-sha", log_retention_days=7)

    assert result["changed"] is False and logs.writes() == []
    assert result["diff"]["before"]["log_group"] == result["diff"]["after"]["log_group"]


# --- the requests and the reported result -----------------------------------------------------------------------

def test_the_create_request_carries_the_zip_the_settings_and_no_published_version(clock):
    lam, logs = FakeLambda(), FakeLogs()

    result = present(lam, logs, description="orders stream", memory_size=256, timeout=30,
                     environment_variables={"MODE": "prod", "DEBUG": True, "LIMIT": 5})

    [request] = [kw for op, kw in lam.calls if op == "create_function"]
    env = {"MODE": "prod", "DEBUG": "true", "LIMIT": "5"}
    assert request == {"FunctionName": "fn", "Code": {"ZipFile": ARCHIVE}, "PackageType": "Zip", "Publish": False,
                       "Environment": {"Variables": env}, "Tags": OWNER, "Runtime": "python3.12",
                       "Handler": "handler.lambda_handler", "Role": ROLE_ARN, "Description": "orders stream",
                       "MemorySize": 256, "Timeout": 30,
                       # AWS's defaults, sent explicitly so the function is exactly what the options say.
                       "Architectures": ["x86_64"], "EphemeralStorage": {"Size": 512},
                       "LoggingConfig": {"LogFormat": "Text", "LogGroup": GROUP},
                       "TracingConfig": {"Mode": "PassThrough"}}
    assert result["function_name"] == "fn" and result["environment_variables"] == env
    assert result["description"] == "orders stream"
    assert result["log_group_name"] == GROUP and result["package"] == package()


def test_check_mode_creation_shows_the_function_it_would_create(clock):
    lam, logs = FakeLambda(), FakeLogs()

    result = present(lam, logs, check_mode=True, environment_variables={"MODE": "prod"})

    after = result["diff"]["after"]["function"]
    assert after["environment_variables"] == {"MODE": "prod"} and after["code_sha256"] == "new-sha"
    assert after["tags"] == OWNER and after["description"] == ""
    assert result["environment_variables"] == {"MODE": "prod"}


def test_the_update_requests_send_only_what_changed(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER, Environment={"Variables": {"MODE": "dev"}})

    result = present(lam, logs, environment_variables={"MODE": "prod"}, description=None)

    updates = [(op, kw) for op, kw in lam.calls if op.startswith("update_")]
    assert updates == [("update_function_configuration", {"FunctionName": "fn",
                                                          "Environment": {"Variables": {"MODE": "prod"}}}),
                       # UpdateFunctionCode is where Lambda takes the architecture, so new code carries it.
                       ("update_function_code", {"FunctionName": "fn", "ZipFile": ARCHIVE, "Publish": False,
                                                 "Architectures": ["x86_64"]})]
    assert result["diff"]["before"]["function"]["environment_variables"] == {"MODE": "dev"}
    after = result["diff"]["after"]["function"]
    assert after["environment_variables"] == {"MODE": "prod"} and after["code_sha256"] == "new-sha"
    assert result["environment_variables"] == {"MODE": "prod"}


@pytest.mark.parametrize("busy_state", [{"State": "Pending"}, {"LastUpdateStatus": "InProgress"}])
def test_a_code_only_update_waits_for_a_function_still_busy(clock, busy_state):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    # The fake refuses UpdateFunctionCode with ResourceConflictException while Pending or InProgress; GetFunction
    # takes the first step of the script, the two polls the rest.
    lam.add_function("fn", tags=OWNER, script=[{}, {}, {"State": "Active", "LastUpdateStatus": "Successful"}],
                     **busy_state)

    result = present(lam, logs)

    assert lam.operations()[:4] == ["get_function", "get_function_configuration", "get_function_configuration",
                                    "update_function_code"]
    assert result["operations"] == ["lambda:UpdateFunctionCode"] and result["code_sha256"] == "sha-of-new-upload"
    assert result["code_uploaded"] is True


@pytest.mark.parametrize("busy_state", [{"State": "Pending"}, {"LastUpdateStatus": "InProgress"}])
def test_a_configuration_update_waits_for_a_function_still_busy(clock, busy_state):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER, script=[{}, {}, {"State": "Active", "LastUpdateStatus": "Successful"}],
                     **busy_state)

    result = present(lam, logs, sha="old-sha", timeout=30)

    assert lam.operations()[:4] == ["get_function", "get_function_configuration", "get_function_configuration",
                                    "update_function_configuration"]
    assert result["timeout"] == 30


def test_absent_reads_the_log_group_tags_by_arn_without_listing_groups(clock):
    lam, logs = FakeLambda(), FakeLogs()
    lam.add_function("fn", tags=OWNER)
    logs.add_group(GROUP, tags=OWNER)

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"))

    assert logs.calls == [("list_tags_for_resource", {"resourceArn": logs.arn(GROUP)}),
                          ("delete_log_group", {"logGroupName": GROUP})]
    assert result["function_name"] == "fn" and result["log_group_name"] == GROUP


def test_absent_with_the_function_but_no_log_group(clock):
    lam, logs = FakeLambda(), FakeLogs()
    lam.add_function("fn", tags=OWNER)

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"))

    assert result["operations"] == ["lambda:DeleteFunction"] and "log_group" not in result["diff"]["before"]
    assert result["log_group_arn"] is None


@pytest.mark.parametrize("tags_answer", ["empty", "not found"])
def test_absent_tells_an_untagged_log_group_from_a_missing_one(clock, tags_answer):
    lam, logs = FakeLambda(), FakeLogs()
    lam.add_function("fn", tags=OWNER)
    logs.add_group(GROUP)
    if tags_answer == "not found":
        # Some endpoints answer ResourceNotFound for the tags of a group that DescribeLogGroups lists.
        logs.fail("list_tags_for_resource", client_error("ResourceNotFoundException", "The specified log group "
                                                         "does not exist.", "ListTagsForResource"))

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"))

    assert result["operations"] == ["lambda:DeleteFunction"] and GROUP in logs.groups
    assert result["diff"]["before"]["log_group"] == {"log_group_name": GROUP, "tags": {}}
    assert result["not_owned"] == ["log group %s (no tag streamops:managed-by=streamops.dynamodb_lambda)" % GROUP]
    assert result["log_group_arn"] == logs.arn(GROUP)


# --- VPC: create, change, leave, and the wait for Lambda's interfaces after delete ----------------------------

SUBNET_A, SUBNET_B, SG = "subnet-0123456789abcdef0", "subnet-1a2b3c4d", "sg-0fedcba9876543210"


def vpc_option(subnets=(SUBNET_A,), groups=(SG,)):
    return {"subnet_ids": list(subnets), "security_group_ids": list(groups), "ipv6_allowed_for_dual_stack": False}


def test_a_vpc_change_is_one_configuration_update_with_the_new_lists(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER, CodeSha256="new-sha",
                     VpcConfig={"SubnetIds": [SUBNET_A], "SecurityGroupIds": [SG], "VpcId": "vpc-1"})

    result = present(lam, logs, vpc_config=vpc_option([SUBNET_B, SUBNET_A]))

    assert result["operations"] == ["lambda:UpdateFunctionConfiguration"]
    [(_op, update)] = [c for c in lam.calls if c[0] == "update_function_configuration"]
    assert update["VpcConfig"] == {"SubnetIds": [SUBNET_A, SUBNET_B], "SecurityGroupIds": [SG],
                                   "Ipv6AllowedForDualStack": False}
    assert result["diff"]["before"]["function"]["vpc"]["subnet_ids"] == [SUBNET_A]
    assert result["diff"]["after"]["function"]["vpc"]["subnet_ids"] == [SUBNET_A, SUBNET_B]


def test_the_same_vpc_in_another_order_changes_nothing(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER, CodeSha256="new-sha",
                     VpcConfig={"SubnetIds": [SUBNET_B, SUBNET_A], "SecurityGroupIds": [SG], "VpcId": "vpc-1"})

    result = present(lam, logs, vpc_config=vpc_option([SUBNET_A, SUBNET_B]))

    assert result["changed"] is False and lam.writes() == []
    assert result["vpc_id"] == "vpc-1"


def test_leaving_the_vpc_sends_empty_lists(clock):
    lam, logs = FakeLambda(), FakeLogs()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER, CodeSha256="new-sha",
                     VpcConfig={"SubnetIds": [SUBNET_A], "SecurityGroupIds": [SG], "VpcId": "vpc-1"})

    result = present(lam, logs, vpc_config=vpc_option([], []))

    [(_op, update)] = [c for c in lam.calls if c[0] == "update_function_configuration"]
    assert update["VpcConfig"] == {"SubnetIds": [], "SecurityGroupIds": []}
    assert result["diff"]["after"]["function"]["vpc"] == {"subnet_ids": [], "security_group_ids": [],
                                                          "ipv6_allowed_for_dual_stack": False}


def test_absent_waits_for_the_interfaces_of_the_function_it_deleted(clock):
    lam, logs, ec2 = FakeLambda(), FakeLogs(), FakeEC2()
    logs.add_group(GROUP, tags=OWNER)
    lam.add_function("fn", tags=OWNER, VpcConfig={"SubnetIds": [SUBNET_A], "SecurityGroupIds": [SG]})
    ec2.add_interface("eni-1", "AWS Lambda VPC ENI-fn-1", SUBNET_A)
    ec2.linger(2)

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"), ec2_client=lambda: ec2)

    assert result["waited_for_enis"] is True and ec2.interfaces == []
    assert ec2.calls[0][1]["Filters"] == [{"Name": "description", "Values": ["AWS Lambda VPC ENI-fn*"]},
                                          {"Name": "subnet-id", "Values": [SUBNET_A]}]


def test_absent_of_a_function_gone_already_waits_when_its_vpc_is_given(clock):
    lam, logs, ec2 = FakeLambda(), FakeLogs(), FakeEC2()
    ec2.add_interface("eni-1", "AWS Lambda VPC ENI-fn-1", SUBNET_A)
    ec2.linger(1)

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent", vpc_config=vpc_option()),
                           ec2_client=lambda: ec2)

    assert result["waited_for_enis"] is True and result["changed"] is False


def test_absent_without_vpc_check_mode_or_a_zero_timeout_makes_no_ec2_call(clock):
    def no_ec2():
        raise AssertionError("no EC2 client expected")

    for module, overrides, vpc in ((FakeModule(), {}, None),
                                   (FakeModule(check_mode=True), {}, {"SubnetIds": [SUBNET_A]}),
                                   (FakeModule(), {"eni_wait_timeout": 0}, {"SubnetIds": [SUBNET_A]})):
        lam, logs = FakeLambda(), FakeLogs()
        lam.add_function("fn", tags=OWNER, **({"VpcConfig": vpc} if vpc else {}))
        result = sf.run_absent(module, lam, logs, params(state="absent", **overrides), ec2_client=no_ec2)
        assert result["waited_for_enis"] is False


def test_absent_does_not_wait_for_a_function_it_did_not_delete(clock):
    lam, logs = FakeLambda(), FakeLogs()
    lam.add_function("fn", tags={"team": "x"}, VpcConfig={"SubnetIds": [SUBNET_A], "SecurityGroupIds": [SG]})

    def no_ec2():
        raise AssertionError("no wait expected")

    result = sf.run_absent(FakeModule(), lam, logs, params(state="absent"), ec2_client=no_ec2)

    assert result["waited_for_enis"] is False and result["not_owned"]
