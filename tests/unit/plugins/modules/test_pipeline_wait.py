"""pipeline_wait's core on the fake clock: one loop for all resources (a pipeline waits as long as its slowest
resource, not the sum), settled ones are not read again, and what a failure or a timeout says."""

from __future__ import annotations

import pytest

from aws_fakes import FakeLambda, client_error
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import waiters
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import pipeline_wait


class TimedLambda:
    """A function Active after *function_at* seconds and a mapping Enabled after *mapping_at*, on the fake clock."""

    def __init__(self, clock, function_at, mapping_at, mapping_ends="Enabled"):
        self.clock, self.function_at, self.mapping_at, self.mapping_ends = clock, function_at, mapping_at, mapping_ends
        self.calls = []

    def get_function_configuration(self, aws_retry=False, **kwargs):
        assert aws_retry is True
        self.calls.append(("function", self.clock.now))
        if self.clock.now >= self.function_at:
            return {"State": "Active", "LastUpdateStatus": "Successful"}
        return {"State": "Pending", "LastUpdateStatus": None}

    def get_event_source_mapping(self, aws_retry=False, UUID=None):
        assert aws_retry is True
        self.calls.append(("mapping", self.clock.now))
        if self.mapping_at is None:
            raise client_error("ResourceNotFoundException", "gone", "GetEventSourceMapping")
        state = self.mapping_ends if self.clock.now >= self.mapping_at else "Creating"
        return {"UUID": UUID, "State": state, "StateTransitionReason": "USER_INITIATED"}


def params(**overrides):
    base = {"function_name": "fn", "function_state": "present", "mappings": [{"uuid": "u-1", "state": "Enabled"}],
            "wait_timeout": 300, "msg_prefix": ""}
    return dict(base, **overrides)


def test_the_waits_overlap_and_a_settled_resource_is_read_once(clock):
    lam = TimedLambda(clock, function_at=2, mapping_at=15)

    result = pipeline_wait.run(lam, params(), check_mode=False)

    assert result == {"changed": False, "function": {"state": "Active", "last_update_status": "Successful"},
                      "mappings": [{"uuid": "u-1", "state": "Enabled", "state_transition_reason": "USER_INITIATED"}]}
    # Done within the mapping's schedule cap of its 15 s, not 2 s + 15 s.
    assert 15 <= clock.now <= 15 + waiters.MAPPING.cap
    function_reads = [t for what, t in lam.calls if what == "function"]
    assert max(function_reads) < 3  # not read again once Active
    assert [t for what, t in lam.calls if what == "mapping"][-1] == clock.now


def test_the_timeout_names_only_what_has_not_settled(clock):
    lam = TimedLambda(clock, function_at=1, mapping_at=1000)

    with pytest.raises(waiters.WaitTimeout) as failed:
        pipeline_wait.run(lam, params(wait_timeout=60), check_mode=False)

    assert str(failed.value) == ("timed out after 60s waiting for event source mapping u-1 to be Enabled (last "
                                 "seen: event source mapping u-1 to be Enabled: Creating)")
    assert clock.now == pytest.approx(60)


def test_a_mapping_that_settles_disabled_is_a_failure_with_its_reason(clock):
    lam = TimedLambda(clock, function_at=0, mapping_at=3, mapping_ends="Disabled")

    with pytest.raises(waiters.WaitFailed, match="event source mapping u-1 ended Disabled instead of Enabled: "
                                                 "USER_INITIATED"):
        pipeline_wait.run(lam, params(), check_mode=False)


def test_a_function_that_ended_failed_is_a_failure_with_lambdas_reason(clock):
    lam = FakeLambda()
    lam.add_function("fn", State="Pending", script=[{}, {"State": "Failed", "StateReason": "subnet full"}])

    with pytest.raises(waiters.WaitFailed, match="function fn failed to become Active: subnet full"):
        pipeline_wait.run(lam, params(mappings=[]), check_mode=False)


def test_absent_waits_until_gone(clock):
    lam = FakeLambda()
    mapping = lam.add_mapping("fn", "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1", state="Deleting")
    lam.delete_reads = 3

    result = pipeline_wait.run(lam, params(function_name=None, mappings=[{"uuid": mapping["UUID"], "state": "absent"}]),
                               check_mode=False)

    assert result["mappings"] == [{"uuid": mapping["UUID"], "state": "gone", "state_transition_reason": None}]
    assert len(lam.calls) == 4


