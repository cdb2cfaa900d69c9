# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A function's deployment package as an S3 object: where it goes, whether it is there, upload and clean-up.

Lambda takes a package over its direct-upload limit only from S3 (CreateFunction / UpdateFunctionCode with
S3Bucket and S3Key, a bucket in the function's region):
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html,
https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCode.html

The key is content-addressed (``<prefix><function>/<sha256 hex>.zip``), so a package already uploaded is found by
name (HeadObject) and never uploaded twice, and ownership is an object tag set in the same PutObject, so a clean-up
deletes only what this collection uploaded; the bucket itself is never created or deleted.
"""

from __future__ import annotations

import base64
import urllib.parse

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import owns


def object_key(prefix, function_name, sha256):
    """The object key of a package whose base64 SHA-256 (Lambda's CodeSha256) is sha256."""
    return "%s%s/%s.zip" % (prefix or "", function_name, base64.b64decode(sha256).hex())


def function_prefix(prefix, function_name):
    """The key prefix under which every package of the function lives."""
    return "%s%s/" % (prefix or "", function_name)


def code_fields(bucket, key):
    """CreateFunction's Code, UpdateFunctionCode's arguments."""
    return {"S3Bucket": bucket, "S3Key": key}


def find_object(s3, bucket, key, sha256, size):
    """True when bucket holds key with these bytes: its SHA-256 checksum is sha256 (or, when S3 reports none, its
    length is size)."""
    try:
        head = s3.head_object(aws_retry=True, Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except is_boto3_error_code(["404", "NoSuchKey", "NotFound"]):
        return False
    # An object put under the same name without a checksum is trusted by its length only: Lambda reports the
    # CodeSha256 of what it read, which the module compares afterwards.
    checksum = head.get("ChecksumSHA256")
    return checksum == sha256 if checksum else head.get("ContentLength") == size


def upload(s3, bucket, key, data, sha256, owner_tag):
    """PutObject with the owner tag and a SHA-256 checksum (S3 refuses the bytes if they arrive altered)."""
    s3.put_object(aws_retry=True, Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256",
                  ChecksumSHA256=sha256, ContentType="application/zip",
                  Tagging=urllib.parse.urlencode(sorted(owner_tag.items())))


def owned_objects(s3, bucket, prefix, owner_tag):
    """(keys under prefix that carry owner_tag, keys that do not); a missing bucket holds none."""
    owned, others = [], []
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    while True:
        try:
            page = s3.list_objects_v2(aws_retry=True, **kwargs)
        except is_boto3_error_code("NoSuchBucket"):
            return owned, others
        for item in page.get("Contents", []):
            try:
                tags = s3.get_object_tagging(aws_retry=True, Bucket=bucket, Key=item["Key"]).get("TagSet", [])
            except is_boto3_error_code(["NoSuchKey", "404"]):
                continue  # deleted meanwhile
            carried = {t.get("Key"): t.get("Value") for t in tags}
            (owned if owns(carried, owner_tag) else others).append(item["Key"])
        if not page.get("IsTruncated"):
            return owned, others
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def delete_object(s3, bucket, key):
    s3.delete_object(aws_retry=True, Bucket=bucket, Key=key)
