"""DynamoDB stream records as AWS writes them, kept for pollers and direct readers.

moto's `StreamShard.add` invokes mapped Lambda functions synchronously inside PutItem and then empties the
shard, so a stream reader sees nothing and a failing function fails the write. Here a shard only appends;
the poller (`sandbox.poller`) reads it asynchronously, like Lambda's pollers read a real stream.

Record shape follows what AWS sends (SPEC.md §3): eventVersion "1.1", awsRegion = the table's region,
ApproximateCreationDateTime in epoch seconds, increasing SequenceNumber strings, images per view type.
Records older than the stream's 24 h retention are skipped by every reader (trim emulated by timestamp).

Each stream is registered under its ARN, so a mapping on an old stream keeps reading that stream after the
table's stream was disabled or re-created (it gets no new records, and its shards are reported closed, as on AWS).

Shards: a stream has `stream_shards` shards (knob, read when the stream is created), each owning a slice of the
MD5 hash space of the partition key, so every record of one key goes to one open shard. DynamoDB closes shards and
opens children (about every four hours, and under load); `shard_rollover_seconds` / `shard_rollover_records`
(knobs, read live, 0 = never) close a shard after that age or that many records. A closed shard gets an
EndingSequenceNumber and one child with its hash range, or two children splitting it while the stream has fewer
open shards than `stream_shards`. Sequence numbers come from one counter per stream, so they increase within each
shard and a child's records all come after its parent's. moto's StreamShard object stands for the whole stream.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import os
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
# The knobs (stream_shards, shard_rollover_seconds, shard_rollover_records); app.config once installed into the
# sandbox, replaceable in in-process tests. None = the defaults: one shard, no rollover.
config: Any = None

HASH_SPACE = 1 << 128


def _knob(name: str, default: float) -> float:
    return float(getattr(config, name, default)) if config is not None else default


class Shard:
    """One shard: its records (in sequence order), its hash-key range and its place in the lineage."""

    def __init__(self, stream: Any, parent_id: str | None, low: int, high: int):
        self.stream = stream
        self.id = f"shardId-{int(time.time() * 1000):020d}-{os.urandom(4).hex()}"
        self.parent_id = parent_id
        self.low, self.high = low, high  # partition-key hashes in [low, high)
        self.start_seq = stream.sandbox_next_seq
        self.end_seq: int | None = None
        self.opened = time.monotonic()
        self.records: list[StreamRecord] = []

    @property
    def closed(self) -> bool:
        return self.end_seq is not None

    def to_json(self) -> dict[str, Any]:
        seq_range = {"StartingSequenceNumber": str(self.start_seq)}
        if self.end_seq is not None:
            seq_range["EndingSequenceNumber"] = str(self.end_seq)
        out: dict[str, Any] = {"ShardId": self.id, "SequenceNumberRange": seq_range}
        if self.parent_id:
            out["ParentShardId"] = self.parent_id
        return out


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
    """Sequence number of the stream's newest record (or one less than the first one if it has none)."""
    with changed:
        return shard.sandbox_next_seq - 1


def shards_of(stream: Any) -> list[Shard]:
    """The stream's shards, oldest first (parents before their children); closes them once it is disabled."""
    with changed:
        _close_if_disabled(stream)
        roll_due(stream)
        return list(stream.sandbox_shards)


def shard_exhausted(shard: Shard, after_seq: int) -> bool:
    """True when *shard* is closed and holds no retained record after *after_seq*: its reader may move on."""
    with changed:
        return shard.closed and not records_after(shard, after_seq, 1)


def records_after(shard: Any, after_seq: int, limit: int) -> list[StreamRecord]:
    """Up to *limit* retained records with SequenceNumber > after_seq, oldest first, of a Shard or a stream."""
    horizon = clock() - RETENTION_SECONDS
    with changed:
        if isinstance(shard, Shard):
            items, start = shard.records, bisect.bisect_right(shard.records, after_seq, key=lambda r: r.seq)
        else:
            items, start = shard.items, max(0, after_seq + 1 - shard.starting_sequence_number)
        out: list[StreamRecord] = []
        for rec in items[start:]:
            if rec.created < horizon:
                continue
            out.append(rec)
            if len(out) >= limit:
                break
        return out


def notify() -> None:
    with changed:
        changed.notify_all()


