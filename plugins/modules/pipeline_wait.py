#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: pipeline_wait
version_added: 0.2.0
short_description: Wait until a pipeline's function and event source mappings have settled
description:
  - Polls a Lambda function until its C(State) is C(Active) and its C(LastUpdateStatus) is C(Successful) (or until
    it is gone), and event source mappings until each is C(Enabled), C(Disabled) or gone, all in one loop, within
    O(wait_timeout). Makes no change.
  - The collection's playbooks run M(streamops.dynamodb_lambda.stream_function) and
    M(streamops.dynamodb_lambda.stream_trigger) with O(streamops.dynamodb_lambda.stream_trigger#module:wait=false)
    and this module as the play's last step, so the transitions of every pipeline run at the same time instead of
    one batch of hosts after another.
  - A function that ended C(Failed), or a mapping that settled in another state than the one asked for (Lambda
    disables a mapping it cannot run and says why in C(StateTransitionReason)), is a failure with AWS's reason.
  - In check mode nothing was created or changed, so nothing is read and nothing is awaited.
  - With three or more mappings still to settle, a poll round reads them with one C(ListEventSourceMappings) (100
    mappings a page) instead of one C(GetEventSourceMapping) each, so many pipelines stay within Lambda's control
    plane request rate; a mapping the listing does not show is read on its own. An account whose listing has more
    pages than there are mappings to read is read mapping by mapping.
author:
  - streamops maintainers (@streamops)
options:
  function_name:
    description: The function to wait for, by name or ARN. Omit to wait for mappings only.
    type: str
  function_state:
    description: V(present) waits until the function is ready, V(absent) until it is gone.
    choices: [present, absent]
    default: present
    type: str
  mappings:
    description:
      - Event source mappings to wait for. An entry whose O(mappings[].uuid) is null (a mapping check mode did not
        create) is skipped.
    type: list
    elements: dict
    default: []
    suboptions: &mapping_suboptions
      uuid:
        description: The mapping's UUID.
        type: str
      state:
        description: What the mapping must end as.
        choices: [Enabled, Disabled, absent]
        default: Enabled
        type: str
  wait_timeout:
    description: Seconds to wait for everything, 1-3600.
    default: 300
    type: int
  msg_prefix:
    description:
      - Text put before every failure message, so a play over many pipelines says which one failed in a single
        task.
    default: ""
    type: str
  pipelines:
    description:
      - Several pipelines at once, all awaited in the same loop, each entry with its own O(pipelines[].function_name),
        O(pipelines[].function_state), O(pipelines[].mappings) and O(pipelines[].msg_prefix) (as the options of
        the same names, which must then be left out). O(wait_timeout) holds for all of them.
      - A pipeline that fails or times out does not stop the wait for the others; it is reported under its
        O(pipelines[].name) in RV(failures), and the task fails once every other pipeline has settled.
      - The collection's playbooks run this module once for all their pipelines (C(run_once)), so a poll round
        reads every pipeline's unsettled resources in one process, and give each pipeline's failure to its host
        (C(streamops_pipelines[<index>] (<name>)) followed by a colon and a space, as the prefix).
    type: list
    elements: dict
    suboptions:
      name:
        description: The pipeline's name, the key of its result and of its failure.
        type: str
        required: true
      function_name:
        description: As O(function_name).
        type: str
      function_state:
        description: As O(function_state).
        choices: [present, absent]
        default: present
        type: str
      mappings:
        description: As O(mappings).
        type: list
        elements: dict
        default: []
        suboptions: *mapping_suboptions
      msg_prefix:
        description: As O(msg_prefix).
        type: str
        default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create a function and its trigger without waiting, then wait for both
  streamops.dynamodb_lambda.stream_trigger:
    function_name: orders-consumer
    table_name: orders
    wait: false
  register: trigger

- name: Wait for the function and its trigger
  streamops.dynamodb_lambda.pipeline_wait:
    function_name: orders-consumer
    mappings:
      - uuid: "{{ trigger.uuid }}"
        state: Enabled

- name: Wait for two pipelines in one loop; each failure is reported under its pipeline's name
  streamops.dynamodb_lambda.pipeline_wait:
    pipelines:
      - name: orders
        function_name: orders-consumer
        mappings: [{uuid: a1b2c3d4-5678-90ab-cdef-11111EXAMPLE}]
      - name: audit
        function_name: audit-consumer
        mappings: [{uuid: a1b2c3d4-5678-90ab-cdef-22222EXAMPLE}]
  register: waited

- name: Wait until a deleted mapping is gone
  streamops.dynamodb_lambda.pipeline_wait:
    mappings:
      - uuid: a1b2c3d4-5678-90ab-cdef-11111EXAMPLE
        state: absent
"""

RETURN = r"""
function:
  description: The function's C(state) and C(last_update_status) as last read, or null when gone or not asked for.
  returned: always
  type: dict
  sample: {"state": "Active", "last_update_status": "Successful"}
mappings:
  description: Each mapping asked for, with its C(state) as last read (C(gone) when deleted).
  returned: always
  type: list
  elements: dict
  sample: [{"uuid": "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE", "state": "Enabled", "state_transition_reason": "USER_INITIATED"}]
pipelines:
  description: With O(pipelines), each pipeline's RV(function) and RV(mappings) by name (a failed one has none).
  returned: when O(pipelines) is given
  type: dict
  sample: {"orders": {"function": {"state": "Active", "last_update_status": "Successful"}, "mappings": []}}
failures:
  description: With O(pipelines), the failure message of each pipeline that failed or timed out, by name.
  returned: when O(pipelines) is given
  type: dict
  sample: {"audit": "streamops_pipelines[1] (audit): timed out after 300s waiting for function audit-consumer to be Active"}
"""

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import event_source_mapping as esm
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.common import aws_retry
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import FUNCTION
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitFailed
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import describe_function
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import function_failure
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import function_ready
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import poll_until


def function_reader(client, name, state):
    """A wait for one function: read() -> (settled, seen) with seen the configuration or None when gone."""
    def read():
        try:
            conf = client.get_function_configuration(aws_retry=True, FunctionName=name)
        except is_boto3_error_code("ResourceNotFoundException"):
            conf = None
        if state == "absent":
            return conf is None, conf
        if conf is None:
            raise WaitFailed("function %s does not exist" % name)
        return function_ready(conf), conf

    what = "function %s to be %s" % (name, "Active" if state == "present" else "deleted")
    return what, read, lambda conf: describe_function(conf) if conf else "gone"


def mapping_reader(client, uuid, state, reads=None):
    """A wait for one mapping: settled once gone (absent) or in a stable state (Enabled / Disabled).

    *reads* (a MappingReads) answers from its round's listing when it has one.
    """
    def read():
        mapping = reads.get(uuid) if reads is not None else esm.get_mapping(client, uuid)
        if state == "absent":
            return mapping is None, mapping
        if mapping is None:
            raise WaitFailed("event source mapping %s disappeared while waiting for it" % uuid)
        return mapping.get("State") in esm.STABLE_STATES, mapping

    what = "event source mapping %s to be %s" % (uuid, "deleted" if state == "absent" else state)
    return what, read, lambda mapping: (mapping or {}).get("State", "gone")


# Lambda's control plane allows 15 requests per second per account and Region across its APIs but invocation,
# GetFunction and GetPolicy (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), so one
# GetEventSourceMapping per unsettled mapping per round would exceed it with a few dozen pipelines. From this many
# unsettled mappings on, a round lists the account's mappings instead (ListEventSourceMappings, 100 a page).
LIST_FROM = 3


class MappingReads:
    """The mappings' reads of one round: one listing for many, GetEventSourceMapping for a few.

    A mapping the listing does not show (gone, or not listed yet) is read on its own, so "gone" is always what
    GetEventSourceMapping says. An account whose listing takes more pages than there are mappings to read goes back
    to reading them one by one.
    """

    def __init__(self, client):
        self.client = client
        self.listing = None
        self.pages = None

    def begin_round(self, uuids):
        self.listing = None
        if len(uuids) >= LIST_FROM and (self.pages is None or self.pages < len(uuids)):
            mappings = esm.list_mappings(self.client)
            self.pages = len(mappings) // 100 + 1
            self.listing = {mapping.get("UUID"): mapping for mapping in mappings}

    def get(self, uuid):
        if self.listing is not None and uuid in self.listing:
            return self.listing[uuid]
        return esm.get_mapping(self.client, uuid)


class RoundsTimeout(WaitTimeout):
    """wait_all's timeout: also the waits still pending, and how to describe some of them as last seen."""

    def __init__(self, message, last, attempts, pending, describe):
        super().__init__(message, last=last, attempts=attempts)
        self.pending = pending
        self.describe = describe


def wait_all(waits, timeout, on_failure=None, before_round=None, **clock):
    """Poll every unsettled wait in each round until all have settled; returns {what: last seen}.

    One loop for all of them, so a pipeline waits as long as its slowest resource, not the sum of them. With
    *on_failure* (wait, exception) -> waits to drop, a WaitFailed of one wait drops those waits and the loop goes on
    for the others; without it, it ends the wait. *before_round* (the waits still pending) runs first in each round.
    """
    seen = {}
    pending = list(waits)

    def round_():
        if before_round is not None:
            before_round(list(pending))
        for wait in list(pending):
            if wait not in pending:  # dropped by a failure earlier in this round
                continue
            what, read, _describe = wait
            try:
                settled, value = read()
            except WaitFailed as exc:
                if on_failure is None:
                    raise
                for dropped in on_failure(wait, exc):
                    if dropped in pending:
                        pending.remove(dropped)
                continue
            seen[what] = value
            if settled:
                pending.remove(wait)
        return not pending

    def describe(waits_left):
        return "; ".join("%s: %s" % (what, describe_one(seen.get(what))) for what, _read, describe_one in waits_left)

    try:
        poll_until(round_, timeout, schedule=FUNCTION, **clock)
    except WaitTimeout as exc:
        raise RoundsTimeout("timed out after %ss waiting for %s (last seen: %s)"
                            % (timeout, " and ".join(w[0] for w in pending), describe(pending)),
                            last=dict(seen), attempts=exc.attempts, pending=list(pending), describe=describe) from None
    return seen


def pipeline_waits(client, pipeline, reads=None):
    """The waits of one pipeline: (function wait or None, [(mapping entry, wait)])."""
    function_wait = None
    if pipeline["function_name"]:
        function_wait = function_reader(client, pipeline["function_name"], pipeline["function_state"])
    mapping_waits = [(entry, mapping_reader(client, entry["uuid"], entry["state"], reads))
                     for entry in pipeline["mappings"] if entry.get("uuid")]
    return function_wait, mapping_waits


def round_hook(reads, mapping_waits):
    """wait_all's before_round: *reads* gets the UUIDs of the mapping waits still pending."""
    uuid_of = {id(wait): entry["uuid"] for entry, wait in mapping_waits}

    def before_round(pending):
        reads.begin_round([uuid_of[id(wait)] for wait in pending if id(wait) in uuid_of])

    return before_round


def settled_result(pipeline, function_wait, mapping_waits, seen):
    """What one pipeline's resources settled as; raises WaitFailed when that is not what was asked for."""
    result = {"function": None, "mappings": []}
    if function_wait is not None:
        conf = seen.get(function_wait[0])
        if conf:
            problem = function_failure(pipeline["function_name"], conf) if pipeline["function_state"] == "present" else None
            if problem:
                raise WaitFailed(problem)
            result["function"] = {"state": conf.get("State"), "last_update_status": conf.get("LastUpdateStatus")}
    for entry, wait in mapping_waits:
        mapping = seen.get(wait[0])
        if mapping is None:
            result["mappings"].append({"uuid": entry["uuid"], "state": "gone", "state_transition_reason": None})
            continue
        if mapping.get("State") != entry["state"]:
            raise WaitFailed("event source mapping %s ended %s instead of %s: %s"
                             % (entry["uuid"], mapping.get("State"), entry["state"],
                                mapping.get("StateTransitionReason")))
        result["mappings"].append({"uuid": entry["uuid"], "state": mapping.get("State"),
                                   "state_transition_reason": mapping.get("StateTransitionReason")})
    return result


def run_many(client, pipelines, timeout, check_mode, **clock):
    """Every pipeline's waits in one loop; returns ({name: result}, {name: failure message with its prefix}).

    A pipeline whose read fails, whose resources settle otherwise than asked, or that has not settled by the
    deadline gets a failure; the others are still awaited and reported.
    """
    results, failures = {}, {}
    plans = {}
    owner = {}
    reads = MappingReads(client)
    for pipeline in pipelines:
        function_wait, mapping_waits = pipeline_waits(client, pipeline, reads)
        waits = ([function_wait] if function_wait else []) + [wait for _entry, wait in mapping_waits]
        plans[pipeline["name"]] = (pipeline, function_wait, mapping_waits, waits)
        for wait in waits:
            owner[id(wait)] = pipeline["name"]
    if check_mode:
        return {name: {"function": None, "mappings": []} for name in plans}, failures

    def fail(wait, exc):
        name = owner[id(wait)]
        failures[name] = plans[name][0]["msg_prefix"] + str(exc)
        return plans[name][3]

    everything = [wait for plan in plans.values() for wait in plan[3]]
    before_round = round_hook(reads, [pair for plan in plans.values() for pair in plan[2]])
    try:
        seen = wait_all(everything, timeout, on_failure=fail, before_round=before_round, **clock) if everything else {}
    except RoundsTimeout as exc:
        seen = exc.last
        late = {}
        for wait in exc.pending:
            late.setdefault(owner[id(wait)], []).append(wait)
        for name, waits in late.items():
            failures[name] = plans[name][0]["msg_prefix"] + "timed out after %ss waiting for %s (last seen: %s)" % (
                timeout, " and ".join(w[0] for w in waits), exc.describe(waits))
    for name, (pipeline, function_wait, mapping_waits, _waits) in plans.items():
        if name in failures:
            continue
        try:
            results[name] = settled_result(pipeline, function_wait, mapping_waits, seen)
        except WaitFailed as exc:
            failures[name] = pipeline["msg_prefix"] + str(exc)
    return results, failures


def run(client, params, check_mode, **clock):
    reads = MappingReads(client)
    function_wait, mapping_waits = pipeline_waits(client, params, reads)
    waits = ([function_wait] if function_wait else []) + [wait for _entry, wait in mapping_waits]
    result = {"changed": False, "function": None, "mappings": []}
    if check_mode or not waits:
        return result
    seen = wait_all(waits, params["wait_timeout"], before_round=round_hook(reads, mapping_waits), **clock)
    result.update(settled_result(params, function_wait, mapping_waits, seen))
    return result


# What one pipeline's wait takes: the module's own options, and each entry of its option pipelines.
PIPELINE_OPTIONS = dict(
    function_name=dict(type="str"),
    function_state=dict(type="str", default="present", choices=["present", "absent"]),
    mappings=dict(type="list", elements="dict", default=[], options=dict(
        uuid=dict(type="str"),
        state=dict(type="str", default="Enabled", choices=["Enabled", "Disabled", "absent"]),
    )),
    msg_prefix=dict(type="str", default=""),
)

ARGUMENT_SPEC = dict(
    PIPELINE_OPTIONS,
    wait_timeout=dict(type="int", default=300),
    pipelines=dict(type="list", elements="dict", options=dict(PIPELINE_OPTIONS, name=dict(type="str", required=True))),
)


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                              mutually_exclusive=[("pipelines", "function_name"), ("pipelines", "mappings")])
    prefix = module.params["msg_prefix"]
    if not 1 <= module.params["wait_timeout"] <= 3600:
        module.fail_json(msg=prefix + "wait_timeout: must be 1-3600 seconds (got %s)" % module.params["wait_timeout"])
    pipelines = module.params["pipelines"]
    if pipelines is not None:
        names = [pipeline["name"] for pipeline in pipelines]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            module.fail_json(msg="pipelines: each name once, got %s more than once" % ", ".join(repeated))
    client = module.client("lambda", retry_decorator=aws_retry())
    if pipelines is not None:
        try:
            results, failures = run_many(client, pipelines, module.params["wait_timeout"], module.check_mode)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            module.fail_json_aws(exc, msg="failed to read the pipelines' functions and mappings")
        if failures:
            module.fail_json(msg="; ".join(failures[name] for name in names if name in failures),
                             pipelines=results, failures=failures)
        module.exit_json(changed=False, pipelines=results, failures={})
    try:
        result = run(client, module.params, module.check_mode)
    except (WaitFailed, WaitTimeout) as exc:
        module.fail_json(msg=prefix + str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg=prefix + "failed to read the pipeline's function and mappings")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
