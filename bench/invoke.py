"""Invocation latency of the sandbox's Lambda runtime, seen from a boto3 client.

- cold invoke: Invoke (RequestResponse) of a function whose environments were all dropped (the sandbox reset, the
  function created again), so the call pays process start, runtime start and the handler's import;
- warm invoke: the same call right after another one (an environment is idle and reused, if the runtime keeps one);
- invoke->log: from sending Invoke to FilterLogEvents showing the line the handler printed;
- write->log: the walkthrough's path, PutItem to the handler's line in the log (stream poller + invoke), the first
  probe after setup and then the following ones.

The handler is the walkthrough's blueprint (it imports json only), so the figures are the runtime's own cost.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from . import floor


def _invoke_seconds(c: floor.Clients, name: str, payload: dict[str, Any]) -> float:
    started = time.monotonic()
    response = c.lambda_.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    response["Payload"].read()
    if response.get("FunctionError"):
        raise RuntimeError(f"{name} failed: {response['FunctionError']}")
    return time.monotonic() - started


def _records(probe: str) -> dict[str, Any]:
    return {"Records": [{"eventID": probe, "eventName": "INSERT", "dynamodb": {"Keys": {"user_id": {"S": probe}}}}]}


def _invoke_to_log(c: floor.Clients, p: floor.Pipeline) -> float:
    probe = f"invoke-{uuid.uuid4().hex[:12]}"
    since_ms = int(time.time() * 1000) - 1000
    started = time.monotonic()
    c.lambda_.invoke(FunctionName=p.function_name, Payload=json.dumps(_records(probe)).encode())["Payload"].read()
    return floor.wait_for_log(c, p, [probe], since_ms) - started


def measure(sandbox: Any, latency: dict[str, list[float]], reps: int, warm_per_cold: int = 5) -> None:
    """Append seconds to latency["invoke cold"], ["invoke warm"], ["invoke->log"], ["write->log first"],
    ["write->log next"]."""
    clients = floor.Clients(sandbox.url)
    p = floor.Pipeline()
    for rep in range(reps):
        sandbox.reset()
        floor.setup(clients, p)
        cold = _invoke_seconds(clients, p.function_name, _records("cold"))
        latency["invoke cold"].append(cold)
        warm = [_invoke_seconds(clients, p.function_name, _records(f"warm-{i}")) for i in range(warm_per_cold)]
        latency["invoke warm"].extend(warm)
        to_log = [_invoke_to_log(clients, p) for _ in range(3)]
        latency["invoke->log"].extend(to_log)
        print(f"  invoke rep {rep + 1}: cold {cold:.3f} s, warm median {sorted(warm)[len(warm) // 2]:.3f} s, "
              f"invoke->log median {sorted(to_log)[1]:.3f} s", flush=True)
        # A fresh sandbox for the stream path, so its first probe meets no environment left by the invokes above.
        sandbox.reset()
        floor.setup(clients, p)
        try:
            first = floor.write_to_log_latency(clients, p)
            following = [floor.write_to_log_latency(clients, p) for _ in range(3)]
        except TimeoutError as exc:
            print(f"  write->log: {exc}", flush=True)
            continue
        latency["write->log first"].append(first)
        latency["write->log next"].extend(following)
        print(f"  write->log rep {rep + 1}: first {first:.3f} s, next median {sorted(following)[1]:.3f} s",
              flush=True)
