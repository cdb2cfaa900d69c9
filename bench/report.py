"""Turn raw benchmark samples into the summary, the targets' verdicts and bench/RESULTS.md. Pure functions only."""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from . import package

# Each row of the results table: key in the samples, label, and the floor / peer rows it is compared with.
# The floor of an idempotent re-run is `floor check` (one read per resource); scale rows compare with the floor
# doing the same number of pipelines.
ROWS: list[tuple[str, str, str | None, str | None]] = [
    ("floor setup", "floor: setup, 1 pipeline (boto3)", "floor setup", "peer setup"),
    ("floor check", "floor: re-run check, 1 pipeline", "floor check", "peer rerun"),
    ("floor verify", "floor: verify (3 item changes -> 3 log records)", "floor verify", None),
    ("floor teardown", "floor: teardown, 1 pipeline", "floor teardown", "peer teardown"),
    ("peer setup", "peer: setup, 1 pipeline (naive playbook)", "floor setup", "peer setup"),
    ("peer rerun", "peer: re-run, nothing to change", "floor check", "peer rerun"),
    ("peer teardown", "peer: teardown", "floor teardown", "peer teardown"),
    ("ours setup", "ours: setup.yml, 1 pipeline, no verify", "floor setup", "peer setup"),
    ("ours rerun", "ours: setup.yml again, nothing to change", "floor check", "peer rerun"),
    ("ours teardown", "ours: teardown.yml", "floor teardown", "peer teardown"),
    ("ours setup+verify", "ours: setup.yml, 1 pipeline, with verify", "floor setup+verify", "peer setup"),
    ("floor setup x10", "floor: setup, 10 pipelines in parallel", "floor setup x10", None),
    ("floor teardown x10", "floor: teardown, 10 pipelines in parallel", "floor teardown x10", None),
    ("ours setup x10", "ours: setup.yml, 10 pipelines, no verify", "floor setup x10", None),
    ("ours teardown x10", "ours: teardown.yml, 10 pipelines", "floor teardown x10", None),
    ("floor setup x50", "floor: setup, 50 pipelines in parallel", "floor setup x50", None),
    ("floor teardown x50", "floor: teardown, 50 pipelines in parallel", "floor teardown x50", None),
    ("ours setup x50", "ours: setup.yml, 50 pipelines, no verify", "floor setup x50", None),
    ("ours teardown x50", "ours: teardown.yml, 50 pipelines", "floor teardown x50", None),
]

PROFILES = ("zero", "aws")  # the sandbox's latency profiles (sandbox/config.py), in the order the bench runs them

# The targets' thresholds, one home each (the verdicts and RESULTS.md read them from here).
RERUN_SHARE = {"zero": 0.60, "aws": 0.15}  # an idempotent re-run, as a share of the cold setup's wall time
SCALE_ZERO = 8.0  # zero profile: 50 pipelines' setup <= this many times one pipeline's
SCALE_AWS = 1.5  # aws profile, default forks: 50 pipelines <= this many times one, for setup and for teardown
FLOOR_AWS = 1.25  # aws profile: one pipeline's setup <= this many times the floor's
CPU_PER_PIPELINE = 0.5  # controller CPU (user+sys of the ansible-playbook process tree) per pipeline, seconds


def pipelines(key: str) -> int:
    """How many pipelines a run key covers: `ours setup x50` -> 50, `ours setup` -> 1."""
    head, sep, tail = key.rpartition(" x")
    return int(tail) if sep and tail.isdigit() else 1


@dataclass
class Stat:
    seconds: float  # median wall time of the successful runs
    low: float
    high: float
    total: float  # median API calls
    writes: int  # most write calls seen in any run (a re-run must have none in every run)
    runs: int
    failures: list[str]
    cpu: float = float("nan")  # median controller CPU seconds (playbook runs only)

    @property
    def ok(self) -> bool:
        return self.runs > 0 and not self.failures


