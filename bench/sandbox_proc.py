"""Run the sandbox as a child process for the benchmark: start on a free port, talk to its admin API, stop it.

The benchmark owns the sandbox's whole life (start, reset between runs, SIGTERM at the end), so it never leaves a
server behind and every run starts from the same empty account.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing-session",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

# The knobs the integration fixtures reset to; the benchmark may override some of them per run.
DEFAULT_KNOBS = {"throttle": 0, "iam_propagation_delay": 0, "mapping_transition": 0, "poller_start_delay": 0,
                 "seed": None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SandboxProcess:
    def __init__(self, port: int | None = None, log_path: Path | None = None, start_timeout: float = 60.0,
                 root: Path = ROOT):
        self.root = root
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or ROOT / "bench" / "output" / "sandbox.log"
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[str] | None = None
        self.knobs: dict[str, Any] = dict(DEFAULT_KNOBS)

    # --- life cycle ----------------------------------------------------------------------------------------------
    def start(self) -> "SandboxProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The peer attaches AWS managed policies (the walkthrough's step 2b); moto knows them only when asked to load
        # them. Harmless for the floor and ours, which use inline policies.
        env = {**os.environ, **CREDENTIALS, "PYTHONUNBUFFERED": "1", "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self.process = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(self.port)], cwd=self.root,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: queue.Queue[str | None] = queue.Queue()

        def drain() -> None:
            # One reader for the whole life of the process, so the pipe never fills and the log keeps everything.
            assert self.process is not None and self.process.stdout is not None
            with open(self.log_path, "w", encoding="utf-8") as log:
                for line in self.process.stdout:
                    log.write(line)
                    log.flush()
                    lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, name="bench-sandbox-log", daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        seen: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise RuntimeError(f"sandbox not ready after {self.start_timeout}s: {''.join(seen)[-2000:]}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"sandbox exited before it was ready: {''.join(seen)[-2000:]}")
            seen.append(line)
            if "ready" in line:
                return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> "SandboxProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- admin API -----------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"{}")

    def reset(self) -> None:
        """Empty account, the benchmark's knobs, warmed-up backends, zeroed counters."""
        self._call("POST", "/_sandbox/reset", {})
        self._call("POST", "/_sandbox/config", self.knobs)
        self.warm_up()
        self.reset_stats()

    def warm_up(self) -> None:
        """One read per service, so moto builds its backends now and not inside the first measured call.

        After a reset moto creates each service's backend lazily; IAM's loads every AWS managed policy (several
        seconds here), which would otherwise land on whichever run touches IAM first. AWS has no such cost.
        """
        import boto3

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=REGION)
        session.client("iam", endpoint_url=self.url).list_roles(MaxItems=1)
        session.client("dynamodb", endpoint_url=self.url).list_tables(Limit=1)
        session.client("lambda", endpoint_url=self.url).list_functions(MaxItems=1)
        session.client("logs", endpoint_url=self.url).describe_log_groups(limit=1)
        session.client("dynamodbstreams", endpoint_url=self.url).list_streams(Limit=1)

    def configure(self, **knobs: Any) -> dict[str, Any]:
        self.knobs.update(knobs)
        return self._call("POST", "/_sandbox/config", knobs)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/config")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/_sandbox/stats/reset", {})
