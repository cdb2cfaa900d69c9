"""make demo: start the sandbox, run setup (with verify) and teardown against it, print what happened.

    python -m tools.demo [--port 4566] [--verbose]
    python -m tools.demo --list-resources http://127.0.0.1:4566

The sandbox is stopped whatever happens. The summary lists what setup created and teardown removed (read back
from the sandbox's APIs, not from Ansible's output), what the verify step saw (its report file), and wall times.
While a playbook runs it prints one line per phase (role) with the seconds since the playbook started; the
whole output goes to tests/output/demo-<playbook>.log (--verbose prints it instead).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, TextIO

from sandbox.client import CREDENTIALS, REGION, ROOT, SandboxProcess, SandboxStartError, port_is_free

READY_TIMEOUT = 60.0
# The logs of the sandbox and of each playbook (git-ignored).
OUTPUT = ROOT / "tests" / "output"


def clients(url: str) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    # The same retries the playbooks use (vars/pipeline_roles.json): a sandbox started with a throttle fault
    # answers some of these reads with the service's throttling error, as AWS may.
    retries = Config(retries={"mode": "standard", "max_attempts": 10})
    return {name: boto3.client(name, endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                               aws_secret_access_key="testing", config=retries)
            for name in ("dynamodb", "lambda", "iam", "logs")}


def inventory(url: str) -> set[str]:
    """Everything the pipeline could have created, one readable line each."""
    c = clients(url)
    found: set[str] = set()
    for name in c["dynamodb"].list_tables()["TableNames"]:
        found.add(f"DynamoDB table {name}")
        spec = c["dynamodb"].describe_table(TableName=name)["Table"].get("StreamSpecification") or {}
        if spec.get("StreamEnabled"):
            found.add(f"DynamoDB stream on {name} ({spec.get('StreamViewType')})")
    for fn in c["lambda"].list_functions()["Functions"]:
        found.add(f"Lambda function {fn['FunctionName']} ({fn['Runtime']})")
    for mapping in c["lambda"].list_event_source_mappings()["EventSourceMappings"]:
        table = mapping["EventSourceArn"].split(":table/")[-1].split("/stream/")[0]
        function = mapping["FunctionArn"].rsplit(":", 1)[-1]
        found.add(f"trigger {table} -> {function} (batch {mapping.get('BatchSize')}, "
                  f"{mapping.get('StartingPosition')}, {mapping.get('State')})")
    for role in c["iam"].list_roles()["Roles"]:
        name = role["RoleName"]
        found.add(f"IAM role {name}")
        for policy in c["iam"].list_role_policies(RoleName=name)["PolicyNames"]:
            found.add(f"IAM inline policy {name}/{policy}")
        for policy in c["iam"].list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            found.add(f"IAM managed policy {policy['PolicyName']} attached to {name}")
    for group in c["logs"].describe_log_groups()["logGroups"]:
        retention = group.get("retentionInDays")
        found.add(f"log group {group['logGroupName']}" + (f" ({retention} days)" if retention else ""))
    return found


# What a phase line calls each role (the TASK lines name it: "TASK [streamops.dynamodb_lambda.<role> : ...]").
PHASES = {
    "pipelines": "check the pipeline list",
    "table_stream": "table and stream",
    "execution_role": "execution role and policy",
    "stream_function": "function and log group",
    "stream_trigger": "trigger (event source mapping)",
    "stream_verify": "verify: probe item put, updated, deleted; records awaited in the log",
}
TASK_LINE = re.compile(r"^TASK \[(?:streamops\.dynamodb_lambda\.)?(?P<role>[\w.]+) : ")
PROBLEM_LINE = re.compile(r"^(fatal|failed|\[ERROR\]|\[WARNING\]|ERROR!)", re.IGNORECASE)


class Phases:
    """Turns ansible-playbook's output into one line per role it enters, with the time since the playbook started;
    problem lines (fatal, failed, warnings) pass through as they come."""

    def __init__(self, label: str, out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic):
        self.label = label
        self.out = out
        self.clock = clock
        self.started = clock()
        self.current: str | None = None

    def feed(self, line: str) -> None:
        match = TASK_LINE.match(line)
        if match and match.group("role") != self.current:
            self.current = match.group("role")
            phase = PHASES.get(self.current, self.current)
            print(f"  {self.label:<8} {self.clock() - self.started:6.1f}s  {phase}", file=self.out, flush=True)
        elif PROBLEM_LINE.match(line):
            print(f"  {self.label:<8} {line.rstrip()}", file=self.out, flush=True)


def run_playbook(name: str, url: str, extra: dict[str, Any], log_path: Path, verbose: bool) -> tuple[int, float]:
    extra_vars = {"streamops_endpoint_url": url, "streamops_region": REGION, **extra}
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), f"playbooks/{name}", "-e", json.dumps(extra_vars)]
    env = {**os.environ, **CREDENTIALS, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0"}
    print(f"\n=== ansible-playbook playbooks/{name} (endpoint {url}; full output: {log_path}) ===", flush=True)
    started = time.monotonic()
    phases = Phases(name.removesuffix(".yml"))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if verbose:
                print(line, end="", flush=True)
            else:
                phases.feed(line)
        code = proc.wait()
    elapsed = time.monotonic() - started
    if code and not verbose:
        # The recap and the failing task's message are at the end; the whole run is in the log.
        tail = log_path.read_text(encoding="utf-8").splitlines()[-40:]
        print("\n".join(f"    {line}" for line in tail), flush=True)
    print(f"  {phases.label:<8} {elapsed:6.1f}s  {'done' if code == 0 else f'FAILED (exit {code})'}", flush=True)
    return code, elapsed


def _lines(title: str, items: set[str] | list[str]) -> list[str]:
    body = [f"    {item}" for item in sorted(items)] or ["    (nothing)"]
    return [f"  {title}:", *body]


def summary(created: set[str], removed: set[str], left: set[str], reports: list[dict[str, Any]],
            times: dict[str, float], codes: dict[str, int]) -> str:
    out = ["", "=" * 78, "streamops.dynamodb_lambda demo summary", "=" * 78]
    out += _lines("setup created", created)
    out.append("  verify saw:")
    if not reports:
        out.append("    (no verify report: verify did not get as far as reading the log)")
    for report in reports:
        verdict = "passed" if report.get("passed") else "FAILED"
        out.append(f"    pipeline {report.get('pipeline')} ({report.get('view_type')}): {verdict} after "
                   f"{report.get('attempts')} probe(s) in {report.get('seconds')}s; probe key "
                   f"{json.dumps(report.get('probe_key'))}")
        out.append("      " + "%-7s %-10s %-10s %s" % ("event", "old_image", "new_image", "result"))
        for row in report.get("records", []):
            old = (row.get("old_image") or {}).get("streamops_probe", "-") if row.get("old_image") else "-"
            new = (row.get("new_image") or {}).get("streamops_probe", "-") if row.get("new_image") else "-"
            result = "ok" if row.get("ok") else f"WRONG: {row.get('problem')}"
            out.append("      " + "%-7s %-10s %-10s %s" % (row.get("event"), old, new, result))
    out += _lines("teardown removed", removed)
    if left:
        out += _lines("LEFT BEHIND after teardown", left)
    out.append("  wall times: " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()))
    out.append("  result: " + ", ".join(f"{k} {'ok' if v == 0 else f'failed (exit {v})'}" for k, v in codes.items()))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=4566, help="sandbox port (default 4566)")
    parser.add_argument("--verbose", action="store_true",
                        help="print ansible-playbook's whole output instead of one line per phase")
    parser.add_argument("--list-resources", metavar="URL",
                        help="only print, as JSON, what exists on the endpoint URL (molecule's leftover check)")
    args = parser.parse_args(argv)
    if args.list_resources:
        print(json.dumps(sorted(inventory(args.list_resources))))
        return 0
    if not port_is_free(args.port):
        print(f"demo: port {args.port} on 127.0.0.1 is already in use (another sandbox or LocalStack?). "
              f"Stop it, or pick another port: make demo SANDBOX_PORT=4570", file=sys.stderr)
        return 2

    total_started = time.monotonic()
    times: dict[str, float] = {}
    codes: dict[str, int] = {}
    sandbox = SandboxProcess(args.port, log_path=OUTPUT / "demo-sandbox.log", start_timeout=READY_TIMEOUT)
    try:
        times["sandbox start"] = sandbox.start().start_seconds
        print(f"sandbox ready on {sandbox.url} in {times['sandbox start']:.1f}s (log: {sandbox.log_path})")
        before = inventory(sandbox.url)
        with tempfile.TemporaryDirectory(prefix="streamops-demo-") as report_dir:
            codes["setup"], times["setup + verify"] = run_playbook(
                "setup.yml", sandbox.url, {"streamops_verify_report_dir": report_dir}, OUTPUT / "demo-setup.log",
                args.verbose)
            reports = [json.loads(p.read_text()) for p in sorted(Path(report_dir).glob("*.json"))]
        after_setup = inventory(sandbox.url)
        codes["teardown"], times["teardown"] = run_playbook("teardown.yml", sandbox.url, {},
                                                           OUTPUT / "demo-teardown.log", args.verbose)
        after_teardown = inventory(sandbox.url)
    except SandboxStartError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        sandbox.stop()
    times["total"] = time.monotonic() - total_started
    print(summary(after_setup - before, after_setup - after_teardown, after_teardown - before, reports, times, codes))
    failed = any(codes.values()) or not reports or not all(r.get("passed") for r in reports) \
        or bool(after_teardown - before)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
