"""Run one measured thing (a playbook or a Python callable) against the sandbox and collect time + call counts."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sandbox_proc import CREDENTIALS, ROOT, SandboxProcess

BENCH = ROOT / "bench"
OUTPUT = BENCH / "output"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


@dataclass
class Sample:
    """One measured run."""

    name: str
    seconds: float
    calls: dict[str, int] = field(default_factory=dict)
    total: int = 0
    writes: int = 0
    write_calls: dict[str, int] = field(default_factory=dict)
    ok: bool = True
    error: str = ""
    timeline: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": self.seconds, "calls": self.calls, "total": self.total,
                "writes": self.writes, "write_calls": self.write_calls, "ok": self.ok, "error": self.error,
                "extra": self.extra}


class PlaybookFailed(RuntimeError):
    pass


def _counted(sandbox: SandboxProcess, name: str, fn: Callable[[], Any]) -> tuple[Sample, Any]:
    sandbox.reset_stats()
    started = time.monotonic()
    try:
        value = fn()
        ok, error = True, ""
    except Exception as exc:  # the report shows a failed run rather than losing the whole benchmark
        value, ok, error = None, False, f"{type(exc).__name__}: {exc}"
    seconds = time.monotonic() - started
    stats = sandbox.stats()
    sample = Sample(name=name, seconds=seconds, calls=stats.get("calls", {}), total=stats.get("total", 0),
                    writes=stats.get("writes", 0), write_calls=stats.get("write_calls", {}), ok=ok, error=error)
    return sample, value


def measure(sandbox: SandboxProcess, name: str, fn: Callable[[], Any]) -> Sample:
    sample, value = _counted(sandbox, name, fn)
    if isinstance(value, dict):
        sample.extra.update(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        sample.extra["value"] = value
    return sample


def ansible_env(timeline: Path | None = None, root: Path = ROOT) -> dict[str, str]:
    env = {**os.environ, **CREDENTIALS, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "0"}
    if timeline is not None:
        env["ANSIBLE_CALLBACK_PLUGINS"] = str(BENCH / "callback_plugins")
        env["ANSIBLE_CALLBACKS_ENABLED"] = "bench_timeline"
        env["BENCH_TIMELINE"] = str(timeline)
    return env


def children_cpu() -> float:
    """user+sys seconds of this process's children that have ended and been waited for (RUSAGE_CHILDREN)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_playbook(sandbox: SandboxProcess, name: str, playbook: Path, extra_vars: dict[str, Any],
                 *args: str, root: Path = ROOT, timeout: float = 900) -> Sample:
    """ansible-playbook from *root* (the checkout, or a snapshot of a commit) with its ansible.cfg."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    slug = name.replace(" ", "_").replace("/", "_")
    timeline = OUTPUT / f"{slug}.timeline.jsonl"
    log = OUTPUT / f"{slug}.log"
    timeline.unlink(missing_ok=True)
    cmd = [str(ANSIBLE_PLAYBOOK), str(playbook), "-e", json.dumps(extra_vars), *args]
    cpu: dict[str, float] = {}

    def run() -> None:
        # Controller CPU: user+sys of ansible-playbook and every process below it (its workers and the module
        # forks), which the kernel adds to our children's usage as each is waited for. Nothing else of ours ends
        # in between: the sandbox runs until the benchmark is over.
        before = children_cpu()
        proc = subprocess.Popen(cmd, cwd=root, env=ansible_env(timeline, root), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException:
            kill_tree(proc.pid)
            proc.communicate()
            raise
        cpu["cpu"] = children_cpu() - before
        log.write_text(f"$ {' '.join(cmd)}\n{stdout}\n--- stderr ---\n{stderr}", encoding="utf-8")
        if proc.returncode != 0:
            raise PlaybookFailed(f"{playbook.name} exited {proc.returncode}; see {log.relative_to(ROOT)}: "
                                 f"{_last_failure(stdout)}")

    sample, _ = _counted(sandbox, name, run)
    sample.extra.update(cpu)
    sample.timeline = read_timeline(timeline)
    return sample


def kill_tree(pid: int) -> None:
    """SIGKILL *pid* and every process below it.

    ansible-playbook's workers start their own process groups, so killing the parent (or its group) would leave
    them running against the sandbox; the tree is read from /proc before anything is killed.
    """
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo, tree = [pid], []
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


# The quotes YAML puts around a message that needs them.
QUOTES = "'\""


def _last_failure(stdout: str) -> str:
    """The last failure ansible-playbook printed, with its message.

    With the YAML result format (ansible.cfg) a failure is a `fatal: [host]: FAILED! =>` line followed by the
    result's keys, one per indented line: the message is the `msg:` key below it, folded over as many lines as it
    needs, up to the next key or the end of the indented block.
    """
    lines = stdout.splitlines()
    found = [i for i, ln in enumerate(lines) if "FAILED" in ln or "fatal:" in ln or "ERROR" in ln]
    if not found:
        return (lines[-1] if stdout.strip() else "")[:300]
    head = lines[found[-1]].strip()
    msg: list[str] = []
    for ln in lines[found[-1] + 1:]:
        if not ln.startswith("  ") or not ln.strip():
            break
        text = ln.strip()
        if msg and ln.startswith("        "):
            msg.append(text)  # the message folded onto the next line
        elif msg:
            break
        elif text.startswith("msg:"):
            msg.append(text[len("msg:"):].strip().lstrip(QUOTES))
    if msg:
        head = f"{head} {' '.join(msg).rstrip(QUOTES)}"
    return head[:400]


def read_timeline(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def measure_task_floor(root: Path = ROOT, hosts: int = 50) -> dict[str, Any]:
    """Ansible's own controller CPU for one task of one host on this machine: bench/task_floor.yml on *hosts* hosts.

    The playbook's second play runs trivial set_fact tasks on in-memory local hosts, as the pipeline hosts are;
    its controller CPU (ansible-playbook's start and the play adding the hosts included) divided by the tasks it
    runs is what any task of any host costs here at least. It needs no sandbox. The figure moves with the machine
    (a core twice as slow doubles it), so the report gives the CPU per pipeline in these units too.
    """
    import yaml  # pylint: disable=import-outside-toplevel  # ansible's own dependency, in every venv that runs it

    playbook = root / "bench" / "task_floor.yml"
    plays = yaml.safe_load(playbook.read_text(encoding="utf-8"))
    tasks = len(plays[-1]["tasks"]) * hosts
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook), "-e", f"N={hosts}"]
    before = children_cpu()
    proc = subprocess.run(cmd, cwd=root, env=ansible_env(None, root), capture_output=True, text=True, check=False)
    cpu = children_cpu() - before
    if proc.returncode != 0:
        raise PlaybookFailed(f"{playbook.name} exited {proc.returncode}: {_last_failure(proc.stdout)}")
    return {"cpu": cpu, "tasks": tasks, "hosts": hosts, "ms_per_task": cpu / tasks * 1000}
