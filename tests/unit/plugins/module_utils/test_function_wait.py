"""waiters.wait_function_ready against the Lambda fake: polls capped at 1 s, and what its timeout says."""

from __future__ import annotations

import pytest

from aws_fakes import FakeLambda
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import waiters


def test_polls_back_off_to_one_second_at_most(clock):
    lam = FakeLambda()
    lam.add_function("fn", LastUpdateStatus="InProgress", script=[{}] * 12 + [{"LastUpdateStatus": "Successful"}])

    conf = waiters.wait_function_ready(lam, "fn", 300)

    assert conf["LastUpdateStatus"] == "Successful"
    assert max(clock.sleeps) == 1 and clock.sleeps[-3:] == [1, 1, 1]


def test_the_timeout_names_the_function_and_its_last_states(clock):
    lam = FakeLambda()
    lam.add_function("fn", State="Pending", LastUpdateStatus="InProgress")

    with pytest.raises(waiters.WaitTimeout) as failed:
        waiters.wait_function_ready(lam, "fn", 30)

    assert str(failed.value) == ("timed out after 30s waiting for function fn to be Active "
                                 "(last seen: State=Pending LastUpdateStatus=InProgress)")
    assert failed.value.last["State"] == "Pending"


def test_a_qualifier_is_passed_on(clock):
    lam = FakeLambda()
    lam.add_function("fn")

    waiters.wait_function_ready(lam, "fn", 30, qualifier="live")

    assert lam.calls == [("get_function_configuration", {"FunctionName": "fn", "Qualifier": "live"})]
