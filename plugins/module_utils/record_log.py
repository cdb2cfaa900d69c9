# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The record-log wrapper: one compact JSON line per DynamoDB stream record, then the function's own handler.

This file has two lives. In the collection it is a module_utils file: ``package.py`` reads its source and, when a
function is packaged with the record log on, adds it to the archive as ``streamops_record_log.py``. In Lambda it is
that file: the function's Handler is ``streamops_record_log.lambda_handler`` and the handler the user wrote is in
the environment variable ``STREAMOPS_HANDLER``. For every record of a stream batch it writes one line to stdout

    {"eventID": ..., "eventName": "MODIFY", "keys": {typed}, "kind": "streamops_record",
     "new_image": {typed}, "old_image": {typed}, "changed": [...], "sequenceNumber": ...}

(an image only when the record carries it, reduced to the key attributes and ``streamops_probe``, the attribute
stream_verify's probe sets; values in DynamoDB's typed JSON as the record has them; ``changed`` on MODIFY with both
images), then calls the user's handler with the same event and context and returns what it returns (so
``batchItemFailures`` still reaches Lambda) or lets its exception through. The lines are written before the
handler runs, so a handler that fails still leaves them.

Standard library only, and nothing at import time but loading the user's handler: it runs on a bare Lambda
Python runtime. stdout is plain text to Lambda whatever the function's log format (with JSON, only the logging
module's records are formatted as JSON: https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html), so the
line is the log event's whole message in both formats, on AWS as under awslambdaric in the sandbox.
"""

from __future__ import absolute_import, division, print_function

import importlib
import json
import os
import sys

__metaclass__ = type

# The file's name inside the package, and the handler string Lambda is given.
MODULE = "streamops_record_log"
FILE_NAME = MODULE + ".py"
HANDLER = MODULE + ".lambda_handler"
# Where the user's handler string travels (the common pattern of wrappers such as Datadog's DD_LAMBDA_HANDLER).
HANDLER_ENV = "STREAMOPS_HANDLER"
KIND = "streamops_record"
# The attribute stream_verify's probe item changes (v1 on INSERT, v2 after MODIFY); a unit test keeps the role's
# copy equal to this one.
PROBE_ATTRIBUTE = "streamops_probe"
IMAGES = (("old_image", "OldImage"), ("new_image", "NewImage"))


def load_handler(handler):
    """The function a handler string names, imported the way Lambda's Python bootstrap does (pkg/mod or pkg.mod)."""
    module_path, _dot, function = handler.rpartition(".")
    if not module_path or not function:
        raise ValueError("%s: %r is not of the form <module>.<function>" % (HANDLER_ENV, handler))
    module = importlib.import_module(module_path.replace("/", "."))
    return getattr(module, function)


def describe(record):
    """The compact line for one stream record (a dict); None for something that is not a DynamoDB record."""
    if not isinstance(record, dict) or not isinstance(record.get("dynamodb"), dict):
        return None
    ddb = record["dynamodb"]
    keys = ddb.get("Keys") if isinstance(ddb.get("Keys"), dict) else {}
    wanted = list(keys) + [PROBE_ATTRIBUTE]
    line = {"kind": KIND, "eventName": record.get("eventName"), "eventID": record.get("eventID"), "keys": keys,
            "sequenceNumber": ddb.get("SequenceNumber")}
    for side, field in IMAGES:
        image = ddb.get(field)
        if isinstance(image, dict):
            line[side] = dict((name, image[name]) for name in wanted if name in image)
    if "old_image" in line and "new_image" in line:
        old, new = line["old_image"], line["new_image"]
        line["changed"] = sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
    return line


def lines(event):
    """The log lines for an event: one per stream record, none for any other event."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        return []
    found = (describe(record) for record in records)
    return [json.dumps(line, sort_keys=True, separators=(",", ":")) for line in found if line is not None]


def write_lines(event, stream=None):
    """Write the event's lines; a problem here never keeps the user's handler from running."""
    try:
        text = "".join(line + "\n" for line in lines(event))
        if text:
            stream = stream or sys.stdout
            stream.write(text)
            stream.flush()
    except Exception as exc:  # noqa: BLE001 - the wrapper must not fail a batch the user's handler would process
        sys.stderr.write("%s: could not log the batch's records: %s\n" % (MODULE, exc))


_HANDLER_FUNCTION = None


def lambda_handler(event, context):
    """Log the batch's records, then run the user's handler unchanged and return its result."""
    write_lines(event)
    return _HANDLER_FUNCTION(event, context)


# Loaded at init, as Lambda loads a handler, so the user's import errors and init time stay in the init phase.
# Only when Lambda imports this file under its package name: the collection imports it as module_utils.
if __name__ == MODULE:
    if not os.environ.get(HANDLER_ENV):
        raise RuntimeError("%s: the environment variable %s (the function's own handler) is not set"
                           % (MODULE, HANDLER_ENV))
    _HANDLER_FUNCTION = load_handler(os.environ[HANDLER_ENV])
