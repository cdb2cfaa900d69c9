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
    suboptions:
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
        task. The collection's playbooks pass C(streamops_pipelines[<index>] (<name>)) followed by a colon and a
        space.
    default: ""
    type: str
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


def mapping_reader(client, uuid, state):
    """A wait for one mapping: settled once gone (absent) or in a stable state (Enabled / Disabled)."""
    def read():
        mapping = esm.get_mapping(client, uuid)
        if state == "absent":
            return mapping is None, mapping
        if mapping is None:
            raise WaitFailed("event source mapping %s disappeared while waiting for it" % uuid)
        return mapping.get("State") in esm.STABLE_STATES, mapping

    what = "event source mapping %s to be %s" % (uuid, "deleted" if state == "absent" else state)
    return what, read, lambda mapping: (mapping or {}).get("State", "gone")


def wait_all(waits, timeout, **clock):
    """Poll every unsettled wait in each round until all have settled; returns {what: last seen}.

    One loop for all of them, so a pipeline waits as long as its slowest resource, not the sum of them.
    """
    seen = {}
    pending = list(waits)

    def round_():
        for wait in list(pending):
            what, read, _describe = wait
            settled, value = read()
            seen[what] = value
            if settled:
                pending.remove(wait)
        return not pending

    def describe():
        return "; ".join("%s: %s" % (what, describe_one(seen.get(what))) for what, _read, describe_one in pending)

    try:
        poll_until(round_, timeout, schedule=FUNCTION, **clock)
    except WaitTimeout as exc:
        raise WaitTimeout("timed out after %ss waiting for %s (last seen: %s)"
                          % (timeout, " and ".join(w[0] for w in pending), describe()),
                          last=dict(seen), attempts=exc.attempts) from None
    return seen


def run(client, params, check_mode, **clock):
    function_wait = None
    waits = []
    if params["function_name"]:
        function_wait = function_reader(client, params["function_name"], params["function_state"])
        waits.append(function_wait)
    mapping_waits = []
    for entry in params["mappings"]:
        if entry.get("uuid"):
            wait = mapping_reader(client, entry["uuid"], entry["state"])
            mapping_waits.append((entry, wait))
            waits.append(wait)
    result = {"changed": False, "function": None, "mappings": []}
    if check_mode or not waits:
        return result
    seen = wait_all(waits, params["wait_timeout"], **clock)

    if function_wait is not None:
        conf = seen.get(function_wait[0])
        if conf:
            problem = function_failure(params["function_name"], conf) if params["function_state"] == "present" else None
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


ARGUMENT_SPEC = dict(
    function_name=dict(type="str"),
    function_state=dict(type="str", default="present", choices=["present", "absent"]),
    mappings=dict(type="list", elements="dict", default=[], options=dict(
        uuid=dict(type="str"),
        state=dict(type="str", default="Enabled", choices=["Enabled", "Disabled", "absent"]),
    )),
    wait_timeout=dict(type="int", default=300),
    msg_prefix=dict(type="str", default=""),
)


def main():
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    prefix = module.params["msg_prefix"]
    if not 1 <= module.params["wait_timeout"] <= 3600:
        module.fail_json(msg=prefix + "wait_timeout: must be 1-3600 seconds (got %s)" % module.params["wait_timeout"])
    client = module.client("lambda", retry_decorator=aws_retry())
    try:
        result = run(client, module.params, module.check_mode)
    except (WaitFailed, WaitTimeout) as exc:
        module.fail_json(msg=prefix + str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg=prefix + "failed to read the pipeline's function and mappings")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
