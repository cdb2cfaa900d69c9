#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: stream_trigger
version_added: 0.1.0
short_description: Manage the event source mapping from a DynamoDB stream to a Lambda function
description:
  - Creates, updates, replaces or deletes the event source mapping (the "DynamoDB trigger") that makes Lambda
    read a table's stream and invoke a function, with every setting Lambda has for DynamoDB sources.
  - The mapping is identified by the function (O(function_name)) and the table (O(table_name) or O(stream_arn)).
    When the table's stream was re-created (for example by a view type change) the mapping still reads the old,
    disabled stream; this module then replaces it with a mapping on the current stream.
  - Settings that UpdateEventSourceMapping accepts are changed in place. O(starting_position) cannot be updated,
    so a change there deletes the mapping, waits until it is gone and creates it again; RV(replaced) and
    RV(replaced_reason) report that, and C(--diff) shows it.
  - Filter patterns are compared as JSON, so key order and whitespace never count as a change. Removing all
    filters sends an explicit empty filter list, since Lambda keeps filters that are simply left out.
  - botocore has no waiter for event source mappings; the module polls C(State) with backoff until the mapping is
    C(Enabled) or C(Disabled) (or gone, after a delete). It retries, within O(wait_timeout), the errors a freshly
    created IAM role causes (C(cannot be assumed by Lambda), C(does not have permissions)), changes refused while
    the mapping is mid-transition (C(ResourceInUseException)) and a create refused while an old mapping for the
    same function and stream is still being deleted (C(ResourceConflictException)).
  - Use this instead of M(amazon.aws.lambda_event), which compares only batch size and enabled, lacks most of
    these settings and does not wait.
author:
  - streamops maintainers (@streamops)
