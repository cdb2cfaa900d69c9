"""EventBridge event-pattern matching, as Lambda applies FilterCriteria to stream records.

moto's matcher (`moto/events/models.py` EventPattern) was checked and not reused: its parser validates only
the outer shape, so an unknown operator such as {"prefixx": "a"} or a malformed {"numeric": [">"]} is accepted
and then matches every event (checked with moto 5.2.5). Lambda rejects such patterns at
CreateEventSourceMapping, so the sandbox must too, and matcher and validator must agree on one grammar.

Semantics implemented (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html):
- a pattern is a JSON object; each leaf is a non-empty array of alternatives; fields are ANDed, alternatives ORed;
- alternatives: exact values (string, number, bool, null), {"prefix": s | {"equals-ignore-case": s}},
  {"suffix": s | {"equals-ignore-case": s}}, {"equals-ignore-case": s}, {"anything-but": value | [values] |
  {"prefix": s} | {"suffix": s} | {"equals-ignore-case": s | [s]}}, {"numeric": [op, n, (op, n)]},
  {"exists": bool}, {"wildcard": s}, {"cidr": s};
- "$or": [pattern, ...] at any object level;
- an array in the event matches when any element matches; exists/anything-but/numeric need a leaf value.
Numeric matching applies to JSON numbers only: DynamoDB's {"N": "5"} is a string, so it matches as a string.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from typing import Any

MAX_PATTERN_LENGTH = 4096

_MISSING = object()
_NUMERIC_OPS = {"<": operator.lt, "<=": operator.le, "=": operator.eq, ">=": operator.ge, ">": operator.gt}
_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "wildcard", "cidr"}


class PatternError(ValueError):
    """The pattern is not valid JSON or not a valid event pattern; the message says where."""


# --- parsing and validation -----------------------------------------------------------------------------------

def parse(text: str) -> dict[str, Any]:
    if not isinstance(text, str):
        raise PatternError("pattern must be a JSON string")
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        pattern = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PatternError(f"pattern is not valid JSON: {exc.msg} at character {exc.pos}") from None
    validate(pattern)
    return pattern


def validate(pattern: Any, path: str = "") -> None:
    if not isinstance(pattern, dict):
        raise PatternError(f"{path or 'pattern'} must be a JSON object")
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise PatternError(f"{where} must be an array of at least two patterns")
            for i, sub in enumerate(value):
                validate(sub, f"{where}[{i}]")
        elif isinstance(value, dict):
            validate(value, where)
        elif isinstance(value, list):
            if not value:
                raise PatternError(f"{where}: empty arrays are not allowed")
            for alt in value:
                _validate_alternative(alt, where)
        else:
            raise PatternError(f"{where} must be an object or an array")


def _validate_alternative(alt: Any, where: str) -> None:
    if alt is None or isinstance(alt, (str, bool, int, float)):
        return
    if isinstance(alt, list):
        raise PatternError(f"{where}: nested arrays are not allowed")
    if len(alt) != 1:
        raise PatternError(f"{where}: a matcher object must have exactly one operator")
    (op, arg), = alt.items()
    if op not in _OPERATORS:
        raise PatternError(f"{where}: unknown operator {op!r}")
    if op in ("prefix", "suffix"):
        if isinstance(arg, dict):
            if list(arg) != ["equals-ignore-case"] or not isinstance(arg["equals-ignore-case"], str):
                raise PatternError(f"{where}: {op} takes a string or {{\"equals-ignore-case\": string}}")
        elif not isinstance(arg, str):
            raise PatternError(f"{where}: {op} takes a string")
    elif op == "equals-ignore-case":
        if not isinstance(arg, str):
            raise PatternError(f"{where}: equals-ignore-case takes a string")
    elif op == "exists":
        if not isinstance(arg, bool):
            raise PatternError(f"{where}: exists takes true or false")
    elif op == "wildcard":
        if not isinstance(arg, str):
            raise PatternError(f"{where}: wildcard takes a string")
    elif op == "cidr":
        try:
            ipaddress.ip_network(arg, strict=False)
        except (TypeError, ValueError):
            raise PatternError(f"{where}: cidr takes a network such as 10.0.0.0/24") from None
    elif op == "numeric":
        if not isinstance(arg, list) or len(arg) not in (2, 4):
            raise PatternError(f"{where}: numeric takes [op, number] or [op, number, op, number]")
        for i in range(0, len(arg), 2):
            if arg[i] not in _NUMERIC_OPS or isinstance(arg[i + 1], bool) or not isinstance(arg[i + 1], (int, float)):
                raise PatternError(f"{where}: numeric takes operators {sorted(_NUMERIC_OPS)} followed by numbers")
        if len(arg) == 4 and (arg[0] not in (">", ">=") or arg[2] not in ("<", "<=")):
            raise PatternError(f"{where}: a numeric range is a lower bound (> or >=) then an upper bound (< or <=)")
    elif op == "anything-but":
        if isinstance(arg, list):
            if not arg or any(isinstance(v, (dict, list)) for v in arg):
                raise PatternError(f"{where}: anything-but takes a non-empty list of values")
        elif isinstance(arg, dict):
            if len(arg) != 1 or next(iter(arg)) not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
                raise PatternError(f"{where}: anything-but takes a value, a list, or prefix/suffix/"
                                   "equals-ignore-case/wildcard")
            (inner_op, inner), = arg.items()
            if not (isinstance(inner, str) or (inner_op == "equals-ignore-case" and isinstance(inner, list)
                                                and all(isinstance(v, str) for v in inner))):
                raise PatternError(f"{where}: anything-but {inner_op} takes a string")


# --- matching -------------------------------------------------------------------------------------------------

def matches(pattern: dict[str, Any], event: Any) -> bool:
    """True when *event* (a decoded JSON value) matches the validated *pattern*."""
    if not isinstance(event, dict):
        return False
    for key, value in pattern.items():
        if key == "$or":
            if not any(matches(sub, event) for sub in value):
                return False
            continue
        field = event.get(key, _MISSING)
        if isinstance(value, dict):
            if not _match_object(value, field):
                return False
        elif not _match_leaf(value, field):
            return False
    return True


def matches_any(patterns: list[dict[str, Any]], event: Any) -> bool:
    """Lambda ORs the filters of one mapping; no filters means every record passes."""
    return not patterns or any(matches(p, event) for p in patterns)


def _match_object(pattern: dict[str, Any], field: Any) -> bool:
    if isinstance(field, list):
        return any(_match_object(pattern, element) for element in field)
    if not isinstance(field, dict):
        # A nested pattern against a missing or scalar field can still be satisfied by {"exists": false} leaves.
        return _only_absence(pattern)
    return matches(pattern, field)


def _only_absence(pattern: dict[str, Any]) -> bool:
    for key, value in pattern.items():
        if key == "$or":
            if not any(_only_absence(sub) for sub in value):
                return False
        elif isinstance(value, dict):
            if not _only_absence(value):
                return False
        elif not any(isinstance(alt, dict) and alt.get("exists") is False for alt in value):
            return False
    return True


def _match_leaf(alternatives: list[Any], field: Any) -> bool:
    values = field if isinstance(field, list) else [field]
    for alt in alternatives:
        if isinstance(alt, dict) and "exists" in alt:
            present = field is not _MISSING and not isinstance(field, dict)
            if present == alt["exists"]:
                return True
            continue
        if field is _MISSING or isinstance(field, dict):
            continue
        if any(_match_value(alt, v) for v in values):
            return True
    return False


def _match_value(alt: Any, value: Any) -> bool:
    if not isinstance(alt, dict):
        return _same(alt, value)
    (op, arg), = alt.items()
    if op == "prefix":
        return isinstance(value, str) and (value.lower().startswith(arg["equals-ignore-case"].lower())
                                           if isinstance(arg, dict) else value.startswith(arg))
    if op == "suffix":
        return isinstance(value, str) and (value.lower().endswith(arg["equals-ignore-case"].lower())
                                           if isinstance(arg, dict) else value.endswith(arg))
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == arg.lower()
    if op == "wildcard":
        return isinstance(value, str) and _wildcard(arg, value)
    if op == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(arg, strict=False)
        except (TypeError, ValueError):
            return False
    if op == "numeric":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return all(_NUMERIC_OPS[arg[i]](value, arg[i + 1]) for i in range(0, len(arg), 2))
    if op == "anything-but":
        if value is None:
            return False
        if isinstance(arg, list):
            return not any(_same(a, value) for a in arg)
        if isinstance(arg, dict):
            (inner_op, inner), = arg.items()
            if not isinstance(value, str):
                return True
            if inner_op == "equals-ignore-case":
                options = inner if isinstance(inner, list) else [inner]
                return value.lower() not in {o.lower() for o in options}
            return not _match_value({inner_op: inner}, value)
        return not _same(arg, value)
    return False


def _same(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(expected, bool) and isinstance(value, bool) and expected == value
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _wildcard(pattern: str, value: str) -> bool:
    regex = "".join(".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


__all__ = ["MAX_PATTERN_LENGTH", "PatternError", "matches", "matches_any", "parse", "validate"]
