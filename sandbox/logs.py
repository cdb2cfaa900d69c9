"""CloudWatch Logs output written straight into moto's in-process logs backend.

The Lambda runtime (and anything else in the sandbox that logs the way an AWS service does) calls
`put_lines`; readers see the events through the ordinary GetLogEvents / FilterLogEvents APIs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

# moto's LogStream.put_log_events is not thread safe (it says so), and the runtime writes from one thread per
# invocation, so every write from the sandbox goes through this lock.
_LOCK = threading.RLock()

# CloudWatch Logs limits one event to 256 KB (including 26 bytes of overhead); longer messages are truncated
# the way Lambda truncates them rather than rejected.
MAX_EVENT_BYTES = 256 * 1024 - 26


def now_ms() -> int:
    return int(time.time() * 1000)


def _backend(account_id: str, region: str):
    from moto.logs.models import logs_backends

    return logs_backends[account_id][region]


def ensure_stream(account_id: str, region: str, group: str, stream: str) -> None:
    """Create the group and stream if missing, as Lambda does on first write (no error if they exist)."""
    with _LOCK:
        backend = _backend(account_id, region)
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)


def put_lines(account_id: str, region: str, group: str, stream: str,
              lines: Iterable[str | tuple[int, str]]) -> int:
    """Append *lines* to group/stream with PutLogEvents semantics; create both if missing.

    Each line is a message (stamped now) or a `(timestamp_ms, message)` pair. Events are kept in
    chronological order within the call (PutLogEvents rejects a batch that is not). Returns the number of
    events written.
    """
    events = []
    for line in lines:
        stamp, message = line if isinstance(line, tuple) else (now_ms(), line)
        if not message:
            continue  # CloudWatch rejects empty messages
        encoded = message.encode("utf-8")
        if len(encoded) > MAX_EVENT_BYTES:
            message = encoded[:MAX_EVENT_BYTES].decode("utf-8", "ignore")
        events.append({"timestamp": int(stamp), "message": message})
    if not events:
        return 0
    events.sort(key=lambda e: e["timestamp"])  # stable: same-millisecond lines keep their order
    with _LOCK:
        backend = _backend(account_id, region)
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        backend.put_log_events(group, stream, events)
    return len(events)
