"""module_utils/waiters: retrying within a deadline, the retryable error classes, poll_state's timeout message."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import waiters


def client_error(code, message="boom", op="CreateEventSourceMapping"):
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


class FakeClock:
    def __init__(self):
        self.t = 0.0
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


def failing(errors, result="ok"):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    fn.calls = calls
    return fn


def test_retry_until_success_with_growing_delays():
    clock = FakeClock()
    iam = client_error("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
    fn = failing([iam, iam, iam])
    assert waiters.retry_until_deadline(fn, waiters.is_iam_propagation_error, 60, sleep=clock.sleep,
                                        clock=clock) == "ok"
    assert len(fn.calls) == 4
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[0] == 1.0 and clock.sleeps[-1] > 1.0


def test_non_retryable_error_raises_at_once():
    clock = FakeClock()
    fn = failing([client_error("InvalidParameterValueException", "BatchSize too large")])
    with pytest.raises(ClientError, match="BatchSize"):
        waiters.retry_until_deadline(fn, waiters.is_iam_propagation_error, 60, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


def test_gives_up_at_deadline_with_the_last_error():
    clock = FakeClock()
    busy = client_error("ResourceInUseException", "in use")
    fn = failing([busy] * 100)
    with pytest.raises(ClientError, match="in use"):
        waiters.retry_until_deadline(fn, waiters.is_mapping_busy_error, 10, max_delay=3, sleep=clock.sleep,
                                     clock=clock)
    assert clock.t == pytest.approx(10) and max(clock.sleeps) <= 3


@pytest.mark.parametrize("code, message, expected", [
    ("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.", True),
    ("InvalidParameterValueException", "The function execution role does not have permissions to call "
                                       "GetRecords on DynamoDB", True),
    ("InvalidParameterValueException", "Unsupported event source type", False),
    ("AccessDeniedException", "does not have permissions", False),
])
def test_is_iam_propagation_error(code, message, expected):
    assert waiters.is_iam_propagation_error(client_error(code, message)) is expected


@pytest.mark.parametrize("code, expected", [("ResourceInUseException", True), ("ResourceConflictException", True),
                                            ("ResourceNotFoundException", False), ("ThrottlingException", False)])
def test_is_mapping_busy_error(code, expected):
    assert waiters.is_mapping_busy_error(client_error(code)) is expected


def test_poll_state_timeout_names_what_and_last_value():
    with pytest.raises(waiters.WaitTimeout, match=r"waiting for widget to be ready \(last seen: state=Pending\)"):
        waiters.poll_state(lambda: {"s": "Pending"}, 0.05, lambda v: v["s"] == "Ready", "widget to be ready",
                           lambda v: "state=%s" % v["s"])


class FakeLambda:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def get_function_configuration(self, aws_retry=False, **kwargs):
        assert aws_retry is True
        self.calls.append(kwargs)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_wait_function_ready_waits_for_active_and_successful():
    fake = FakeLambda([{"State": "Pending"}, {"State": "Active", "LastUpdateStatus": "InProgress"},
                       {"State": "Active", "LastUpdateStatus": "Successful"}])
    conf = waiters.wait_function_ready(fake, "demo", 10, qualifier="live")
    assert conf["LastUpdateStatus"] == "Successful"
    assert len(fake.calls) == 3 and fake.calls[0] == {"FunctionName": "demo", "Qualifier": "live"}


def test_wait_function_ready_times_out_with_state():
    fake = FakeLambda([{"State": "Pending", "LastUpdateStatus": "InProgress"}])
    with pytest.raises(waiters.WaitTimeout, match="State=Pending"):
        waiters.wait_function_ready(fake, "demo", 0.05)
