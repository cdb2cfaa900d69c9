"""module_utils/waiters: the one loop (poll_until), its schedules, retrying within a deadline, the retryable error
classes, the timeout's message."""

from __future__ import annotations

import itertools

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
        waiters.retry_until_deadline(fn, waiters.is_mapping_busy_error, 10, schedule=waiters.Schedule(1, 1.5, 3),
                                     sleep=clock.sleep, clock=clock)
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


def test_poll_until_timeout_names_what_and_last_value():
    with pytest.raises(waiters.WaitTimeout, match=r"waiting for widget to be ready \(last seen: state=Pending\)"):
        waiters.poll_until(lambda: {"s": "Pending"}, 0.05, lambda v: v["s"] == "Ready", what="widget to be ready",
                           describe=lambda v: "state=%s" % v["s"])


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


# --- the loop (moved here from common with poll_until) ---------------------------------------------------------

def test_deadline():
    clock = FakeClock()
    deadline = waiters.Deadline(5, clock=clock)
    assert deadline.remaining() == 5 and not deadline.expired
    clock.t += 6
    assert deadline.remaining() == 0 and deadline.expired


def test_poll_until_returns_first_truthy_value_on_its_schedule():
    clock = FakeClock()
    answers = iter([None, [], 0, {"State": "Enabled"}])
    value = waiters.poll_until(lambda: next(answers), 60, schedule=waiters.Schedule(0.2, 2, 0.5),
                               sleep=clock.sleep, clock=clock)
    assert value == {"State": "Enabled"}
    assert clock.sleeps == [0.2, 0.4, 0.5]


def test_poll_until_custom_done_predicate():
    clock = FakeClock()
    states = iter(["Creating", "Enabling", "Enabled"])
    assert waiters.poll_until(lambda: next(states), 60, done=lambda s: s == "Enabled", sleep=clock.sleep,
                              clock=clock) == "Enabled"


def test_poll_until_times_out_with_last_value_and_never_oversleeps():
    clock = FakeClock()
    counter = iter(range(1000))
    with pytest.raises(waiters.WaitTimeout) as info:
        waiters.poll_until(lambda: ("pending", next(counter)), 3, done=lambda v: False,
                           schedule=waiters.Schedule(1, 1.5, 5), sleep=clock.sleep, clock=clock)
    assert info.value.last[0] == "pending"
    assert info.value.attempts == info.value.last[1] + 1
    assert clock.t == pytest.approx(3.0)  # the deadline, not beyond it
    assert clock.sleeps[:2] == [1, 1.5]
    assert isinstance(info.value, TimeoutError)
    assert str(info.value) == "condition not met within 3 seconds (%d attempts)" % info.value.attempts


def test_poll_until_zero_timeout_calls_once():
    clock = FakeClock()
    calls = []
    with pytest.raises(waiters.WaitTimeout):
        waiters.poll_until(lambda: calls.append(1), 0, sleep=clock.sleep, clock=clock)
    assert calls == [1] and clock.sleeps == []


def test_poll_until_propagates_errors():
    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        waiters.poll_until(boom, 10)


def test_a_schedule_below_one_is_refused():
    with pytest.raises(ValueError, match="factor"):
        waiters.poll_until(lambda: True, 10, schedule=waiters.Schedule(1, 0.5, 5))


def test_a_zero_first_delay_still_backs_off():
    assert list(itertools.islice(waiters.Schedule(0, 2, 1).delays(), 4)) == [0.0, 0.05, 0.1, 0.2]


# --- the schedules: a transition is seen soon after it ends ---------------------------------------------------

def seen_at(schedule, transition):
    """When poll_until first reads a state that settles *transition* seconds after the first read."""
    clock = FakeClock()
    waiters.poll_until(lambda: clock.t >= transition, 600, schedule=schedule, sleep=clock.sleep, clock=clock)
    return clock.t


@pytest.mark.parametrize("schedule", [waiters.MAPPING, waiters.FUNCTION])
@pytest.mark.parametrize("transition", [0.1, 2, 15, 60])
def test_mapping_and_function_waits_overshoot_by_a_second_at_most(schedule, transition):
    assert transition <= seen_at(schedule, transition) <= transition + schedule.cap
    assert schedule.cap == 1


def test_the_old_five_second_cap_saw_a_fifteen_second_mapping_at_twenty():
    # What the schedules replaced (0.2 s times 1.5 up to 5 s): the wait the issue measured.
    assert seen_at(waiters.Schedule(0.2, 1.5, 5), 15) == pytest.approx(19.86, abs=0.01)
    assert seen_at(waiters.MAPPING, 15) < 16


def test_retry_schedule_sees_an_eight_second_propagation_within_two_seconds():
    clock = FakeClock()
    refused = client_error("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")

    def create():
        if clock.t < 8:
            raise refused
        return "created"

    assert waiters.retry_until_deadline(create, waiters.is_iam_propagation_error, 120, sleep=clock.sleep,
                                        clock=clock) == "created"
    assert 8 <= clock.t <= 10


def test_wait_function_usable_fails_with_lambdas_reason():
    fake = FakeLambda([{"State": "Pending"}, {"State": "Failed", "StateReason": "bad layer"}])
    with pytest.raises(waiters.WaitFailed, match="function demo failed to become Active: bad layer"):
        waiters.wait_function_usable(fake, "demo", 10)
    fake = FakeLambda([{"State": "Active", "LastUpdateStatus": "Failed", "LastUpdateStatusReason": "no space"}])
    with pytest.raises(waiters.WaitFailed, match="the last update of function demo failed: no space"):
        waiters.wait_function_usable(fake, "demo", 10)


def test_a_fixed_interval_schedule_is_allowed_and_the_refusal_names_the_factor():
    clock = FakeClock()
    answers = iter([False, False, True])
    assert waiters.poll_until(lambda: next(answers), 10, schedule=waiters.Schedule(0.5, 1, 0.5),
                              sleep=clock.sleep, clock=clock) is True
    assert clock.sleeps == [0.5, 0.5]
    with pytest.raises(ValueError) as refused:
        waiters.poll_until(lambda: True, 10, schedule=waiters.Schedule(1, 0.5, 5))
    assert str(refused.value) == "factor must be >= 1, got 0.5"


def test_error_code_and_message_of_a_client_error_and_of_anything_else():
    assert waiters.error_code(client_error("Throttling", "slow down")) == "Throttling"
    assert waiters.error_message(client_error("Throttling", "slow down")) == "slow down"
    plain = RuntimeError("connection reset")
    assert waiters.error_code(plain) == ""
    assert waiters.error_message(plain) == "connection reset"
    # A ClientError without a Message says what botocore says.
    bare = ClientError({"Error": {"Code": "X"}}, "Op")
    assert waiters.error_message(bare) == str(bare)
