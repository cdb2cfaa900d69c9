"""Kill ansible-playbook the moment a given role is about to start: an interrupted run, stopped between steps.

Test-only (tests/integration/reliability/test_interrupted.py). setup.yml has no variable or tag that stops it
after step N, and --start-at-task/--step only skip or prompt, so the run is cut short here instead: when the first
task of role STREAMOPS_TEST_ABORT_BEFORE_ROLE starts (its argument-spec check counts), the controller SIGKILLs
itself. SIGKILL rather than an exception or SIGINT because that is the harshest interruption a user meets (CI job
killed, laptop lid closed): no rescue, always or handler of the collection gets to run. All previous tasks have
returned by then (the linear strategy finishes a task on every host before starting the next), so no module is
left half way. Before dying it writes the role name to STREAMOPS_TEST_ABORT_MARKER, so the test can tell this
abort from any other failure.
"""

from __future__ import annotations

import os
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: abort_before_role
type: aggregate
short_description: SIGKILL the controller when a given role starts (tests only)
description:
  - Reads the role name from the environment variable E(STREAMOPS_TEST_ABORT_BEFORE_ROLE); does nothing if unset.
requirements:
  - enabled in callbacks_enabled
"""

ROLE_ENV = "STREAMOPS_TEST_ABORT_BEFORE_ROLE"
MARKER_ENV = "STREAMOPS_TEST_ABORT_MARKER"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "abort_before_role"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        target = os.environ.get(ROLE_ENV)
        role = getattr(task, "_role", None)
        # Role names may come back fully qualified (streamops.dynamodb_lambda.execution_role).
        if not target or role is None or role.get_name().rsplit(".", 1)[-1] != target:
            return
        marker = os.environ.get(MARKER_ENV)
        if marker:
            with open(marker, "w", encoding="utf-8") as fh:
                fh.write(f"{target}\n{task.get_name()}\n")
        os.kill(os.getpid(), signal.SIGKILL)

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start
