"""dynamodb_stream: input validation (before any AWS call), the enable/replace/disable/ownership plan, and the
documentation of dynamodb_stream and dynamodb_stream_info against their argument specs. No network."""

from __future__ import annotations

import importlib

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.modules import dynamodb_stream

FRAGMENTS = ["amazon.aws.common.modules", "amazon.aws.region.modules", "amazon.aws.boto3"]


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
def test_bad_input_is_rejected_naming_the_option(offline_main, args, option):
    result = offline_main(dynamodb_stream, **args)
    assert result["failed"] is True
    assert option in result["msg"], result["msg"]


def test_info_rejects_bad_table_name(offline_main):
    info = importlib.import_module("ansible_collections.streamops.dynamodb_lambda.plugins.modules.dynamodb_stream_info")
    result = offline_main(info, table_name="no")
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


# --- create_table, replace_unowned_stream, delete_table --------------------------------------------------

@pytest.mark.parametrize("create, option", [
    ({}, "hash_key"),
    ({"hash_key": {"type": "S"}}, "name"),
    ({"hash_key": {"name": "id", "type": "X"}}, "type"),
    ({"hash_key": {"name": "id"}, "range_key": {"name": "id"}}, "create_table.range_key.name"),
    ({"hash_key": {"name": "id"}, "range_key": {"type": "S"}}, "name"),
    ({"hash_key": {"name": "id"}, "tags": {"k" * 129: "v"}}, "create_table.tags"),
    ({"hash_key": {"name": "id"}, "tags": {"k": "v" * 257}}, "create_table.tags"),
])
def test_bad_create_table_is_rejected_before_any_client(offline_main, create, option):
    result = offline_main(dynamodb_stream, table_name="users_post", create_table=create)
    assert result["failed"] is True
    assert option in result["msg"], result["msg"]


@pytest.mark.parametrize("args, option", [
    ({"replace_unowned_stream": "sometimes"}, "replace_unowned_stream"),
    ({"delete_table": "maybe"}, "delete_table"),
])
def test_bad_new_booleans_are_rejected(offline_main, args, option):
    result = offline_main(dynamodb_stream, table_name="users_post", **args)
    assert result["failed"] is True and option in result["msg"], result["msg"]


def params(**overrides):
    base = {"table_name": "users_post", "state": "present", "view_type": "NEW_IMAGE", "mark_owner": True,
            "create_table": {"hash_key": {"name": "user_id", "type": "S"}, "range_key": {"name": "post_id", "type": "N"},
                             "tags": {"team": "data", "streamops:managed-by": "me"}},
            "replace_unowned_stream": True, "delete_table": False, "wait": True, "wait_timeout": 30}
    base.update(overrides)
    return base


def test_creation_request_is_one_call_with_stream_and_ownership_tags():
    request = dynamodb_stream.creation_request(params())
    assert request["TableName"] == "users_post" and request["BillingMode"] == "PAY_PER_REQUEST"
    assert request["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"},
                                    {"AttributeName": "post_id", "KeyType": "RANGE"}]
    assert request["AttributeDefinitions"] == [{"AttributeName": "user_id", "AttributeType": "S"},
                                               {"AttributeName": "post_id", "AttributeType": "N"}]
    assert request["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert {t["Key"]: t["Value"] for t in request["Tags"]} == {
        "team": "data", "streamops:managed-by": "streamops.dynamodb_lambda",
        "streamops:table-created-by": "streamops.dynamodb_lambda",
        "streamops:stream-enabled-by": "streamops.dynamodb_lambda"}
    plain = dynamodb_stream.creation_request(params(mark_owner=False, create_table={"hash_key": {"name": "id"}}))
    assert plain["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert plain["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert "streamops:stream-enabled-by" not in {t["Key"] for t in plain["Tags"]}


@pytest.mark.parametrize("enabled, view, owned, allow, refused", [
    (True, "KEYS_ONLY", False, False, True),    # someone else's stream, another view type
    (True, "KEYS_ONLY", False, True, False),    # allowed explicitly
    (True, "KEYS_ONLY", True, False, False),    # ours
    (True, "NEW_IMAGE", False, False, False),   # same view type: nothing to replace
    (False, None, False, False, False),         # no stream: enabling replaces nothing
])
def test_unowned_replacement_error(enabled, view, owned, allow, refused):
    message = dynamodb_stream.unowned_replacement_error(facts(enabled, view), owned,
                                                        params(replace_unowned_stream=allow))
    assert bool(message) is refused
    if refused:
        assert message.startswith("view_type:") and "replace_unowned_stream" in message
    assert dynamodb_stream.unowned_replacement_error(facts(enabled, view), owned,
                                                     params(replace_unowned_stream=allow, state="absent")) is None


class Failed(Exception):
    pass


class FakeModule:
    check_mode = False
    _diff = False

    def __init__(self):
        self.warnings = []

    def fail_json(self, **kwargs):
        raise Failed(kwargs)

    def warn(self, message):
        self.warnings.append(message)


class FakeDynamoDB:
    """Answers like AWS: CreateTable says CREATING, DeleteTable says DELETING; the next read(s) settle."""

    ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/users_post"

    def __init__(self, table=None, tags=None, reads_until_settled=1):
        self.table, self.tags, self.calls = table, dict(tags or {}), []
        self.pending = 0
        self.reads_until_settled = reads_until_settled
        self.deleting = False

    def _not_found(self):
        import botocore.exceptions
        return botocore.exceptions.ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "x"}},
                                               "DescribeTable")

    def describe_table(self, aws_retry, TableName):
        self.calls.append("DescribeTable")
        if self.table is None:
            raise self._not_found()
        if self.pending:
            self.pending -= 1
        elif self.deleting:
            self.table, self.deleting = None, False
            raise self._not_found()
        else:
            self.table["TableStatus"] = "ACTIVE"
        return {"Table": dict(self.table)}

    def create_table(self, aws_retry, **request):
        self.calls.append("CreateTable")
        self.table = {"TableName": request["TableName"], "TableArn": self.ARN, "TableStatus": "CREATING",
                      "KeySchema": request["KeySchema"], "AttributeDefinitions": request["AttributeDefinitions"],
                      "StreamSpecification": request["StreamSpecification"],
                      "LatestStreamArn": self.ARN + "/stream/1", "LatestStreamLabel": "1"}
        self.tags = {t["Key"]: t["Value"] for t in request["Tags"]}
        self.pending = self.reads_until_settled
        return {"TableDescription": dict(self.table)}

    def delete_table(self, aws_retry, TableName):
        self.calls.append("DeleteTable")
        self.table["TableStatus"] = "DELETING"
        self.deleting = True
        self.pending = self.reads_until_settled
        return {"TableDescription": dict(self.table)}

    def list_tags_of_resource(self, aws_retry, ResourceArn):
        self.calls.append("ListTagsOfResource")
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()]}