def _key_hash(typed_key: dict[str, Any]) -> int:
    """Where a partition key falls in the hash space (MD5 of its typed JSON, like DynamoDB's internal hash)."""
    return int.from_bytes(hashlib.md5(json.dumps(typed_key, sort_keys=True).encode()).digest(), "big")


def _open_shard_for(stream: Any, key_hash: int) -> Shard:
    for shard in reversed(stream.sandbox_shards):
        if not shard.closed and shard.low <= key_hash < shard.high:
            return shard
    raise AssertionError(f"no open shard of {stream.sandbox_stream_arn} covers hash {key_hash}")


def _roll(stream: Any, shard: Shard) -> None:
    """Close *shard* and open its children (caller holds `changed`)."""
    shard.end_seq = max(shard.start_seq, stream.sandbox_next_seq - 1)
    still_open = sum(1 for s in stream.sandbox_shards if not s.closed)
    wanted = int(_knob("stream_shards", 1))
    if still_open + 1 < wanted and shard.high - shard.low >= 2:
        middle = (shard.low + shard.high) // 2
        stream.sandbox_shards.append(Shard(stream, shard.id, shard.low, middle))
        stream.sandbox_shards.append(Shard(stream, shard.id, middle, shard.high))
    else:
        stream.sandbox_shards.append(Shard(stream, shard.id, shard.low, shard.high))


def roll_due(stream: Any) -> None:
    """Close the open shards that reached `shard_rollover_seconds` (checked lazily: on writes and reads)."""
    seconds = _knob("shard_rollover_seconds", 0.0)
    if seconds <= 0 or not is_current(stream):
        return
    with changed:
        now = time.monotonic()
        for shard in [s for s in stream.sandbox_shards if not s.closed and now - s.opened >= seconds]:
            _roll(stream, shard)
            changed.notify_all()


def _close_if_disabled(stream: Any) -> None:
    # A disabled or replaced stream gets no more records; AWS reports its shards closed.
    if is_current(stream):
        return
    for shard in stream.sandbox_shards:
        if not shard.closed:
            shard.end_seq = max(shard.start_seq, stream.sandbox_next_seq - 1)


# --- moto patches ---------------------------------------------------------------------------------------------

