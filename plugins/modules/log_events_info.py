#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: log_events_info
version_added: 0.1.0
short_description: Read (and optionally wait for) events of a CloudWatch Logs group
description:
  - Returns the events of one CloudWatch Logs group in a time window, merged across log streams and sorted by
    timestamp (FilterLogEvents, every page).
  - A message that is a JSON object or array is also returned parsed, under C(json). When the whole message is not
    JSON but its last tab-separated field is (the Lambda Python runtime's C(logging) format), that field is parsed.
  - When O(min_events) or O(contains) is given the module waits, re-reading the window with backoff, until the
    condition holds or O(wait_timeout) passes. A log group that does not exist yet is waited for too, because
    Lambda creates its group on the first invocation.
  - Without O(min_events) and O(contains) it reads once; a missing log group then gives no events and
    RV(log_group_exists=false).
  - Only reads, so check mode behaves exactly like a normal run.
author:
  - streamops maintainers (@streamops)
options:
  log_group_name:
    description:
      - Name of the log group, for example C(/aws/lambda/Lambda_demo_DynamoDB_stream).
    required: true
    type: str
  since:
    description:
      - Start of the window (inclusive). ISO 8601 (C(2024-05-01T12:00:00Z); no zone means UTC), epoch seconds or
        milliseconds, C(now), or relative to now as C(-30s), C(-10m), C(-2h), C(-1d).
      - Relative times are fixed once when the module starts, so the window does not slide while waiting.
      - Omitted means from the beginning of the group.
    type: str
  until:
    description:
      - End of the window, in the same forms as O(since). Omitted means no end (events that arrive while
        waiting are seen).
    type: str
  filter_pattern:
    description:
      - A CloudWatch Logs filter pattern, for example C("MODIFY") or C({ $.kind = "stream_record" }).
    type: str
  log_stream_name_prefix:
    description:
      - Only events from log streams whose name starts with this prefix.
    type: str
  max_events:
    description:
      - At most this many events are returned (the earliest ones); RV(truncated) says whether more existed.
      - O(min_events) and O(contains) are checked against the returned events only, so keep the window narrow
        (O(since), O(filter_pattern)) when a busy group holds more than this.
    type: int
    default: 10000
  min_events:
    description:
      - Wait until at least this many events are in the window (after O(filter_pattern)).
    type: int
  contains:
    description:
      - Wait until every string in this list appears in the message of some event in the window.
    type: list
    elements: str
  wait_timeout:
    description:
      - How many seconds to wait for O(min_events) / O(contains).
    type: int
    default: 60
  fail_on_timeout:
    description:
      - When the wait times out, fail with a message saying what was missing (V(true)), or return the events
        read so far with RV(timed_out=true) (V(false)).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Everything the function logged in the last 10 minutes
  streamops.dynamodb_lambda.log_events_info:
    log_group_name: /aws/lambda/Lambda_demo_DynamoDB_stream
    since: -10m
  register: logs

- name: Wait for the stream records of our probe item (INSERT, MODIFY and REMOVE)
  streamops.dynamodb_lambda.log_events_info:
    log_group_name: /aws/lambda/Lambda_demo_DynamoDB_stream
    since: "{{ probe_started_at }}"
    filter_pattern: '"stream_record"'
    contains: ['"eventName": "INSERT"', '"eventName": "MODIFY"', '"eventName": "REMOVE"']
    wait_timeout: 120
  register: records

- name: Records as data
  ansible.builtin.debug:
    msg: "{{ records.events | selectattr('json', 'defined') | map(attribute='json.eventName') | list }}"

- name: Look, but do not fail when nothing arrives
  streamops.dynamodb_lambda.log_events_info:
    log_group_name: /aws/lambda/Lambda_demo_DynamoDB_stream
    log_stream_name_prefix: "2024/05/01/"
    min_events: 1
    wait_timeout: 30
    fail_on_timeout: false
  register: maybe
"""

RETURN = r"""
events:
  description: The events, sorted by timestamp (then event id).
  returned: always
  type: list
  elements: dict
  sample: [{"timestamp": 1714564800123, "message": "{\"eventName\": \"INSERT\"}", "json": {"eventName": "INSERT"},
            "log_stream_name": "2024/05/01/[$LATEST]0123abcd", "event_id": "3750289349823749", "ingestion_time": 1714564800456}]
  contains:
    timestamp:
      description: When the event happened, epoch milliseconds.
      type: int
      sample: 1714564800123
    message:
      description: The raw message.
      type: str
      sample: '{"kind": "stream_record", "eventName": "INSERT"}'
    json:
      description: The message parsed, when it is a JSON object or array.
      type: raw
      returned: when the message is JSON
      sample: {"kind": "stream_record", "eventName": "INSERT"}
    log_stream_name:
      description: The log stream the event belongs to.
      type: str
      sample: 2024/05/01/[$LATEST]0123456789abcdef
    event_id:
      description: The event's id.
      type: str
      sample: "37502893498237498237498237498237498234"
    ingestion_time:
      description: When CloudWatch Logs received the event, epoch milliseconds.
      type: int
      sample: 1714564800456
event_count:
  description: Number of events returned.
  returned: always
  type: int
  sample: 3
truncated:
  description: More events matched than O(max_events); only the earliest were returned.
  returned: always
  type: bool
  sample: false
log_group_exists:
  description: Whether the log group exists (at the last read).
  returned: always
  type: bool
  sample: true
matched:
  description: Whether O(min_events) and O(contains) are satisfied; V(true) when neither is given.
  returned: always
  type: bool
  sample: true
missing:
  description: The strings of O(contains) that no event's message holds.
  returned: always
  type: list
  elements: str
  sample: ['"eventName": "REMOVE"']
timed_out:
  description: The wait ended because O(wait_timeout) passed (only with O(fail_on_timeout=false); otherwise the
    module fails).
  returned: always
  type: bool
  sample: false
start_time:
  description: The start of the window in epoch milliseconds, or V(null) when O(since) was omitted.
  returned: always
  type: int
  sample: 1714564200000
end_time:
  description: The end of the window in epoch milliseconds, or V(null) when O(until) was omitted.
  returned: always
  type: int
  sample: 1714564800000
"""

import copy
import json
import re
import time

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import parse_time
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import LOGS
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import poll_until

LOG_GROUP_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
MAX_PAGE = 10000  # FilterLogEvents' own limit per call
MAX_FILTER_PATTERN = 1024


class LogsError(AnsibleAWSError):
    pass


def validate_params(params, now_ms=None):
    """Check the options and fix the window; raises LogsError naming the option. No AWS calls."""
    group = params["log_group_name"]
    if not LOG_GROUP_NAME.match(group or ""):
        raise LogsError("log_group_name %r is invalid: 1-512 characters from A-Z a-z 0-9 . - _ / #" % (group,))
    window = {}
    for option in ("since", "until"):
        value = params[option]
        if value is None:
            window[option] = None
            continue
        try:
            window[option] = parse_time(value, now=now_ms)
        except ValueError as e:
            raise LogsError("%s: %s" % (option, e)) from None
    if window["since"] is not None and window["until"] is not None and window["until"] < window["since"]:
        raise LogsError("until (%s) is before since (%s): the window is empty" % (params["until"], params["since"]))
    if params["max_events"] < 1:
        raise LogsError("max_events must be at least 1, got %d" % params["max_events"])
    if params["min_events"] is not None:
        if params["min_events"] < 1:
            raise LogsError("min_events must be at least 1, got %d (omit it to read without waiting)"
                            % params["min_events"])
        if params["min_events"] > params["max_events"]:
            raise LogsError("min_events (%d) is more than max_events (%d), so it could never be met"
                            % (params["min_events"], params["max_events"]))
    contains = params["contains"]
    if contains is not None:
        if not contains:
            raise LogsError("contains must list at least one string (omit it to read without waiting)")
        for i, text in enumerate(contains):
            if not text:
                raise LogsError("contains[%d] is empty: every entry must be a non-empty string" % i)
    if params["wait_timeout"] < 0:
        raise LogsError("wait_timeout must be 0 or more seconds, got %d" % params["wait_timeout"])
    pattern = params["filter_pattern"]
    if pattern is not None and len(pattern) > MAX_FILTER_PATTERN:
        raise LogsError("filter_pattern is %d characters; CloudWatch Logs allows at most %d"
                        % (len(pattern), MAX_FILTER_PATTERN))
    prefix = params["log_stream_name_prefix"]
    if prefix is not None and (not prefix or len(prefix) > 512 or ":" in prefix or "*" in prefix):
        raise LogsError("log_stream_name_prefix %r is invalid: 1-512 characters, no ':' or '*'" % (prefix,))
    return {
        "log_group_name": group,
        "start_time": window["since"],
        "end_time": window["until"],
        "filter_pattern": pattern or None,
        "log_stream_name_prefix": prefix,
        "max_events": params["max_events"],
        "min_events": params["min_events"],
        "contains": list(contains or []),
        "wait_timeout": params["wait_timeout"],
        "fail_on_timeout": params["fail_on_timeout"],
    }


def parse_message_json(message):
    """The message as JSON when it is a JSON object or array (or its last tab-separated field is); else None."""
    text = (message or "").strip()
    candidates = [text]
    if "\t" in text:
        candidates.append(text.rsplit("\t", 1)[1].strip())
    for candidate in candidates:
        if candidate[:1] in ("{", "["):
            try:
                value = json.loads(candidate)
            except ValueError:
                continue
            if isinstance(value, (dict, list)):
                return value
    return None


def to_event(raw):
    event = {
        "timestamp": raw.get("timestamp"),
        "message": raw.get("message", ""),
        "log_stream_name": raw.get("logStreamName"),
        "event_id": raw.get("eventId"),
        "ingestion_time": raw.get("ingestionTime"),
    }
    parsed = parse_message_json(event["message"])
    if parsed is not None:
        event["json"] = parsed
    return event


def filter_events(client, query):
    """(events sorted, truncated) for the window, or (None, False) when the log group does not exist."""
    # AWS ignores `interleaved` (always true since 2019), but moto and LocalStack still default to stream-by-stream
    # order, which would make max_events keep the wrong events.
    kwargs = {"logGroupName": query["log_group_name"], "interleaved": True}
    if query["start_time"] is not None:
        kwargs["startTime"] = query["start_time"]
    if query["end_time"] is not None:
        kwargs["endTime"] = query["end_time"]
    if query["filter_pattern"]:
        kwargs["filterPattern"] = query["filter_pattern"]
    prefix = query["log_stream_name_prefix"]
    if prefix:
        kwargs["logStreamNamePrefix"] = prefix
    limit = query["max_events"]
    raw_events, seen_tokens, truncated = [], set(), False
    try:
        while True:
            page = client.filter_log_events(aws_retry=True, limit=min(MAX_PAGE, limit + 1), **kwargs)
            # moto (and LocalStack, built on it) ignore logStreamNamePrefix here; on AWS this filter is a no-op.
            raw_events.extend(e for e in page.get("events", [])
                              if not prefix or (e.get("logStreamName") or "").startswith(prefix))
            token = page.get("nextToken")
            if len(raw_events) > limit:
                truncated = True
                break
            # AWS may hand back empty pages with a token while it searches; only a repeated token means done.
            if not token or token in seen_tokens:
                break
            seen_tokens.add(token)
            kwargs["nextToken"] = token
    except is_boto3_error_code("ResourceNotFoundException"):
        return None, False
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        raise LogsError("Failed to read events of log group %s" % query["log_group_name"], exception=e)
    raw_events.sort(key=lambda e: (e.get("timestamp") or 0, e.get("eventId") or ""))
    if len(raw_events) > limit:
        truncated = True
    return [to_event(e) for e in raw_events[:limit]], truncated


def evaluate(query, events):
    """(matched, missing strings) for the wait condition."""
    events = events or []
    missing = [text for text in query["contains"] if not any(text in e["message"] for e in events)]
    enough = query["min_events"] is None or len(events) >= query["min_events"]
    return enough and not missing, missing


def read_state(client, query):
    events, truncated = filter_events(client, query)
    matched, missing = evaluate(query, events)
    return {
        "log_group_exists": events is not None,
        "events": events or [],
        "event_count": len(events or []),
        "truncated": truncated,
        "matched": matched,
        "missing": missing,
    }


def describe_shortfall(query, state):
    parts = []
    if not state["log_group_exists"]:
        parts.append("log group %s does not exist" % query["log_group_name"])
    else:
        if query["min_events"] is not None and state["event_count"] < query["min_events"]:
            parts.append("found %d of min_events %d events" % (state["event_count"], query["min_events"]))
        if state["missing"]:
            parts.append("contains never seen: %s" % ", ".join(repr(s) for s in state["missing"]))
    return "; ".join(parts)


def collect(client, query, sleep=time.sleep, clock=time.monotonic):
    """Read once, or wait for the condition. Returns the result dict (timed_out set when the wait ran out)."""
    waiting = query["min_events"] is not None or bool(query["contains"])
    if not waiting:
        return dict(read_state(client, query), timed_out=False)
    try:
        state = poll_until(lambda: read_state(client, query), query["wait_timeout"], done=lambda s: s["matched"],
                           schedule=LOGS, sleep=sleep, clock=clock)
        return dict(state, timed_out=False)
    except WaitTimeout as e:
        return dict(e.last, timed_out=True)


ARGUMENT_SPEC = dict(
    log_group_name=dict(type="str", required=True),
    since=dict(type="str"),
    until=dict(type="str"),
    filter_pattern=dict(type="str"),
    log_stream_name_prefix=dict(type="str"),
    max_events=dict(type="int", default=10000),
    min_events=dict(type="int"),
    contains=dict(type="list", elements="str"),
    wait_timeout=dict(type="int", default=60),
    fail_on_timeout=dict(type="bool", default=True),
)


def main():
    module = AnsibleAWSModule(argument_spec=copy.deepcopy(ARGUMENT_SPEC), supports_check_mode=True)

    try:
        query = validate_params(module.params)
    except LogsError as e:
        module.fail_json(msg=e.message)

    client = module.client("logs", retry_decorator=aws_retry())
    try:
        result = collect(client, query)
    except LogsError as e:
        if e.exception:
            module.fail_json_aws(e.exception, msg=e.message)
        module.fail_json(msg=e.message)

    result.update(start_time=query["start_time"], end_time=query["end_time"])
    if result["timed_out"] and query["fail_on_timeout"]:
        module.fail_json(msg="log_events_info: waited %ss on %s: %s" % (
            query["wait_timeout"], query["log_group_name"], describe_shortfall(query, result)), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
