"""The sandbox for the benchmark: sandbox/client.py's SandboxProcess, whose reset also warms moto's backends up and
zeroes the counters, so every measured run starts from the same empty, warm account.

The benchmark owns the sandbox's whole life (start, reset between runs, SIGTERM at the end), so it never leaves a
server behind. Extra `python -m sandbox` options go in *args* (e.g. ["--mapping-transition", "2"]); they are the
knobs every reset restores.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sandbox import client
from sandbox.client import ACCOUNT_ID, CREDENTIALS, REGION, ROOT, free_port  # noqa: F401  (the bench's names)


class SandboxProcess(client.SandboxProcess):
    def __init__(self, port: int | None = None, log_path: Path | None = None, start_timeout: float = 60.0,
                 root: Path = ROOT, args: Iterable[str] = ()):
        super().__init__(port, args=args, log_path=log_path or ROOT / "bench" / "output" / "sandbox.log",
                         start_timeout=start_timeout, root=root)

    def reset(self) -> None:
        """Empty account, the start knobs, warmed-up backends, zeroed counters."""
        super().reset()
        self.warm_up()
        self.reset_stats()
