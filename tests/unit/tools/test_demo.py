"""tools/demo.py's phase lines: one per role ansible-playbook enters, problems passed through, the rest quiet."""

from __future__ import annotations

import io
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.demo import Phases  # noqa: E402

OUTPUT = """\
PLAY [Validate the pipeline list and add one host per pipeline] ****************

TASK [streamops.dynamodb_lambda.pipelines : Validating arguments against arg spec 'main'] ***
ok: [localhost]

TASK [streamops.dynamodb_lambda.pipelines : Check that the pipeline list is a non-empty list of mappings] ***
ok: [localhost]

TASK [streamops.dynamodb_lambda.table_stream : Create the table with its stream] ***
changed: [users_post]

TASK [streamops.dynamodb_lambda.stream_verify : Wait for the records] ***
fatal: [users_post]: FAILED! => {"msg": "no REMOVE record"}
[WARNING]: something a user should see

PLAY RECAP *********************************************************************
"""


def test_one_line_per_role_with_elapsed_time_and_problems_passed_through():
    out = io.StringIO()
    ticks = itertools.count(0.0, 0.5)
    phases = Phases("setup", out=out, clock=lambda: next(ticks))
    for line in OUTPUT.splitlines(keepends=True):
        phases.feed(line)
    assert out.getvalue().splitlines() == [
        "  setup       0.5s  check the pipeline list",
        "  setup       1.0s  table and stream",
        "  setup       1.5s  verify: probe item put, updated, deleted; records awaited in the log",
        '  setup    fatal: [users_post]: FAILED! => {"msg": "no REMOVE record"}',
        "  setup    [WARNING]: something a user should see",
    ]


def test_a_role_outside_the_collection_is_named_as_it_is():
    out = io.StringIO()
    phases = Phases("setup", out=out, clock=lambda: 0.0)
    phases.feed("TASK [my_role : Do something] ***\n")
    assert out.getvalue() == "  setup       0.0s  my_role\n"
