# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading a table's stream settings and tags, and waiting for the table to settle."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import parse_stream_arn
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import TABLE
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import Deadline
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import poll_until

VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
# The walkthrough's choice (DynamoDB has no default: StreamViewType is required when a stream is enabled).
DEFAULT_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


def describe_table(client, table_name):
    """DescribeTable's Table, or None when the table does not exist."""
    try:
        return client.describe_table(aws_retry=True, TableName=table_name)["Table"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


def stream_facts(table, table_name=None):
    """The stream part of DescribeTable, in this collection's return shape (None values when disabled/missing).

    After a stream is disabled DynamoDB still reports LatestStreamArn (the old stream stays readable for 24 h),
    so "enabled" comes from StreamSpecification alone and a disabled stream reports no ARN.
    """
    table = table or {}
    spec = table.get("StreamSpecification") or {}
    enabled = bool(spec.get("StreamEnabled"))
    return {
        "table_name": table.get("TableName", table_name),
        "table_arn": table.get("TableArn"),
        "stream_enabled": enabled,
        "stream_arn": table.get("LatestStreamArn") if enabled else None,
        "stream_label": table.get("LatestStreamLabel") if enabled else None,
        "view_type": spec.get("StreamViewType") if enabled else None,
    }


def key_schema(table):
    """The table's primary key as [{attribute_name, key_type, attribute_type}], partition key first.

    DescribeTable gives the key's names and its attributes' types in two lists; callers that build an item key
    need both (a probe item keyed on the real schema cannot disagree with the table).
    """
    table = table or {}
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    keys = sorted(table.get("KeySchema", []), key=lambda k: k["KeyType"] != "HASH")
    return [{"attribute_name": k["AttributeName"], "key_type": k["KeyType"], "attribute_type": types.get(k["AttributeName"])}
            for k in keys]


def wait_table_active(client, table_name, timeout):
    """UpdateTable returns while the table is UPDATING and rejects the next change until ACTIVE
    (ResourceInUseException).

    Returns the table (None if it disappeared while waiting).
    """
    return poll_until(lambda: describe_table(client, table_name), timeout,
                      lambda t: t is None or t.get("TableStatus") == "ACTIVE", TABLE,
                      "table %s to be ACTIVE" % table_name, lambda t: (t or {}).get("TableStatus", "missing"))


def wait_stream_enabled(streams_client, stream_arn, timeout):
    """A new stream is ENABLING for a moment; wait so a trigger created next reads a live stream."""
    def read():
        return streams_client.describe_stream(aws_retry=True, StreamArn=stream_arn)["StreamDescription"]

    return poll_until(read, timeout, lambda d: d.get("StreamStatus") in ("ENABLED", "DISABLED"), TABLE,
                      "stream %s to be ENABLED" % stream_arn, lambda d: (d or {}).get("StreamStatus"))


def wait_stream_readable(client, streams_client, stream_arn, timeout):
    """The table of *stream_arn* ACTIVE, then the stream ENABLED, both within *timeout* seconds.

    CreateTable answers the stream's ARN while the table is still CREATING, and a new stream is ENABLING for a
    moment after that; an event source mapping created next must read a live stream. Returns the table as the last
    DescribeTable saw it (None when it was deleted meanwhile, and then the stream is not read).
    """
    deadline = Deadline(timeout)
    table = wait_table_active(client, parse_stream_arn(stream_arn)[1], timeout)
    if table is not None:
        wait_stream_enabled(streams_client, stream_arn, deadline.remaining())
    return table


def table_tags(client, table_arn):
    """All tags of the table as a dict (ListTagsOfResource pages with NextToken and has no paginator)."""
    tags, token = {}, None
    while True:
        kwargs = {"ResourceArn": table_arn}
        if token:
            kwargs["NextToken"] = token
        page = client.list_tags_of_resource(aws_retry=True, **kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        token = page.get("NextToken")
        if not token:
            return tags


def wait_table_gone(client, table_name, timeout):
    """DeleteTable answers DELETING; a table of the same name cannot be created until the old one is gone."""
    return poll_until(lambda: describe_table(client, table_name), timeout, lambda t: t is None, TABLE,
                      "table %s to be deleted" % table_name, lambda t: (t or {}).get("TableStatus", "missing"))
