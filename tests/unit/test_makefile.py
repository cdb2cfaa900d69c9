"""The Makefile's user interface: `make help` lists every target, each phase of `make test` prints a banner, and
`make demo` does not install the test tooling."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _make(*args: str) -> str:
    # -n prints what would run and runs nothing (no install into .venv, no test); -s drops make's own chatter.
    proc = subprocess.run(["make", "-s", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout


def targets() -> list[str]:
    """Every target a user can name: rules at the start of a line, not files ($(...)), not special (.PHONY)."""
    return sorted(set(re.findall(r"^([a-z][a-z0-9_-]*):(?!=)", MAKEFILE, flags=re.M)))


def test_help_lists_every_target():
    listed = set(re.findall(r"^\s+make (\S+)\s", _make("help"), flags=re.M))
    assert set(targets()) - listed == set(), "add a `## what it does` comment to these targets' rule lines"
    assert {"demo", "test", "sandbox", "venv", "venv-dev"} <= listed


def test_every_phase_of_make_test_prints_a_banner():
    plan = _make("-n", "test")
    phases = re.findall(r"^test: (\$\(DEV_STAMP\) )?(?P<phases>.*?) ##", MAKEFILE, flags=re.M)[0][1].split()
    assert phases == ["test-unit", "test-integration", "test-molecule", "lint", "sanity", "test-matrix"]
    for phase in phases:
        assert re.search(rf'printf .*"{re.escape(phase)}: ', plan), f"no banner for {phase}:\n{plan}"


def test_demo_installs_the_runtime_and_the_sandbox_only():
    recipe = MAKEFILE.split("$(RUNTIME_STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "requirements.txt" in recipe and "requirements-sandbox.txt" in recipe
    assert "requirements-dev.txt" not in recipe
    demo_rule = re.search(r"^demo: (.*?)##", MAKEFILE, flags=re.M).group(1)
    assert "DEV_STAMP" not in demo_rule
    pip_install = re.search(r"^PIP_INSTALL := (.*)$", MAKEFILE, flags=re.M).group(1)
    assert "--quiet" not in pip_install and " -q" not in pip_install, "pip's progress is the first run's progress"
