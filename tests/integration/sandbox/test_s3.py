"""The sandbox's S3 as Lambda's code store: S3 calls named in /_sandbox/stats from botocore's model, Lambda
creating and updating a function from S3Bucket/S3Key (and running that code), and Lambda's errors for code that is
not there. https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCode.html"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


def _zip(value: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", "def handler(event, context):\n    return %d\n" % value)
    return buf.getvalue()


@pytest.fixture
def role(aws):
    return aws("iam").create_role(RoleName="s3-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


def test_s3_calls_are_named_in_the_stats(aws, sandbox):
    s3 = aws("s3")
    s3.create_bucket(Bucket="named")
    sandbox.reset_stats()
    s3.put_object(Bucket="named", Key="a/b.zip", Body=b"x", Tagging="k=v")
    s3.copy_object(Bucket="named", Key="a/c.zip", CopySource={"Bucket": "named", "Key": "a/b.zip"})
    s3.head_object(Bucket="named", Key="a/b.zip")
    s3.get_object_tagging(Bucket="named", Key="a/b.zip")
    s3.list_objects_v2(Bucket="named", Prefix="a/")
    s3.delete_object(Bucket="named", Key="a/c.zip")
    stats = sandbox.stats()
    assert {k: v for k, v in stats["calls"].items() if k.startswith("s3:")} == {
        "s3:PutObject": 1, "s3:CopyObject": 1, "s3:HeadObject": 1, "s3:GetObjectTagging": 1,
        "s3:ListObjectsV2": 1, "s3:DeleteObject": 1}
    assert stats["write_calls"] == {"s3:PutObject": 1, "s3:CopyObject": 1, "s3:DeleteObject": 1}


def test_lambda_runs_the_code_it_read_from_s3(aws, role):
    s3, lam = aws("s3"), aws("lambda")
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="one.zip", Body=_zip(1))
    s3.put_object(Bucket="code", Key="two.zip", Body=_zip(2))
    lam.create_function(FunctionName="from-s3", Runtime="python3.12", Role=role, Handler="h.handler",
                        Code={"S3Bucket": "code", "S3Key": "one.zip"})
    assert lam.invoke(FunctionName="from-s3")["Payload"].read() == b"1"
    lam.update_function_code(FunctionName="from-s3", S3Bucket="code", S3Key="two.zip")
    assert lam.invoke(FunctionName="from-s3")["Payload"].read() == b"2"


@pytest.mark.parametrize("bucket, key, code", [("code", "missing.zip", "NoSuchKey"),
                                               ("no-such-bucket", "one.zip", "NoSuchBucket")])
def test_code_that_is_not_in_s3_is_lambdas_invalid_parameter(aws, role, bucket, key, code):
    s3, lam = aws("s3"), aws("lambda")
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="one.zip", Body=_zip(1))
    with pytest.raises(ClientError) as created:
        lam.create_function(FunctionName="nothing", Runtime="python3.12", Role=role, Handler="h.handler",
                            Code={"S3Bucket": bucket, "S3Key": key})
    error = created.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"].startswith("Error occurred while GetObject. S3 Error Code: %s." % code)
    assert "nothing" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    lam.create_function(FunctionName="there", Runtime="python3.12", Role=role, Handler="h.handler",
                        Code={"S3Bucket": "code", "S3Key": "one.zip"})
    with pytest.raises(ClientError) as updated:
        lam.update_function_code(FunctionName="there", S3Bucket=bucket, S3Key=key)
    assert updated.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert lam.invoke(FunctionName="there")["Payload"].read() == b"1"
