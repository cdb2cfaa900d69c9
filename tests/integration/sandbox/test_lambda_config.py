"""Every function setting is answered as AWS answers it: set it, read it back through Create, Update, Get and a
published version (which keeps it when $LATEST changes afterwards).

References: https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (request and the
FunctionConfiguration it returns), API_UpdateFunctionConfiguration.html, API_GetFunctionConfiguration.html,
API_PublishVersion.html ("Lambda doesn't publish a version if the function's configuration and code haven't
changed since the last version" - a version is a snapshot), API_LoggingConfig.html (log levels only with JSON),
API_ListLayerVersions.html (LayerName: "The name or Amazon Resource Name (ARN) of the layer"),
API_PutFunctionConcurrency.html, API_CreateAlias.html.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
KEY_A = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
KEY_B = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"


def _zip(body: str = "def handler(event, context):\n    return 1\n", name: str = "h.py") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, body)
    return buf.getvalue()


@pytest.fixture
def role(aws):
    return aws("iam").create_role(RoleName="cfg-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


@pytest.fixture
def create(aws, role):
    def make(name: str = "cfg", **settings):
        return aws("lambda").create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="h.handler",
                                             Code={"ZipFile": _zip()}, **settings)
    return make


def _roundtrip(aws, create, field, create_settings, created, update_settings, updated, later_settings, later):
    """Create -> Get -> Update -> Get -> Publish -> change $LATEST -> the version still answers the published value."""
    lam = aws("lambda")
    assert create(**create_settings).get(field) == created, "CreateFunction's answer"
    assert lam.get_function_configuration(FunctionName="cfg").get(field) == created, "GetFunctionConfiguration"
    assert lam.get_function(FunctionName="cfg")["Configuration"].get(field) == created, "GetFunction"
    assert lam.update_function_configuration(FunctionName="cfg", **update_settings).get(field) == updated, \
        "UpdateFunctionConfiguration's answer"
    assert lam.get_function_configuration(FunctionName="cfg").get(field) == updated, "Get after update"
    version = lam.publish_version(FunctionName="cfg")
    assert version.get(field) == updated, "PublishVersion's answer"
    lam.update_function_configuration(FunctionName="cfg", **later_settings)
    assert lam.get_function_configuration(FunctionName="cfg").get(field) == later, "$LATEST after a later update"
    assert lam.get_function_configuration(FunctionName="cfg", Qualifier=version["Version"]).get(field) == updated, \
        "the published version is frozen"
    listed = {v["Version"]: v.get(field) for v in lam.list_versions_by_function(FunctionName="cfg")["Versions"]}
    assert listed == {"$LATEST": later, version["Version"]: updated}, "ListVersionsByFunction"


def test_tracing_config(aws, create):
    """TracingConfig Mode Active | PassThrough (moto kept the create-time mode and ignored updates)."""
    _roundtrip(aws, create, "TracingConfig", {}, {"Mode": "PassThrough"}, {"TracingConfig": {"Mode": "Active"}},
               {"Mode": "Active"}, {"TracingConfig": {"Mode": "PassThrough"}}, {"Mode": "PassThrough"})


def test_ephemeral_storage(aws, create):
    _roundtrip(aws, create, "EphemeralStorage", {"EphemeralStorage": {"Size": 1024}}, {"Size": 1024},
               {"EphemeralStorage": {"Size": 2048}}, {"Size": 2048}, {"EphemeralStorage": {"Size": 512}},
               {"Size": 512})


def test_kms_key_arn(aws, create):
    _roundtrip(aws, create, "KMSKeyArn", {"KMSKeyArn": KEY_A}, KEY_A, {"KMSKeyArn": KEY_B}, KEY_B,
               {"KMSKeyArn": ""}, None)


def test_logging_config(aws, create):
    """Default Text with /aws/lambda/<name>; JSON brings ApplicationLogLevel and SystemLogLevel (INFO by default)."""
    text = {"LogFormat": "Text", "LogGroup": "/aws/lambda/cfg"}
    _roundtrip(aws, create, "LoggingConfig", {}, text,
               {"LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "LogGroup": "/custom/cfg"}},
               {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO",
                "LogGroup": "/custom/cfg"},
               {"LoggingConfig": {"LogFormat": "Text"}}, {"LogFormat": "Text", "LogGroup": "/custom/cfg"})


def test_log_levels_need_the_json_format(aws, create):
    lam = aws("lambda")
    with pytest.raises(ClientError) as excinfo:
        create(LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "LogLevel is not supported when LogFormat is set to \"Text\"" in excinfo.value.response["Error"]["Message"]
    create()
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName="cfg", LoggingConfig={"SystemLogLevel": "WARN"})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.update_function_configuration(FunctionName="cfg", LoggingConfig={"LogFormat": "JSON"})
    answer = lam.update_function_configuration(FunctionName="cfg", LoggingConfig={"SystemLogLevel": "WARN"})
    assert answer["LoggingConfig"]["SystemLogLevel"] == "WARN"


def test_vpc_config(aws, create):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
    # As on AWS, Lambda creates the function's network interfaces with its execution role.
    aws("iam").put_role_policy(RoleName="cfg-role", PolicyName="eni", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"]}]}))
    inside = {"SubnetIds": [subnet], "SecurityGroupIds": [group], "VpcId": vpc}
    outside = {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": ""}
    _roundtrip(aws, create, "VpcConfig", {"VpcConfig": {"SubnetIds": [subnet], "SecurityGroupIds": [group]}},
               inside, {"Timeout": 5}, inside, {"VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []}}, outside)


def test_layers(aws, create):
    lam = aws("lambda")
    one = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": _zip("X = 1\n", "python/lib.py")})
    two = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": _zip("X = 2\n" * 50, "python/lib.py")})
    assert one["Content"]["CodeSize"] != two["Content"]["CodeSize"]

    def layer(lv):
        return [{"Arn": lv["LayerVersionArn"], "CodeSize": lv["Content"]["CodeSize"]}]

    _roundtrip(aws, create, "Layers", {"Layers": [one["LayerVersionArn"]]}, layer(one),
               {"Layers": [two["LayerVersionArn"]]}, layer(two), {"Layers": []}, [])


def test_architectures(aws, create):
    lam = aws("lambda")
    assert create(Architectures=["arm64"])["Architectures"] == ["arm64"]
    assert lam.get_function(FunctionName="cfg")["Configuration"]["Architectures"] == ["arm64"]
    version = lam.publish_version(FunctionName="cfg")
    assert version["Architectures"] == ["arm64"]
    answer = lam.update_function_code(FunctionName="cfg", ZipFile=_zip("def handler(e, c):\n    return 2\n"),
                                      Architectures=["x86_64"])
    assert answer["Architectures"] == ["x86_64"]
    assert lam.get_function_configuration(FunctionName="cfg")["Architectures"] == ["x86_64"]
    assert lam.get_function_configuration(FunctionName="cfg", Qualifier=version["Version"])["Architectures"] == \
        ["arm64"]


def test_publish_version_freezes_code(aws, create):
    lam = aws("lambda")
    create()
    version = lam.publish_version(FunctionName="cfg")
    lam.update_function_code(FunctionName="cfg", ZipFile=_zip("def handler(e, c):\n    return 2\n"))
    latest = lam.get_function_configuration(FunctionName="cfg")
    frozen = lam.get_function_configuration(FunctionName="cfg", Qualifier=version["Version"])
    assert frozen["CodeSha256"] == version["CodeSha256"] != latest["CodeSha256"]
    assert lam.invoke(FunctionName="cfg", Qualifier=version["Version"])["Payload"].read() == b"1"
    assert lam.invoke(FunctionName="cfg")["Payload"].read() == b"2"
    assert lam.publish_version(FunctionName="cfg")["Version"] == str(int(version["Version"]) + 1)


def test_reserved_concurrency(aws, create):
    lam = aws("lambda")
    create()
    assert lam.get_function_concurrency(FunctionName="cfg").get("ReservedConcurrentExecutions") is None
    assert lam.put_function_concurrency(FunctionName="cfg", ReservedConcurrentExecutions=5)[
        "ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName="cfg")["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName="cfg")["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    lam.delete_function_concurrency(FunctionName="cfg")
    assert lam.get_function_concurrency(FunctionName="cfg").get("ReservedConcurrentExecutions") is None
    assert "Concurrency" not in lam.get_function(FunctionName="cfg")


def test_reserved_concurrency_zero_is_answered_and_never_set_is_left_out(aws, create):
    # GetFunction's Concurrency is absent until a reservation is put, and a reservation of 0 (which stops every
    # invocation) is answered as 0, not left out as if there were none.
    lam = aws("lambda")
    create()
    assert "Concurrency" not in lam.get_function(FunctionName="cfg")
    lam.put_function_concurrency(FunctionName="cfg", ReservedConcurrentExecutions=0)
    assert lam.get_function(FunctionName="cfg")["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    assert lam.get_function_concurrency(FunctionName="cfg")["ReservedConcurrentExecutions"] == 0
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="cfg")
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    lam.delete_function_concurrency(FunctionName="cfg")
    assert "Concurrency" not in lam.get_function(FunctionName="cfg")


def test_aliases(aws, create):
    lam = aws("lambda")
    create()
    one = lam.publish_version(FunctionName="cfg")["Version"]
    alias = lam.create_alias(FunctionName="cfg", Name="live", FunctionVersion=one, Description="prod")
    assert alias["AliasArn"] == "arn:aws:lambda:us-east-1:123456789012:function:cfg:live"
    assert (alias["Name"], alias["FunctionVersion"], alias["Description"]) == ("live", one, "prod")
    assert lam.get_alias(FunctionName="cfg", Name="live")["FunctionVersion"] == one
    lam.update_function_code(FunctionName="cfg", ZipFile=_zip("def handler(e, c):\n    return 2\n"))
    two = lam.publish_version(FunctionName="cfg")["Version"]
    assert lam.update_alias(FunctionName="cfg", Name="live", FunctionVersion=two)["FunctionVersion"] == two
    assert [(a["Name"], a["FunctionVersion"]) for a in lam.list_aliases(FunctionName="cfg")["Aliases"]] == \
        [("live", two)]
    assert lam.invoke(FunctionName="cfg", Qualifier="live")["Payload"].read() == b"2"
    lam.delete_alias(FunctionName="cfg", Name="live")
    assert lam.list_aliases(FunctionName="cfg")["Aliases"] == []


def test_list_layer_versions_accepts_the_layer_arn(aws):
    lam = aws("lambda")
    published = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": _zip("X = 1\n", "python/lib.py")},
                                          CompatibleRuntimes=["python3.11"])
    by_name = lam.list_layer_versions(LayerName="lib")["LayerVersions"]
    by_arn = lam.list_layer_versions(LayerName=published["LayerArn"])["LayerVersions"]
    assert [v["LayerVersionArn"] for v in by_arn] == [v["LayerVersionArn"] for v in by_name] == \
        [published["LayerVersionArn"]]
    assert lam.list_layer_versions(LayerName=published["LayerArn"], CompatibleRuntime="python3.12")[
        "LayerVersions"] == []


def test_list_versions_of_an_unknown_function_is_resource_not_found(aws, create):
    # API_ListVersionsByFunction.html, Errors: ResourceNotFoundException, as GetFunction answers.
    lam = aws("lambda")
    with pytest.raises(ClientError) as missing:
        lam.list_versions_by_function(FunctionName="no_such_function")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["Error"]["Message"] == \
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:no_such_function"
    create()
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="cfg")["Versions"]] == ["$LATEST"]
    lam.delete_function(FunctionName="cfg")
    with pytest.raises(ClientError) as deleted:
        lam.list_versions_by_function(FunctionName="cfg")
    assert deleted.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # A partial ARN names the same function, in the message as a whole ARN.
    with pytest.raises(ClientError) as partial:
        lam.list_versions_by_function(FunctionName="123456789012:function:cfg")
    assert partial.value.response["Error"]["Message"] == \
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:cfg"
