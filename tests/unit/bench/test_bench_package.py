"""bench/package.py's arithmetic and its RESULTS.md section: medians, the cold/cached ratio, what the cache saves,
failed runs, and replacing only its own section in an existing RESULTS.md. Made-up measurements; no timing is
asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import package, report  # noqa: E402


def run(cold, cached, cold_process=None, cached_process=None, **extra):
    base = {"size": 845268, "unzipped_size": 4000000, "sha256": "x", "dependencies": 2}
    return {"ok": True, "error": "", "sources": "file:///mirror",
            "cold": dict(base, build=cold, process=cold_process or cold + 0.5, cached=False, **extra),
            "cached": dict(base, build=cached, process=cached_process or cached + 0.5, cached=True)}


def test_medians_ratio_and_saving():
    s = package.summarise([run(9.0, 0.5), run(6.0, 0.25), run(12.0, 1.0), {"ok": False, "error": "index down"}])
    assert s["runs"] == 3 and s["failures"] == ["index down"]
    assert s["cold build"] == (9.0, 6.0, 12.0)
    assert s["cached build"] == (0.5, 0.25, 1.0)
    assert s["cold process"] == (9.5, 6.5, 12.5)
    assert s["ratio"] == pytest.approx(18.0)
    assert s["saved"] == pytest.approx(8.5)
    assert (s["size"], s["unzipped_size"], s["dependencies"]) == (845268, 4000000, 2)


def test_no_successful_run_gives_no_figures():
    s = package.summarise([{"ok": False, "error": "boom"}])
    assert s == {"runs": 0, "failures": ["boom"]}
    lines = package.section([{"ok": False, "error": "boom"}])
    assert lines[0] == package.SECTION and "- failed run: boom" in lines and not any("| cold" in x for x in lines)


def test_a_cached_build_of_zero_seconds_has_no_ratio():
    s = package.summarise([run(3.0, 0.0)])
    assert s["ratio"] is None and s["saved"] == 3.0
    assert not any("x the cached" in line for line in package.section([run(3.0, 0.0)]))


def test_the_section_shows_the_medians_with_their_range():
    lines = package.section([run(9.0, 0.5), run(6.0, 0.25)], {"commit": "abc", "date": "today"})
    text = "\n".join(lines)
    assert "| cold (empty caches) | 7.50 (6.00-9.00) | 8.00 (6.50-9.50) |" in text
    assert "| cached re-run | 0.38 (0.25-0.50) | 0.88 (0.75-1.00) |" in text
    assert "saves 7.12 s per build (cold is 20.0x the cached re-run)" in text
    assert "commit `abc`, today" in text
    assert "- pip's sources for the cold build: file:///mirror" in text
    assert package.section([]) == [] and package.section(None) == []


def test_one_run_shows_no_range():
    assert "| cold (empty caches) | 9.00 | 9.50 |" in "\n".join(package.section([run(9.0, 0.5)]))


def test_render_appends_the_section_only_when_the_part_ran():
    args = ({"commit": "c"}, {}, {}, {}, {}, {})
    assert package.SECTION not in report.render(*args)
    assert package.SECTION in report.render(*args, package_builds=[run(9.0, 0.5)])


EXISTING = "# Benchmark results\n\n## Wall time\n\nold table\n\n## Targets\n\nold targets\n"


def test_merge_appends_the_section_and_keeps_every_other():
    rendered = "# Benchmark results\n\n## Wall time\n\nnot measured\n\n" + package.SECTION + "\n\nnew figures\n"
    merged = package.merge_section(EXISTING, rendered)
    assert merged == EXISTING + "\n" + package.SECTION + "\n\nnew figures\n"


def test_merge_replaces_the_old_section_in_place():
    existing = ("# Benchmark results\n\n## Wall time\n\nold table\n\n" + package.SECTION + "\n\nold figures\n\n"
                "## Targets\n\nold targets\n")
    rendered = "# x\n\n" + package.SECTION + "\n\nnew figures\n"
    merged = package.merge_section(existing, rendered)
    assert merged == existing.replace("old figures", "new figures")
    # At the end of the file too.
    at_end = EXISTING + "\n" + package.SECTION + "\n\nold figures\n"
    assert package.merge_section(at_end, rendered) == EXISTING + "\n" + package.SECTION + "\n\nnew figures\n"


def test_merge_without_a_new_section_changes_nothing():
    assert package.merge_section(EXISTING, "# nothing here\n") == EXISTING