class FakeStreams:
    def __init__(self):
        self.calls = []

    def describe_stream(self, aws_retry, StreamArn):
        self.calls.append("DescribeStream")
        return {"StreamDescription": {"StreamArn": StreamArn, "StreamStatus": "ENABLED"}}


def test_create_waits_for_active_then_for_the_stream_when_aws_answers_creating():
    client, streams = FakeDynamoDB(), FakeStreams()
    result = dynamodb_stream.ensure(FakeModule(), client, streams, params())
    assert client.calls == ["DescribeTable", "CreateTable", "DescribeTable", "DescribeTable"]
    assert streams.calls == ["DescribeStream"]
    assert result["created"] is True and result["stream_arn"] == FakeDynamoDB.ARN + "/stream/1"
    assert result["key_schema"][1] == {"attribute_name": "post_id", "key_type": "RANGE", "attribute_type": "N"}


def test_delete_waits_until_the_table_is_gone_when_aws_answers_deleting():
    client = FakeDynamoDB()
    dynamodb_stream.ensure(FakeModule(), client, FakeStreams(), params())
    client.calls.clear()
    result = dynamodb_stream.ensure(FakeModule(), client, FakeStreams(),
                                    params(state="absent", delete_table=True))
    assert result["deleted"] is True and client.table is None
    assert client.calls == ["DescribeTable", "ListTagsOfResource", "DeleteTable", "DescribeTable", "DescribeTable"]


def test_create_waits_out_a_deleting_table_first():
    client = FakeDynamoDB(table={"TableName": "users_post", "TableArn": FakeDynamoDB.ARN, "TableStatus": "DELETING"})
    client.deleting, client.pending = True, 1
    result = dynamodb_stream.ensure(FakeModule(), client, FakeStreams(), params())
    assert result["created"] is True
    assert client.calls[:3] == ["DescribeTable", "DescribeTable", "CreateTable"]


def test_missing_table_without_create_table_fails_before_any_write():
    client = FakeDynamoDB()
    with pytest.raises(Failed) as failed:
        dynamodb_stream.ensure(FakeModule(), client, FakeStreams(), params(create_table=None))
    assert failed.value.args[0]["reason"] == "table_missing" and "create_table" in failed.value.args[0]["msg"]
    assert client.calls == ["DescribeTable"]


@pytest.mark.parametrize("wait, services", [(False, ["dynamodb"]), (True, ["dynamodb", "dynamodbstreams"])])
def test_the_streams_client_is_built_only_to_wait(monkeypatch, wait, services):
    import contextlib
    import io

    from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
    from ansible_collections.streamops.dynamodb_lambda.tests.compat import patch_module_args

    built, passed = [], []
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda self, service, **_kw: built.append(service) or service)
    monkeypatch.setattr(dynamodb_stream, "ensure",
                        lambda module, client, streams, params: passed.append((client, streams)) or {"changed": False})
    with patch_module_args({"region": "us-east-1", "table_name": "users_post", "wait": wait}):
        with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit):
            dynamodb_stream.main()
    assert built == services
    assert passed == [("dynamodb", "dynamodbstreams" if wait else None)]
