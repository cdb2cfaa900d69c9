"""Start `python -m sandbox` in a child process and drive its admin API: the one launcher of the tests, the
benchmark and the demo.

    with SandboxProcess(args=["--mapping-transition", "2"], log_path=Path("sandbox.log")) as sandbox:
        sandbox.reset()                      # empty account, the knobs the sandbox started with
        sandbox.configure(throttle=0.1)      # until the next reset
        sandbox.stats()

Standard library only (the demo's virtualenv has nothing else it would need); `warm_up` alone uses boto3, which
every caller has. The child gets the sandbox's test credentials, its output goes to *log_path* (and the last lines
into error messages), readiness is its "sandbox ready on <url>" line followed by a health call, and `stop` sends
SIGTERM, then kills it if it has not exited.

From a shell or a playbook (molecule's create and destroy), the same launcher runs the sandbox detached, in its own
session, and leaves it running:

    python -m sandbox.client start --port 4611 --log sandbox.log --pidfile sandbox.pid -- --throttle 0.2
    python -m sandbox.client stop --pidfile sandbox.pid
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
# moto's default account: the one every ARN the sandbox answers names.
ACCOUNT_ID = "123456789012"
# Any key works against the sandbox; these are what the tests, the benchmark and the demo send.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing-session",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
READY_PREFIX = "sandbox ready on "
# Lines of the child's output kept for error messages (all of it goes to the log file).
TAIL_LINES = 50


class SandboxStartError(RuntimeError):
    """The sandbox exited or stayed silent before it was ready; the message carries the end of its output."""


class SandboxAdminError(urllib.error.HTTPError):
    """An admin call was answered with an error status; its message is the sandbox's own (e.g. an invalid knob).
    An HTTPError still (`.code`), for callers that catch that."""

    def __init__(self, url: str, code: int, message: str, headers: Any):
        super().__init__(url, code, message, headers, None)

    def __str__(self) -> str:
        return str(self.msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class SandboxClient:
    """The admin API (/_sandbox/...) of a sandbox that is already running at *url*."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        # What reset() restores; SandboxProcess fills it with the configuration the sandbox started with.
        self.knobs: dict[str, Any] = {}

    def call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            try:
                message = json.loads(body).get("error", body)
            except (ValueError, AttributeError):
                message = body
            raise SandboxAdminError(self.url + path, exc.code, f"{method} {path}: HTTP {exc.code}: {message}",
                                    exc.headers) from exc

    # The integration tests call it by this name.
    _call = call

    def health(self) -> dict[str, Any]:
        return self.call("GET", "/_sandbox/health")

    def reset(self) -> None:
        """Empty account, zeroed counters, and the knobs in `knobs` (the sandbox's start configuration)."""
        self.call("POST", "/_sandbox/reset", {})
        if self.knobs:
            self.call("POST", "/_sandbox/config", self.knobs)

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs until the next reset; returns the whole configuration."""
        return self.call("POST", "/_sandbox/config", knobs)

    def config(self) -> dict[str, Any]:
        return self.call("GET", "/_sandbox/config")

    def stats(self) -> dict[str, Any]:
        return self.call("GET", "/_sandbox/stats")

    def reset_stats(self) -> None:
        self.call("POST", "/_sandbox/stats/reset", {})

    def next_state(self, **plan: Any) -> dict[str, Any]:
        """How the next CreateFunction / update ends (sandbox/transitions.py: operation, state, seconds, reason)."""
        return self.call("POST", "/_sandbox/lambda/next-state", plan)

    def next_mapping_state(self, **plan: Any) -> dict[str, Any]:
        """How the next CreateEventSourceMapping settles (sandbox/event_source_mappings.py)."""
        return self.call("POST", "/_sandbox/lambda/next-mapping-state", plan)

    def warm_up(self) -> None:
        """One read per service, so moto builds its backends now and not inside the first measured call.

        After a reset moto creates each service's backend lazily; IAM's loads every AWS managed policy (seconds),
        which would otherwise land on whichever run touches IAM first. AWS has no such cost.
        """
        import boto3  # pylint: disable=import-outside-toplevel

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=REGION)
        session.client("iam", endpoint_url=self.url).list_roles(MaxItems=1)
        session.client("dynamodb", endpoint_url=self.url).list_tables(Limit=1)
        session.client("lambda", endpoint_url=self.url).list_functions(MaxItems=1)
        session.client("logs", endpoint_url=self.url).describe_log_groups(limit=1)
        session.client("dynamodbstreams", endpoint_url=self.url).list_streams(Limit=1)


class SandboxProcess(SandboxClient):
    """`python -m sandbox` as a child process.

    *port*: None lets the sandbox pick a free one (no race with another process taking it in between).
    *args*: more `python -m sandbox` options (e.g. ["--mapping-transition", "2"]); what they set is what `reset`
    restores. *env*: added to this process's environment and CREDENTIALS. *log_path*: the child's whole output
    (None: kept in memory only, the last TAIL_LINES lines). *detached*: the child gets its own session, stdin
    /dev/null and *log_path* as its stdout and stderr, so it outlives this process (the command line's `start`);
    readiness is then read from the log file as it grows.
    """

    def __init__(self, port: int | None = None, *, args: Iterable[str] = (), env: Mapping[str, str] | None = None,
                 log_path: Path | None = None, start_timeout: float = 60.0, root: Path = ROOT,
                 python: str = sys.executable, timeout: float = 60.0, detached: bool = False):
        super().__init__(f"http://127.0.0.1:{port or 0}", timeout=timeout)
        self.port = port or 0
        self.args = list(args)
        self.env = dict(env or {})
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.root = root
        self.python = python
        self.detached = detached
        if detached and log_path is None:
            raise ValueError("a detached sandbox needs a log_path: its output has nowhere else to go")
        self.process: subprocess.Popen[str] | None = None
        self.ready_line = ""
        self.start_seconds = 0.0
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._lines: queue.Queue[str | None] = queue.Queue()

    # --- life cycle ----------------------------------------------------------------------------------------------
    def command(self) -> list[str]:
        return [self.python, "-m", "sandbox", "--port", str(self.port), *self.args]

    def start(self) -> "SandboxProcess":
        started = time.monotonic()
        env = {**os.environ, **CREDENTIALS, "PYTHONUNBUFFERED": "1", **self.env}
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.detached:
            assert self.log_path is not None
            with open(self.log_path, "w", encoding="utf-8") as log:
                self.process = subprocess.Popen(self.command(), cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                                stdout=log, stderr=subprocess.STDOUT, text=True,
                                                start_new_session=True)
            reader = self._follow_log
        else:
            self.process = subprocess.Popen(self.command(), cwd=self.root, env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True)
            reader = self._drain
        threading.Thread(target=reader, name="sandbox-log", daemon=True).start()
        try:
            self.ready_line = self._wait_ready(started + self.start_timeout)
            # The ready line names the address it listens on (the port it picked when given 0).
            self.url = self.ready_line[len(READY_PREFIX):].split()[0]
            self.port = int(self.url.rsplit(":", 1)[1])
            self.health()
            self.knobs = self.config()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def _drain(self) -> None:
        # One reader for the child's whole life, so its pipe never fills; every line goes to the log as it comes.
        assert self.process is not None and self.process.stdout is not None
        log = open(self.log_path, "w", encoding="utf-8") if self.log_path is not None else None  # noqa: SIM115
        try:
            for line in self.process.stdout:
                if log is not None:
                    log.write(line)
                    log.flush()
                self.tail.append(line)
                self._lines.put(line)
        finally:
            if log is not None:
                log.close()
            self._lines.put(None)

    def _follow_log(self) -> None:
        # A detached child writes to the log file itself; its lines are read back as the file grows, until the ready
        # line (the child's output is no concern of this process after that) or the child's exit. A file has no
        # readiness to block on, hence the short poll.
        assert self.process is not None and self.log_path is not None
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            partial = ""
            while True:
                exited = self.process.poll() is not None
                chunk = log.readline()
                if chunk:
                    partial += chunk
                    if partial.endswith("\n"):
                        self.tail.append(partial)
                        self._lines.put(partial)
                        if partial.startswith(READY_PREFIX):
                            return
                        partial = ""
                    continue
                if exited:  # nothing more is coming: the child has gone and the file is read to its end
                    if partial:
                        self.tail.append(partial)
                        self._lines.put(partial)
                    self._lines.put(None)
                    return
                time.sleep(0.05)

    def _wait_ready(self, deadline: float) -> str:
        """Block on the child's output (no sleep) until its ready line, its exit, or the deadline."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxStartError(f"the sandbox did not become ready within {self.start_timeout:.0f}s "
                                        f"({' '.join(self.command())}):\n{self.output_tail()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                assert self.process is not None
                code = self.process.wait()
                raise SandboxStartError(f"the sandbox exited (status {code}) before it was ready "
                                        f"({' '.join(self.command())}):\n{self.output_tail()}")
            if line.startswith(READY_PREFIX):
                return line.strip()

    def output_tail(self) -> str:
        return "".join(self.tail).rstrip() or "(no output)"

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after *timeout* seconds; the exit status (None if it was never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def __enter__(self) -> "SandboxProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_pid(pid: int, timeout: float = 20.0) -> bool:
    """SIGTERM to a sandbox that another process started (the command line's `start`), then SIGKILL to its
    session after *timeout* seconds; waits by polling until it is gone. False if there was no such process."""
    if not _is_sandbox(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if _gone_by(pid, time.monotonic() + timeout):
        return True
    # It started its own session (start_new_session), so the group also holds any function runtime it left.
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    _gone_by(pid, time.monotonic() + 10)
    return True


def _is_sandbox(pid: int) -> bool:
    """The process exists, is not a zombie, and runs `-m sandbox` (a reused pid is not signalled)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and b"sandbox" in cmdline and b"-m" in cmdline


def _gone_by(pid: int, deadline: float) -> bool:
    # Not our child (its parent has exited), so there is no wait(); its /proc entry is polled instead.
    while _is_sandbox(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _start(options: argparse.Namespace) -> int:
    if options.pidfile.exists():
        print(f"{options.pidfile} exists: a sandbox may already run; stop it first", file=sys.stderr)
        return 1
    sandbox = SandboxProcess(options.port, args=options.sandbox_args, log_path=options.log,
                             start_timeout=options.start_timeout, detached=True)
    try:
        sandbox.start()
    except SandboxStartError as exc:  # start() has stopped the child already
        print(exc, file=sys.stderr)
        return 1
    assert sandbox.process is not None
    options.pidfile.parent.mkdir(parents=True, exist_ok=True)
    options.pidfile.write_text(f"{sandbox.process.pid}\n", encoding="utf-8")
    print(sandbox.url)
    return 0


def _stop(options: argparse.Namespace) -> int:
    try:
        pid = int(options.pidfile.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        print(f"no {options.pidfile}: no sandbox to stop")
        return 0
    except ValueError:
        print(f"{options.pidfile} does not hold a process id", file=sys.stderr)
        return 1
    stopped = stop_pid(pid, options.timeout)
    options.pidfile.unlink(missing_ok=True)
    print(f"sandbox {pid} stopped" if stopped else f"sandbox {pid} was not running")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.client",
                                     description="Start python -m sandbox detached, or stop it.")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the sandbox in its own session and wait until it is ready")
    start.add_argument("--port", type=int, required=True)
    start.add_argument("--log", type=Path, required=True, help="the sandbox's stdout and stderr")
    start.add_argument("--pidfile", type=Path, required=True, help="written once the sandbox is ready")
    start.add_argument("--start-timeout", type=float, default=60.0, help="seconds to wait for its ready line")
    start.add_argument("sandbox_args", nargs="*", metavar="-- SANDBOX_OPTION",
                       help="python -m sandbox options, after --")
    stop = commands.add_parser("stop", help="SIGTERM the sandbox of a pid file, SIGKILL after --timeout")
    stop.add_argument("--pidfile", type=Path, required=True)
    stop.add_argument("--timeout", type=float, default=20.0)
    options = parser.parse_args(argv)
    return _start(options) if options.command == "start" else _stop(options)


if __name__ == "__main__":
    sys.exit(main())
