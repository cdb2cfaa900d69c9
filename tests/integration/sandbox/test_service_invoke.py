"""Services invoking a function on their own behalf need the function's resource policy to allow it."""

from __future__ import annotations

import base64
import gzip
import io
import json
import textwrap
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

RECORDER = """
import json
def main(event, context):
    print("EVENT " + json.dumps(event))
"""


def zip_bytes(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("handler.py", textwrap.dedent(source))
    return buf.getvalue()


@pytest.fixture
def lam(aws):
    return aws("lambda")


@pytest.fixture
def recorder(aws, lam):
    role = aws.lambda_role("service-invoke")

    def make(name: str) -> str:
        return lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.main",
                                   Code={"ZipFile": zip_bytes(RECORDER)})["FunctionArn"]

    return make


def received(aws, name: str) -> list[dict]:
    try:
        events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return []
    return [json.loads(e["message"][6:]) for e in events if e["message"].startswith("EVENT ")]


def wait_for(aws, name: str, count: int, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(got := received(aws, name)) < count:
        assert time.monotonic() < deadline, f"{name} received {len(got)} of {count} events"
        time.sleep(0.1)
    return got


def test_sns_invokes_only_with_a_permission_for_the_topic(aws, lam, recorder):
    """https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html and
    https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html: SNS invokes the function
    only if the function's resource-based policy grants sns.amazonaws.com lambda:InvokeFunction (for the
    topic, when the statement names a SourceArn)."""
    sns = aws("sns")
    arn = recorder("sns-target")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    other = sns.create_topic(Name="other")["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)["SubscriptionArn"]
    sns.subscribe(TopicArn=other, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="before any permission")
    lam.add_permission(FunctionName="sns-target", StatementId="other-topic", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=other)
    sns.publish(TopicArn=topic, Message="permission for another topic only")
    lam.add_permission(FunctionName="sns-target", StatementId="orders", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    sns.publish(TopicArn=topic, Message="allowed", Subject="hello",
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}})
    (event,) = wait_for(aws, "sns-target", 1)
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"] == subscription
    assert record["Sns"]["Message"] == "allowed" and record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["Subject"] == "hello" and record["Sns"]["Type"] == "Notification"
    # The two messages published before the matching statement existed were never delivered: the decision is
    # taken when SNS publishes, so they would have arrived before the allowed one.
    assert [e["Records"][0]["Sns"]["Message"] for e in received(aws, "sns-target")] == ["allowed"]
    lam.remove_permission(FunctionName="sns-target", StatementId="orders")
    sns.publish(TopicArn=topic, Message="after removal")
    sns.publish(TopicArn=other, Message="the other topic is allowed")
    got = wait_for(aws, "sns-target", 2)
    assert [e["Records"][0]["Sns"]["Message"] for e in got] == ["allowed", "the other topic is allowed"]


def test_log_subscription_filter_needs_a_permission_for_cloudwatch_logs(aws, lam, recorder):
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html#LambdaFunctionExample:
    CloudWatch Logs delivers a subscription filter's events to a function that grants logs.amazonaws.com
    lambda:InvokeFunction for the log group (SourceArn arn:aws:logs:region:account:log-group:name:*)."""
    logs = aws("logs")
    arn = recorder("log-target")
    logs.create_log_group(logGroupName="app")
    logs.create_log_stream(logGroupName="app", logStreamName="s")
    logs.put_subscription_filter(logGroupName="app", filterName="all", filterPattern="", destinationArn=arn)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="app", logStreamName="s", logEvents=[{"timestamp": now, "message": "denied"}])
    lam.add_permission(FunctionName="log-target", StatementId="logs", Action="lambda:InvokeFunction",
                       Principal="logs.amazonaws.com", SourceAccount="123456789012",
                       SourceArn="arn:aws:logs:us-east-1:123456789012:log-group:app:*")
    logs.put_log_events(logGroupName="app", logStreamName="s", logEvents=[{"timestamp": now + 1, "message": "ok"}])
    (event,) = wait_for(aws, "log-target", 1)
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert data["logGroup"] == "app" and [e["message"] for e in data["logEvents"]] == ["ok"]


def test_s3_notification_needs_a_permission_for_the_bucket(aws, lam, recorder):
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html: S3
    invokes a notification's function only when the function's resource policy grants s3.amazonaws.com
    lambda:InvokeFunction for that bucket (SourceArn) and account (SourceAccount)."""
    s3 = aws("s3")
    arn = recorder("s3-target")
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket="uploads", Key="denied.txt", Body=b"x")
    lam.add_permission(FunctionName="s3-target", StatementId="wrong-account", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::uploads", SourceAccount="111111111111")
    s3.put_object(Bucket="uploads", Key="wrong-account.txt", Body=b"x")
    lam.add_permission(FunctionName="s3-target", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::uploads", SourceAccount="123456789012")
    s3.put_object(Bucket="uploads", Key="allowed.txt", Body=b"x")
    wait_for(aws, "s3-target", 1)
    keys = [e["Records"][0]["s3"]["object"]["key"] for e in received(aws, "s3-target")]
    assert keys == ["allowed.txt"]
