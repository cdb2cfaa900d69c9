# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plain YAML values <-> DynamoDB typed attribute values (``{"S": ...}``, ``{"N": ...}``, ...).

Plain -> typed:

- str -> S; bool -> BOOL; None -> NULL; int, float, Decimal -> N (a decimal string; NaN/Infinity are refused);
  list/tuple -> L; dict -> M.
- YAML has no sets or binary, so those are spelled as single-key mappings: ``{"$ss": [str, ...]}``,
  ``{"$ns": [number, ...]}``, ``{"$bs": [base64, ...]}``, ``{"$b": base64}``. ``{"$n": "12.3400000000000000001"}``
  writes a number whose precision a YAML float would lose.
- Typed values are returned the way boto3's low-level client takes them (binary as ``bytes``).

Typed -> plain (accepts B/BS as bytes from boto3 or as base64 text from stream records):

- N -> int when integral, float when the float prints back to the same decimal, else ``{"$n": "<digits>"}``.
- SS -> ``{"$ss": sorted}``, NS -> ``{"$ns": sorted by value}``, BS -> ``{"$bs": sorted base64}``,
  B -> ``{"$b": base64}``; so plain -> typed -> plain is stable.

``normalize_typed`` puts a typed value in a canonical form (numbers as canonical decimals, sets sorted) so two
typed items compare equal exactly when DynamoDB would store the same thing: DynamoDB itself returns ``1E+2`` as
``100`` and sets in any order.

Every error is a ``DynamoDBTypeError`` (a ValueError) whose message starts with the attribute path, e.g.
``item.tags[2]: ...``.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import math

SET_MARKERS = ("$ss", "$ns", "$bs")
MARKERS = ("$ss", "$ns", "$bs", "$b", "$n")
TYPE_NAMES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")

# DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 .. 9.9999999999999999999999999999999999999E+125.
_MAX_DIGITS = 38
_MIN_ADJUSTED, _MAX_ADJUSTED = -130, 125
_WIDE = decimal.Context(prec=200)


class DynamoDBTypeError(ValueError):
    def __init__(self, path, message):
        super().__init__("%s: %s" % (path, message))
        self.path = path


def _child(path, key):
    return "%s.%s" % (path, key) if path else str(key)


# --- numbers --------------------------------------------------------------------------------------------------

def _to_decimal(value, path):
    if isinstance(value, bool):
        raise DynamoDBTypeError(path, "expected a number, got a boolean")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise DynamoDBTypeError(path, "%r is not a number DynamoDB can store (numbers must be finite)"
                                        % (value,))
            # repr() is the shortest string that reads back as the same float, so 0.1 stays "0.1".
            number = decimal.Decimal(repr(value))
        elif isinstance(value, (int, decimal.Decimal)):
            number = decimal.Decimal(value)
        elif isinstance(value, str):
            number = decimal.Decimal(value.strip())
        else:
            raise DynamoDBTypeError(path, "expected a number, got %s" % type(value).__name__)
    except decimal.InvalidOperation:
        raise DynamoDBTypeError(path, "%r is not a number" % (value,)) from None
    if not number.is_finite():
        raise DynamoDBTypeError(path, "%r is not a number DynamoDB can store (numbers must be finite)" % (value,))
    # Refuse what DynamoDB would refuse instead of rounding silently (trailing zeros are not significant).
    reduced = number.normalize(_WIDE)
    if not reduced.is_zero() and (len(reduced.as_tuple().digits) > _MAX_DIGITS
                                  or not _MIN_ADJUSTED <= reduced.adjusted() <= _MAX_ADJUSTED):
        raise DynamoDBTypeError(path, "%r is outside DynamoDB's number range (at most 38 significant digits, "
                                      "magnitude 1E-130 to 1E+126)" % (value,))
    return number


def _canonical_number(number):
    """A decimal string without exponent or trailing zeros: what DynamoDB returns for the same number."""
    number = number.normalize(_WIDE)
    if number.is_zero():
        return "0"
    return format(number, "f")


def number_to_plain(text, path="value"):
    number = _to_decimal(text, path)
    canonical = _canonical_number(number)
    if number == number.to_integral_value():
        return int(number)
    as_float = float(number)
    if decimal.Decimal(repr(as_float)) == number:
        return as_float
    return {"$n": canonical}


# --- binary ---------------------------------------------------------------------------------------------------

def _b64decode(value, path):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise DynamoDBTypeError(path, "expected base64 text, got %s" % type(value).__name__)
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise DynamoDBTypeError(path, "%r is not valid base64" % (value[:40],)) from None


def _b64encode(raw):
    return base64.b64encode(raw).decode("ascii")


# --- plain -> typed -------------------------------------------------------------------------------------------

