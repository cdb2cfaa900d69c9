"""bench/task_floor.yml as the benchmark runs it: a real ansible-playbook run, the CPU of its tasks counted."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.runner import measure_task_floor  # noqa: E402


def test_the_task_floor_counts_every_task_of_every_host_and_their_cpu():
    floor = measure_task_floor(ROOT, hosts=2)
    # The playbook's last play: 20 set_fact tasks, each on both hosts.
    assert (floor["hosts"], floor["tasks"]) == (2, 40)
    assert floor["cpu"] > 0 and floor["ms_per_task"] == floor["cpu"] / 40 * 1000
