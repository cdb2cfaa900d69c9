# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting for AWS state: the one place this collection sleeps.

One loop, one timeout exception, one schedule per kind of wait::

    deadline = Deadline(timeout)                       # deadline.remaining(), deadline.expired
    value = poll_until(read, timeout, done=lambda v: v["State"] == "Enabled", schedule=MAPPING,
                       what="event source mapping 1234 to be Enabled", describe=lambda v: v["State"])
    value = retry_until_deadline(call, is_iam_propagation_error, timeout)   # ClientErrors retried, same loop

``poll_until`` calls ``read`` at least once, sleeps the schedule's delays between calls, never sleeps past the
deadline and makes one last call at it; then it raises ``WaitTimeout`` (a TimeoutError) naming *what* was awaited
and ``describe(last value)``, with ``last`` and ``attempts`` on the exception. ``retry_until_deadline`` runs the
same loop over a call that AWS refuses for a while, and re-raises AWS's own last error at the deadline, so the
caller reports AWS's message.

Schedules. botocore has no waiter for event source mappings, stream status or function state (its table waiter
polls every 20 s), and Terraform's AWS provider waits for them with StateChangeConf's default schedule (100 ms
doubling to 10 s), which sees a 15 s transition at about 23 s. Lambda documents function state changes as taking
seconds (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html) and a mapping's Creating / Deleting
lasts tens of seconds (Terraform allows them 10 and 5 minutes), so those waits back off from 0.2 s only up to 1 s: a transition is seen within a second
of its end. Those reads count against Lambda's control plane quota (15 requests per second per account and
Region, https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): at Ansible's default 5 forks a
run reads at most about 5 per second once the schedule reaches its cap; a throttled read is retried by AWSRetry.
IAM propagation takes seconds and cannot be read, only retried (each retry is a create call), so it backs off from
1 s up to 2 s. Logs ingestion is polled from 0.5 s up to 2 s (FilterLogEvents allows 5 requests per second).
"""

from __future__ import annotations

import collections
import time

try:
    import botocore
except ImportError:  # pragma: no cover - AnsibleAWSModule reports missing botocore itself
    botocore = None


class Schedule(collections.namedtuple("Schedule", "first factor cap")):
    """Delays between polls: *first*, then times *factor*, never above *cap* seconds."""

    def delays(self):
        delay = float(self.first)
        while True:
            yield delay
            delay = min(delay * self.factor, self.cap) if delay else min(0.05, self.cap)


# Function State / LastUpdateStatus and a mapping's State: seconds to tens of seconds (see above).
FUNCTION = Schedule(0.2, 1.5, 1.0)
MAPPING = Schedule(0.2, 1.5, 1.0)
# A table's TableStatus and its stream's StreamStatus: on-demand tables and streams settle in seconds.
TABLE = Schedule(0.2, 1.5, 2.0)
# Errors answered while an IAM change propagates (a create call per retry) and while a mapping is busy.
RETRY = Schedule(1.0, 1.5, 2.0)
# CloudWatch Logs ingestion: a record's log line lands within seconds.
LOGS = Schedule(0.5, 1.5, 2.0)
# Lambda's network interfaces of a deleted VPC function: Lambda deletes them up to 20 minutes later
# (https://docs.aws.amazon.com/lambda/latest/dg/foundation-networking.html#foundation-nw-eni-delete), so after a
# quick first look the reads back off to one every 10 s (EC2's Describe calls share the account's request rate).
ENIS = Schedule(1.0, 1.5, 10.0)


class WaitTimeout(TimeoutError):
    """A wait ran out of time. ``last`` is the last value seen, ``attempts`` the number of reads."""

    def __init__(self, message, last=None, attempts=0):
        super().__init__(message)
        self.last = last
        self.attempts = attempts


class Deadline:
    """A point in monotonic time *timeout* seconds from now."""

    def __init__(self, timeout, clock=time.monotonic):
        self._clock = clock
        self.timeout = float(timeout)
        self.at = clock() + self.timeout

    def remaining(self):
        return max(0.0, self.at - self._clock())

    @property
    def expired(self):
        return self._clock() >= self.at


def poll_until(fn, timeout, done=bool, schedule=FUNCTION, what=None, describe=repr, sleep=time.sleep,
               clock=time.monotonic):
    """Call *fn* until ``done(result)`` holds and return that result; raise WaitTimeout after *timeout* seconds.

    *sleep* and *clock* are injectable so tests can run the schedule without waiting.
    """
    if schedule.factor < 1:
        raise ValueError("factor must be >= 1, got %r" % (schedule.factor,))
    deadline = Deadline(timeout, clock=clock)
    delays = schedule.delays()
    attempts = 0
    while True:
        value = fn()
        attempts += 1
        if done(value):
            return value
        remaining = deadline.remaining()
        if remaining <= 0:
            if what is None:
                message = "condition not met within %s seconds (%d attempts)" % (timeout, attempts)
            else:
                message = "timed out after %ss waiting for %s (last seen: %s)" % (timeout, what, describe(value))
            raise WaitTimeout(message, last=value, attempts=attempts)
        sleep(min(next(delays), remaining))


class _Refused:
    """A call AWS refused with a retryable error, as poll_until's value."""

    def __init__(self, error):
        self.error = error


