"""`setup.yml --check` on an empty account: it succeeds, writes nothing, and says what it would create.

Check mode on an empty account is where modules meet resources that earlier tasks would have created (the table's
stream, the role, the function): each must predict a change instead of failing on the missing resource.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
HOST = "users_post"


def recap(stdout: str) -> dict[str, int]:
    [fields] = re.findall(rf"^{HOST}\s+:\s+(ok=.*)$", stdout, re.M)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}


def changed_tasks(stdout: str) -> list[str]:
    names, task = [], None
    for line in stdout.splitlines():
        header = re.match(r"^TASK \[(.*)\]", line)
        if header:
            task = header.group(1)
        elif re.match(rf"^changed: \[{HOST}(?: -> \S+)?\]", line):
            names.append(task)
    return names


def test_check_on_an_empty_account_writes_nothing_and_reports_the_creations(run_playbook, sandbox, aws):
    tables = aws("dynamodb").list_tables()["TableNames"]
    sandbox.reset_stats()

    proc = run_playbook(SETUP, None, "--check")

    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    stats = sandbox.stats()
    assert stats["writes"] == 0, stats["write_calls"]
    counters = recap(proc.stdout)
    assert counters["failed"] == 0 and counters["changed"] > 0
    changed = " | ".join(changed_tasks(proc.stdout))
    # One predicted creation per part of the pipeline: the stream, the role, the function, the trigger.
    for role in ("table_stream", "execution_role", "stream_function", "stream_trigger"):
        assert role + " : " in changed, f"{role} reported no change in: {changed}"
    # The trigger's warning (Ansible prints warnings on stderr): its function is still to be created.
    assert re.search(r"function \S+ does not exist; in check mode", " ".join((proc.stdout + proc.stderr).split()))
    # And nothing exists afterwards.
    assert aws("lambda").list_functions()["Functions"] == []
    assert aws("iam").list_roles()["Roles"] == []
    assert aws("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert aws("dynamodb").list_tables()["TableNames"] == tables