def to_typed(value, path="value"):
    """Convert one plain value to a DynamoDB attribute value (boto3 client form)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, float, decimal.Decimal)):
        return {"N": _canonical_number(_to_decimal(value, path))}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if isinstance(value, (list, tuple)):
        return {"L": [to_typed(v, "%s[%d]" % (path, i)) for i, v in enumerate(value)]}
    if isinstance(value, (set, frozenset)):
        return _python_set(value, path)
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if isinstance(key, str) and key.startswith("$"):
                return _marker(key, inner, path)
        return {"M": _map_to_typed(value, path)}
    raise DynamoDBTypeError(path, "cannot store a %s in DynamoDB (use a string, number, boolean, null, list, "
                                  "mapping, or {$ss|$ns|$bs|$b|$n: ...})" % type(value).__name__)


def _map_to_typed(mapping, path):
    out = {}
    for key, inner in mapping.items():
        if not isinstance(key, str) or not key:
            raise DynamoDBTypeError(_child(path, key), "attribute names must be non-empty strings, got %r" % (key,))
        out[key] = to_typed(inner, _child(path, key))
    return out


def item_to_typed(item, path="item"):
    """Convert a plain mapping of attributes (an item, a key, expression values) to typed form."""
    if not isinstance(item, dict):
        raise DynamoDBTypeError(path, "expected a mapping of attribute names to values, got %s"
                                % type(item).__name__)
    return _map_to_typed(item, path)


def _marker(key, inner, path):
    here = _child(path, key)
    if key == "$b":
        return {"B": _b64decode(inner, here)}
    if key == "$n":
        if isinstance(inner, bool) or not isinstance(inner, (str, int, float, decimal.Decimal)):
            raise DynamoDBTypeError(here, "expected a number or a numeric string")
        return {"N": _canonical_number(_to_decimal(inner, here))}
    if key in SET_MARKERS:
        if not isinstance(inner, (list, tuple, set, frozenset)):
            raise DynamoDBTypeError(here, "expected a list, got %s" % type(inner).__name__)
        if not inner:
            raise DynamoDBTypeError(here, "DynamoDB does not store empty sets; remove the attribute instead")
        members = list(inner)
        if key == "$ss":
            for i, member in enumerate(members):
                if not isinstance(member, str):
                    raise DynamoDBTypeError("%s[%d]" % (here, i), "string set members must be strings, got %s"
                                            % type(member).__name__)
            return {"SS": sorted(set(members))}
        if key == "$ns":
            numbers = {}
            for i, member in enumerate(members):
                number = _to_decimal(member, "%s[%d]" % (here, i))
                numbers[_canonical_number(number)] = number
            return {"NS": [k for k, _number in sorted(numbers.items(), key=lambda kv: kv[1])]}
        raws = {_b64decode(member, "%s[%d]" % (here, i)) for i, member in enumerate(members)}
        return {"BS": sorted(raws)}
    raise DynamoDBTypeError(here, "unknown type marker %r; allowed: %s" % (key, ", ".join(MARKERS)))


def _python_set(value, path):
    members = list(value)
    if not members:
        raise DynamoDBTypeError(path, "DynamoDB does not store empty sets; remove the attribute instead")
    if all(isinstance(m, str) for m in members):
        return _marker("$ss", members, path)
    if all(isinstance(m, (int, float, decimal.Decimal)) and not isinstance(m, bool) for m in members):
        return _marker("$ns", members, path)
    if all(isinstance(m, (bytes, bytearray)) for m in members):
        return {"BS": sorted(bytes(m) for m in members)}
    raise DynamoDBTypeError(path, "a set must hold only strings, only numbers or only bytes")


# --- typed -> plain -------------------------------------------------------------------------------------------

def from_typed(av, path="value"):
    """Convert one DynamoDB attribute value to plain form."""
    if not isinstance(av, dict) or len(av) != 1:
        raise DynamoDBTypeError(path, "expected an attribute value with exactly one of %s, got %r"
                                % ("/".join(TYPE_NAMES), av))
    (kind, value), = av.items()
    if kind == "S":
        return value
    if kind == "N":
        return number_to_plain(value, path)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "B":
        return {"$b": _b64encode(_b64decode(value, path))}
    if kind == "L":
        return [from_typed(v, "%s[%d]" % (path, i)) for i, v in enumerate(value)]
    if kind == "M":
        return {k: from_typed(v, _child(path, k)) for k, v in value.items()}
    if kind == "SS":
        return {"$ss": sorted(set(value))}
    if kind == "NS":
        numbers = sorted({_canonical_number(_to_decimal(v, path)): _to_decimal(v, path) for v in value}.items(),
                         key=lambda kv: kv[1])
        return {"$ns": [_set_number(text) for text, _number in numbers]}
    if kind == "BS":
        return {"$bs": sorted(_b64encode(_b64decode(v, path)) for v in value)}
    raise DynamoDBTypeError(path, "unknown attribute type %r; expected one of %s" % (kind, ", ".join(TYPE_NAMES)))


def _set_number(text):
    plain = number_to_plain(text)
    # Inside $ns a high-precision number stays a string: the marker already says it is a number.
    return plain["$n"] if isinstance(plain, dict) else plain


def item_from_typed(item, path="item"):
    if item is None:
        return None
    return {k: from_typed(v, _child(path, k)) for k, v in item.items()}


# --- comparison -----------------------------------------------------------------------------------------------

def normalize_typed(av):
    """Canonical form of a typed value: numbers canonical, sets sorted and de-duplicated, binary as bytes."""
    (kind, value), = av.items()
    if kind == "N":
        return {"N": _canonical_number(decimal.Decimal(value))}
    if kind == "NS":
        numbers = {_canonical_number(decimal.Decimal(v)): decimal.Decimal(v) for v in value}
        return {"NS": [k for k, _number in sorted(numbers.items(), key=lambda kv: kv[1])]}
    if kind == "SS":
        return {"SS": sorted(set(value))}
    if kind == "B":
        return {"B": _b64decode(value, "B")}
    if kind == "BS":
        return {"BS": sorted({_b64decode(v, "BS") for v in value})}
    if kind == "L":
        return {"L": [normalize_typed(v) for v in value]}
    if kind == "M":
        return {"M": normalize_item(value)}
    if kind == "BOOL":
        return {"BOOL": bool(value)}
    if kind == "NULL":
        return {"NULL": True}
    return {kind: value}


def normalize_item(item):
    if item is None:
        return None
    return {k: normalize_typed(v) for k, v in item.items()}


def items_equal(a, b):
    """True when two typed items (or None) hold the same data as DynamoDB sees it."""
    return normalize_item(a) == normalize_item(b)
