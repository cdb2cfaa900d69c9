"""One asynchronous poller per event source mapping: reads its DynamoDB stream in order and invokes the function.

What Lambda's stream pollers do, in one process:
- every shard is read by its own thread, and a child shard only once its parent is read to its end (closed and
  every record handled), which keeps the order per partition key across rollovers and splits;
- the starting position: TRIM_HORIZON = every retained record; LATEST = records after the mapping was created,
  and with `poller_start_delay` S > 0 only records written S seconds after creation (the AWS start-up gap);
- Disabled (or Creating/Enabling/Disabling) delivers nothing and keeps the checkpoint, so re-enabling resumes;
- FilterCriteria is applied before batching; records that match no filter are dropped and checkpointed;
- a batch is sent when BatchSize records are there, when MaximumBatchingWindowInSeconds has passed since the
  first waiting record, or at once when the window is 0; the invoke payload stays under Lambda's 6 MB limit;
- on a function error the batch is retried (with backoff), bisected first if BisectBatchOnFunctionError; with
  ReportBatchItemFailures the records before the lowest reported SequenceNumber are checkpointed and the rest
  retried; MaximumRetryAttempts and MaximumRecordAgeInSeconds end the retries, and the batch's description goes
  to DestinationConfig.OnFailure (SQS or SNS) in the format AWS documents for stream sources;
- records of a shard are handled strictly in order, which keeps per-key order (ParallelizationFactor is
  accepted but the sandbox runs one batch at a time per shard, so it changes throughput only on AWS);
- the execution role must allow DescribeStream, GetShardIterator and GetRecords on the stream (evaluated by
  `sandbox.iam_eval`); while it does not, nothing is read and LastProcessingResult says which call was denied.

Not emulated: TumblingWindowInSeconds is stored and reported but the poller does not pass window state to the
function.

The poller sleeps on `streams.changed` (notified on each new record and each mapping change), never spins.
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from . import event_patterns, streams

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_IDLE_WAIT = 5.0  # upper bound on one sleep, so a missed notification costs at most this much
_BACKOFF_START, _BACKOFF_MAX = 0.05, 1.0

Invoke = Callable[..., Any]


def _default_invoke(account_id: str, region: str, function: str, payload: bytes) -> Any:
    from .lambda_runtime import invoke

    return invoke(account_id, region, function, payload)


def _iso(epoch: float, millis: bool = False) -> str:
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    if millis:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Failed:
    """Outcome of one invocation that did not fully succeed."""

    def __init__(self, result: Any, first_failed: int = 0, partial: bool = False):
        self.result = result
        self.first_failed = first_failed  # index in the batch of the first record to retry
        self.partial = partial


class _Cursor:
    """One shard's reader state: the SequenceNumber of its last record handled (the checkpoint)."""

    def __init__(self, shard: Any, position: int):
        self.shard = shard
        self.position = position