def test_check_mode_and_entries_without_uuid_read_nothing(clock):
    lam = FakeLambda()
    assert pipeline_wait.run(lam, params(), check_mode=True)["function"] is None
    assert pipeline_wait.run(lam, params(function_name=None, mappings=[{"uuid": None, "state": "Enabled"}]),
                             check_mode=False) == {"changed": False, "function": None, "mappings": []}
    assert lam.calls == [] and clock.sleeps == []


class GoneAt:
    """A function and a mapping that exist (Active / *mapping_state*) until *gone_at* seconds, then are gone."""

    def __init__(self, clock, gone_at, mapping_state="Deleting"):
        self.clock, self.gone_at, self.mapping_state = clock, gone_at, mapping_state

    def get_function_configuration(self, aws_retry=False, **kwargs):
        if self.clock.now >= self.gone_at:
            raise client_error("ResourceNotFoundException", "Function not found", "GetFunctionConfiguration")
        return {"State": "Active", "LastUpdateStatus": "Successful"}

    def get_event_source_mapping(self, aws_retry=False, UUID=None):
        if self.clock.now >= self.gone_at:
            raise client_error("ResourceNotFoundException", "gone", "GetEventSourceMapping")
        return {"UUID": UUID, "State": self.mapping_state}


def test_a_function_and_a_mapping_waited_for_until_gone(clock):
    lam = GoneAt(clock, gone_at=4)

    result = pipeline_wait.run(lam, params(function_state="absent", mappings=[{"uuid": "u-1", "state": "absent"}]),
                               check_mode=False)

    assert result == {"changed": False, "function": None,
                      "mappings": [{"uuid": "u-1", "state": "gone", "state_transition_reason": None}]}
    assert 4 <= clock.now <= 4 + waiters.FUNCTION.cap


def test_the_timeout_of_a_deletion_names_both_and_what_was_last_seen(clock):
    lam = GoneAt(clock, gone_at=1000)

    with pytest.raises(waiters.WaitTimeout) as failed:
        pipeline_wait.run(lam, params(function_state="absent", mappings=[{"uuid": "u-1", "state": "absent"}],
                                      wait_timeout=30), check_mode=False)

    assert str(failed.value) == (
        "timed out after 30s waiting for function fn to be deleted and event source mapping u-1 to be deleted "
        "(last seen: function fn to be deleted: State=Active LastUpdateStatus=Successful; event source mapping u-1 "
        "to be deleted: Deleting)")


def test_the_timeout_of_a_setup_names_the_function_as_to_be_active(clock):
    lam = TimedLambda(clock, function_at=1000, mapping_at=None)

    with pytest.raises(waiters.WaitTimeout) as failed:
        pipeline_wait.run(lam, params(mappings=[], wait_timeout=20), check_mode=False)

    assert str(failed.value) == ("timed out after 20s waiting for function fn to be Active (last seen: function fn "
                                 "to be Active: State=Pending LastUpdateStatus=None)")


def test_a_function_or_mapping_that_is_missing_while_awaited_present_is_a_failure(clock):
    gone = GoneAt(clock, gone_at=0)

    with pytest.raises(waiters.WaitFailed) as missing:
        pipeline_wait.run(gone, params(mappings=[]), check_mode=False)
    assert str(missing.value) == "function fn does not exist"

    with pytest.raises(waiters.WaitFailed) as vanished:
        pipeline_wait.run(gone, params(function_name=None), check_mode=False)
    assert str(vanished.value) == "event source mapping u-1 disappeared while waiting for it"


def test_every_mapping_is_reported_when_the_first_is_gone(clock):
    lam = GoneAt(clock, gone_at=0)

    result = pipeline_wait.run(lam, params(function_name=None, mappings=[{"uuid": "u-1", "state": "absent"},
                                                                         {"uuid": "u-2", "state": "absent"}]),
                               check_mode=False)

    assert [m["uuid"] for m in result["mappings"]] == ["u-1", "u-2"]


def test_a_mapping_in_the_wrong_stable_state_says_which_and_why():
    lam = TimedLambda(ClockStub(), function_at=0, mapping_at=0, mapping_ends="Disabled")

    with pytest.raises(waiters.WaitFailed) as failed:
        pipeline_wait.run(lam, params(function_name=None), check_mode=False)
    assert str(failed.value) == "event source mapping u-1 ended Disabled instead of Enabled: USER_INITIATED"


class ClockStub:
    now = 0.0


# --- several pipelines in one loop (option pipelines) ------------------------------------------------------------

