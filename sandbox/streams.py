"""DynamoDB stream records as AWS writes them, kept for pollers and direct readers.

moto's `StreamShard.add` invokes mapped Lambda functions synchronously inside PutItem and then empties the
shard, so a stream reader sees nothing and a failing function fails the write. Here a shard only appends;
the poller (`sandbox.poller`) reads it asynchronously, like Lambda's pollers read a real stream.

Record shape follows what AWS sends (SPEC.md §3): eventVersion "1.1", awsRegion = the table's region,
ApproximateCreationDateTime in epoch seconds, increasing SequenceNumber strings, images per view type.
Records older than the stream's 24 h retention are skipped by every reader (trim emulated by timestamp).

Each shard is registered under its stream ARN, so a mapping on an old stream keeps reading that stream after
the table's stream was disabled or re-created (it gets no new records, as on AWS).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

RETENTION_SECONDS = 24 * 3600

# Wall clock for record timestamps and retention; replaceable so retention can be tested without waiting a day.
clock: Callable[[], float] = time.time

# One condition for every shard: notified on each appended record and on each mapping change, so pollers sleep
# until there is something to do instead of polling.
changed = threading.Condition(threading.RLock())

_shards: dict[str, Any] = {}  # stream ARN -> moto StreamShard (current and replaced streams)
_installed = False


class StreamRecord:
    """One stream record; `to_json()` is what GetRecords returns (without eventSourceARN, as on AWS)."""

    __slots__ = ("seq", "created", "record")

    def __init__(self, seq: int, created: float, record: dict[str, Any]):
        self.seq = seq
        self.created = created
        self.record = record

    def to_json(self) -> dict[str, Any]:
        # moto's response serializer base64-encodes blobs itself, so binary values go to it as bytes.
        body = self.record["dynamodb"]
        typed = {k: {name: _binary_as_bytes(v) for name, v in body[k].items()}
                 for k in ("Keys", "NewImage", "OldImage") if k in body}
        return {**self.record, "dynamodb": {**body, **typed}}

    def for_lambda(self, stream_arn: str) -> dict[str, Any]:
        """The record as Lambda delivers it: the stream record plus eventSourceARN."""
        return {**json.loads(json.dumps(self.record)), "eventSourceARN": stream_arn}


def _binary_as_bytes(typed: dict[str, Any]) -> dict[str, Any]:
    (tag, value), = typed.items()
    if tag == "B":
        return {"B": base64.b64decode(value)}
    if tag == "BS":
        return {"BS": [base64.b64decode(v) for v in value]}
    if tag == "M":
        return {"M": {k: _binary_as_bytes(v) for k, v in value.items()}}
    if tag == "L":
        return {"L": [_binary_as_bytes(v) for v in value]}
    return typed


def _wire(value: Any) -> Any:
    """moto's typed values -> the JSON DynamoDB sends (binary as base64, nested maps/lists/sets as plain JSON)."""
    from moto.dynamodb.models.utilities import dynamo_json_dump

    return json.loads(dynamo_json_dump(value))


def build_record(table: Any, view_type: str, old: Any, new: Any, seq: int, created: float) -> dict[str, Any]:
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    source = old if old is not None else new
    keys = {table.hash_key_attr: source.hash_key}
    if table.range_key_attr is not None and source.range_key is not None:
        keys[table.range_key_attr] = source.range_key
    dynamodb: dict[str, Any] = {
        # AWS rounds down to the second and sends a number, not a date string.
        "ApproximateCreationDateTime": int(created),
        "Keys": _wire(keys),
    }
    if view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
        dynamodb["NewImage"] = _wire(new.to_json()["Attributes"])
    if view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
        dynamodb["OldImage"] = _wire(old.to_json()["Attributes"])
    dynamodb["SequenceNumber"] = str(seq)
    # AWS counts the keys and images; the JSON length is a close, deterministic stand-in.
    dynamodb["SizeBytes"] = len(json.dumps({k: dynamodb[k] for k in ("Keys", "NewImage", "OldImage")
                                            if k in dynamodb}, separators=(",", ":")))
    dynamodb["StreamViewType"] = view_type
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": table.region_name,
        "dynamodb": dynamodb,
    }


def stream_arn_of(shard: Any) -> str:
    return shard.sandbox_stream_arn


def shard_for(stream_arn: str) -> Any | None:
    with changed:
        return _shards.get(stream_arn)


def is_current(shard: Any) -> bool:
    """True while the shard is its table's live stream (enabled and not replaced)."""
    table = shard.table
    spec = table.stream_specification or {}
    return bool(spec.get("StreamEnabled")) and table.stream_shard is shard


def stream_status(stream_arn: str) -> str:
    """ENABLED, DISABLED (old or switched-off stream, still readable) or NOT_FOUND."""
    shard = shard_for(stream_arn)
    if shard is None:
        return "NOT_FOUND"
    return "ENABLED" if is_current(shard) else "DISABLED"