def summarise(samples: dict[str, list[dict[str, Any]]]) -> dict[str, Stat]:
    out: dict[str, Stat] = {}
    for key, runs in samples.items():
        good = [r for r in runs if r.get("ok", True)]
        failures = [r.get("error", "failed") for r in runs if not r.get("ok", True)]
        if not good:
            out[key] = Stat(float("nan"), float("nan"), float("nan"), float("nan"), 0, 0, failures)
            continue
        secs = [r["seconds"] for r in good]
        cpus = [r["extra"]["cpu"] for r in good if isinstance(r.get("extra", {}).get("cpu"), (int, float))]
        out[key] = Stat(seconds=statistics.median(secs), low=min(secs), high=max(secs),
                        total=statistics.median(r.get("total", 0) for r in good),
                        writes=max(r.get("writes", 0) for r in good), runs=len(good), failures=failures,
                        cpu=statistics.median(cpus) if cpus else float("nan"))
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b != b or a != a or b <= 0:
        return None
    return a / b


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def fmt_seconds(stat: Stat | None) -> str:
    if stat is None or not stat.runs:
        return "n/a"
    if stat.runs == 1:
        return f"{stat.seconds:.2f}"
    return f"{stat.seconds:.2f} ({stat.low:.2f}-{stat.high:.2f})"


