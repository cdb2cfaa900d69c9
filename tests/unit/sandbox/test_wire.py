"""Reading requests back from the wire: Host names, Lambda routes from the model, query-protocol members."""

from __future__ import annotations

import pytest

from sandbox.app import AwsRequest, host_name, is_loopback
from sandbox.validation import lambda_operation, problems


@pytest.mark.parametrize("header, name", [
    ("127.0.0.1", "127.0.0.1"), ("127.0.0.1:4566", "127.0.0.1"), ("LocalHost:80", "localhost"),
    ("[::1]", "::1"), ("[::1]:4566", "::1"), ("localhost.", "localhost"), ("evil.example:4566", "evil.example"),
])
def test_host_name(header, name):
    assert host_name(header) == name


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("devbox", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("method, path, operation, labels", [
    ("GET", "/2015-03-31/functions/fn", "GetFunction", {"FunctionName": "fn"}),
    ("PUT", "/2017-10-31/functions/fn/concurrency", "PutFunctionConcurrency", {"FunctionName": "fn"}),
    ("POST", "/2015-03-31/functions/fn/aliases", "CreateAlias", {"FunctionName": "fn"}),
    ("GET", "/2015-03-31/functions/fn/aliases/live", "GetAlias", {"FunctionName": "fn", "Name": "live"}),
    ("GET", "/2018-10-31/layers/arn:aws:lambda:us-east-1:123456789012:layer:lib/versions", "ListLayerVersions",
     {"LayerName": "arn:aws:lambda:us-east-1:123456789012:layer:lib"}),
])
def test_lambda_routes_come_from_the_model(method, path, operation, labels):
    assert lambda_operation(method, path) == (operation, labels)


def _query(service: str, operation: str, body: str) -> AwsRequest:
    return AwsRequest(service=service, operation=operation, region="us-east-1", access_key="testing",
                      method="POST", path="/", query={}, headers={}, body=body.encode())


def test_query_protocol_maps_and_lists():
    # SNS CreateTopic: Attributes is a map (entry.N.key/value), Tags a list of structures (member.N.Key/Value).
    ok = _query("sns", "CreateTopic", "Action=CreateTopic&Name=t&Attributes.entry.1.key=DisplayName"
                                      "&Attributes.entry.1.value=x&Tags.member.1.Key=k&Tags.member.1.Value=v")
    assert problems(ok) == []
    bad = _query("sns", "CreateTopic", "Action=CreateTopic&Name=t&Tags.member.1.Key=k&Tags.member.2.Value=v")
    assert problems(bad) == [
        "Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null",
        "Value null at 'tags.2.member.key' failed to satisfy constraint: Member must not be null"]


def test_unknown_operations_and_services_are_left_to_moto():
    assert problems(_query("sns", "NoSuchOperation", "Action=NoSuchOperation")) == []
    assert problems(_query("s3", "PutObject", "")) == []
