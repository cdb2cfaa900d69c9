"""Cost of a deployment package with dependencies: a cold build against a cached re-run.

`python -m bench --only package`. A handler with a requirements.txt (a pinned release of AWS's Powertools for
Lambda) is packaged for python3.12 on arm64 by the collection's own `build_deployment_package`, the code
`stream_function` and `lambda_package` run:

- cold: the collection's dependency cache and pip's own cache both empty, so pip resolves, downloads (from the
  index pip is configured with) and installs the wheels for Lambda's platform, then the archive is built;
- cached: the same inputs again, so the cached tree is reused (no pip run) and only the archive is built.

Each build runs in a fresh Python process of its own (what a module run is), importing the measured tree's
plugins; `build` is the seconds inside `build_deployment_package`, `process` the whole process (start, imports,
build). Both builds must give the same bytes, and the cached one must not run pip.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
REQUIREMENTS = "aws-lambda-powertools==3.4.0\n"
HANDLER = ("from aws_lambda_powertools import Logger\n\nlogger = Logger()\n\n\n"
           "def lambda_handler(event, context):\n    logger.info('records', extra={'n': len(event.get('Records', []))})\n"
           "    return {'batchItemFailures': []}\n")
SECTION = "## Package build: cold vs cached"

# Run in the child: build once, print what the parent needs as one JSON line.
_CHILD = """
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import build_deployment_package
started = time.monotonic()
built = build_deployment_package(sys.argv[2], handler="app.lambda_handler", runtime=sys.argv[3],
                                 architecture=sys.argv[4], cache_dir=sys.argv[5])
seconds = time.monotonic() - started
print(json.dumps({"build": seconds, "cached": built["cached"], "size": built["size"],
                  "unzipped_size": built["unzipped_size"], "sha256": built["sha256"],
                  "dependencies": len(built["dependencies"])}))
"""


def _build(root: Path, src: Path, cache: Path, pip_cache: Path) -> dict[str, Any]:
    env = {**os.environ, "PIP_CACHE_DIR": str(pip_cache)}
    env.pop("PIP_NO_CACHE_DIR", None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(root / "collections"), str(src), RUNTIME, ARCHITECTURE,
                           str(cache)], env=env, capture_output=True, text=True, timeout=900)
    process = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError((done.stderr or done.stdout).strip().splitlines()[-1] if (done.stderr or done.stdout)
                           else f"exit {done.returncode}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process"] = process
    return out


def pip_sources() -> str:
    """Where pip takes packages from on this machine (its index and find-links settings), for the report: a cold
    build's time is mostly that source's."""
    try:
        listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        listed = ""
    found = [line.split("=", 1)[1].strip().strip("'") for line in listed.splitlines()
             if "=" in line and line.split("=", 1)[0].rsplit(".", 1)[-1] in ("index-url", "extra-index-url",
                                                                             "find-links")]
    return ", ".join(dict.fromkeys(found)) or "pip's default index (pypi.org)"


def measure_once(root: Path) -> dict[str, Any]:
    """One cold build and one cached re-run in a fresh directory: {"cold": {...}, "cached": {...}} or an error."""
    with tempfile.TemporaryDirectory(prefix="streamops-bench-package-") as tmp:
        base = Path(tmp)
        src = base / "src"
        src.mkdir()
        (src / "app.py").write_text(HANDLER)
        (src / "requirements.txt").write_text(REQUIREMENTS)
        try:
            cold = _build(root, src, base / "deps", base / "pip-cache")
            cached = _build(root, src, base / "deps", base / "pip-cache")
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            return {"ok": False, "error": str(exc)}
    problems = []
    if cold["cached"] or not cached["cached"]:
        problems.append(f"cache use: cold cached={cold['cached']}, re-run cached={cached['cached']}")
    if cold["sha256"] != cached["sha256"]:
        problems.append("the cached re-run gave other bytes than the cold build")
    if not cold["dependencies"]:
        problems.append("no dependency was installed")
    return {"ok": not problems, "error": "; ".join(problems), "cold": cold, "cached": cached,
            "sources": pip_sources()}


def measure(root: Path, builds: list[dict[str, Any]], reps: int) -> None:
    """Append reps measurements (measure_once) to builds."""
    for rep in range(reps):
        one = measure_once(root)
        builds.append(one)
        if one["ok"]:
            print(f"  package rep {rep + 1}: cold {one['cold']['build']:.2f} s (process {one['cold']['process']:.2f}),"
                  f" cached {one['cached']['build']:.2f} s (process {one['cached']['process']:.2f})", flush=True)
        else:
            print(f"  package rep {rep + 1}: FAILED: {one['error']}", flush=True)


# --- arithmetic and report -------------------------------------------------------------------------------------

def summarise(builds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians (and ranges) of the successful measurements, the cold/cached ratio and what the cache saves."""
    good = [b for b in builds if b.get("ok")]
    out: dict[str, Any] = {"runs": len(good), "failures": [b.get("error", "failed") for b in builds if not b.get("ok")]}
    if not good:
        return out
    for phase in ("cold", "cached"):
        for figure in ("build", "process"):
            values = [b[phase][figure] for b in good]
            out[f"{phase} {figure}"] = (statistics.median(values), min(values), max(values))
    cold, cached = out["cold build"][0], out["cached build"][0]
    out["ratio"] = cold / cached if cached > 0 else None
    out["saved"] = cold - cached
    first = good[0]["cold"]
    out.update(size=first["size"], unzipped_size=first["unzipped_size"], dependencies=first["dependencies"],
               sources=good[0].get("sources", "?"))
    return out