def last_sequence(shard: Any) -> int:
    """Sequence number of the newest record (or one less than the first one if the shard is empty)."""
    with changed:
        return shard.sandbox_next_seq - 1


def records_after(shard: Any, after_seq: int, limit: int) -> list[StreamRecord]:
    """Up to *limit* retained records with SequenceNumber > after_seq, oldest first."""
    horizon = clock() - RETENTION_SECONDS
    with changed:
        start = max(0, after_seq + 1 - shard.starting_sequence_number)
        out: list[StreamRecord] = []
        for rec in shard.items[start:]:
            if rec.created < horizon:
                continue
            out.append(rec)
            if len(out) >= limit:
                break
        return out


def notify() -> None:
    with changed:
        changed.notify_all()


# --- moto patches ---------------------------------------------------------------------------------------------

def _patched_init(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Any, account_id: str, table: Any) -> None:
        original(self, account_id, table)
        self.sandbox_next_seq = self.starting_sequence_number
        self.sandbox_stream_arn = f"{table.table_arn}/stream/{table.latest_stream_label}"
        self.sandbox_label = table.latest_stream_label
        self.sandbox_view_type = (table.stream_specification or {}).get("StreamViewType")
        with changed:
            _shards[self.sandbox_stream_arn] = self
    return __init__


def _add(self: Any, old: Any, new: Any) -> None:
    # A disabled or replaced stream gets no records (moto would raise KeyError on the missing view type).
    if not is_current(self):
        return
    view_type = self.table.stream_specification["StreamViewType"]
    with changed:
        created = clock()
        seq = self.sandbox_next_seq
        self.sandbox_next_seq += 1
        self.items.append(StreamRecord(seq, created, build_record(self.table, view_type, old, new, seq, created)))
        changed.notify_all()


def _get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
    return [rec.to_json() for rec in records_after(self, int(start) - 1, quantity)]


def _patched_iterator_init(original: Callable[..., None]) -> Callable[..., None]:
    # botocore sends SequenceNumber as a string; moto adds 1 to it for AFTER_SEQUENCE_NUMBER.
    def __init__(self: Any, backend: Any, shard: Any, iterator_type: str, sequence_number: Any = None) -> None:
        original(self, backend, shard, iterator_type, None if sequence_number is None else int(sequence_number))
    return __init__


def _patched_get_shard_iterator(original: Callable[..., Any]) -> Callable[..., Any]:
    # moto looks the shard up through the table, which only knows its newest stream; an old stream ARN must
    # keep reading its own records.
    def get_shard_iterator(self: Any, arn: str, shard_id: str, shard_iterator_type: str,
                           sequence_number: str | None = None) -> Any:
        from moto.dynamodbstreams.models import ShardIterator

        shard = shard_for(arn)
        if shard is None or shard.id != shard_id:
            return original(self, arn, shard_id, shard_iterator_type, sequence_number)
        iterator = ShardIterator(self, shard, shard_iterator_type, sequence_number)
        self.shard_iterators[iterator.arn] = iterator
        return iterator
    return get_shard_iterator


def _patched_describe_stream(original: Callable[..., Any]) -> Callable[..., Any]:
    # moto describes only a table's newest stream and fails (KeyError, a 500) once it is disabled; AWS keeps
    # describing a disabled or replaced stream, as DISABLED, for as long as its records are retained.
    def describe_stream(self: Any, arn: str) -> dict[str, Any]:
        shard = shard_for(arn)
        if shard is None:
            return original(self, arn)
        table = shard.table
        return {
            "StreamArn": arn,
            "StreamLabel": shard.sandbox_label,
            "StreamStatus": "ENABLED" if is_current(shard) else "DISABLED",
            "StreamViewType": shard.sandbox_view_type,
            "CreationRequestDateTime": shard.created_on,
            "TableName": table.name,
            "KeySchema": table.schema,
            "Shards": [shard.to_json()],
        }
    return describe_stream


def install(app: Any = None) -> None:
    """Patch moto's StreamShard (idempotent) and clear the registry on sandbox reset."""
    global _installed
    from moto.dynamodb.models import table as table_module
    from moto.dynamodbstreams import models as streams_module

    if not _installed:
        shard_cls = table_module.StreamShard
        shard_cls.__init__ = _patched_init(shard_cls.__init__)  # type: ignore[method-assign]
        shard_cls.add = _add  # type: ignore[method-assign]
        shard_cls.get = _get  # type: ignore[method-assign]
        iterator_cls = streams_module.ShardIterator
        iterator_cls.__init__ = _patched_iterator_init(iterator_cls.__init__)  # type: ignore[method-assign]
        backend_cls = streams_module.DynamoDBStreamsBackend
        backend_cls.get_shard_iterator = _patched_get_shard_iterator(  # type: ignore[method-assign]
            backend_cls.get_shard_iterator)
        backend_cls.describe_stream = _patched_describe_stream(backend_cls.describe_stream)  # type: ignore[method-assign]
        _installed = True
    if app is not None:
        app.on_reset(reset)


def reset() -> None:
    with changed:
        _shards.clear()
        changed.notify_all()
