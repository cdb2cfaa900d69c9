"""Process DynamoDB stream records: the walkthrough's "DynamoDB process stream (Python)" blueprint, made checkable.

The blueprint prints each record's eventID, eventName and dynamodb payload. This handler logs the same facts as
one JSON line per record (images converted from DynamoDB's typed JSON to plain JSON, so log searches and the
verify step can match on values), one summary line per batch, and reports failed records through
`batchItemFailures` so a trigger with ReportBatchItemFailures retries from the failed record only.

Standard library only: the package is zipped as-is and must run on a bare Lambda Python runtime.
"""

from __future__ import annotations

import json
import os
from decimal import Context, Decimal, InvalidOperation
from typing import Any

POISON_ENV = "STREAMOPS_POISON_ATTRIBUTE"
EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
_WIDE = Context(prec=200)


class RecordError(Exception):
    """A record this handler cannot (or, for a poison record, must not) process."""


def _number(text: str) -> Any:
    # Same rule as plugins/module_utils/dynamodb_types.number_to_plain (this package must stay self-contained):
    # int when integral, float when the float prints back to the same decimal, else {"$n": exact digits}.
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise RecordError(f"not a DynamoDB number: {text!r}") from None
    if not number.is_finite():
        raise RecordError(f"not a DynamoDB number: {text!r}")
    if number == number.to_integral_value():
        return int(number)
    as_float = float(number)
    if Decimal(repr(as_float)) == number:
        return as_float
    # A wide context: the default 28-digit one would round DynamoDB's 38-digit numbers.
    return {"$n": format(number.normalize(_WIDE), "f")}


def plain(value: dict[str, Any]) -> Any:
    """One DynamoDB typed value -> plain JSON.

    Sets and binary keep a marker (`$ss`, `$ns`, `$bs`, `$b`), the same plain form the collection's
    dynamodb_item module accepts, so what the verify step writes is exactly what appears in the log.
    """
    if not isinstance(value, dict) or len(value) != 1:
        raise RecordError(f"not a DynamoDB typed value: {value!r}")
    (tag, inner), = value.items()
    if tag == "S":
        return inner
    if tag == "N":
        return _number(inner)
    if tag == "BOOL":
        return bool(inner)
    if tag == "NULL":
        return None
    if tag == "M":
        return image(inner)
    if tag == "L":
        return [plain(v) for v in inner]
    # Sets sorted, as dynamodb_types does: DynamoDB returns set members in any order.
    if tag == "SS":
        return {"$ss": sorted(inner)}
    if tag == "NS":
        numbers = [(_number(v), v) for v in inner]
        return {"$ns": [n for n, _raw in sorted(numbers, key=lambda pair: Decimal(pair[1].strip()))]}
    if tag == "BS":
        return {"$bs": sorted(inner)}
    if tag == "B":
        return {"$b": inner}
    raise RecordError(f"unknown DynamoDB type {tag!r}")


def image(typed: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(typed, dict):
        raise RecordError(f"not a DynamoDB item: {typed!r}")
    return {name: plain(v) for name, v in typed.items()}


def changed_attributes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(name for name in set(old) | set(new) if old.get(name, _MISSING) != new.get(name, _MISSING))


_MISSING = object()


def _is_poison(new_image: dict[str, Any] | None, attribute: str | None) -> bool:
    return bool(attribute) and new_image is not None and new_image.get(attribute) is True


def describe(record: dict[str, Any], poison_attribute: str | None = None) -> dict[str, Any]:
    """The log line for one record; raises RecordError for a malformed or poison record."""
    if not isinstance(record, dict):
        raise RecordError("record is not an object")
    event_name = record.get("eventName")
    ddb = record.get("dynamodb")
    if event_name not in EVENT_NAMES or not isinstance(ddb, dict) or "SequenceNumber" not in ddb:
        raise RecordError(f"malformed stream record (eventName={event_name!r})")
    line: dict[str, Any] = {
        "kind": "stream_record",
        "eventName": event_name,
        "eventID": record.get("eventID"),
        "keys": image(ddb.get("Keys", {})),
        "sequenceNumber": ddb["SequenceNumber"],
        "eventSourceARN": record.get("eventSourceARN"),
    }
    # Only the images the stream's view type put on the record: absence is information (KEYS_ONLY, INSERT, ...).
    if "OldImage" in ddb:
        line["old_image"] = image(ddb["OldImage"])
    if "NewImage" in ddb:
        line["new_image"] = image(ddb["NewImage"])
    if event_name == "MODIFY" and "old_image" in line and "new_image" in line:
        line["changed"] = changed_attributes(line["old_image"], line["new_image"])
    if _is_poison(line.get("new_image"), poison_attribute):
        raise RecordError(f"poison record: {poison_attribute} is true")
    return line


def _sequence_number(record: Any) -> str:
    try:
        return str(record["dynamodb"]["SequenceNumber"])
    except (KeyError, TypeError):
        # Lambda treats an empty identifier as "the whole batch failed", the only honest answer when the
        # failed record cannot be named.
        return ""


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("event has no Records list; is this function invoked by a DynamoDB stream?")
    poison_attribute = os.environ.get(POISON_ENV) or None
    counts = {name: 0 for name in EVENT_NAMES}
    failures: list[dict[str, str]] = []
    for record in records:
        try:
            line = describe(record, poison_attribute)
        except Exception:  # noqa: BLE001 - any per-record failure (malformed, poison, a bug) must not lose the batch
            # Lambda resumes the shard from the lowest failed sequence number, so every later record is
            # delivered again anyway; stopping here keeps each record logged once (AWS's documented pattern).
            failures.append({"itemIdentifier": _sequence_number(record)})
            break
        print(json.dumps(line, sort_keys=True))
        counts[line["eventName"]] += 1
    summary = {"kind": "batch_summary", "records": len(records), **counts, "failures": len(failures)}
    print(json.dumps(summary, sort_keys=True))
    return {"batchItemFailures": failures}