def _figure(values: tuple[float, float, float], runs: int) -> str:
    median, low, high = values
    return f"{median:.2f}" if runs == 1 else f"{median:.2f} ({low:.2f}-{high:.2f})"


def section(builds: list[dict[str, Any]] | None, meta: dict[str, Any] | None = None) -> list[str]:
    """The RESULTS.md section for these measurements ([] when the part did not run)."""
    if not builds:
        return []
    meta = meta or {}
    s = summarise(builds)
    lines = [SECTION, "",
             f"`python -m bench --only package` (`bench/package.py`): `{REQUIREMENTS.strip()}` for {RUNTIME} on "
             f"{ARCHITECTURE}, built by `build_deployment_package` in a fresh Python process each; cold = the "
             "dependency cache and pip's cache empty (pip resolves, downloads from the configured index and "
             "installs), cached = the same inputs again (no pip run). Seconds, median (range) of "
             f"{s['runs']} run(s); commit `{meta.get('commit', '?')}`, {meta.get('date', '?')}.", ""]
    if s["runs"]:
        lines += ["| build | build_deployment_package s | whole process s |", "|---|---:|---:|",
                  f"| cold (empty caches) | {_figure(s['cold build'], s['runs'])} | "
                  f"{_figure(s['cold process'], s['runs'])} |",
                  f"| cached re-run | {_figure(s['cached build'], s['runs'])} | "
                  f"{_figure(s['cached process'], s['runs'])} |", "",
                  f"- the cache saves {s['saved']:.2f} s per build"
                  + (f" (cold is {s['ratio']:.1f}x the cached re-run)" if s["ratio"] else ""),
                  f"- package: {s['size']} bytes zipped, {s['unzipped_size']} unzipped, {s['dependencies']} "
                  "distributions; the cached re-run gives the same bytes (same CodeSha256, so nothing is uploaded)",
                  f"- pip's sources for the cold build: {s['sources']}"]
    for failure in s["failures"]:
        lines.append(f"- failed run: {failure}")
    return lines


def merge_section(existing: str, rendered: str) -> str:
    """existing with its package section replaced by rendered's (or appended): a run of this part alone keeps
    every other section of RESULTS.md as the last full run wrote it."""
    new = _cut(rendered)
    if new is None:
        return existing
    old = _cut(existing)
    if old is None:
        return existing.rstrip("\n") + "\n\n" + new.rstrip("\n") + "\n"
    return existing.replace(old, new.rstrip("\n") + ("\n\n" if old.endswith("\n\n") else "\n"))


def _cut(text: str) -> str | None:
    """The package section of a RESULTS.md text, up to the next section of the same level; None when absent."""
    start = text.find("\n" + SECTION + "\n")
    if start < 0:
        return None
    start += 1
    end = text.find("\n## ", start + len(SECTION))
    return text[start:] if end < 0 else text[start:end + 1]
