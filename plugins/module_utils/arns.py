# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ARN parsing and the naming rules of the resources this collection touches (no AWS calls).

Every parser raises ValueError with a message that says what was expected, so modules can prefix the option name.
"""

from __future__ import annotations

import re
from collections import namedtuple

Arn = namedtuple("Arn", "partition service region account_id resource")

_PARTITION = re.compile(r"^aws[a-zA-Z-]*$")
# Lambda's own rules (CreateFunction): 1-64 letters, digits, hyphens, underscores.
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# A qualifier is $LATEST, a version number, or an alias (1-128 chars, not all digits).
_QUALIFIER = re.compile(r"^(\$LATEST|[0-9]+|[a-zA-Z0-9_-]{1,128})$")
_TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
# The same rules in words, for messages that state the rule rather than print the pattern.
FUNCTION_NAME_RULE = "1-64 characters: letters, digits, '-' and '_'"
TABLE_NAME_RULE = "3-255 characters: letters, digits, '_', '-' and '.'"


def _name_problem(value, pattern, what, rule):
    """None when *value* matches *pattern*; else a message that quotes the value and states *rule* in words."""
    if isinstance(value, str) and pattern.match(value):
        return None
    if not isinstance(value, str):
        return "must be %s (%s), got %s %r" % (what, rule, type(value).__name__, value)
    return "must be %s (%s), got %r (%d characters)" % (what, rule, value, len(value))


def function_name_problem(name):
    """What is wrong with a plain Lambda function name (no ARN, no qualifier), or None."""
    return _name_problem(name, _FUNCTION_NAME, "a Lambda function name", FUNCTION_NAME_RULE)


def table_name_problem(name):
    """What is wrong with a DynamoDB table name, or None."""
    return _name_problem(name, _TABLE_NAME, "a DynamoDB table name", TABLE_NAME_RULE)


def parse_arn(text):
    """Split ``arn:partition:service:region:account:resource``; raise ValueError if *text* is not an ARN."""
    if not isinstance(text, str):
        raise ValueError("expected an ARN string, got %r" % (text,))
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not _PARTITION.match(parts[1]) or not parts[2] or not parts[5]:
        raise ValueError("%r is not an ARN (expected arn:<partition>:<service>:<region>:<account>:<resource>)"
                         % (text,))
    return Arn(*parts[1:])


def is_arn(text):
    return isinstance(text, str) and text.startswith("arn:")


def require_service(text, services):
    """Parse *text* and check its service is one of *services*; return the Arn."""
    arn = parse_arn(text)
    if arn.service not in services:
        raise ValueError("%r is a %s ARN; expected one of: %s" % (text, arn.service, ", ".join(services)))
    return arn


def validate_table_name(name):
    if not isinstance(name, str) or not _TABLE_NAME.match(name):
        raise ValueError("%r is not a valid DynamoDB table name (%s)" % (name, TABLE_NAME_RULE))
    return name


# --- DynamoDB streams -----------------------------------------------------------------------------------------

def parse_stream_arn(text):
    """Return (Arn, table_name, stream_label) for ``arn:...:dynamodb:<r>:<a>:table/<name>/stream/<label>``."""
    arn = parse_arn(text)
    match = re.match(r"^table/([^/]+)/stream/(.+)$", arn.resource)
    if arn.service != "dynamodb" or not match:
        raise ValueError("%r is not a DynamoDB stream ARN (expected arn:aws:dynamodb:<region>:<account>:"
                         "table/<table>/stream/<label>)" % (text,))
    return arn, match.group(1), match.group(2)


def table_arn_beside(arn_text, table_name):
    """The ARN table *table_name* has (or would have) in the partition, region and account of *arn_text*.

    Mappings can outlive their table; this names the table so they can still be found by its stream ARNs.
    """
    return arn_beside(arn_text, "dynamodb", "table/" + table_name)


def table_arn_of_stream(stream_arn):
    return stream_arn.split("/stream/", 1)[0]


def is_stream_of_table(stream_arn, table_arn):
    """True when *stream_arn* is any stream (current or an older one) of the table *table_arn*."""
    return isinstance(stream_arn, str) and stream_arn.startswith(table_arn + "/stream/")


# --- Lambda functions -----------------------------------------------------------------------------------------

FunctionRef = namedtuple("FunctionRef", "name qualifier arn")


def parse_function_ref(text):
    """Parse a function given as ``name``, ``name:qualifier``, or a function ARN (qualified or not).

    Returns FunctionRef(name, qualifier or None, the unqualified ARN or None when only a name was given).
    """
    if not isinstance(text, str) or not text:
        raise ValueError("expected a function name, name:qualifier or function ARN, got %r" % (text,))
    if is_arn(text):
        arn = parse_arn(text)
        pieces = arn.resource.split(":")
        if arn.service != "lambda" or pieces[0] != "function" or len(pieces) not in (2, 3):
            raise ValueError("%r is not a Lambda function ARN (expected arn:aws:lambda:<region>:<account>:"
                             "function:<name>[:<qualifier>])" % (text,))
        name, qualifier = pieces[1], (pieces[2] if len(pieces) == 3 else None)
        base = build_arn(arn.partition, "lambda", arn.region, arn.account_id, "function:" + name)
    else:
        pieces = text.split(":")
        if len(pieces) > 2:
            raise ValueError("%r is neither a function name, name:qualifier, nor a function ARN" % (text,))
        name, qualifier = pieces[0], (pieces[1] if len(pieces) == 2 else None)
        base = None
    if not _FUNCTION_NAME.match(name):
        raise ValueError("function name %r is invalid: %s only" % (name, FUNCTION_NAME_RULE))
    if qualifier is not None and not _QUALIFIER.match(qualifier):
        raise ValueError("function qualifier %r is invalid: $LATEST, a version number or an alias name" % (qualifier,))
    return FunctionRef(name, qualifier, base)


def unqualified_function_arn(function_arn):
    """``arn:...:function:name:qual`` -> ``arn:...:function:name``."""
    return parse_function_ref(function_arn).arn


def qualify(function_arn, qualifier):
    base = unqualified_function_arn(function_arn)
    return base + ":" + qualifier if qualifier else base


def same_function(arn_a, arn_b):
    """Mappings made on ``$LATEST`` report the unqualified ARN; treat the two spellings as one function."""
    def norm(arn):
        return arn[: -len(":$LATEST")] if arn and arn.endswith(":$LATEST") else arn
    return norm(arn_a) == norm(arn_b)


# --- the checks of the options that name a function, a table or a stream ----------------------------------------

def reference_problems(params, required=()):
    """``option: problem`` for each of function_name, table_name and stream_arn that *params* has and that is
    given (or in *required*) and does not parse; empty list when all are valid."""
    parsers = (("function_name", parse_function_ref), ("table_name", validate_table_name),
               ("stream_arn", parse_stream_arn))
    problems = []
    for option, parse in parsers:
        if option in params and (params[option] is not None or option in required):
            try:
                parse(params[option])
            except ValueError as exc:
                problems.append("%s: %s" % (option, exc))
    return problems


# --- building ARNs from one another -----------------------------------------------------------------------------

# IAM ARNs have no region (arn:aws:iam::<account>:role/<name>).
GLOBAL_SERVICES = ("iam",)
# arn:<partition>:iam::<account>:role/[path/]<name>
ROLE_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*):iam::(\d{12}):role/.+$")


def build_arn(partition, service, region, account_id, resource):
    """``arn:<partition>:<service>:<region>:<account>:<resource>``; the region is left empty for IAM."""
    return "arn:%s:%s:%s:%s:%s" % (partition, service, "" if service in GLOBAL_SERVICES else region, account_id,
                                   resource)


def arn_beside(arn_text, service, resource, region=None):
    """The ARN of *resource* of *service* in the partition, account and (unless *region* is given) region of
    *arn_text*: a function's log group from its ARN, a role from the stream it reads, without an STS call."""
    arn = parse_arn(arn_text)
    return build_arn(arn.partition, service, region or arn.region, arn.account_id, resource)


