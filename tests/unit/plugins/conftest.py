"""Fixtures for the modules' core tests: fake AWS clients (aws_fakes.py) and a fake clock for every wait.

``aws_fakes`` sits beside this file; with ``--import-mode=importlib`` test files do not put their folder on
sys.path, so this conftest does.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


class FakeClock:
    """Monotonic time that moves only when something sleeps; ``sleeps`` lists every sleep asked for."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """Every poll and retry of the collection sleeps on a FakeClock, so a five-minute wait takes no time.

    poll_until and retry_until_deadline take ``sleep``/``clock`` as defaults bound when they were defined, so
    patching time.sleep alone would not reach them: their defaults are swapped. time.sleep is patched too, for
    AWSRetry's backoff (the throttling and IAM-propagation decorators).
    """
    from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import common
    from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import waiters

    fake = FakeClock()
    swap = {time.sleep: fake.sleep, time.monotonic: fake}
    for fn in (common.poll_until, waiters.retry_until_deadline):
        monkeypatch.setattr(fn, "__defaults__", tuple(swap.get(d, d) for d in fn.__defaults__))
    monkeypatch.setattr(time, "sleep", fake.sleep)
    return fake