def retry_until_deadline(fn, retryable, timeout, schedule=RETRY, **clock):
    """Call *fn* until it does not raise a ClientError for which ``retryable(exc)`` holds; return its result.

    Gives up (re-raising the last error) once *timeout* seconds have passed, so callers report AWS's own message.
    *clock* is poll_until's ``sleep`` / ``clock``.
    """
    def attempt():
        try:
            return fn()
        except botocore.exceptions.ClientError as exc:
            if not retryable(exc):
                raise
            return _Refused(exc)

    try:
        return poll_until(attempt, timeout, done=lambda v: not isinstance(v, _Refused), schedule=schedule, **clock)
    except WaitTimeout as timed_out:
        raise timed_out.last.error from None


def error_code(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def error_message(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Message", "") or str(exc)


def is_iam_propagation_error(exc):
    """Lambda's answers while a new execution role is not yet assumable: IAM is eventually consistent
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency)."""
    if error_code(exc) != "InvalidParameterValueException":
        return False
    message = error_message(exc).lower()
    return "cannot be assumed by lambda" in message or "does not have permission" in message


def is_mapping_busy_error(exc):
    """A mapping mid-transition (ResourceInUse) or an old one for the same pair still deleting (Conflict)."""
    return error_code(exc) in ("ResourceInUseException", "ResourceConflictException")


# --- Lambda functions -----------------------------------------------------------------------------------------

class WaitFailed(Exception):
    """What was awaited ended in a failed state (a function Failed, a mapping Disabled by Lambda)."""


def function_ready(conf):
    """Settled: State no longer Pending and LastUpdateStatus no longer InProgress."""
    return conf.get("State") != "Pending" and conf.get("LastUpdateStatus") != "InProgress"


def function_failure(name, conf):
    """Why a settled function cannot be used (State or LastUpdateStatus Failed, with Lambda's reason), or None."""
    if conf.get("State") == "Failed":
        return "function %s failed to become Active: %s" % (name, conf.get("StateReason"))
    if conf.get("LastUpdateStatus") == "Failed":
        return "the last update of function %s failed: %s" % (name, conf.get("LastUpdateStatusReason"))
    return None


def describe_function(conf):
    conf = conf or {}
    return "State=%s LastUpdateStatus=%s" % (conf.get("State"), conf.get("LastUpdateStatus"))


def wait_function_ready(client, function_name, timeout, qualifier=None):
    """State Pending -> Active and LastUpdateStatus InProgress -> Successful before the next change
    (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html)."""
    def read():
        kwargs = {"FunctionName": function_name}
        if qualifier:
            kwargs["Qualifier"] = qualifier
        return client.get_function_configuration(aws_retry=True, **kwargs)

    return poll_until(read, timeout, function_ready, FUNCTION, "function %s to be Active" % function_name,
                      describe_function)


def wait_function_usable(client, function_name, timeout):
    """wait_function_ready, then WaitFailed (with Lambda's reason) when the function ended Failed."""
    conf = wait_function_ready(client, function_name, timeout)
    problem = function_failure(function_name, conf)
    if problem:
        raise WaitFailed(problem)
    return conf


def wait_lambda_enis_gone(client, function_name, subnet_ids, timeout, filters):
    """Poll EC2 until no network interface Lambda made for *function_name* in *subnet_ids* is left.

    Lambda deletes a VPC function's Hyperplane ENIs some time after the function is deleted or leaves its VPC
    (up to 20 minutes), using the function's execution role; deleted earlier, the role leaves them behind
    (https://docs.aws.amazon.com/lambda/latest/dg/foundation-networking.html#foundation-nw-eni-delete). An ENI
    shared with another function of the same subnets and security groups stays as long as that function uses it,
    and the timeout message says so. *filters* are DescribeNetworkInterfaces filters (function_settings.eni_filters).
    Returns the number of polls that found interfaces (0: none were left)."""
    seen = {"polls": 0}

    def read():
        found = []
        kwargs = {"Filters": filters}
        while True:
            page = client.describe_network_interfaces(aws_retry=True, **kwargs)
            found.extend(page.get("NetworkInterfaces") or [])
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        if found:
            seen["polls"] += 1
        return found

    def describe(enis):
        return ", ".join("%s (%s, %s)" % (eni.get("NetworkInterfaceId"), eni.get("Status"), eni.get("SubnetId"))
                         for eni in enis or []) or "none"

    what = ("Lambda to delete the network interfaces of function %s in %s (Lambda takes up to 20 minutes, and keeps an "
            "interface another function with the same subnets and security groups still uses)"
            % (function_name, ", ".join(subnet_ids) or "its subnets"))
    poll_until(read, timeout, lambda enis: not enis, ENIS, what, describe)
    return seen["polls"]
