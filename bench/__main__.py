"""python -m bench [--quick] [--profile zero,aws] [--reps N] [--scale 1,10,50]
                  [--only floor,peer,ours,scale,invoke,package] [--commit REV]

Starts its own sandbox on a free port, measures the floor (boto3), the peer (bench/peer/, a naive playbook) and
ours (playbooks/setup.yml and teardown.yml) side by side in one run, under each latency profile of the sandbox
(zero: nothing waits; aws: AWS's waits, docs/latency.md), and writes bench/RESULTS.md plus the raw samples to
bench/output/results.json. The sandbox is reset before every cold run and its call counters before
every measured run. It measures the committed tree at HEAD (unpacked with git archive into a temporary directory:
sandbox, playbooks, roles, peer), so RESULTS.md names the code it measured; --working-tree measures the checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import floor, invoke, package, report
from .runner import BENCH, OUTPUT, ROOT, PlaybookFailed, Sample, measure, measure_task_floor, run_playbook
from .sandbox_proc import REGION, SandboxProcess

WALKTHROUGH = {"name": "users_post", "table_name": "users_post", "function_name": "Lambda_demo_DynamoDB_stream"}


def scale_pipelines(n: int) -> list[dict[str, Any]]:
    if n == 1:
        return [dict(WALKTHROUGH)]
    return [{"name": f"bench{i:02d}", "table_name": f"bench_table_{i:02d}", "function_name": f"bench_fn_{i:02d}"}
            for i in range(n)]


def floor_pipelines(n: int) -> list[floor.Pipeline]:
    return [floor.Pipeline(table_name=p["table_name"], function_name=p["function_name"]) for p in scale_pipelines(n)]


class Bench:
    def __init__(self, sandbox: SandboxProcess, args: argparse.Namespace, root: Path):
        self.sb = sandbox
        self.args = args
        self.root = root  # the tree measured: a snapshot of HEAD, or the checkout itself with --working-tree
        self.playbooks = root / "playbooks"
        self.peer = root / "bench" / "peer"
        self.profile = "zero"  # the sandbox's latency profile the runs are measured under
        self.samples: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        self.calls: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
        self.latency: dict[str, list[float]] = defaultdict(list)  # zero profile only
        self.profiles: dict[str, list[dict[str, Any]]] = {}
        self.slow: dict[str, list[dict[str, Any]]] = {}
        self.package_builds: list[dict[str, Any]] = []

    def use_profile(self, name: str) -> dict[str, Any]:
        """Switch the sandbox to latency profile *name*; every later reset keeps it. Returns its timing knobs."""
        self.profile = name
        # Only the profile and the fault knobs: a timing knob sent beside the profile would win over it.
        self.sb.knobs = {"throttle": 0, "seed": None, "latency": name}
        config = self.sb.configure(**self.sb.knobs)
        print(f"latency profile {name}", flush=True)
        return {k: v for k, v in config.items() if k.endswith(("_delay", "_transition"))}

    @property
    def waits(self) -> bool:
        return self.profile != "zero"

    def keep(self, key: str, sample: Sample, profile: bool = False) -> Sample:
        self.samples[self.profile][key].append(sample.as_dict())
        self.calls[self.profile].setdefault(key, sample.calls)
        status = "ok" if sample.ok else f"FAILED: {sample.error}"
        cpu = f"  cpu {sample.extra['cpu']:6.1f} s" if "cpu" in sample.extra else ""
        print(f"  {self.profile:<4} {key:<22} {sample.seconds:7.2f} s  calls {sample.total:4d}  writes "
              f"{sample.writes:4d}{cpu}  {status}", flush=True)
        label = f"{self.profile}: {key}"
        if profile and sample.timeline and label not in self.profiles:
            self.profiles[label] = report.profile(sample.timeline)
            self.slow[label] = report.slowest_tasks(sample.timeline)
        return sample

    def playbook(self, name: str, path: Path, extra_vars: dict[str, Any], **kwargs: Any) -> Sample:
        return run_playbook(self.sb, f"{self.profile} {name}", path, extra_vars, root=self.root, **kwargs)

    # --- floor -------------------------------------------------------------------------------------------------
    def run_floor(self) -> None:
        print("floor (boto3)", flush=True)
        clients = floor.Clients(self.sb.url)
        p = floor.Pipeline()
        for _ in range(self.args.aws_floor_reps if self.waits else self.args.floor_reps):
            self.sb.reset()
            setup = self.keep("floor setup", measure(self.sb, "floor setup", lambda: floor.setup(clients, p)))
            self.keep("floor check", measure(self.sb, "floor check", lambda: _require(floor.check(clients, p))))
            # Verify only without waits: under aws a new LATEST mapping sees nothing for the poller start delay.
            if setup.ok and not self.waits:
                for _ in range(self.args.latency_probes):
                    try:
                        self.latency["sandbox write->log"].append(floor.write_to_log_latency(clients, p))
                    except TimeoutError as exc:
                        print(f"  sandbox write->log: {exc}", flush=True)
                verify = self.keep("floor verify", measure(self.sb, "floor verify", lambda: floor.verify(clients, p)))
                if verify.ok:
                    self.latency["floor verify"].append(verify.extra["value"])
                    self.samples[self.profile]["floor setup+verify"].append(
                        _combine("floor setup+verify", setup, verify).as_dict())
            self.keep("floor teardown", measure(self.sb, "floor teardown", lambda: floor.teardown(clients, p)))
        for n in self.args.scale:
            if n == 1:
                continue
            self.sb.reset()
            ps = floor_pipelines(n)
            self.keep(f"floor setup x{n}", measure(self.sb, f"floor setup x{n}",
                                                   lambda: floor.setup_all(clients, ps)))
            if self.args.scale_teardown or self.waits:
                self.keep(f"floor teardown x{n}", measure(self.sb, f"floor teardown x{n}",
                                                          lambda: floor.teardown_all(clients, ps)))

    # --- peer --------------------------------------------------------------------------------------------------
    def run_peer(self) -> None:
        print("peer (bench/peer, naive playbook)", flush=True)
        ev = {"peer_endpoint_url": self.sb.url, "peer_region": REGION, "peer_iam_pause": self.args.iam_pause,
              "peer_zip": str(OUTPUT / "peer-function.zip")}
        self.sb.reset()
        self.keep("peer setup", self.playbook("peer setup", self.peer / "setup.yml", ev))
        self.keep("peer rerun", self.playbook("peer rerun", self.peer / "setup.yml", ev))
        self.keep("peer teardown", self.playbook("peer teardown", self.peer / "teardown.yml", ev))

    # --- ours --------------------------------------------------------------------------------------------------
    def ours_vars(self, n: int, verify: bool) -> dict[str, Any]:
        ev: dict[str, Any] = {"streamops_endpoint_url": self.sb.url, "streamops_region": REGION,
                              "streamops_pipelines": scale_pipelines(n)}
        if not verify:
            ev["streamops_verify"] = False
        return ev

    def run_ours(self) -> None:
        if not (self.playbooks / "setup.yml").exists() or not (self.playbooks / "teardown.yml").exists():
            print("ours: playbooks/setup.yml or teardown.yml missing, skipped", flush=True)
            return
        print("ours (playbooks/setup.yml, teardown.yml)", flush=True)
        setup, teardown = self.playbooks / "setup.yml", self.playbooks / "teardown.yml"
        self.sb.reset()
        self.keep("ours setup", self.playbook("ours setup", setup, self.ours_vars(1, False)), True)
        self.keep("ours rerun", self.playbook("ours rerun", setup, self.ours_vars(1, False)), True)
        self.keep("ours teardown", self.playbook("ours teardown", teardown, self.ours_vars(1, False)),
                  True)
        if self.waits:
            return  # verify under zero only (see run_floor)
        self.sb.reset()
        verified = self.keep("ours setup+verify",
                             self.playbook("ours setup+verify", setup, self.ours_vars(1, True)), True)
        if verified.ok:
            found = report.verify_latency_from_timeline(verified.timeline)
            if not found:
                print("  ours verify: no dynamodb_item -> log_events_info sequence in the timeline", flush=True)
            self.latency["ours verify"].extend(found)

    def run_scale(self, after: Callable[[], object] = lambda: None) -> None:
        if not (self.playbooks / "setup.yml").exists():
            return
        print(f"scale (ours, pipelines: {', '.join(map(str, self.args.scale))})", flush=True)
        for n in self.args.scale:
            if n == 1:
                continue  # the single-pipeline cold setup above is the baseline
            self.sb.reset()
            self.keep(f"ours setup x{n}", self.playbook(f"ours setup x{n}", self.playbooks / "setup.yml",
                                                       self.ours_vars(n, False), timeout=1800), True)
            # Teardown at scale is a target under aws; under zero it is optional (--scale-teardown).
            if self.args.scale_teardown or self.waits:
                self.keep(f"ours teardown x{n}", self.playbook(f"ours teardown x{n}",
                                                              self.playbooks / "teardown.yml", self.ours_vars(n, False),
                                                              timeout=1800), True)
            after()


def _require(condition: bool) -> bool:
    if not condition:
        raise AssertionError("floor check found the pipeline not as setup left it")
    return condition


def _combine(name: str, a: Sample, b: Sample) -> Sample:
    calls = dict(a.calls)
    for op, n in b.calls.items():
        calls[op] = calls.get(op, 0) + n
    return Sample(name=name, seconds=a.seconds + b.seconds, calls=calls, total=a.total + b.total,
                  writes=a.writes + b.writes, ok=a.ok and b.ok)


@contextlib.contextmanager
def snapshot(commit: str) -> Iterator[Path]:
    """The committed tree at *commit*, unpacked in a temporary directory.

    The checkout is shared with people editing it; measuring a commit keeps half-saved files out of the numbers
    and makes the commit written into RESULTS.md the code that was actually measured.
    """
    with tempfile.TemporaryDirectory(prefix="streamops-bench-") as tmp:
        archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="tar")
        yield Path(tmp)


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def ansible_forks() -> str:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-config"), "dump", "--only-changed", "-t", "all"],
                         cwd=ROOT, env=env, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("DEFAULT_FORKS"):
            return line.split("=", 1)[1].strip()
    return "5 (ansible default)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repetition, scale 1 and 10 only")
    parser.add_argument("--profile", default=",".join(report.PROFILES),
                        help="the sandbox's latency profiles to measure under, in order (default: zero,aws)")
    parser.add_argument("--reps", type=int, help="repetitions of each single-pipeline playbook run (default 2)")
    parser.add_argument("--floor-reps", type=int, help="repetitions of the boto3 floor under zero (default 5)")
    parser.add_argument("--aws-floor-reps", type=int,
                        help="repetitions of the single-pipeline floor under aws (default: --reps)")
    parser.add_argument("--scale", help="comma-separated pipeline counts for ours (default 1,10,50)")
    parser.add_argument("--scale-teardown", action="store_true",
                        help="also time teardown.yml at scale under zero (always under aws, where it is a target)")
    parser.add_argument("--only", default="taskfloor,floor,peer,ours,scale,invoke,package",
                        help="parts to run (default: all)")
    parser.add_argument("--invoke-reps", type=int, default=3,
                        help="cold starts measured by the invoke part (each followed by 5 warm calls)")
    parser.add_argument("--commit", default="HEAD",
                        help="the commit to measure (default HEAD; e.g. an older one for a before/after figure)")
    parser.add_argument("--iam-pause", type=int, default=10, help="the peer's fixed pause after creating the role")
    parser.add_argument("--latency-probes", type=int, default=3, help="sandbox write->log probes per floor run")
    parser.add_argument("--port", type=int, help="sandbox port (default: a free one)")
    parser.add_argument("--working-tree", action="store_true",
                        help="measure the checkout as it is instead of a snapshot of HEAD (for trying changes)")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 2)
    args.floor_reps = args.floor_reps or (2 if args.quick else 5)
    args.aws_floor_reps = args.aws_floor_reps or args.reps
    args.profile = [x.strip() for x in args.profile.split(",") if x.strip()]
    unknown = [x for x in args.profile if x not in report.PROFILES]
    if unknown:
        parser.error(f"unknown latency profile {', '.join(unknown)}; known: {', '.join(report.PROFILES)}")
    args.scale = [int(x) for x in (args.scale or ("1,10" if args.quick else "1,10,50")).split(",") if x.strip()]
    args.only = {x.strip() for x in args.only.split(",") if x.strip()}
    return args


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    # Unwind through the `with SandboxProcess` block so a stopped benchmark never leaves its sandbox running.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    commit = git("rev-parse", args.commit) or "unknown"
    meta: dict[str, Any] = {
        "commit": commit,
        "tree": "working tree (may include uncommitted changes)" if args.working_tree else f"git archive of {commit}",
        "dirty": args.working_tree and bool(git("status", "--porcelain", "--untracked-files=no")),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": "python -m bench" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "quick": args.quick, "reps": args.reps, "floor_reps": args.floor_reps, "aws_floor_reps": args.aws_floor_reps,
        "iam_pause": args.iam_pause,
        "forks": ansible_forks(),
        "load_before": os.getloadavg(),
    }
    with contextlib.ExitStack() as stack:
        root = ROOT if args.working_tree else stack.enter_context(snapshot(commit))
        sb = stack.enter_context(SandboxProcess(port=args.port, log_path=OUTPUT / "sandbox.log", root=root))
        print(f"measuring {meta['tree']}; sandbox on {sb.url}", flush=True)
        bench = Bench(sb, args, root)
        meta["knobs"] = {}
        readme = (BENCH / "README.md").read_text(encoding="utf-8")
        attempts = report.attempts_from_readme(readme)
        notes = report.notes_from_readme(readme)

        def write(partial: bool) -> dict[str, dict[str, report.Stat]]:
            # Written after every part, so a long run stopped half-way still leaves what it measured.
            meta["elapsed"] = time.monotonic() - started
            meta["load_after"] = os.getloadavg()
            meta["partial"] = partial
            summaries = {name: report.summarise(samples) for name, samples in bench.samples.items()}
            text = report.render(meta, summaries, dict(bench.latency), bench.profiles, bench.slow, bench.calls,
                                 attempts, bench.package_builds, notes)
            if args.only == {"package"} and args.out.exists():
                # This part alone: only its section changes, the other sections stay as the last full run wrote them.
                text = package.merge_section(args.out.read_text(encoding="utf-8"), text)
            args.out.write_text(text, encoding="utf-8")
            (OUTPUT / "results.json").write_text(json.dumps(
                {"meta": meta, "samples": bench.samples, "latency": bench.latency}, indent=1), encoding="utf-8")
            return summaries

        if "taskfloor" in args.only:
            # No AWS call: measured once, first, while the sandbox is idle.
            print("task floor (bench/task_floor.yml: Ansible's own CPU for one task of one host)", flush=True)
            try:
                meta["task_floor"] = measure_task_floor(root)
            except PlaybookFailed as exc:
                meta["task_floor"] = {"error": str(exc)}
            write(partial=True)
        for name in args.profile:
            meta["knobs"][name] = bench.use_profile(name)
            if "floor" in args.only:
                bench.run_floor()
                write(partial=True)
            # Peer and ours alternate, one repetition each at a time, so load from anything else on the machine
            # lands on both rather than on whichever ran during the busy minutes.
            for rep in range(args.reps):
                print(f"repetition {rep + 1}/{args.reps}", flush=True)
                if "peer" in args.only:
                    bench.run_peer()
                if "ours" in args.only:
                    bench.run_ours()
                write(partial=True)
            if "scale" in args.only:
                bench.run_scale(after=lambda: write(partial=True))
            if "invoke" in args.only and not bench.waits:
                print("invoke latency (boto3 Invoke of the blueprint; PutItem -> log)", flush=True)
                invoke.measure(sb, bench.latency, args.invoke_reps)
                write(partial=True)
        if "package" in args.only:
            # Not a latency matter (no AWS call): measured once, after the profiles.
            print("package build (cold: empty caches; cached: same inputs again)", flush=True)
            package.measure(root, bench.package_builds, args.reps)
            write(partial=True)
        summaries = write(partial=False)
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"in {meta['elapsed']:.0f} s\n", flush=True)
    for name, summary in summaries.items():
        for v in report.targets(summary, dict(bench.latency) if name == "zero" else {}, name,
                                report.task_floor_ms(meta)):
            print(f"  {v.status:<13} {name:<5} {v.name}: {v.measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
