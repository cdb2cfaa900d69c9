# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiting for AWS state, built on ``common.poll_until``: the one place these modules wait.

botocore has waiters for DynamoDB tables but none for event source mappings or stream status, and its table
waiter polls every 20 s; these poll with backoff from 0.2 s so a sandbox run (where transitions take ~0-1 s)
stays fast while real AWS is polled at most every ``max_delay`` seconds.
"""

from __future__ import annotations

import time

try:
    import botocore
except ImportError:  # pragma: no cover - AnsibleAWSModule reports missing botocore itself
    botocore = None

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import Deadline
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import PollTimeout
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import poll_until


class WaitTimeout(Exception):
    """A wait ran out of time; the message says what was awaited and what was last seen."""

    def __init__(self, message, last=None):
        super().__init__(message)
        self.last = last


def error_code(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def error_message(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Message", "") or str(exc)


def retry_until_deadline(fn, retryable, timeout, initial=1.0, factor=1.5, max_delay=10, sleep=time.sleep,
                         clock=time.monotonic):
    """Call *fn* until it does not raise a ClientError for which ``retryable(exc)`` holds.

    Gives up (re-raising the last error) once *timeout* seconds have passed, so callers report AWS's own message.
    """
    deadline = Deadline(timeout, clock=clock)
    delay = initial
    while True:
        try:
            return fn()
        except botocore.exceptions.ClientError as exc:
            remaining = deadline.remaining()
            if not retryable(exc) or remaining <= 0:
                raise
            sleep(min(delay, remaining))
            delay = min(delay * factor, max_delay)


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


def poll_state(fn, timeout, done, what, describe=repr):
    """poll_until with a WaitTimeout that names *what* was awaited and ``describe(last value)``."""
    try:
        return poll_until(fn, timeout, done=done, max_delay=5)
    except PollTimeout as exc:
        raise WaitTimeout("timed out after %ss waiting for %s (last seen: %s)" % (timeout, what, describe(exc.last)),
                          last=exc.last) from None


# --- Lambda functions -----------------------------------------------------------------------------------------

def wait_function_ready(client, function_name, timeout, qualifier=None):
    """State Pending -> Active and LastUpdateStatus InProgress -> Successful before the next change
    (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html)."""
    def read():
        kwargs = {"FunctionName": function_name}
        if qualifier:
            kwargs["Qualifier"] = qualifier
        return client.get_function_configuration(aws_retry=True, **kwargs)

    def done(conf):
        return conf.get("State", "Active") != "Pending" and conf.get("LastUpdateStatus", "Successful") != "InProgress"

    def seen(conf):
        conf = conf or {}
        return "State=%s LastUpdateStatus=%s" % (conf.get("State"), conf.get("LastUpdateStatus"))

    return poll_state(read, timeout, done, "function %s to be Active" % function_name, seen)


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
    poll_state(read, timeout, lambda enis: not enis, what, describe)
    return seen["polls"]
