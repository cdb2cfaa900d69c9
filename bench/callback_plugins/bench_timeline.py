"""Record when each task starts and ends on each host, as JSON lines, for the benchmark's profile and latencies.

Enabled only by the benchmark (ANSIBLE_CALLBACKS_ENABLED=bench_timeline, BENCH_TIMELINE=<file>). Times are
time.time() so they line up with the harness's own clock across processes.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timeline
type: aggregate
short_description: per-task, per-host start and end times as JSON lines (benchmark use)
description:
  - Writes one JSON line per task result to the file named by the BENCH_TIMELINE environment variable.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=bench_timeline
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._path = os.environ.get("BENCH_TIMELINE")
        self._starts: dict[tuple[str, str], float] = {}
        self._file = open(self._path, "a", encoding="utf-8") if self._path else None

    def _record(self, result, status: str) -> None:
        if self._file is None:
            return
        task = result._task
        host = result._host.get_name()
        end = time.time()
        role = task._role.get_name() if getattr(task, "_role", None) else None
        self._file.write(json.dumps({
            "host": host,
            "task": task.get_name(),
            "action": getattr(task, "resolved_action", None) or task.action,
            "role": role,
            "status": status,
            "changed": bool(result._result.get("changed")),
            "start": self._starts.get((task._uuid, host), end),
            "end": end,
        }) + "\n")
        self._file.flush()

    def v2_runner_on_start(self, host, task) -> None:
        self._starts[(task._uuid, host.get_name())] = time.time()

    def v2_runner_on_ok(self, result) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result) -> None:
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