class ManyLambda:
    """Functions Active and mappings settled at given fake times; a function or mapping not listed does not exist."""

    def __init__(self, clock, functions, mappings):
        self.clock, self.functions, self.mappings = clock, functions, mappings  # name -> t; uuid -> (t, end state)
        self.calls = []

    def get_function_configuration(self, aws_retry=False, FunctionName=None):
        assert aws_retry is True
        self.calls.append((FunctionName, self.clock.now))
        if FunctionName not in self.functions:
            raise client_error("ResourceNotFoundException", "no such function", "GetFunctionConfiguration")
        if self.clock.now >= self.functions[FunctionName]:
            return {"State": "Active", "LastUpdateStatus": "Successful"}
        return {"State": "Pending", "LastUpdateStatus": None}

    def get_event_source_mapping(self, aws_retry=False, UUID=None):
        assert aws_retry is True
        self.calls.append((UUID, self.clock.now))
        if UUID not in self.mappings:
            raise client_error("ResourceNotFoundException", "gone", "GetEventSourceMapping")
        return self._mapping(UUID)

    def _mapping(self, uuid):
        at, ends = self.mappings[uuid]
        state = ends if self.clock.now >= at else "Creating"
        return {"UUID": uuid, "State": state, "StateTransitionReason": "USER_INITIATED"}

    def list_event_source_mappings(self, aws_retry=False, Marker=None):
        """Every mapping, *page_size* a page (Lambda answers 100 at most)."""
        assert aws_retry is True
        self.calls.append(("list", self.clock.now))
        uuids = sorted(self.mappings) + ["other-%04d" % i for i in range(getattr(self, "others", 0))]
        start = int(Marker or 0)
        page = uuids[start:start + 100]
        answer = {"EventSourceMappings": [self._mapping(u) if u in self.mappings else {"UUID": u, "State": "Enabled"}
                                          for u in page]}
        if start + 100 < len(uuids):
            answer["NextMarker"] = str(start + 100)
        return answer


def pipeline(name, function, uuid, state="Enabled", function_state="present"):
    return {"name": name, "function_name": function, "function_state": function_state,
            "mappings": [{"uuid": uuid, "state": state}] if uuid else [], "msg_prefix": "[%s] " % name}


def test_many_pipelines_wait_in_one_loop_as_long_as_the_slowest(clock):
    lam = ManyLambda(clock, {"fa": 1, "fb": 2}, {"ua": (12, "Enabled"), "ub": (4, "Enabled")})

    results, failures = pipeline_wait.run_many(lam, [pipeline("a", "fa", "ua"), pipeline("b", "fb", "ub")], 300,
                                               check_mode=False)

    assert failures == {}
    assert results["a"]["mappings"] == [{"uuid": "ua", "state": "Enabled", "state_transition_reason": "USER_INITIATED"}]
    assert results["b"]["function"] == {"state": "Active", "last_update_status": "Successful"}
    assert 12 <= clock.now <= 12 + waiters.MAPPING.cap  # the slowest of the two, not the sum of them
    assert max(t for what, t in lam.calls if what == "ub") < 4 + waiters.MAPPING.cap + 0.001  # settled: not read again


def test_one_pipeline_failing_does_not_stop_the_others(clock):
    # b's function does not exist (a read that fails), c's mapping ends Disabled: a still settles and is reported.
    lam = ManyLambda(clock, {"fa": 3, "fc": 0}, {"ua": (8, "Enabled"), "ub": (0, "Enabled"), "uc": (1, "Disabled")})

    results, failures = pipeline_wait.run_many(
        lam, [pipeline("a", "fa", "ua"), pipeline("b", "fb", "ub"), pipeline("c", "fc", "uc")], 300, check_mode=False)

    assert sorted(results) == ["a"] and results["a"]["mappings"][0]["state"] == "Enabled"
    assert failures == {"b": "[b] function fb does not exist",
                        "c": "[c] event source mapping uc ended Disabled instead of Enabled: USER_INITIATED"}
    assert clock.now >= 8
    assert not [t for what, t in lam.calls if what == "ub"]  # b's other waits dropped with its failure


def test_a_timeout_is_reported_for_the_late_pipelines_only(clock):
    lam = ManyLambda(clock, {"fa": 0, "fb": 0}, {"ua": (1, "Enabled"), "ub": (1000, "Enabled")})

    results, failures = pipeline_wait.run_many(lam, [pipeline("a", "fa", "ua"), pipeline("b", "fb", "ub")], 30,
                                               check_mode=False)

    assert sorted(results) == ["a"]
    assert list(failures) == ["b"]
    assert failures["b"].startswith("[b] timed out after 30s waiting for event source mapping ub to be Enabled")
    assert failures["b"].endswith("(last seen: event source mapping ub to be Enabled: Creating)")
    assert "fb" not in failures["b"]  # its function settled: only what is late is named


