"""The benchmark's command line: which latency profiles it measures under, and how often."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.__main__ import parse_args  # noqa: E402


def test_both_profiles_by_default_zero_first():
    args = parse_args([])
    assert args.profile == ["zero", "aws"] and args.reps == 2 and args.aws_floor_reps == 2


def test_one_profile_and_quick():
    args = parse_args(["--quick", "--profile", "aws"])
    assert args.profile == ["aws"] and args.reps == 1 and args.aws_floor_reps == 1 and args.scale == [1, 10]


def test_an_unknown_profile_is_refused_with_the_known_ones(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--profile", "zero,mars"])
    assert "unknown latency profile mars; known: zero, aws" in capsys.readouterr().err


def test_the_bench_knows_the_sandboxs_profiles_in_their_order():
    from bench import report
    from sandbox.config import PROFILES

    assert report.PROFILES == tuple(PROFILES)
