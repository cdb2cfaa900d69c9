# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Code every module of this collection shares: the retry decorator, time parsing.

Waiting (polling state, retrying within a deadline) lives in ``waiters.py``.
"""

from __future__ import annotations

import datetime
import re
import time

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
# The ownership tags live in tags.py; these names stay importable from here for older imports.
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import COLLECTION  # noqa: F401 pylint: disable=unused-import
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import MANAGED_BY_TAG  # noqa: F401 pylint: disable=unused-import
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import STREAM_ENABLED_BY_TAG  # noqa: F401 pylint: disable=unused-import
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import TABLE_CREATED_BY_TAG  # noqa: F401 pylint: disable=unused-import

# AWSRetry already retries RequestLimitExceeded, Throttling and TooManyRequestsException; the rest are the
# per-service spellings of "slow down" that it does not know; busy accounts see all of them.
THROTTLING_ERROR_CODES = (
    "ThrottlingException",
    "TooManyRequestsException",
    "LimitExceededException",
    "Throttling",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
)


def aws_retry(retries=10, delay=1, max_delay=20, catch_extra_error_codes=None):
    """AWSRetry.jittered_backoff covering throttling; extra codes (e.g. IAM propagation) are added, not replacing."""
    codes = list(THROTTLING_ERROR_CODES)
    for code in catch_extra_error_codes or ():
        if code not in codes:
            codes.append(code)
    return AWSRetry.jittered_backoff(retries=retries, delay=delay, max_delay=max_delay,
                                     catch_extra_error_codes=codes)


# --- time -----------------------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^-\s*(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Epoch values below this are seconds, above are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_EPOCH_MS_THRESHOLD = 100_000_000_000


def _now_ms(now):
    if now is None:
        return int(time.time() * 1000)
    if isinstance(now, datetime.datetime):
        return _datetime_ms(now)
    return int(now)


def _datetime_ms(value):
    if value.tzinfo is None:
        # A time without a zone is read as UTC: CloudWatch Logs timestamps are UTC, and the controller's local
        # zone would make the same playbook mean different instants on different machines.
        value = value.replace(tzinfo=datetime.timezone.utc)
    return int(round(value.timestamp() * 1000))


def parse_time(value, now=None):
    """Return *value* as epoch milliseconds (int).

    Accepts ``now``; relative ``-30s``, ``-10m``, ``-2h``, ``-1d``, ``-1w`` (before *now*); epoch seconds or
    milliseconds as int, float or digit string; ISO 8601 with or without a zone (no zone = UTC), date-only too.
    *now* (epoch ms, or a datetime) pins the clock for relative values. Raises ValueError naming the value.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("invalid time %r: expected ISO 8601, epoch seconds/milliseconds, 'now' or -<n>[smhdw]"
                         % (value,))
    if isinstance(value, datetime.datetime):
        return _datetime_ms(value)
    if isinstance(value, (int, float)):
        return _epoch_ms(value)
    text = str(value).strip()
    if not text:
        raise ValueError("invalid time '': expected ISO 8601, epoch seconds/milliseconds, 'now' or -<n>[smhdw]")
    if text.lower() == "now":
        return _now_ms(now)
    match = _RELATIVE.match(text.lower())
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        return _now_ms(now) - int(round(amount * _UNIT_SECONDS[unit] * 1000))
    if re.match(r"^\d+(\.\d+)?$", text):
        return _epoch_ms(float(text) if "." in text else int(text))
    iso = text
    if iso[-1:] in ("Z", "z"):
        iso = iso[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError("invalid time %r: expected ISO 8601 (2024-05-01T12:00:00Z), epoch seconds or "
                         "milliseconds, 'now' or a relative time like -30s, -10m, -2h, -1d" % (text,)) from None
    return _datetime_ms(parsed)


def _epoch_ms(number):
    if number < 0:
        raise ValueError("invalid time %r: epoch values must not be negative (relative times are strings like "
                         "'-10m')" % (number,))
    if number >= _EPOCH_MS_THRESHOLD:
        return int(number)
    return int(round(number * 1000))