def _patched_init(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Any, account_id: str, table: Any) -> None:
        original(self, account_id, table)
        self.sandbox_next_seq = self.starting_sequence_number
        self.sandbox_stream_arn = f"{table.table_arn}/stream/{table.latest_stream_label}"
        self.sandbox_label = table.latest_stream_label
        self.sandbox_view_type = (table.stream_specification or {}).get("StreamViewType")
        count = max(1, int(_knob("stream_shards", 1)))
        bounds = [HASH_SPACE * i // count for i in range(count + 1)]
        self.sandbox_shards = [Shard(self, None, bounds[i], bounds[i + 1]) for i in range(count)]
        self.id = self.sandbox_shards[0].id
        with changed:
            _shards[self.sandbox_stream_arn] = self
    return __init__


def _add(self: Any, old: Any, new: Any) -> None:
    # A disabled or replaced stream gets no records (moto would raise KeyError on the missing view type).
    if not is_current(self):
        return
    view_type = self.table.stream_specification["StreamViewType"]
    with changed:
        roll_due(self)
        created = clock()
        seq = self.sandbox_next_seq
        self.sandbox_next_seq += 1
        record = build_record(self.table, view_type, old, new, seq, created)
        shard = _open_shard_for(self, _key_hash(record["dynamodb"]["Keys"][self.table.hash_key_attr]))
        rec = StreamRecord(seq, created, record)
        self.items.append(rec)
        shard.records.append(rec)
        limit = int(_knob("shard_rollover_records", 0))
        if limit > 0 and len(shard.records) >= limit:
            _roll(self, shard)
        changed.notify_all()


def _get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
    return [rec.to_json() for rec in records_after(self, int(start) - 1, quantity)]


def _patched_iterator_init(original: Callable[..., None]) -> Callable[..., None]:
    # botocore sends SequenceNumber as a string; moto adds 1 to it for AFTER_SEQUENCE_NUMBER.
    def __init__(self: Any, backend: Any, shard: Any, iterator_type: str, sequence_number: Any = None) -> None:
        original(self, backend, shard, iterator_type, None if sequence_number is None else int(sequence_number))
    return __init__


class ShardIterator:
    """A GetShardIterator answer for one shard; GetRecords through it reads that shard only.

    Once the shard is closed and read to its end, GetRecords returns no NextShardIterator: the reader moves on
    to the child shards (DynamoDB developer guide, "Reading and processing a stream").
    """

    def __init__(self, backend: Any, shard: Shard, after_seq: int):
        self.backend, self.shard, self.after_seq = backend, shard, after_seq
        self.arn = f"{shard.stream.sandbox_stream_arn}|1|{base64.b64encode(os.urandom(96)).decode()}"
        backend.shard_iterators[self.arn] = self

    def get(self, limit: int = 1000) -> dict[str, Any]:
        with changed:
            shards_of(self.shard.stream)  # lets a due rollover or a disabled stream close the shard
            recs = records_after(self.shard, self.after_seq, int(limit))
            after = recs[-1].seq if recs else self.after_seq
            out: dict[str, Any] = {"Records": [r.to_json() for r in recs]}
            if not shard_exhausted(self.shard, after):
                out["NextShardIterator"] = ShardIterator(self.backend, self.shard, after).arn
        return out


def _not_found(message: str) -> Exception:
    from moto.dynamodb.exceptions import ResourceNotFoundException

    return ResourceNotFoundException(message)


def _patched_get_shard_iterator(original: Callable[..., Any]) -> Callable[..., Any]:
    # moto looks the shard up through the table, which only knows its newest stream and one shard; an old
    # stream ARN must keep reading its own records, and each shard its own.
    def get_shard_iterator(self: Any, arn: str, shard_id: str, shard_iterator_type: str,
                           sequence_number: Any = None) -> Any:
        stream = shard_for(arn)
        if stream is None:
            return original(self, arn, shard_id, shard_iterator_type, sequence_number)
        shard = next((s for s in shards_of(stream) if s.id == shard_id), None)
        if shard is None:
            raise _not_found(f"Requested resource not found: Shard: {shard_id} in Stream: {arn} not found")
        if shard_iterator_type == "TRIM_HORIZON":
            after = shard.start_seq - 1
        elif shard_iterator_type == "LATEST":
            after = last_sequence(stream) if shard.end_seq is None else shard.end_seq
        elif shard_iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER") and sequence_number is not None:
            after = int(sequence_number) - (1 if shard_iterator_type == "AT_SEQUENCE_NUMBER" else 0)
        else:
            from moto.dynamodb.exceptions import MockValidationException

            raise MockValidationException(f"Invalid ShardIteratorType {shard_iterator_type!r} or missing "
                                          "SequenceNumber")
        return ShardIterator(self, shard, after)
    return get_shard_iterator


def _patched_describe_stream(original: Callable[..., Any]) -> Callable[..., Any]:
    # moto describes only a table's newest stream and fails (KeyError, a 500) once it is disabled; AWS keeps
    # describing a disabled or replaced stream, as DISABLED, for as long as its records are retained.
    def describe_stream(self: Any, arn: str) -> dict[str, Any]:
        shard = shard_for(arn)
        if shard is None:
            return original(self, arn)
        table = shard.table
        shards = shards_of(shard)
        return {
            "StreamArn": arn,
            "StreamLabel": shard.sandbox_label,
            "StreamStatus": "ENABLED" if is_current(shard) else "DISABLED",
            "StreamViewType": shard.sandbox_view_type,
            "CreationRequestDateTime": shard.created_on,
            "TableName": table.name,
            "KeySchema": table.schema,
            "Shards": [s.to_json() for s in shards],
        }
    return describe_stream


def _paged_describe_stream(self: Any) -> Any:
    """DescribeStream with Limit (1-100, default 100) and ExclusiveStartShardId, which moto ignores."""
    from moto.core.responses import ActionResult

    description = self.backend.describe_stream(self._get_param("StreamArn"))
    shards = description["Shards"]
    start_after = self._get_param("ExclusiveStartShardId")
    if start_after:
        ids = [s["ShardId"] for s in shards]
        shards = shards[ids.index(start_after) + 1:] if start_after in ids else []
    limit = int(self._get_param("Limit") or 100)
    page = shards[:limit]
    description = {**description, "Shards": page}
    if len(shards) > limit:
        description["LastEvaluatedShardId"] = page[-1]["ShardId"]
    return ActionResult({"StreamDescription": description})


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
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

        DynamoDBStreamsHandler.describe_stream = _paged_describe_stream  # type: ignore[method-assign]
        _installed = True
    if app is not None:
        global config
        config = app.config
        app.on_reset(reset)


def reset() -> None:
    with changed:
        _shards.clear()
        changed.notify_all()