class Poller:
    def __init__(self, mapping: Any, *, invoke: Invoke | None = None,
                 send_failure: Callable[[Any, str, dict[str, Any]], None] | None = None):
        self.mapping = mapping
        self._invoke = invoke or _default_invoke
        self._send_failure = send_failure or send_to_destination
        self._stop = threading.Event()
        self.start_position: int | None = None  # read records after this SequenceNumber (every shard)
        self.cursors: dict[str, _Cursor] = {}  # shard ID -> reader state, for shards being read or done
        self.finished: set[str] = set()  # shards read to their end: their children may start
        self.invocations = 0
        self._workers: dict[str, threading.Thread] = {}
        self._count_lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"esm-poller-{mapping.uuid[:8]}", daemon=True)

    # --- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> "Poller":
        self.thread.start()
        return self

    def stop(self, wait: bool = True, timeout: float = 5.0) -> None:
        self._stop.set()
        streams.notify()
        if wait:
            self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or self.mapping.is_deleted()

    def _sleep(self, deadline: float | None) -> None:
        """Wait on the stream condition (caller holds it) until *deadline*, a change, or the idle bound."""
        timeout = _IDLE_WAIT if deadline is None else max(0.0, min(_IDLE_WAIT, deadline - time.time()))
        change = self.mapping.next_change()
        if change is not None:
            timeout = max(0.0, min(timeout, change - time.time()))
        if not self._stop.is_set():
            streams.changed.wait(timeout)

    # --- main loop --------------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # a poller bug must not kill the sandbox, but it must be visible
            print(f"sandbox poller {self.mapping.uuid} crashed:\n{traceback.format_exc()}", file=sys.stderr,
                  flush=True)

    def _loop(self) -> None:
        m = self.mapping
        stream = streams.shard_for(m.event_source_arn)
        if stream is None:
            return
        if m.starting_position == "TRIM_HORIZON":
            start = -1
        else:
            start = m.start_seq
            if m.start_delay > 0:
                # AWS's poller starts some time after creation; what is written meanwhile is never seen.
                begin = m.created + m.start_delay
                with streams.changed:
                    while not self.stopped and time.time() < begin:
                        streams.changed.wait(min(_IDLE_WAIT, begin - time.time()))
                start = streams.last_sequence(stream)
        # One sequence counter per stream: "after this number" is the same starting point in every shard.
        self.start_position = start
        while not self.stopped:
            with streams.changed:
                shards = streams.shards_of(stream)
                known = {s.id for s in shards}
                for shard in shards:
                    if shard.id in self._workers:
                        continue
                    if shard.parent_id in known and shard.parent_id not in self.finished:
                        continue  # parent first (a trimmed parent no longer holds anything)
                    cursor = self.cursors[shard.id] = _Cursor(shard, start)
                    worker = threading.Thread(target=self._run_shard, args=(cursor,), daemon=True,
                                              name=f"esm-poller-{m.uuid[:8]}-{shard.id[-8:]}")
                    self._workers[shard.id] = worker
                    worker.start()
                self._sleep(None)
        for worker in list(self._workers.values()):
            worker.join(5)

    def _run_shard(self, cursor: _Cursor) -> None:
        try:
            self._read_shard(cursor)
        except Exception:  # as in _run: visible, not fatal
            print(f"sandbox poller {self.mapping.uuid} shard {cursor.shard.id} crashed:\n{traceback.format_exc()}",
                  file=sys.stderr, flush=True)

    def _read_shard(self, cursor: _Cursor) -> None:
        while not self.stopped:
            if streams.shard_exhausted(cursor.shard, cursor.position):
                with streams.changed:
                    self.finished.add(cursor.shard.id)
                    streams.changed.notify_all()
                return
            batch, scanned_to = self._next_batch(cursor)
            if batch is None:
                continue
            if not batch:
                cursor.position = scanned_to
                continue
            if self._process(cursor, batch):
                cursor.position = max(cursor.position, scanned_to)

    def _access_problem(self) -> str | None:
        """LastProcessingResult when the execution role cannot read the stream, else None."""
        from . import iam_eval

        m = self.mapping
        try:
            return iam_eval.stream_read_problem(m.account, m.region, m.function_arn, m.event_source_arn)
        except Exception:  # an evaluation bug must not stop the shard's reader; it reads as if allowed
            print(f"sandbox poller {m.uuid}: IAM evaluation failed:\n{traceback.format_exc()}", file=sys.stderr,
                  flush=True)
            return None

    def _next_batch(self, cursor: _Cursor) -> tuple[list[Any] | None, int]:
        """Collect the next batch; ([], seq) when only filtered-out records were found, (None, _) when idle."""
        m = self.mapping
        shard = cursor.shard
        first_seen: float | None = None
        with streams.changed:
            while not self.stopped:
                if not m.is_active():
                    self._sleep(None)
                    return None, cursor.position
                problem = self._access_problem()
                if problem:
                    # The role lost (or never had) the stream permissions: read nothing, say why, look again
                    # when something changes (IAM writes notify the stream condition).
                    m.record_result(problem)
                    self._sleep(None)
                    return None, cursor.position
                batch_size, window = m.batch_size, m.maximum_batching_window
                kept: list[Any] = []
                size = 0
                scanned_to = cursor.position
                for rec in streams.records_after(shard, cursor.position, max(batch_size, 1000)):
                    if m.filters and not event_patterns.matches_any(m.filters, rec.for_lambda(m.event_source_arn)):
                        scanned_to = rec.seq
                        continue
                    rec_size = len(json.dumps(rec.record)) + len(m.event_source_arn) + 40
                    if kept and size + rec_size > MAX_PAYLOAD_BYTES:
                        return kept, scanned_to
                    kept.append(rec)
                    size += rec_size
                    scanned_to = rec.seq
                    if len(kept) >= batch_size:
                        return kept, scanned_to
                if not kept:
                    if scanned_to != cursor.position:
                        return [], scanned_to
                    if shard.closed:
                        return None, cursor.position  # read to its end: the caller lets the children start
                    self._sleep(None)
                    return None, cursor.position
                if window <= 0 or shard.closed:
                    return kept, scanned_to
                first_seen = first_seen or time.time()
                deadline = first_seen + window
                if time.time() >= deadline:
                    return kept, scanned_to
                self._sleep(deadline)
        return None, cursor.position

    # --- delivery ---------------------------------------------------------------------------------------------
    def _process(self, cursor: _Cursor, batch: list[Any], retries: int = 0) -> bool:
        """Deliver *batch* until it succeeds or is given up; False when interrupted (disabled, deleted)."""
        m = self.mapping
        shard = cursor.shard
        last_result = None
        while batch:
            if self.stopped or not m.is_active():
                return False
            if m.maximum_record_age != -1:
                oldest_allowed = time.time() - m.maximum_record_age
                expired = [r for r in batch if r.created < oldest_allowed]
                if expired:
                    # Records are in order, so the expired ones are a prefix of the batch.
                    self._give_up(shard, expired, "RecordAgeExceeded", last_result, retries)
                    cursor.position = max(cursor.position, expired[-1].seq)
                    batch = batch[len(expired):]
                    continue
            failed = self._invoke_once(batch)
            if failed is None:
                cursor.position = max(cursor.position, batch[-1].seq)
                return True
            last_result = failed.result
            if failed.partial:
                if failed.first_failed:
                    cursor.position = max(cursor.position, batch[failed.first_failed - 1].seq)
                batch = batch[failed.first_failed:]
            elif m.bisect and len(batch) > 1:
                # Splitting does not count as a retry (Lambda developer guide, stream error handling).
                half = len(batch) // 2
                return self._process(cursor, batch[:half], retries) and self._process(cursor, batch[half:], retries)
            retries += 1
            if m.maximum_retry_attempts != -1 and retries > m.maximum_retry_attempts:
                self._give_up(shard, batch, "RetryAttemptsExhausted", failed.result, retries)
                cursor.position = max(cursor.position, batch[-1].seq)
                return True
            with streams.changed:
                backoff = min(_BACKOFF_MAX, _BACKOFF_START * 2 ** (retries - 1))
                end = time.time() + backoff
                while not self.stopped and time.time() < end:
                    streams.changed.wait(end - time.time())
        return True

    def _invoke_once(self, batch: list[Any]) -> _Failed | None:
        m = self.mapping
        payload = json.dumps({"Records": [r.for_lambda(m.event_source_arn) for r in batch]}).encode()
        with self._count_lock:
            self.invocations += 1
        try:
            result = self._invoke(m.account, m.region, m.function_arn, payload)
        except Exception as exc:  # unknown function, runtime failure: the whole batch failed
            m.record_result("PROBLEM: Function call failed")
            print(f"sandbox poller {m.uuid}: invoke failed: {exc}", file=sys.stderr, flush=True)
            return _Failed(None)
        if result.function_error or not 200 <= int(result.status_code) < 300:
            m.record_result("PROBLEM: Function call failed")
            return _Failed(result)
        if "ReportBatchItemFailures" in m.function_response_types:
            index = _first_reported_failure(result.payload, batch)
            if index == 0:
                m.record_result("PROBLEM: Function call failed")
                return _Failed(result)
            if index is not None:
                m.record_result("OK")
                return _Failed(result, first_failed=index, partial=True)
        m.record_result("OK")
        return None

    def _give_up(self, shard: Any, batch: list[Any], condition: str, result: Any, invocations: int) -> None:
        m = self.mapping
        if not m.on_failure:
            return
        record = failure_record(m, shard, batch, condition, result, invocations)
        try:
            self._send_failure(m, m.on_failure, record)
        except Exception as exc:  # a missing queue loses the record, as on AWS; say so in the sandbox log
            print(f"sandbox poller {m.uuid}: on-failure destination {m.on_failure}: {exc}", file=sys.stderr,
                  flush=True)


