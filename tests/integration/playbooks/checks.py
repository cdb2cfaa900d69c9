"""What the playbook tests read from an ansible-playbook run: success (with the failed tasks when it is not), the
PLAY RECAP counters per host, and the output with whitespace collapsed.

Imported by its collection path (ansible_collections.streamops.dynamodb_lambda.tests.integration.playbooks.checks):
the tests run in importlib mode and these folders are not packages."""

from __future__ import annotations

import re
from typing import Any


def ok(proc: Any) -> None:
    """The run succeeded; otherwise fail with its failed tasks and the end of its output."""
    failures = "\n".join(re.findall(r"^(?:fatal|failed): .*(?:\n {4}.*)*", proc.stdout, re.M))
    assert proc.returncode == 0, f"rc={proc.returncode}\n{failures}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


def recap(proc: Any) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host."""
    counters = {}
    for host, fields in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M):
        counters[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
    return counters


def text(proc: Any) -> str:
    """Output with whitespace collapsed: the yaml callback wraps long messages."""
    return " ".join(proc.stdout.split())
