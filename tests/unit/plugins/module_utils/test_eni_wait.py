"""waiters.wait_lambda_enis_gone against the EC2 fake: it polls until Lambda's interfaces of the function are gone,
and its timeout names them."""

from __future__ import annotations

import pytest

from aws_fakes import FakeEC2
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import function_settings as fs
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import waiters

SUBNET = "subnet-0123456789abcdef0"


def test_returns_at_once_when_no_interface_is_left(clock):
    ec2 = FakeEC2()

    assert waiters.wait_lambda_enis_gone(ec2, "fn", [SUBNET], 60, fs.eni_filters("fn", [SUBNET])) == 0
    assert ec2.calls == [("describe_network_interfaces", {"Filters": fs.eni_filters("fn", [SUBNET])})]
    assert clock.sleeps == []


def test_polls_until_the_interfaces_are_gone(clock):
    ec2 = FakeEC2()
    ec2.add_interface("eni-1", "AWS Lambda VPC ENI-fn-1234", SUBNET)
    ec2.linger(3)

    assert waiters.wait_lambda_enis_gone(ec2, "fn", [SUBNET], 600, fs.eni_filters("fn", [SUBNET])) == 3
    assert len(ec2.calls) == 4 and len(clock.sleeps) == 3


def test_other_functions_interfaces_are_not_waited_for(clock):
    ec2 = FakeEC2()
    ec2.add_interface("eni-1", "AWS Lambda VPC ENI-other-1234", SUBNET)
    ec2.add_interface("eni-2", "AWS Lambda VPC ENI-fn-1234", "subnet-99999999")
    ec2.linger(100)

    assert waiters.wait_lambda_enis_gone(ec2, "fn", [SUBNET], 600, fs.eni_filters("fn", [SUBNET])) == 0


def test_the_timeout_names_the_function_and_the_interfaces_left(clock):
    ec2 = FakeEC2()
    ec2.add_interface("eni-1", "AWS Lambda VPC ENI-fn-1234", SUBNET)
    ec2.linger(10 ** 6)

    with pytest.raises(waiters.WaitTimeout) as failed:
        waiters.wait_lambda_enis_gone(ec2, "fn", [SUBNET], 120, fs.eni_filters("fn", [SUBNET]))

    message = str(failed.value)
    assert message.startswith("timed out after 120s waiting for Lambda to delete the network interfaces of "
                              "function fn in " + SUBNET)
    assert "another function with the same subnets and security groups" in message
    assert message.endswith("(last seen: eni-1 (in-use, %s))" % SUBNET)
    assert max(clock.sleeps) == waiters.ENIS.cap


def test_every_page_of_the_listing_is_read(clock):
    ec2 = FakeEC2()
    ec2.page_size = 1
    for number in (1, 2, 3):
        ec2.add_interface("eni-%d" % number, "AWS Lambda VPC ENI-fn-%d" % number, SUBNET)
    ec2.linger(1)

    assert waiters.wait_lambda_enis_gone(ec2, "fn", [SUBNET], 600, fs.eni_filters("fn", [SUBNET])) == 1
    tokens = [kwargs.get("NextToken") for _name, kwargs in ec2.calls]
    assert tokens == [None, "1", "2", None]  # three pages, then one empty listing


def test_the_timeout_with_two_subnets_and_two_interfaces_says_it_in_full(clock):
    other = "subnet-0fedcba9876543210"
    ec2 = FakeEC2()
    ec2.add_interface("eni-1", "AWS Lambda VPC ENI-fn-1", SUBNET)
    ec2.add_interface("eni-2", "AWS Lambda VPC ENI-fn-2", other, status="available")
    ec2.linger(10 ** 6)

    with pytest.raises(waiters.WaitTimeout) as failed:
        waiters.wait_lambda_enis_gone(ec2, "fn", [SUBNET, other], 60, fs.eni_filters("fn", [SUBNET, other]))

    assert str(failed.value) == (
        "timed out after 60s waiting for Lambda to delete the network interfaces of function fn in %s, %s (Lambda "
        "takes up to 20 minutes, and keeps an interface another function with the same subnets and security groups "
        "still uses) (last seen: eni-1 (in-use, %s), eni-2 (available, %s))" % (SUBNET, other, SUBNET, other))
