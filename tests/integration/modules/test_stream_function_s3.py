"""stream_function with s3_bucket against the sandbox: a package over Lambda's 50 MB direct-upload limit goes
through S3 (content-addressed key, owner tag, HeadObject before PutObject), an unchanged package makes no S3 call,
check mode writes nothing, the function runs the code Lambda read from S3, and state=absent deletes only the objects
this collection uploaded, never the bucket. The package is big for real (an incompressible data file), so the
limit tested is Lambda's own."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
from botocore.exceptions import ClientError

NAME = "sfs3-fn"
BUCKET = "sfs3-code"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
HANDLER = ("import os\n\n\ndef lambda_handler(event, context):\n"
           "    return {'data_bytes': os.path.getsize(os.path.join(os.path.dirname(__file__), 'blob.bin')),\n"
           "            'version': VERSION}\n\n\nVERSION = %d\n")
# Random bytes do not compress: the zip is over 50 MB (52428800 bytes) as the file is.
BIG = 51 * 1024 * 1024
OWNER = {"streamops:managed-by": "streamops.dynamodb_lambda"}


@pytest.fixture
def role_arn(aws):
    return aws("iam").create_role(RoleName="sfs3-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


@pytest.fixture
def big_src(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER % 1)
    (root / "blob.bin").write_bytes(os.urandom(BIG))
    return root


@pytest.fixture
def bucket(aws):
    aws("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def deploy(run_module, src, role_arn, **args):
    params = {"function_name": NAME, "src": str(src), "handler": "handler.lambda_handler", "runtime": "python3.12",
              "role": role_arn, "timeout": 30, "requirements_cache_dir": str(src.parent / "deps"), **args}
    return run_module("stream_function", **params)


def calls(sandbox, prefix):
    return {k: v for k, v in sandbox.stats()["calls"].items() if k.startswith(prefix)}


def keys(aws, bucket):
    return sorted(o["Key"] for o in aws("s3").list_objects_v2(Bucket=bucket).get("Contents", []))


def test_over_the_limit_without_a_bucket_fails_before_any_aws_call(run_module, sandbox, big_src, role_arn):
    sandbox.reset_stats()
    failed = deploy(run_module, big_src, role_arn)
    assert failed.get("failed") is True, failed
    assert failed["msg"].startswith("s3_bucket: the package is "), failed["msg"]
    assert "over Lambda's limit of 52428800 bytes" in failed["msg"]
    assert sandbox.stats()["total"] == 0, sandbox.stats()


def test_the_sandbox_refuses_a_direct_upload_over_the_limit(aws, big_src, role_arn):
    # What the module's own check saves the user from: Lambda answers 413 for a ZipFile over the limit.
    from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import build_deployment_package

    data = build_deployment_package(str(big_src))["data"]
    with pytest.raises(ClientError) as caught:
        aws("lambda").create_function(FunctionName=NAME, Runtime="python3.12", Role=role_arn,
                                      Handler="handler.lambda_handler", Code={"ZipFile": data})
    assert caught.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_a_big_package_goes_through_s3_once(run_module, aws, sandbox, big_src, role_arn, bucket):
    # Check mode: HeadObject is the only S3 call, nothing is written, the plan names the upload.
    sandbox.reset_stats()
    checked = deploy(run_module, big_src, role_arn, s3_bucket=bucket, check=True, diff=True)
    assert checked["changed"] is True, checked
    assert checked["operations"] == ["logs:CreateLogGroup", "s3:PutObject", "lambda:CreateFunction"], checked

    assert sandbox.stats()["writes"] == 0 and keys(aws, bucket) == []
    sha = checked["package"]["sha256"]
    key = "streamops.dynamodb_lambda/%s/%s.zip" % (NAME, base64.b64decode(sha).hex())
    assert checked["package"]["s3_key"] == key and checked["package"]["s3_bucket"] == bucket
    assert checked["diff"]["before"]["s3_object"] == {} and \
        checked["diff"]["after"]["s3_object"] == {"bucket": bucket, "key": key}

    sandbox.reset_stats()
    created = deploy(run_module, big_src, role_arn, s3_bucket=bucket)
    assert created["changed"] is True and created["code_uploaded"] is True, created
    assert created["operations"] == checked["operations"]
    assert created["code_sha256"] == sha and created["package"]["size"] > 52428800
    assert calls(sandbox, "s3:") == {"s3:HeadObject": 1, "s3:PutObject": 1}, sandbox.stats()["calls"]
    assert keys(aws, bucket) == [key]
    tags = aws("s3").get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == OWNER
    stored = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert base64.b64encode(hashlib.sha256(stored).digest()).decode() == sha
    # Lambda read the object: the function runs that code, data file included.
    answer = json.loads(aws("lambda").invoke(FunctionName=NAME)["Payload"].read())
    assert answer == {"data_bytes": BIG, "version": 1}

    # Unchanged package: no S3 call at all, nothing written.
    sandbox.reset_stats()
    again = deploy(run_module, big_src, role_arn, s3_bucket=bucket)
    assert again["changed"] is False and again["code_uploaded"] is False, again
    assert calls(sandbox, "s3:") == {} and sandbox.stats()["writes"] == 0, sandbox.stats()

    # New code: a new object next to the old one, then UpdateFunctionCode from it.
    (big_src / "handler.py").write_text(HANDLER % 2)
    sandbox.reset_stats()
    updated = deploy(run_module, big_src, role_arn, s3_bucket=bucket, diff=True)
    assert updated["operations"] == ["s3:PutObject", "lambda:UpdateFunctionCode"], updated["operations"]
    assert calls(sandbox, "s3:") == {"s3:HeadObject": 1, "s3:PutObject": 1}
    assert len(keys(aws, bucket)) == 2 and updated["package"]["s3_key"] in keys(aws, bucket)
    assert json.loads(aws("lambda").invoke(FunctionName=NAME)["Payload"].read())["version"] == 2

    # Back to the first code: its object is still there (HeadObject), so nothing is uploaded.
    (big_src / "handler.py").write_text(HANDLER % 1)
    sandbox.reset_stats()
    back = deploy(run_module, big_src, role_arn, s3_bucket=bucket)
    assert back["operations"] == ["lambda:UpdateFunctionCode"], back["operations"]
    assert calls(sandbox, "s3:") == {"s3:HeadObject": 1} and back["code_sha256"] == sha


def test_a_small_package_with_a_bucket_goes_through_s3_too(run_module, aws, sandbox, tmp_path, role_arn, bucket):
    src = tmp_path / "small"
    src.mkdir()
    (src / "handler.py").write_text(HANDLER.replace("os.path.getsize(os.path.join(os.path.dirname(__file__), "
                                                    "'blob.bin'))", "0") % 3)
    created = deploy(run_module, src, role_arn, s3_bucket=bucket, s3_key_prefix="")
    assert created["changed"] is True and created["package"]["size"] < 52428800, created
    assert keys(aws, bucket) == [created["package"]["s3_key"]] and created["package"]["s3_key"].startswith(NAME + "/")
    assert json.loads(aws("lambda").invoke(FunctionName=NAME)["Payload"].read())["version"] == 3


def test_absent_deletes_only_the_objects_it_uploaded_never_the_bucket(run_module, aws, sandbox, tmp_path, role_arn,
                                                                      bucket):
    src = tmp_path / "small"
    src.mkdir()
    (src / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    created = deploy(run_module, src, role_arn, s3_bucket=bucket)
    ours = created["package"]["s3_key"]
    s3 = aws("s3")
    foreign = "streamops.dynamodb_lambda/%s/someone-elses.zip" % NAME
    s3.put_object(Bucket=bucket, Key=foreign, Body=b"not ours")
    s3.put_object(Bucket=bucket, Key="other/thing.txt", Body=b"x", Tagging="streamops%3Amanaged-by=streamops.dynamodb_lambda")

    sandbox.reset_stats()
    checked = run_module("stream_function", function_name=NAME, state="absent", s3_bucket=bucket, check=True, diff=True)
    assert checked["changed"] is True and "s3:DeleteObject" in checked["operations"], checked
    assert sandbox.stats()["writes"] == 0 and ours in keys(aws, bucket)
    assert checked["diff"]["after"]["s3_objects"] == [foreign]

    removed = run_module("stream_function", function_name=NAME, state="absent", s3_bucket=bucket)
    assert removed["changed"] is True, removed
    assert "s3 object s3://%s/%s" % (bucket, ours) in removed["deleted"]
    assert any(item.startswith("s3 object s3://%s/%s (no tag" % (bucket, foreign)) for item in removed["not_owned"])
    assert keys(aws, bucket) == ["other/thing.txt", foreign]
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200

    again = run_module("stream_function", function_name=NAME, state="absent", s3_bucket=bucket)
    assert again["changed"] is False, again


@pytest.mark.parametrize("args, option", [
    ({"s3_bucket": "Not_A_Bucket"}, "s3_bucket"),
    ({"s3_bucket": "ab"}, "s3_bucket"),
    ({"s3_bucket": "fine-bucket", "s3_key_prefix": "/rooted/"}, "s3_key_prefix"),
])
def test_bad_bucket_options_fail_before_any_aws_call(run_module, sandbox, tmp_path, role_arn, args, option):
    src = tmp_path / "s"
    src.mkdir()
    (src / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    sandbox.reset_stats()
    failed = deploy(run_module, src, role_arn, **args)
    assert failed.get("failed") is True and failed["msg"].startswith(option + ": "), failed
    assert sandbox.stats()["total"] == 0