options:
  function_name:
    description:
      - The function, as a name, C(name:qualifier) (version or alias) or a function ARN (qualified or not).
    required: true
    type: str
  table_name:
    description:
      - The table whose current stream is the source. Mutually exclusive with O(stream_arn); one is required.
    type: str
  stream_arn:
    description:
      - The stream ARN to read. Mapping of the same function on older streams of the same table are replaced.
    type: str
  state:
    description:
      - V(absent) deletes every mapping from any stream of the table to the function.
    default: present
    choices: [present, absent]
    type: str
  batch_size:
    description: Records per invocation, 1-10000.
    default: 100
    type: int
  maximum_batching_window:
    description: Seconds Lambda gathers records before invoking, 0-300.
    default: 0
    type: int
  starting_position:
    description:
      - Where a new mapping starts reading. Cannot be updated; a change replaces the mapping.
    default: LATEST
    choices: [LATEST, TRIM_HORIZON]
    type: str
  parallelization_factor:
    description: Concurrent batches per shard, 1-10.
    default: 1
    type: int
  bisect_batch_on_function_error:
    description: Split a failing batch in two and retry each half.
    default: false
    type: bool
  maximum_retry_attempts:
    description: Retries of a failing batch, -1 (until the record expires) to 10000.
    default: -1
    type: int
  maximum_record_age:
    description: Discard records older than this many seconds; -1 (no limit) or 60-604800.
    default: -1
    type: int
  on_failure_destination:
    description:
      - ARN of an SQS queue or SNS topic that receives the details of discarded batches. Omit for none (an
        existing destination is then removed).
    type: str
  tumbling_window:
    description: Tumbling window length in seconds, 0-900 (0 = off).
    default: 0
    type: int
  report_batch_item_failures:
    description: The function reports partial batch failures (C(FunctionResponseTypes=[ReportBatchItemFailures])).
    default: false
    type: bool
  filters:
    description:
      - Event filter patterns (EventBridge syntax), each a mapping or a JSON string of an object, at most 4096
        characters. A record is processed when any pattern matches. V([]) means no filtering (existing filters
        are removed).
    default: []
    type: list
    elements: raw
  kms_key_arn:
    description: KMS key ARN that encrypts the filter criteria. Omit for the AWS managed key.
    type: str
  metrics:
    description: Mapping metrics to enable.
    default: []
    type: list
    elements: str
    choices: [EventCount]
  enabled:
    description: Whether Lambda polls the stream.
    default: true
    type: bool
  tags:
    description:
      - Tags of the mapping. Omit to leave tags unmanaged. The ownership tag C(streamops:managed-by) is added on
        create and never purged.
    type: dict
  purge_tags:
    description: Remove tags not listed in O(tags) (only when O(tags) is given).
    default: true
    type: bool
  wait:
    description:
      - Wait until the mapping is C(Enabled)/C(Disabled) after a change (or gone after a delete).
      - Waits that a change needs to succeed (an old mapping gone before a new one for the same stream is created)
        happen regardless.
    default: true
    type: bool
  wait_for_source:
    description:
      - Before creating a mapping, wait until the source table is C(ACTIVE) and its stream C(ENABLED), polling
        C(DescribeTable) and C(DescribeStream) within O(wait_timeout).
      - "For a table that was just created or changed without waiting (M(streamops.dynamodb_lambda.dynamodb_stream)
        with O(streamops.dynamodb_lambda.dynamodb_stream#module:wait=false)): its stream's ARN is known while the
        table is still C(CREATING), but a mapping needs a live stream."
      - Nothing is read when the mapping exists already, when nothing is created, or in check mode.
    default: false
    type: bool
  wait_timeout:
    description: Seconds to wait and to retry, 1-3600.
    default: 300
    type: int
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The walkthrough's trigger
  streamops.dynamodb_lambda.stream_trigger:
    function_name: Lambda_demo_DynamoDB_stream
    table_name: users_post
    batch_size: 100
    starting_position: LATEST
    enabled: true

- name: Only INSERTs of posts, partial batch failures, failures to SQS
  streamops.dynamodb_lambda.stream_trigger:
    function_name: Lambda_demo_DynamoDB_stream:live
    table_name: users_post
    filters:
      - eventName: [INSERT]
        dynamodb:
          NewImage:
            kind:
              S: [post]
    report_batch_item_failures: true
    bisect_batch_on_function_error: true
    maximum_retry_attempts: 3
    on_failure_destination: arn:aws:sqs:us-east-1:123456789012:users_post-dlq
    tags:
      team: data

- name: Remove the trigger
  streamops.dynamodb_lambda.stream_trigger:
    function_name: Lambda_demo_DynamoDB_stream
    table_name: users_post
    state: absent
"""

RETURN = r"""
uuid:
  description: The mapping's identifier; null in check mode before creation and after a delete.
  returned: always
  type: str
  sample: 6d9bce8e-836b-442c-8070-74e77903c815
event_source_mapping_arn:
  description: The mapping's ARN.
  returned: when a mapping exists
  type: str
  sample: arn:aws:lambda:us-east-1:123456789012:event-source-mapping:6d9bce8e-836b-442c-8070-74e77903c815
state:
  description: The mapping's State (Creating, Enabling, Enabled, Disabling, Disabled, Updating, Deleting).
  returned: when a mapping exists
  type: str
  sample: Enabled
state_transition_reason:
  description: Why the mapping is in its state.
  returned: when a mapping exists
  type: str
  sample: USER_INITIATED
last_processing_result:
  description: The result of the last invocation.
  returned: when a mapping exists
  type: str
  sample: "No records processed"
last_modified:
  description: When the mapping last changed.
  returned: when a mapping exists
  type: str
  sample: "2024-05-01T12:00:00+00:00"
event_source_arn:
  description: The stream the mapping reads.
  returned: when a mapping exists
  type: str
  sample: arn:aws:dynamodb:us-east-1:123456789012:table/users_post/stream/2024-05-01T12:00:00.000
function_arn:
  description: The function (with qualifier when one was given).
  returned: when a mapping exists
  type: str
  sample: arn:aws:lambda:us-east-1:123456789012:function:Lambda_demo_DynamoDB_stream
batch_size:
  description: Records per invocation.
  returned: when a mapping exists
  type: int
  sample: 100
maximum_batching_window_in_seconds:
  description: Batching window.
  returned: when a mapping exists
  type: int
  sample: 0
starting_position:
  description: LATEST or TRIM_HORIZON.
  returned: when a mapping exists
  type: str
  sample: LATEST
parallelization_factor:
  description: Concurrent batches per shard.
  returned: when a mapping exists
  type: int
  sample: 1
bisect_batch_on_function_error:
  description: Whether failing batches are split.
  returned: when a mapping exists
  type: bool
  sample: false
maximum_retry_attempts:
  description: Retries of a failing batch.
  returned: when a mapping exists
  type: int
  sample: -1
maximum_record_age_in_seconds:
  description: Maximum record age.
  returned: when a mapping exists
  type: int
  sample: -1
tumbling_window_in_seconds:
  description: Tumbling window.
  returned: when a mapping exists
  type: int
  sample: 0
function_response_types:
  description: Response types, V([]) or V([ReportBatchItemFailures]).
  returned: when a mapping exists
  type: list
  elements: str
  sample: ["ReportBatchItemFailures"]
destination_config:
  description: Where discarded batches are reported.
  returned: when a mapping exists
  type: dict
  sample: {"on_failure": {"destination": "arn:aws:sqs:us-east-1:123456789012:users_post-dlq"}}
filter_criteria:
  description: The filter patterns as Lambda stores them.
  returned: when a mapping exists
  type: dict
  sample: {"filters": [{"pattern": "{\"eventName\":[\"INSERT\"]}"}]}
kms_key_arn:
  description: The key that encrypts the filter criteria.
  returned: when set
  type: str
  sample: arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
metrics_config:
  description: Enabled metrics.
  returned: when set
  type: dict
  sample: {"metrics": ["EventCount"]}
tags:
  description: The mapping's tags.
  returned: when a mapping exists
  type: dict
  sample: {"streamops:managed-by": "streamops.dynamodb_lambda"}
replaced:
  description: True when the mapping was deleted and created again (new stream, or starting position change).
  returned: always
  type: bool
  sample: false
replaced_reason:
  description: Why the mapping was replaced; null when it was not.
  returned: always
  type: str
  sample: "starting_position cannot be updated (LATEST -> TRIM_HORIZON)"
deleted:
  description: UUIDs of the mappings this run deleted (a replaced mapping, stale mappings, or O(state=absent)).
  returned: always
  type: list
  elements: str
  sample: ["6d9bce8e-836b-442c-8070-74e77903c815"]
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import event_source_mapping as esm
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import table_arn_beside
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import table_arn_of_stream
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import describe_table
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import stream_facts
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.stream import wait_stream_readable
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import OWNER_TAG
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import owns
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import stringified
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import with_owner
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout


class TriggerError(Exception):
    pass


def resolve_source(ddb, params, function_arn):
    """(table_arn, target stream ARN or None, problem or None) for the table_name/stream_arn options."""
    if params["stream_arn"]:
        return table_arn_of_stream(params["stream_arn"]), params["stream_arn"], None
    table = describe_table(ddb, params["table_name"])
    if table is None:
        # The table's ARN is still needed to find mappings left behind on its streams (state=absent).
        table_arn = table_arn_beside(function_arn, params["table_name"])
        return table_arn, None, "table %s does not exist" % params["table_name"]
    facts = stream_facts(table)
    if not facts["stream_enabled"]:
        return facts["table_arn"], None, ("table %s has no enabled stream (enable it with "
                                          "streamops.dynamodb_lambda.dynamodb_stream)" % params["table_name"])
    return facts["table_arn"], facts["stream_arn"], None


def settle(client, mappings, timeout):
    """Wait out transitions so the comparison sees where each mapping ends up; drop the ones being deleted."""
    settled = []
    for mapping in mappings:
        state = mapping.get("State")
        if state == "Deleting":
            esm.wait_gone(client, mapping["UUID"], timeout)
            continue
        if state not in esm.STABLE_STATES:
            mapping = esm.wait_stable(client, mapping["UUID"], timeout)
            if mapping is None:
                continue
        settled.append(mapping)
    return settled


def diff_view(settings, source, tags):
    view = dict(settings, event_source_arn=source)
    if tags is not None:
        view["tags"] = tags
    return view


def result_of(mapping, tags):
    result = camel_dict_to_snake_dict(normalize_boto3_result(mapping))
    result["tags"] = tags
    return result


def desired_tags(params, current_tags):
    """Tags the mapping should carry, or None when tags are unmanaged and the mapping exists."""
    if params["tags"] is None:
        return None
    wanted = stringified(params["tags"])
    if current_tags is None or owns(current_tags):
        wanted = dict(OWNER_TAG, **wanted)
    return wanted


def ensure_absent(module, client, found, params):
    result = {"changed": bool(found), "replaced": False, "replaced_reason": None, "uuid": None,
              "deleted": [m["UUID"] for m in found]}
    if module._diff:
        result["diff"] = {"before": {m["UUID"]: m.get("EventSourceArn") for m in found}, "after": {}}
    if module.check_mode or not found:
        return result
    for mapping in found:
        esm.delete_mapping(client, mapping["UUID"], params["wait_timeout"])
    if params["wait"]:
        for mapping in found:
            esm.wait_gone(client, mapping["UUID"], params["wait_timeout"])
    return result


def ensure_present(module, client, found, function_arn, target, params, source_clients=None):
    """*source_clients* () -> (dynamodb, dynamodbstreams) clients, called only when wait_for_source has to read."""
    timeout = params["wait_timeout"]
    found = settle(client, found, timeout)
    current = [m for m in found if m.get("EventSourceArn") == target]
    stale = [m for m in found if m.get("EventSourceArn") != target]
    mapping = current[0] if current else None
    # AWS refuses a second mapping of one function on one stream, so extras here are leftovers of a race.
    stale.extend(current[1:])
    desired = esm.desired_settings(params)

    replaced_reason = None
    if mapping is None and stale:
        replaced_reason = ("the table's stream was re-created: mapping %s reads %s, the table's current stream is %s"
                           % (stale[-1]["UUID"], stale[-1].get("EventSourceArn"), target))
    before_settings = esm.current_settings(mapping) if mapping else None
    changes = esm.differences(before_settings, desired) if mapping else []
    replace_only = [o for o in changes if o in esm.REPLACE_ONLY]
    if replace_only:
        replaced_reason = "; ".join("%s cannot be updated (%s -> %s)" % (o, before_settings[o], desired[o])
                                    for o in replace_only)
    recreate = mapping is not None and bool(replace_only)

    old = mapping or (stale[-1] if stale else None)
    before_tags = esm.mapping_tags(client, old) if old else None
    wanted_tags = desired_tags(params, before_tags if mapping and not recreate else None)
    if mapping and not recreate and wanted_tags is not None:
        tags_to_set, tags_to_unset = compare_aws_tags(before_tags, wanted_tags, params["purge_tags"])
    else:
        tags_to_set, tags_to_unset = {}, []
    creating = mapping is None or recreate
    if creating:
        # Unmanaged tags follow a replaced mapping; a brand new one carries at least the ownership tag.
        create_tags = wanted_tags if wanted_tags is not None else with_owner(before_tags)
    to_delete = stale + ([mapping] if recreate else [])
    changed = creating or bool(changes) or bool(tags_to_set) or bool(tags_to_unset) or bool(to_delete)

    result = {"changed": changed, "replaced": bool(replaced_reason), "replaced_reason": replaced_reason,
              "deleted": [m["UUID"] for m in to_delete]}
    if module._diff:
        before = diff_view(before_settings, mapping.get("EventSourceArn"), before_tags) if mapping else (
            diff_view(esm.current_settings(old), old.get("EventSourceArn"), before_tags) if old else {})
        after_tags = create_tags if creating else (
            dict((k, v) for k, v in dict(before_tags, **tags_to_set).items() if k not in tags_to_unset)
            if before_tags is not None else None)
        result["diff"] = {"before": before, "after": diff_view(desired, target, after_tags)}

    if module.check_mode or not changed:
        if creating:
            predicted = dict(esm.api_fields(desired), UUID=None, FunctionArn=function_arn, EventSourceArn=target,
                             State="Enabled" if desired["enabled"] else "Disabled")
            predicted.pop("Enabled", None)
            result.update(result_of(predicted, create_tags))
        else:
            result.update(result_of(mapping, before_tags))
        return result

    if creating and params["wait_for_source"]:
        # Before any delete, so a source that never becomes readable leaves the old mapping in place.
        try:
            wait_stream_readable(*source_clients(), stream_arn=target, timeout=timeout)
        except WaitTimeout as exc:
            raise TriggerError("wait_for_source: %s; no mapping was created" % exc) from None
    for old_mapping in to_delete:
        esm.delete_mapping(client, old_mapping["UUID"], timeout)
    for old_mapping in to_delete:
        # A new mapping for the same function and stream is refused until the old one is gone
        # (ResourceConflictException while it is Deleting).
        if params["wait"] or old_mapping.get("EventSourceArn") == target:
            esm.wait_gone(client, old_mapping["UUID"], timeout)

    if creating:
        mapping = esm.create_mapping(client, function_arn, target, desired, create_tags, timeout)
    elif changes:
        esm.wait_stable(client, mapping["UUID"], timeout)
        esm.update_mapping(client, mapping["UUID"], esm.api_fields(desired, changes, for_update=True), timeout)
    if tags_to_set:
        client.tag_resource(aws_retry=True, Resource=esm.mapping_arn(mapping), Tags=tags_to_set)
    if tags_to_unset:
        client.untag_resource(aws_retry=True, Resource=esm.mapping_arn(mapping), TagKeys=tags_to_unset)

    if params["wait"]:
        final = esm.wait_stable(client, mapping["UUID"], timeout)
        if final is None:
            raise TriggerError("event source mapping %s disappeared while waiting for it" % mapping["UUID"])
        want = "Enabled" if desired["enabled"] else "Disabled"
        if final.get("State") != want:
            raise TriggerError("event source mapping %s ended %s instead of %s: %s"
                               % (final["UUID"], final.get("State"), want, final.get("StateTransitionReason")))
    else:
        final = esm.get_mapping(client, mapping["UUID"]) or mapping
    result.update(result_of(final, esm.mapping_tags(client, final)))
    return result


def run(module, client, ddb, params, source_clients=None):
    if params["state"] == "absent":
        # One listing finds what to delete; the function and the table may already be gone (teardown order).
        table_arn = table_arn_of_stream(params["stream_arn"]) if params["stream_arn"] else None
        found = esm.find_mappings_to_remove(client, params["function_name"], params["table_name"], table_arn)
        return ensure_absent(module, client, found, params)
    function_arn = esm.resolve_function(client, params["function_name"])
    if function_arn is None:
        problem = "function %s does not exist" % params["function_name"]
        if module.check_mode:
            module.warn("%s; in check mode it may be created by an earlier task, so the trigger is reported as "
                        "to be created" % problem)
            return {"changed": True, "replaced": False, "replaced_reason": None, "uuid": None, "deleted": []}
        raise TriggerError(problem)
    table_arn, target, problem = resolve_source(ddb, params, function_arn)
    found = esm.find_table_mappings(client, function_arn, table_arn, target)
    if problem:
        if module.check_mode:
            module.warn("%s; in check mode it may be created by an earlier task" % problem)
            return {"changed": True, "replaced": False, "replaced_reason": None, "uuid": None, "deleted": []}
        raise TriggerError(problem)
    return ensure_present(module, client, found, function_arn, target, params, source_clients)


ARGUMENT_SPEC = dict(
    function_name=dict(type="str", required=True),
    table_name=dict(type="str"),
    stream_arn=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    batch_size=dict(type="int", default=esm.DEFAULTS["batch_size"]),
    maximum_batching_window=dict(type="int", default=esm.DEFAULTS["maximum_batching_window"]),
    starting_position=dict(type="str", default=esm.DEFAULTS["starting_position"], choices=list(esm.STARTING_POSITIONS)),
    parallelization_factor=dict(type="int", default=esm.DEFAULTS["parallelization_factor"]),
    bisect_batch_on_function_error=dict(type="bool", default=esm.DEFAULTS["bisect_batch_on_function_error"]),
    maximum_retry_attempts=dict(type="int", default=esm.DEFAULTS["maximum_retry_attempts"]),
    maximum_record_age=dict(type="int", default=esm.DEFAULTS["maximum_record_age"]),
    on_failure_destination=dict(type="str"),
    tumbling_window=dict(type="int", default=esm.DEFAULTS["tumbling_window"]),
    report_batch_item_failures=dict(type="bool", default=esm.DEFAULTS["report_batch_item_failures"]),
    filters=dict(type="list", elements="raw", default=list(esm.DEFAULTS["filters"])),
    kms_key_arn=dict(type="str", no_log=False),
    metrics=dict(type="list", elements="str", default=list(esm.DEFAULTS["metrics"]), choices=list(esm.METRICS)),
    enabled=dict(type="bool", default=esm.DEFAULTS["enabled"]),
    tags=dict(type="dict"),
    purge_tags=dict(type="bool", default=esm.DEFAULTS["purge_tags"]),
    wait=dict(type="bool", default=esm.DEFAULTS["wait"]),
    wait_timeout=dict(type="int", default=esm.DEFAULTS["wait_timeout"]),
    wait_for_source=dict(type="bool", default=False),
)


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                              mutually_exclusive=[("table_name", "stream_arn")],
                              required_one_of=[("table_name", "stream_arn")])
    errors = esm.validate_params(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    client = module.client("lambda", retry_decorator=aws_retry())
    ddb = module.client("dynamodb", retry_decorator=aws_retry()) if module.params["table_name"] else None

    def source_clients():
        return (ddb or module.client("dynamodb", retry_decorator=aws_retry()),
                module.client("dynamodbstreams", retry_decorator=aws_retry()))

    try:
        result = run(module, client, ddb, module.params, source_clients)
    except (TriggerError, WaitTimeout) as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="failed to manage the trigger of %s" % module.params["function_name"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
