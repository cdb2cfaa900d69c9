"""The sandbox's latency profiles: a name sets every timing knob, a knob given beside it wins, a bad name is refused."""

from __future__ import annotations

import pytest

from sandbox.__main__ import config_from_args, make_parser
from sandbox.config import PROFILES, TIMING_KNOBS, SandboxConfig


def test_every_profile_sets_every_timing_knob_and_nothing_else():
    for name, knobs in PROFILES.items():
        assert set(knobs) == set(TIMING_KNOBS), name


def test_the_aws_profile_makes_every_wait_last_and_zero_makes_none():
    assert all(PROFILES["aws"][knob] > 0 for knob in TIMING_KNOBS)
    assert all(PROFILES["zero"][knob] == 0 for knob in TIMING_KNOBS)


def test_applying_a_profile_sets_its_values_and_records_its_name():
    config = SandboxConfig()
    applied = config.update({"latency": "aws"})
    assert applied["latency"] == "aws"
    assert {knob: applied[knob] for knob in TIMING_KNOBS} == PROFILES["aws"]


def test_a_knob_given_with_the_profile_wins_whatever_the_order():
    config = SandboxConfig()
    applied = config.update({"mapping_transition": 0.5, "latency": "aws", "throttle": 0.1})
    assert applied["mapping_transition"] == 0.5 and applied["throttle"] == 0.1
    assert applied["iam_propagation_delay"] == PROFILES["aws"]["iam_propagation_delay"]


def test_going_back_to_zero_clears_what_aws_set():
    config = SandboxConfig()
    config.update({"latency": "aws"})
    applied = config.update({"latency": "zero"})
    assert all(applied[knob] == 0 for knob in TIMING_KNOBS) and applied["latency"] == "zero"


def test_an_unknown_profile_is_refused_by_name_and_changes_nothing():
    config = SandboxConfig()
    with pytest.raises(ValueError, match="unknown latency profile 'mars'; known: zero, aws"):
        config.update({"latency": "mars", "mapping_transition": 3})
    assert config.mapping_transition == 0 and config.latency == "zero"


def test_the_command_line_applies_the_profile_then_the_explicit_knobs():
    config = config_from_args(make_parser().parse_args(["--latency", "aws", "--poller-start-delay", "2"]))
    assert config.latency == "aws" and config.poller_start_delay == 2
    assert config.table_create_transition == PROFILES["aws"]["table_create_transition"]
    default = config_from_args(make_parser().parse_args(["--mapping-transition", "3"]))
    assert default.latency == "zero" and default.mapping_transition == 3 and default.iam_propagation_delay == 0


def test_the_command_line_refuses_an_unknown_profile(capsys):
    with pytest.raises(SystemExit):
        make_parser().parse_args(["--latency", "mars"])
    assert "invalid choice: 'mars'" in capsys.readouterr().err
