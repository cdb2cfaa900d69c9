"""event_source_mapping's waits against the Lambda fake: the timeout messages name the mapping and its state."""

from __future__ import annotations

import pytest

from aws_fakes import FakeLambda
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import event_source_mapping as esm
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import WaitTimeout

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"


@pytest.mark.parametrize("want, wanted", [(None, "Enabled or Disabled"), ("Enabled", "Enabled")])
def test_wait_stable_timeout_says_what_was_awaited_and_last_seen(clock, want, wanted):
    lam = FakeLambda()
    mapping = lam.add_mapping("fn", STREAM, state="Creating")

    with pytest.raises(WaitTimeout) as failed:
        esm.wait_stable(lam, mapping["UUID"], 10, want_state=want)

    assert str(failed.value) == ("timed out after 10s waiting for event source mapping %s to be %s (last seen: "
                                 "Creating)" % (mapping["UUID"], wanted))


def test_wait_gone_timeout_says_the_mapping_is_still_deleting(clock):
    lam = FakeLambda()
    mapping = lam.add_mapping("fn", STREAM, state="Deleting")
    lam.delete_reads = 10 ** 6

    with pytest.raises(WaitTimeout) as failed:
        esm.wait_gone(lam, mapping["UUID"], 10)

    assert str(failed.value) == ("timed out after 10s waiting for event source mapping %s to be deleted (last "
                                 "seen: Deleting)" % mapping["UUID"])


def test_wait_stable_for_a_wanted_state_waits_past_the_other_stable_one(clock):
    lam = FakeLambda()
    mapping = lam.add_mapping("fn", STREAM, state="Disabled", script=[{}, {"State": "Enabling"},
                                                                      {"State": "Enabled"}])

    assert esm.wait_stable(lam, mapping["UUID"], 60, want_state="Enabled")["State"] == "Enabled"
    assert len(lam.calls) == 3
