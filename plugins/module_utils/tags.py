# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Tags and ownership: the one home of the tag rules and of the tags that say this collection made a resource.

Tag rules (one rule set for the four services this collection tags):

- a key is 1-128 characters, a value 0-256 characters, both strings;
- a key must not start with ``aws:`` in any case: AWS reserves the prefix for its own tags;
- letters, digits, white space and ``_ . : / = + - @`` only;
- at most 50 user tags per resource.

Sources: the botocore models of IAM (tagKeyType / tagValueType), Lambda (TagKey / TagValue) and CloudWatch Logs
(TagKey / TagValue) all give the pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`` and the lengths above;
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html#id_tags_rules_creating and
https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html say the same in words.

Per-service differences: DynamoDB's model has the lengths but no pattern, and its guide
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TaggingRestrictions.html) lists the special
characters ``+ - = . _ : /`` without ``@``; ``service="dynamodb"`` applies that narrower set. Python's ``re`` has
no ``\\p{...}`` classes, so letters, digits and white space are judged with str.isalpha / isnumeric / isspace,
which agree with the Unicode categories L, N and Z for every character a tag is likely to hold.

Ownership: everything the collection creates carries OWNER_TAG (``streamops:managed-by`` =
``streamops.dynamodb_lambda``); teardown deletes only what carries it (owns()). A table the collection created
also carries TABLE_CREATED_BY_TAG, a stream it enabled is recorded on the table with STREAM_ENABLED_BY_TAG.
"""

from __future__ import annotations

COLLECTION = "streamops.dynamodb_lambda"
MANAGED_BY_TAG = "streamops:managed-by"
TABLE_CREATED_BY_TAG = "streamops:table-created-by"
STREAM_ENABLED_BY_TAG = "streamops:stream-enabled-by"
# The tag (key: value) that marks a resource as this collection's; the default of every module's owner_tag.
OWNER_TAG = {MANAGED_BY_TAG: COLLECTION}
# On a table: the collection created it (teardown may delete it) / enabled its stream (teardown may disable it).
TABLE_OWNER_TAG = {TABLE_CREATED_BY_TAG: COLLECTION}
STREAM_OWNER_TAG = {STREAM_ENABLED_BY_TAG: COLLECTION}

MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
MAX_TAGS = 50
RESERVED_PREFIX = "aws:"
_SPECIAL = {
    None: "_.:/=+-@",
    "dynamodb": "_.:/=+-",
}
# The rule in words, for messages and documentation.
RULE = ("keys 1-128 and values 0-256 characters: letters, digits, spaces and _ . : / = + - @; keys must not start "
        "with aws:")


def _bad_characters(text, service):
    special = _SPECIAL.get(service, _SPECIAL[None])
    return sorted({c for c in text if not (c.isalpha() or c.isnumeric() or c.isspace() or c in special)})


def tag_problems(option, tags, service=None):
    """Every problem with *tags* (a mapping), each message starting with *option*; empty list when valid.

    service: None for IAM, Lambda and CloudWatch Logs (the same rules), "dynamodb" for table tags."""
    if tags is None:
        return []
    if not isinstance(tags, dict):
        return ["%s: must be a mapping of tag keys to values (got %s)" % (option, type(tags).__name__)]
    problems = []
    if len(tags) > MAX_TAGS:
        problems.append("%s: at most %d tags per resource (got %d)" % (option, MAX_TAGS, len(tags)))
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
            problems.append("%s: tag key %r must be 1-%d characters" % (option, key, MAX_KEY_LENGTH))
            continue
        if key.lower().startswith(RESERVED_PREFIX):
            problems.append("%s: tag key %r uses the prefix aws:, which AWS reserves for its own tags" % (option, key))
        bad = _bad_characters(key, service)
        if bad:
            problems.append("%s: tag key %r has characters tags do not allow (%s); %s"
                            % (option, key, " ".join(bad), RULE))
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append("%s: the value of tag %r must be a string (got %s)" % (option, key, type(value).__name__))
            continue
        value = str(value)
        if len(value) > MAX_VALUE_LENGTH:
            problems.append("%s: the value of tag %r is %d characters; at most %d"
                            % (option, key, len(value), MAX_VALUE_LENGTH))
        bad = _bad_characters(value, service)
        if bad:
            problems.append("%s: the value of tag %r has characters tags do not allow (%s); %s"
                            % (option, key, " ".join(bad), RULE))
    return problems


def owner_tag_problems(option, owner_tag):
    """Problems with an owner_tag option: one or more tags, each with a non-empty value."""
    if not isinstance(owner_tag, dict) or not owner_tag:
        return ["%s: must be one or more tags (key: value) that mark what this collection owns (got %r)"
                % (option, owner_tag)]
    problems = tag_problems(option, owner_tag)
    problems.extend("%s: the value of tag %r must not be empty" % (option, key)
                    for key, value in owner_tag.items() if value in (None, ""))
    return problems


def stringified(tags):
    """Tags as AWS stores them: every key and value a string (YAML may have made a value a number)."""
    return {str(key): str(value) for key, value in (tags or {}).items()}


def with_owner(tags, owner_tag=None):
    """*tags* plus the owner tag (which wins over a user tag of the same key)."""
    return dict(stringified(tags), **(OWNER_TAG if owner_tag is None else owner_tag))


def missing_owner_tags(tags, owner_tag=None):
    """The ``key=value`` pairs of the owner tag that *tags* lacks (empty when the resource is owned)."""
    owner_tag = OWNER_TAG if owner_tag is None else owner_tag
    tags = tags or {}
    return ["%s=%s" % (key, value) for key, value in sorted(owner_tag.items()) if tags.get(key) != value]


def owns(tags, owner_tag=None):
    """True when a resource's *tags* carry every tag of *owner_tag* (default OWNER_TAG) with its value."""
    return not missing_owner_tags(tags, owner_tag)


def not_owned_reason(what, tags, owner_tag=None):
    """None when owned, else why the resource is left alone, in words (``role r does not carry tag k=v``)."""
    missing = missing_owner_tags(tags, owner_tag)
    if not missing:
        return None
    return "%s does not carry tag %s" % (what, ", ".join(missing))