def table(summary: dict[str, Stat]) -> list[str]:
    lines = ["| run | wall s (median, range) | x floor | x peer | API calls | writes | calls x floor | "
             "controller CPU s (per pipeline) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, label, floor_key, peer_key in ROWS:
        stat = summary.get(key)
        if stat is None:
            continue
        floor = summary.get(floor_key) if floor_key else None
        peer = summary.get(peer_key) if peer_key else None
        if not stat.ok and not stat.runs:
            lines.append(f"| {label} | FAILED | | | | | | |")
            continue
        cpu = "" if stat.cpu != stat.cpu else f"{stat.cpu:.1f} ({stat.cpu / pipelines(key):.2f})"
        lines.append("| {} | {} | {} | {} | {:g} | {} | {} | {} |".format(
            label + (" (some runs FAILED)" if stat.failures else ""),
            fmt_seconds(stat),
            fmt_ratio(ratio(stat.seconds, floor.seconds if floor and floor.runs else None)),
            fmt_ratio(ratio(stat.seconds, peer.seconds if peer and peer.runs else None)),
            stat.total, stat.writes,
            fmt_ratio(ratio(stat.total, floor.total if floor and floor.runs else None)), cpu))
    return lines


@dataclass
class Verdict:
    name: str
    target: str
    measured: str
    status: str  # met | missed | not measured
    profile: str = "zero"


def _have(summary: dict[str, Stat], *keys: str) -> bool:
    return all(k in summary and summary[k].runs > 0 for k in keys)


def targets(summary: dict[str, Stat], latency: dict[str, list[float]], profile: str = "zero",
            task_floor: float | None = None) -> list[Verdict]:
    """The targets of one latency profile's runs; each Verdict names its profile.

    task_floor: Ansible's own CPU for one task of one host on this machine, in ms (bench/task_floor.yml), which
    the CPU target's figure is also given in.
    """
    out = _targets_zero(summary, latency) if profile == "zero" else _targets_aws(summary)
    out.append(_cpu_target(summary, task_floor))
    for v in out:
        v.profile = profile
    return out


def _rerun_target(summary: dict[str, Stat], share_max: float) -> Verdict:
    goal = f"0 write calls and <= {share_max:.0%} of cold setup time"
    if not _have(summary, "ours rerun", "ours setup"):
        return Verdict("idempotent re-run", goal, "not run", "not measured")
    rerun, cold = summary["ours rerun"], summary["ours setup"]
    share = rerun.seconds / cold.seconds
    met = rerun.writes == 0 and share <= share_max
    return Verdict("idempotent re-run", goal, f"{rerun.writes} writes (max over runs), {rerun.seconds:.2f} s = "
                   f"{share:.0%} of {cold.seconds:.2f} s", "met" if met else "missed")


def _scale_target(summary: dict[str, Stat], what: str, times: float) -> Verdict:
    many, one = f"ours {what} x50", f"ours {what}"
    name, goal = f"scale ({what})", f"50 pipelines <= {times:g}x one pipeline"
    if not _have(summary, many, one):
        return Verdict(name, goal, "50 pipelines not run (--quick?)", "not measured")
    fifty, single = summary[many].seconds, summary[one].seconds
    return Verdict(name, goal, f"{fifty:.2f} s vs {single:.2f} s ({fifty / single:.2f}x)",
                   "met" if fifty <= times * single else "missed")


def task_floor_ms(meta: dict[str, Any]) -> float | None:
    """The task floor the run measured (ms of CPU for one task of one host), or None."""
    return (meta.get("task_floor") or {}).get("ms_per_task")


def _cpu_target(summary: dict[str, Stat], task_floor: float | None = None) -> Verdict:
    """Controller CPU per pipeline, from the largest setup run of ours that recorded it."""
    goal = f"controller CPU (user+sys of the ansible-playbook tree) / pipelines <= {CPU_PER_PIPELINE:g} s"
    runs = sorted((pipelines(k), k) for k, st in summary.items()
                  if k.startswith("ours setup") and "verify" not in k and st.runs and st.cpu == st.cpu)
    if not runs:
        return Verdict("controller CPU per pipeline", goal, "not measured", "not measured")
    n, key = runs[-1]
    per = summary[key].cpu / n
    measured = f"{summary[key].cpu:.1f} s for {n} pipeline{'s' if n > 1 else ''} = {per:.2f} s each"
    if task_floor:
        measured += f" ({per * 1000 / task_floor:.0f}x the task floor of {task_floor:.0f} ms)"
    return Verdict("controller CPU per pipeline", goal, measured, "met" if per <= CPU_PER_PIPELINE else "missed")


def _targets_aws(summary: dict[str, Stat]) -> list[Verdict]:
    out: list[Verdict] = []
    goal = f"1 pipeline, no verify: ours <= {FLOOR_AWS:g}x the floor under the same profile"
    if _have(summary, "ours setup", "floor setup"):
        ours, floor = summary["ours setup"].seconds, summary["floor setup"].seconds
        out.append(Verdict("setup vs floor", goal, f"ours {ours:.2f} s vs floor {floor:.2f} s ({ours / floor:.2f}x)",
                           "met" if ours <= FLOOR_AWS * floor else "missed"))
    else:
        out.append(Verdict("setup vs floor", goal, "not run", "not measured"))
    out.append(_scale_target(summary, "setup", SCALE_AWS))
    out.append(_scale_target(summary, "teardown", SCALE_AWS))
    out.append(_rerun_target(summary, RERUN_SHARE["aws"]))
    return out


def _targets_zero(summary: dict[str, Stat], latency: dict[str, list[float]]) -> list[Verdict]:
    out: list[Verdict] = []

    if _have(summary, "ours setup", "peer setup"):
        ours, peer = summary["ours setup"].seconds, summary["peer setup"].seconds
        out.append(Verdict("setup speed", "1 pipeline, no verify: ours <= peer",
                           f"ours {ours:.2f} s vs peer {peer:.2f} s ({ours / peer:.2f}x)",
                           "met" if ours <= peer else "missed"))
    else:
        out.append(Verdict("setup speed", "1 pipeline, no verify: ours <= peer", "not run", "not measured"))

    out.append(_rerun_target(summary, RERUN_SHARE["zero"]))
    out.append(_scale_target(summary, "setup", SCALE_ZERO))

    ours_lat, box_lat = latency.get("ours verify"), latency.get("sandbox write->log")
    if ours_lat and box_lat:
        o, b = statistics.median(ours_lat), statistics.median(box_lat)
        out.append(Verdict("verify latency", "last item change -> assertion passes <= sandbox write->log + 2 s",
                           f"{o:.2f} s vs sandbox {b:.2f} s (+{o - b:.2f} s)",
                           "met" if o <= b + 2.0 else "missed"))
    else:
        out.append(Verdict("verify latency", "last item change -> assertion passes <= sandbox write->log + 2 s",
                           "not measured (verify timeline or sandbox latency missing)", "not measured"))

    for ours_key, floor_key, what in (("ours setup", "floor setup", "setup"),
                                      ("ours teardown", "floor teardown", "teardown"),
                                      ("ours setup x50", "floor setup x50", "setup of 50")):
        if _have(summary, ours_key, floor_key):
            o, f = summary[ours_key].total, summary[floor_key].total
            out.append(Verdict(f"API calls ({what})", "<= 2x the floor's",
                               f"{o:g} vs floor {f:g} ({o / f:.2f}x)", "met" if o <= 2 * f else "missed"))
        elif ours_key != "ours setup x50":
            out.append(Verdict(f"API calls ({what})", "<= 2x the floor's", "not run", "not measured"))
    return out


# The ratios RESULTS.md lines up per profile: label, numerator run, denominator run.
RATIOS: list[tuple[str, str, str]] = [
    ("ours setup / floor setup (1 pipeline)", "ours setup", "floor setup"),
    ("ours teardown / floor teardown (1 pipeline)", "ours teardown", "floor teardown"),
    ("ours re-run / ours cold setup", "ours rerun", "ours setup"),
    ("peer setup / floor setup", "peer setup", "floor setup"),
    ("ours setup / peer setup", "ours setup", "peer setup"),
    ("ours setup x50 / ours setup x1", "ours setup x50", "ours setup"),
    ("ours teardown x50 / ours teardown x1", "ours teardown x50", "ours teardown"),
    ("floor setup x50 / floor setup x1", "floor setup x50", "floor setup"),
    ("ours setup x50 / floor setup x50", "ours setup x50", "floor setup x50"),
    ("ours setup x10 / ours setup x1", "ours setup x10", "ours setup"),
]


def ratios(summaries: dict[str, dict[str, Stat]]) -> list[str]:
    """One row per ratio, one column per profile measured."""
    names = [p for p in PROFILES if p in summaries] + [p for p in summaries if p not in PROFILES]
    lines = ["| ratio (median wall time) | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---|" + "---:|" * len(names)]
    for label, top, bottom in RATIOS:
        cells = []
        for n in names:
            s = summaries[n]
            a, b = s.get(top), s.get(bottom)
            cells.append(fmt_ratio(ratio(a.seconds if a and a.runs else None, b.seconds if b and b.runs else None)))
        if any(c != "n/a" for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def attempts_from_readme(text: str) -> list[str]:
    """The bullets of bench/README.md's "Designs tried" sections: what was tried, and what it bought."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line.startswith("## Designs tried")
            continue
        if not inside:
            continue
        if line.startswith("- "):
            out.append(line[2:].strip())
        elif line.startswith("  ") and out and line.strip():
            out[-1] += " " + line.strip()
    return out


NOTES_HEADING = "## Notes on missed targets"


def notes_from_readme(text: str) -> dict[tuple[str, str], str]:
    """bench/README.md's notes on missed targets, keyed (profile, target name): bullets of its "Notes on missed
    targets" section that start with the profile in backticks and the target's name, then a colon."""
    notes: dict[tuple[str, str], str] = {}
    inside, key = False, None
    for line in text.splitlines():
        if line.startswith("## "):
            inside, key = line.startswith(NOTES_HEADING), None
            continue
        if not inside:
            continue
        found = re.match(r"^- `(\w+)` ([^:]+): (.*)$", line)
        if found:
            key = (found.group(1), found.group(2).strip())
            notes[key] = found.group(3).strip()
        elif key and line.startswith("  ") and line.strip():
            notes[key] += " " + line.strip()
        elif not line.strip():
            key = None
    return notes


def verify_latency_from_timeline(timeline: list[dict[str, Any]]) -> list[float]:
    """Per host: end of the last item change before the last log wait -> the verify assertion passing.

    The assertion passing is the end of the first assert task after that log wait, or the log wait's own end when
    the wait is the assertion (log_events_info fails on timeout).
    """
    by_host: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in timeline:
        by_host[row["host"]].append(row)
    out: list[float] = []
    for rows in by_host.values():
        rows.sort(key=lambda r: r["start"])
        waits = [r for r in rows if str(r.get("action", "")).endswith("log_events_info") and r["status"] == "ok"]
        if not waits:
            continue
        wait = waits[-1]
        changes = [r for r in rows if str(r.get("action", "")).endswith("dynamodb_item")
                   and r["status"] == "ok" and r["start"] < wait["start"]]
        if not changes:
            continue
        asserts = [r for r in rows if str(r.get("action", "")).endswith("assert") and r["start"] >= wait["end"]
                   and r["status"] == "ok"]
        passed = asserts[0]["end"] if asserts else wait["end"]
        out.append(passed - changes[-1]["end"])
    return out


def profile(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per role (or play-level tasks): task results, their summed host-seconds, and the role's wall span."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in timeline:
        groups[row.get("role") or "(play tasks)"].append(row)
    out = []
    for role, rows in groups.items():
        ran = [r for r in rows if r["status"] != "skipped"]
        out.append({
            "role": role,
            "tasks": len({r["task"] for r in rows}),
            "results": len(ran),
            "skipped": len(rows) - len(ran),
            "host_seconds": sum(r["end"] - r["start"] for r in ran),
            "wall": (max(r["end"] for r in rows) - min(r["start"] for r in rows)) if rows else 0.0,
        })
    out.sort(key=lambda g: -g["host_seconds"])
    return out


def slowest_tasks(timeline: list[dict[str, Any]], n: int = 12) -> list[dict[str, Any]]:
    per_task: dict[tuple[str | None, str], list[float]] = defaultdict(list)
    actions: dict[tuple[str | None, str], str] = {}
    for row in timeline:
        if row["status"] == "skipped":
            continue
        k = (row.get("role"), row["task"])
        per_task[k].append(row["end"] - row["start"])
        actions[k] = row.get("action", "")
    ranked = sorted(per_task.items(), key=lambda kv: -sum(kv[1]))[:n]
    return [{"role": k[0] or "(play)", "task": k[1], "action": actions[k], "hosts": len(v),
             "mean": sum(v) / len(v), "sum": sum(v)} for k, v in ranked]


def _load(values: Any) -> str:
    return "/".join(f"{v:.1f}" for v in values) if values else "?"


def _task_floor_line(floor: dict[str, Any]) -> str:
    what = ("task floor (Ansible's own controller CPU for one task of one host on this machine, "
            "`bench/task_floor.yml`)")
    if "ms_per_task" not in floor:
        return f"- {what}: FAILED: {floor.get('error', '?')}"
    return (f"- {what}: {floor['ms_per_task']:.1f} ms ({floor['cpu']:.1f} s for {floor['tasks']} set_fact tasks on "
            f"{floor['hosts']} local hosts); the controller CPU per pipeline is also given in these units, which "
            "follow the machine's speed")


def render(meta: dict[str, Any], summaries: dict[str, dict[str, Stat]], latency: dict[str, list[float]],
           profiles: dict[str, list[dict[str, Any]]], slow: dict[str, list[dict[str, Any]]],
           calls: dict[str, dict[str, dict[str, int]]], attempts: list[str] | tuple[str, ...] = (),
           package_builds: list[dict[str, Any]] | None = None,
           notes: dict[tuple[str, str], str] | None = None) -> str:
    """RESULTS.md: *summaries*, *calls* per latency profile; *profiles* / *slow* keyed "<profile>: <run>"."""
    names = [p for p in PROFILES if p in summaries] + [p for p in summaries if p not in PROFILES]
    knobs = meta.get("knobs", {})
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `make bench` (`{meta.get('command') or 'python -m bench'}`). "
        "Do not edit by hand; re-run to refresh.",
        "",
        *(["**PARTIAL: the run was still going or was stopped; later parts are missing.**", ""]
          if meta.get("partial") else []),
        f"- commit: `{meta.get('commit', '?')}`{' (working tree had uncommitted changes)' if meta.get('dirty') else ''}",
        f"- measured: {meta.get('tree', '?')}",
        f"- date: {meta.get('date', '?')}",
        f"- machine: {meta.get('machine', '?')}",
        f"- latency profiles: {', '.join(f'`{n}`' for n in names) or 'none'} (the sandbox's `--latency`; figures "
        "and sources in docs/latency.md)",
        f"- repetitions: {meta.get('reps', '?')} per single-pipeline run (median shown, range in brackets); "
        f"scale runs once; floor {meta.get('floor_reps', '?')}x under `zero`, {meta.get('aws_floor_reps', '?')}x "
        "under `aws`",
        f"- ansible forks: {meta.get('forks', '?')}; peer IAM pause: {meta.get('iam_pause', '?')} s",
        *([_task_floor_line(meta["task_floor"])] if meta.get("task_floor") else []),
        f"- total benchmark time: {meta.get('elapsed', 0):.0f} s; load average (1/5/15 min) before "
        f"{_load(meta.get('load_before'))}, after {_load(meta.get('load_after'))} — wall times are only comparable "
        "within one run, on a machine doing nothing else; ratios are what count",
        "",
        "## Targets",
        "",
        "| profile | target | goal | measured | verdict |",
        "|---|---|---|---|---|",
    ]
    verdicts = [v for n in names
                for v in targets(summaries[n], latency if n == "zero" else {}, n, task_floor_ms(meta))]
    for v in verdicts:
        lines.append(f"| `{v.profile}` | {v.name} | {v.target} | {v.measured} | **{v.status}** |")
    missed = [v for v in verdicts if v.status == "missed"]
    if missed:
        lines += ["", "## Missed targets: what was tried and what each attempt bought", ""]
        for v in missed:
            note = (notes or {}).get((v.profile, v.name))
            if note is None:
                note = f"_none yet: add one to bench/README.md, \"{NOTES_HEADING[3:]}\"._"
            lines.append(f"- `{v.profile}` {v.name} ({v.target}): {v.measured}. Note: {note}")
        if attempts:
            lines += ["", "Attempts recorded so far (bench/README.md, \"Designs tried\"):", ""]
            lines += [f"- {a}" for a in attempts]
    lines += ["", "## Ratios per latency profile", "",
              "Each profile's runs divided by their counterpart under the same profile.", "", *ratios(summaries)]
    for n in names:
        summary = summaries[n]
        profile_knobs = knobs.get(n, {}) if isinstance(knobs, dict) else {}
        lines += [
            "",
            f"## Profile `{n}`: wall time, API calls, controller CPU",
            "",
            *([f"Sandbox knobs: `{profile_knobs}`.", ""] if profile_knobs else []),
            "Ratios: the row's median wall time divided by the floor's / the peer's counterpart run under the same "
            "profile; `calls x floor` compares API calls counted at the sandbox (`GET /_sandbox/stats`). Floor = "
            "plain boto3 with only the necessary calls, many pipelines in parallel threads, waiting by polling "
            "(`bench/floor.py`); peer = `bench/peer/` (amazon.aws/community.aws modules, a command for the stream, a "
            "fixed pause after creating the IAM role). Controller CPU: user+sys of the ansible-playbook process "
            "tree (median), and per pipeline.",
            "",
            *table(summary),
            "",
        ]
        # Under zero the peer's pause is pure waste; under aws it also covers IAM propagation.
        if n == "zero" and "peer setup" in summary and summary["peer setup"].runs and meta.get("iam_pause"):
            without = summary["peer setup"].seconds - float(meta["iam_pause"])
            lines += [f"The peer's cold setup includes its fixed {meta['iam_pause']} s IAM pause; without it the "
                      f"peer would take about {without:.2f} s"
                      + (f" (ours: {summary['ours setup'].seconds / without:.2f}x that)."
                         if "ours setup" in summary and summary["ours setup"].runs and without > 0 else "."), ""]
    lines += ["## Verify latency (profile `zero`)", ""]
    for key, label in (("sandbox write->log", "sandbox write->log (boto3 PutItem, then FilterLogEvents every 50 ms)"),
                       ("floor verify", "floor verify (boto3: 3 changes, then FilterLogEvents until all 3 records)"),
                       ("ours verify", "ours: last dynamodb_item task end -> verify assertion task end")):
        values = latency.get(key) or []
        if values:
            lines.append(f"- {label}: median {statistics.median(values):.2f} s, min {min(values):.2f}, "
                         f"max {max(values):.2f} (n={len(values)})")
        else:
            lines.append(f"- {label}: not measured")
    lines += ["", "Verify runs under `zero` only: under `aws` a new LATEST mapping starts polling only after the "
              "profile's poller start delay, which measures that delay, not the pipeline."]
    invoke_rows = (("invoke cold", "cold invoke (environments dropped; boto3 Invoke round trip)"),
                   ("invoke warm", "warm invoke (the call right after another)"),
                   ("invoke->log", "invoke->log (Invoke sent -> the handler's line in FilterLogEvents)"),
                   ("write->log first", "write->log, first record after setup (PutItem -> log line)"),
                   ("write->log next", "write->log, following records"))
    if any(latency.get(key) for key, _label in invoke_rows):
        lines += ["", "## Invocation latency (profile `zero`)", "",
                  "`python -m bench --only invoke` (`bench/invoke.py`): the walkthrough's blueprint invoked "
                  "through boto3; seconds.", ""]
        for key, label in invoke_rows:
            values = latency.get(key) or []
            if values:
                lines.append(f"- {label}: median {statistics.median(values):.3f} s, min {min(values):.3f}, "
                             f"max {max(values):.3f} (n={len(values)})")
            else:
                lines.append(f"- {label}: not measured")
    failures = [(n, k, st.failures) for n in names for k, st in summaries[n].items() if st.failures]
    if failures:
        lines += ["", "## Failed runs", ""]
        for n, key, errs in failures:
            # The repetitions of a run fail alike, as a rule: each message once, with how many runs printed it.
            for err, count in Counter(errs).items():
                lines.append(f"- `{n}` {key}" + (f" ({count} runs)" if count > 1 else "") + f": {err}")
    if any(calls.get(n) for n in names):
        lines += ["", "## API calls per run (first run of each)", ""]
        for n in names:
            for key, per_op in (calls.get(n) or {}).items():
                ops = ", ".join(f"{op} {c}" for op, c in sorted(per_op.items(), key=lambda kv: (-kv[1], kv[0])))
                lines.append(f"- `{n}` {key}: {ops or 'none'}")
    if profiles:
        lines += ["", "## Where ours spends its time (per role, from the task timeline)", ""]
        for run, groups in profiles.items():
            lines += [f"### {run}", "", "| role | tasks | results | skipped | host-seconds | wall span s |",
                      "|---|---:|---:|---:|---:|---:|"]
            for g in groups:
                lines.append(f"| {g['role']} | {g['tasks']} | {g['results']} | {g['skipped']} | "
                             f"{g['host_seconds']:.2f} | {g['wall']:.2f} |")
            if slow.get(run):
                lines += ["", "Slowest tasks (summed over hosts):", "",
                          "| role | task | module | hosts | mean s | sum s |", "|---|---|---|---:|---:|---:|"]
                for t in slow[run]:
                    lines.append(f"| {t['role']} | {t['task']} | {t['action']} | {t['hosts']} | {t['mean']:.2f} | "
                                 f"{t['sum']:.2f} |")
            lines.append("")
    if package_builds:
        lines += ["", *package.section(package_builds, meta)]
    return "\n".join(lines).rstrip() + "\n"
