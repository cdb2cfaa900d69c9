"""What the benchmark records of a playbook that failed: the failure line and the message below it."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.runner import _last_failure  # noqa: E402

# What ansible-playbook prints with callback_result_format = yaml (ansible.cfg), a long message folded.
YAML_FAILURE = """TASK [Trigger] *****
fatal: [localhost]: FAILED! =>
    changed: false
    msg: 'Error updating stream source event mapping: An error occurred (ResourceInUseException)
        when calling the UpdateEventSourceMapping operation: Cannot update the event source
        mapping 1234 because it is in use (State: Creating).'
    other: value

PLAY RECAP *****
localhost : ok=6 changed=0 unreachable=0 failed=1
"""


def test_a_yaml_failure_is_recorded_with_its_whole_message():
    assert _last_failure(YAML_FAILURE) == (
        "fatal: [localhost]: FAILED! => Error updating stream source event mapping: An error occurred "
        "(ResourceInUseException) when calling the UpdateEventSourceMapping operation: Cannot update the event "
        "source mapping 1234 because it is in use (State: Creating).")


def test_the_last_of_several_failures_is_recorded():
    text = "fatal: [a]: FAILED! =>\n    msg: first\n\nfatal: [b]: FAILED! =>\n    msg: second\n"
    assert _last_failure(text) == "fatal: [b]: FAILED! => second"


def test_a_failure_without_a_message_below_it_is_its_line():
    assert _last_failure('fatal: [h]: FAILED! => {"msg": "x"}\nPLAY RECAP\n') == 'fatal: [h]: FAILED! => {"msg": "x"}'
    assert _last_failure("ERROR! the playbook could not be found\n") == "ERROR! the playbook could not be found"


def test_output_without_a_failure_gives_its_last_line():
    assert _last_failure("one\ntwo\n") == "two"
    assert _last_failure("") == ""