def _first_reported_failure(payload: bytes, batch: list[Any]) -> int | None:
    """Index of the lowest reported failure; 0 (whole batch) when the report is malformed, None when clean."""
    try:
        body = json.loads(payload or b"null")
    except ValueError:
        return None
    if not isinstance(body, dict) or not body.get("batchItemFailures"):
        return None
    failures = body["batchItemFailures"]
    index_of = {r.record["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
    indexes = []
    if not isinstance(failures, list):
        return 0
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident not in index_of:
            # Lambda treats a null, empty or unknown identifier as a failure of the whole batch.
            return 0
        indexes.append(index_of[ident])
    return min(indexes)


def failure_record(m: Any, shard: Any, batch: list[Any], condition: str, result: Any,
                   invocations: int) -> dict[str, Any]:
    """The on-failure record Lambda sends for stream sources (developer guide, "stream invocation records")."""
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": getattr(result, "request_id", None) or "",
            "functionArn": m.function_arn,
            "condition": condition,
            "approximateInvokeCount": invocations,
        },
        "version": "1.0",
        "timestamp": _iso(time.time(), millis=True),
        "DDBStreamBatchInfo": {
            "shardId": shard.id,
            "startSequenceNumber": batch[0].record["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1].record["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(batch[0].created),
            "approximateArrivalOfLastRecord": _iso(batch[-1].created),
            "batchSize": len(batch),
            "streamArn": m.event_source_arn,
        },
    }
    if result is not None:
        record["responseContext"] = {
            "statusCode": int(result.status_code),
            "executedVersion": getattr(result, "executed_version", "$LATEST"),
            "functionError": result.function_error or "",
        }
    return record


def send_to_destination(m: Any, destination: str, record: dict[str, Any]) -> None:
    """Deliver an on-failure record through moto's SQS or SNS backend, in-process."""
    parts = destination.split(":")
    service, region, account, name = parts[2], parts[3], parts[4], parts[5]
    body = json.dumps(record)
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        sqs_backends[account][region].send_message(name, body)
    elif service == "sns":
        from moto.sns.models import sns_backends

        sns_backends[account][region].publish(body, arn=destination)
    else:
        raise ValueError(f"unsupported destination {destination}")