def test_many_in_check_mode_reads_nothing(clock):
    lam = ManyLambda(clock, {}, {})

    results, failures = pipeline_wait.run_many(lam, [pipeline("a", "fa", "ua")], 300, check_mode=True)

    assert results == {"a": {"function": None, "mappings": []}} and failures == {}
    assert lam.calls == []


def test_many_absent_waits_until_gone(clock):
    lam = ManyLambda(clock, {}, {"ua": (0, "Deleting")})
    gone_at = 6

    def get_event_source_mapping(aws_retry=False, UUID=None):
        if clock.now >= gone_at:
            raise client_error("ResourceNotFoundException", "gone", "GetEventSourceMapping")
        return {"UUID": UUID, "State": "Deleting"}

    lam.get_event_source_mapping = get_event_source_mapping
    results, failures = pipeline_wait.run_many(lam, [pipeline("a", None, "ua", state="absent")], 300, check_mode=False)

    assert failures == {} and results["a"]["mappings"] == [{"uuid": "ua", "state": "gone", "state_transition_reason": None}]
    assert clock.now >= gone_at


def test_many_unsettled_mappings_are_read_with_one_listing_a_round(clock):
    uuids = ["u%02d" % i for i in range(pipeline_wait.LIST_FROM + 7)]
    lam = ManyLambda(clock, {}, {u: (5, "Enabled") for u in uuids})

    results, failures = pipeline_wait.run_many(lam, [pipeline(u, None, u) for u in uuids], 300, check_mode=False)

    assert failures == {} and all(results[u]["mappings"][0]["state"] == "Enabled" for u in uuids)
    assert [what for what, _t in lam.calls if what != "list"] == []  # no GetEventSourceMapping at all
    rounds = [t for what, t in lam.calls if what == "list"]
    assert len(rounds) >= 2 and rounds[-1] >= 5


def test_a_mapping_the_listing_does_not_show_is_read_on_its_own(clock):
    # Deleted mappings: once gone they drop out of the listing, and GetEventSourceMapping says they are gone.
    uuids = ["d%d" % i for i in range(pipeline_wait.LIST_FROM)]
    lam = ManyLambda(clock, {}, {u: (0, "Deleting") for u in uuids})
    gone_at = 4

    real_list = lam.list_event_source_mappings

    def listing(aws_retry=False, Marker=None):
        if clock.now >= gone_at:
            lam.mappings.clear()
        return real_list(aws_retry=aws_retry, Marker=Marker)

    lam.list_event_source_mappings = listing
    results, failures = pipeline_wait.run_many(lam, [pipeline(u, None, u, state="absent") for u in uuids], 300,
                                               check_mode=False)

    assert failures == {} and all(results[u]["mappings"][0]["state"] == "gone" for u in uuids)
    assert sorted(what for what, _t in lam.calls if what != "list") == sorted(uuids)  # one Get each, when unlisted


def test_fewer_unsettled_mappings_than_the_threshold_are_read_one_by_one(clock):
    uuids = ["u%d" % i for i in range(pipeline_wait.LIST_FROM - 1)]
    lam = ManyLambda(clock, {}, {u: (3, "Enabled") for u in uuids})

    pipeline_wait.run_many(lam, [pipeline(u, None, u) for u in uuids], 300, check_mode=False)

    assert not [t for what, t in lam.calls if what == "list"]


def test_an_account_with_more_listing_pages_than_mappings_to_read_goes_back_to_gets(clock):
    uuids = ["u%d" % i for i in range(pipeline_wait.LIST_FROM)]
    lam = ManyLambda(clock, {}, {u: (10, "Enabled") for u in uuids})
    lam.others = 100 * pipeline_wait.LIST_FROM  # the account's other mappings: more pages than mappings to read

    pipeline_wait.run_many(lam, [pipeline(u, None, u) for u in uuids], 300, check_mode=False)

    listing_pages = [t for what, t in lam.calls if what == "list"]
    assert listing_pages and set(listing_pages) == {0}  # listed in the first round only
    assert [t for what, t in lam.calls if what == "u0"][-1] >= 10  # then read one by one until Enabled