def log_group_arn_beside(arn_text, group_name):
    """The ARN of log group *group_name* in the partition, region and account of *arn_text* (no ``:*``)."""
    return arn_beside(arn_text, "logs", "log-group:" + group_name)


# --- check mode placeholders ------------------------------------------------------------------------------------

# In check mode a resource that would be created has no ARN yet, and the next roles need one to plan with (a
# policy scoped to the stream, a trigger on the function). These stand in for it, marked so they can never be
# taken for a real one: no AWS region is called "check-mode", no stream label "check-mode-placeholder", and
# 000000000000 is no account (the marker when the account is not known either).
PLACEHOLDER_REGION = "check-mode"
PLACEHOLDER_ACCOUNT = "000000000000"
PLACEHOLDER_STREAM_LABEL = "check-mode-placeholder"


def placeholder_table_arn(table_name, partition="aws"):
    return build_arn(partition, "dynamodb", PLACEHOLDER_REGION, PLACEHOLDER_ACCOUNT, "table/" + table_name)


def placeholder_stream_arn(table_arn):
    """The stream a table (real or a placeholder) would have once its stream is enabled."""
    return table_arn + "/stream/" + PLACEHOLDER_STREAM_LABEL


def placeholder_function_arn(function_name, beside):
    """A function that would be created, in the partition and account of *beside* (its role's ARN)."""
    return arn_beside(beside, "lambda", "function:" + function_name, region=PLACEHOLDER_REGION)


def is_placeholder(arn_text):
    """True for an ARN made by the placeholder_* functions (or built from one)."""
    if not is_arn(arn_text):
        return False
    try:
        arn = parse_arn(arn_text)
    except ValueError:
        return False
    return (arn.region == PLACEHOLDER_REGION or arn.account_id == PLACEHOLDER_ACCOUNT
            or arn.resource.endswith("/stream/" + PLACEHOLDER_STREAM_LABEL))
