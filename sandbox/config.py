"""Fault-injection and timing knobs, set at start-up and changeable at run time via /_sandbox/config."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any


@dataclasses.dataclass
class SandboxConfig:
    # Fraction (0..1) of API calls answered with the service's throttling error.
    throttle: float = 0.0
    # Seconds after a role (or its policies) changes during which Lambda cannot assume it.
    iam_propagation_delay: float = 0.0
    # Seconds each event source mapping state transition (Creating, Enabling, Updating, ...) lasts.
    mapping_transition: float = 0.0
    # Seconds after creation before a LATEST mapping starts polling (records written before are lost, as on AWS).
    poller_start_delay: float = 0.0
    # Seed for the throttling draw, so a failing run can be replayed.
    seed: int | None = None
    # Seconds a table stays UPDATING after an UpdateTable (another UpdateTable meanwhile: ResourceInUseException).
    table_transition: float = 0.0
    # Seconds a stream stays ENABLING / DISABLING after UpdateTable changes it (the table is UPDATING as long).
    stream_transition: float = 0.0
    # Seconds a function stays Pending after CreateFunction and InProgress after an update (another update
    # meanwhile: ResourceConflictException).
    function_transition: float = 0.0

    # --- Lambda execution environments (sandbox/lambda_runtime.py) ---
    # Seconds an idle execution environment is kept warm before it is reaped (Lambda keeps them for an
    # undocumented while). 0: none is kept, every invocation is a cold start.
    environment_idle_timeout: float = 300.0

    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")}

    def update(self, values: dict[str, Any]) -> dict[str, Any]:
        """Apply known keys from *values*, validating each; raise ValueError naming the bad key."""
        known = {f.name: f for f in dataclasses.fields(self) if not f.name.startswith("_")}
        with self._lock:
            for key, value in values.items():
                if key not in known:
                    raise ValueError(f"unknown sandbox setting {key!r}; known: {', '.join(sorted(known))}")
                if key == "seed":
                    setattr(self, key, None if value is None else int(value))
                    continue
                number = float(value)
                if number < 0 or (key == "throttle" and number > 1):
                    raise ValueError(f"{key} out of range: {value!r}")
                setattr(self, key, number)
        return self.as_dict()
