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
    # Seconds Lambda keeps a VPC function's network interfaces after no function uses them any more (the function
    # was deleted or left the VPC) before it deletes them with the execution role's permissions; AWS takes up to
    # 20 minutes (sandbox/lambda_vpc.py).
    eni_release_delay: float = 0.0

    # --- Lambda execution environments (sandbox/lambda_runtime.py) ---
    # Seconds an idle execution environment is kept warm before it is reaped (Lambda keeps them for an
    # undocumented while). 0: none is kept, every invocation is a cold start.
    environment_idle_timeout: float = 300.0

    # --- streams and IAM (sandbox.streams, sandbox.iam_eval) ---
    # Shards of each stream created from now on; also the number a rollover splits back up to.
    stream_shards: int = 1
    # Close a shard and open its child after this many seconds / records in it (0 = never), read live.
    shard_rollover_seconds: float = 0.0
    shard_rollover_records: int = 0
    # Evaluate execution roles' policies (mappings, the poller's reads, the function's logs); off = allow all.
    iam_evaluation: bool = True

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
                if key in _STREAM_AND_IAM_KNOBS:
                    setattr(self, key, _STREAM_AND_IAM_KNOBS[key](key, value))
                    continue
                number = float(value)
                if number < 0 or (key == "throttle" and number > 1):
                    raise ValueError(f"{key} out of range: {value!r}")
                setattr(self, key, number)
        return self.as_dict()


def _whole(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or float(value) != int(float(value)) or int(float(value)) < low:
        raise ValueError(f"{key} must be a whole number >= {low}: {value!r}")
    return int(float(value))


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "on", "off"):
        return value.lower() in ("true", "1", "on")
    raise ValueError(f"{key} must be a boolean: {value!r}")


def _seconds(key: str, value: Any) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(f"{key} out of range: {value!r}")
    return number


_STREAM_AND_IAM_KNOBS: dict[str, Any] = {
    "stream_shards": lambda key, value: _whole(key, value, 1),
    "shard_rollover_seconds": _seconds,
    "shard_rollover_records": lambda key, value: _whole(key, value, 0),
    "iam_evaluation": _flag,
}
