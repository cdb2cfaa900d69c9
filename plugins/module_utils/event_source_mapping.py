# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Event source mappings from a DynamoDB stream to a Lambda function: validation, normalisation, comparison,
and the AWS calls with the waits and retries they need
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html).

Settings are handled in one shape, keyed by the stream_trigger option names, so the desired state (from module
options) and the current state (from GetEventSourceMapping) compare field by field with AWS defaults filled in.
"""

from __future__ import annotations

import json

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import arn_beside
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import is_stream_of_table
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import parse_function_ref
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import qualify
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import reference_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import require_service
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import same_function
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.arns import unqualified_function_arn
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.tags import tag_problems
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import error_code
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import is_iam_propagation_error
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import is_mapping_busy_error
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import MAPPING
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import poll_until
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.waiters import retry_until_deadline

STABLE_STATES = ("Enabled", "Disabled")
STARTING_POSITIONS = ("LATEST", "TRIM_HORIZON")
METRICS = ("EventCount",)
MAX_PATTERN_LENGTH = 4096
MAX_WAIT_TIMEOUT = 3600

# option -> (API field, AWS default for DynamoDB streams). The defaults fill in what GetEventSourceMapping omits.
SCALARS = {
    "batch_size": ("BatchSize", 100),
    "maximum_batching_window": ("MaximumBatchingWindowInSeconds", 0),
    "starting_position": ("StartingPosition", None),
    "parallelization_factor": ("ParallelizationFactor", 1),
    "bisect_batch_on_function_error": ("BisectBatchOnFunctionError", False),
    "maximum_retry_attempts": ("MaximumRetryAttempts", -1),
    "maximum_record_age": ("MaximumRecordAgeInSeconds", -1),
    "tumbling_window": ("TumblingWindowInSeconds", 0),
}
# (option, low, high) as in the Lambda API reference for DynamoDB sources.
RANGES = (
    ("batch_size", 1, 10000),
    ("maximum_batching_window", 0, 300),
    ("parallelization_factor", 1, 10),
    ("maximum_retry_attempts", -1, 10000),
    ("tumbling_window", 0, 900),
)
# The module's defaults (the roles' defaults, argument specs and the pipelines role's defaults are bound to these
# by a unit test): AWS's for DynamoDB sources, and the walkthrough's starting position (AWS has no default there).
DEFAULTS = dict(
    {option: default for option, (_field, default) in SCALARS.items() if default is not None},
    starting_position="LATEST",
    report_batch_item_failures=False,
    filters=[],
    metrics=[],
    enabled=True,
    purge_tags=True,
    wait=True,
    wait_timeout=300,
)
# maximum_record_age: -1 (no limit) or this range of seconds.
RECORD_AGE_RANGE = (60, 604800)
# UpdateEventSourceMapping cannot change these; a difference means delete and create again.
REPLACE_ONLY = ("starting_position",)
SETTINGS = tuple(SCALARS) + ("on_failure_destination", "report_batch_item_failures", "filters", "kms_key_arn",
                             "metrics", "enabled")


# --- validation -----------------------------------------------------------------------------------------------

def normalise_pattern(pattern):
    """One canonical JSON text per filter pattern, so key order and whitespace never count as a change.

    Accepts a mapping or a JSON string; raises ValueError unless it is a JSON object.
    """
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError as exc:
            raise ValueError("is not valid JSON (%s)" % exc) from None
    if not isinstance(pattern, dict):
        raise ValueError("must be a JSON object (an EventBridge event pattern), got %s" % type(pattern).__name__)
    try:
        return json.dumps(pattern, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError("cannot be written as JSON (%s)" % exc) from None


def _check_int(errors, params, option, low, high):
    value = params.get(option)
    if value is not None and not low <= value <= high:
        errors.append("%s: must be between %d and %d, got %r" % (option, low, high, value))


def _shape_problems(pattern, path=""):
    problems = []
    for key, value in pattern.items():
        where = "%s.%s" % (path, key) if path else str(key)
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                problems.append("field %s must be an array of at least two patterns (objects)" % where)
            else:
                for index, sub in enumerate(value):
                    problems.extend(_shape_problems(sub, "%s[%d]" % (where, index)))
        elif isinstance(value, dict):
            problems.extend(_shape_problems(value, where))
        elif not isinstance(value, list):
            problems.append("field %s must be an array of values to match (or an object), got %s %s"
                            % (where, type(value).__name__, value))
        elif not value:
            problems.append("field %s is an empty array (Lambda needs at least one value to match)" % where)
    return problems


def pattern_problems(pattern):
    """What Lambda would reject in one filter pattern (a mapping or a JSON string); empty list when valid.

    A JSON object whose every field is a non-empty array of alternatives or a nested object (EventBridge pattern
    syntax; $or takes two or more patterns), at most MAX_PATTERN_LENGTH characters in its compact form. Matcher
    operators inside the arrays (prefix, numeric, ...) are left to AWS."""
    try:
        text = normalise_pattern(pattern)
    except ValueError as exc:
        return [str(exc)]
    problems = _shape_problems(json.loads(text))
    if len(text) > MAX_PATTERN_LENGTH:
        problems.append("is %d characters as JSON; Lambda allows at most %d per pattern" % (len(text), MAX_PATTERN_LENGTH))
    return problems


def validate_params(params):
    """Every problem with the options, each message naming its option; empty list when valid. No AWS calls."""
    return reference_problems(dict(params, function_name=params.get("function_name")),
                              required=("function_name",)) + settings_problems(params)


def settings_problems(params):
    """Every problem with the mapping's settings (the options but the function and the source), each message
    naming its option; what the pipelines role checks on the controller too (filter pipeline_trigger_errors)."""
    errors = []
    for option, low, high in RANGES:
        _check_int(errors, params, option, low, high)
    age = params.get("maximum_record_age")
    low, high = RECORD_AGE_RANGE
    if age is not None and age != -1 and not low <= age <= high:
        errors.append("maximum_record_age: must be -1 (no limit) or between %d and %d seconds, got %r" % (low, high, age))
    if params.get("starting_position") is not None and params["starting_position"] not in STARTING_POSITIONS:
        errors.append("starting_position: must be one of %s, got %r"
                      % (", ".join(STARTING_POSITIONS), params["starting_position"]))
    if params.get("on_failure_destination"):
        try:
            require_service(params["on_failure_destination"], ("sqs", "sns"))
        except ValueError as exc:
            errors.append("on_failure_destination: must be an SQS queue or SNS topic ARN: %s" % exc)
    if params.get("kms_key_arn"):
        try:
            require_service(params["kms_key_arn"], ("kms",))
        except ValueError as exc:
            errors.append("kms_key_arn: must be a KMS key ARN: %s" % exc)
    for metric in params.get("metrics") or ():
        if metric not in METRICS:
            errors.append("metrics: must be one of %s, got %r" % (", ".join(METRICS), metric))
    for index, pattern in enumerate(params.get("filters") or ()):
        errors.extend("filters[%d]: %s" % (index, problem) for problem in pattern_problems(pattern))
    errors.extend(tag_problems("tags", params.get("tags")))
    timeout = params.get("wait_timeout")
    if timeout is not None and not 1 <= timeout <= MAX_WAIT_TIMEOUT:
        errors.append("wait_timeout: must be between 1 and %d seconds, got %r" % (MAX_WAIT_TIMEOUT, timeout))
    return errors


# --- settings: desired, current, differences ------------------------------------------------------------------

def desired_settings(params):
    settings = {option: params.get(option, default) for option, (_field, default) in SCALARS.items()}
    settings.update(
        on_failure_destination=params.get("on_failure_destination") or None,
        report_batch_item_failures=bool(params.get("report_batch_item_failures")),
        filters=sorted(normalise_pattern(p) for p in params.get("filters") or ()),
        kms_key_arn=params.get("kms_key_arn") or None,
        metrics=sorted(set(params.get("metrics") or ())),
        enabled=bool(params.get("enabled", True)),
    )
    return settings


def _pattern_or_raw(text):
    try:
        return normalise_pattern(text)
    except ValueError:
        return text


def current_settings(mapping):
    """GetEventSourceMapping's answer in the desired_settings shape, AWS defaults filled in where it omits them."""
    settings = {}
    for option, (field, default) in SCALARS.items():
        value = mapping.get(field)
        settings[option] = default if value is None else value
    destination = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    filters = (mapping.get("FilterCriteria") or {}).get("Filters") or []
    settings.update(
        on_failure_destination=destination or None,
        report_batch_item_failures="ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []),
        filters=sorted(_pattern_or_raw(f.get("Pattern", "")) for f in filters),
        kms_key_arn=mapping.get("KMSKeyArn") or None,
        metrics=sorted(set((mapping.get("MetricsConfig") or {}).get("Metrics") or [])),
        # Enabling counts as enabled and Disabling as disabled: the transition already heads there. Callers wait
        # out Creating/Updating first, whose destination the State does not tell.
        enabled=mapping.get("State") in ("Enabled", "Enabling"),
    )
    return settings


def differences(current, desired):
    """Option names whose current value differs from the desired one, in SETTINGS order."""
    return [option for option in SETTINGS if current.get(option) != desired.get(option)]


def api_fields(settings, options=SETTINGS, for_update=False):
    """Request parameters for *options*. For an update, an option being cleared is sent as an explicit empty
    value: Lambda keeps filters, destinations, response types, metrics and keys that are simply left out."""
    request = {}
    for option in options:
        value = settings[option]
        if for_update and option in REPLACE_ONLY:
            continue
        if option in SCALARS:
            request[SCALARS[option][0]] = value
        elif option == "enabled":
            request["Enabled"] = value
        elif option == "on_failure_destination":
            if value or for_update:
                request["DestinationConfig"] = {"OnFailure": {"Destination": value} if value else {}}
        elif option == "report_batch_item_failures":
            if value or for_update:
                request["FunctionResponseTypes"] = ["ReportBatchItemFailures"] if value else []
        elif option == "filters":
            if value or for_update:
                request["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in value]}
        elif option == "kms_key_arn":
            if value or for_update:
                request["KMSKeyArn"] = value or ""
        elif option == "metrics":
            if value or for_update:
                request["MetricsConfig"] = {"Metrics": list(value)}
    return request


# --- AWS calls ------------------------------------------------------------------------------------------------

def resolve_function(client, function_name):
    """The function's ARN with the requested qualifier, or None when the function (or qualifier) does not exist."""
    ref = parse_function_ref(function_name)
    kwargs = {"FunctionName": ref.arn or ref.name}
    if ref.qualifier:
        kwargs["Qualifier"] = ref.qualifier
    try:
        conf = client.get_function(aws_retry=True, **kwargs)["Configuration"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    return qualify(conf["FunctionArn"], ref.qualifier)


def list_mappings(client, **filters):
    """ListEventSourceMappings, all pages (Marker/NextMarker)."""
    mappings, marker = [], None
    while True:
        kwargs = dict(filters)
        if marker:
            kwargs["Marker"] = marker
        page = client.list_event_source_mappings(aws_retry=True, **kwargs)
        mappings.extend(page.get("EventSourceMappings", []))
        marker = page.get("NextMarker")
        if not marker:
            return mappings


def find_table_mappings(client, function_arn, table_arn, stream_arn=None):
    """Mappings from any stream of *table_arn* (current or older) to *function_arn*, oldest first.

    Listing by function finds mappings left on a stream the table no longer has (AWS and the sandbox match a
    FunctionName given as name or ARN). Only when that finds nothing on the current stream is the stream listed as
    well: endpoints that match FunctionName literally (plain moto stores the spelling used) answer right then too,
    and a run with something to find pays one call, not two.
    """
    found = {}
    queries = [{"FunctionName": function_arn}]
    if stream_arn:
        queries.append({"EventSourceArn": stream_arn})
    for query in queries:
        if "EventSourceArn" in query and any(m.get("EventSourceArn") == stream_arn for m in found.values()):
            break
        for mapping in list_mappings(client, **query):
            if same_function(mapping.get("FunctionArn"), function_arn) and \
                    is_stream_of_table(mapping.get("EventSourceArn"), table_arn):
                found[mapping["UUID"]] = mapping
    return sorted(found.values(), key=lambda m: str(m.get("LastModified", "")))


def find_mappings_to_remove(client, function_name, table_name=None, table_arn=None):
    """For state=absent: the mappings from any stream of the table to the function, found with one listing.

    Needs neither the function (GetFunction) nor the table (DescribeTable): ListEventSourceMappings takes the
    function as it was given, and a mapping's stream ARN names its table. Either may already be gone.
    """
    ref = parse_function_ref(function_name)
    try:
        mappings = list_mappings(client, FunctionName=function_name)
    except is_boto3_error_code("ResourceNotFoundException"):
        return []
    found = []
    for mapping in mappings:
        source, function_arn = mapping.get("EventSourceArn"), mapping.get("FunctionArn") or ""
        if table_arn is not None:
            of_table = is_stream_of_table(source, table_arn)
        else:
            of_table = isinstance(source, str) and ":table/%s/stream/" % table_name in source
        if not of_table or not function_arn:
            continue
        if ref.arn is not None and unqualified_function_arn(function_arn) != ref.arn:
            continue
        mapped = parse_function_ref(function_arn)
        qualifier = mapped.qualifier if mapped.qualifier != "$LATEST" else None
        wanted = ref.qualifier if ref.qualifier != "$LATEST" else None
        if mapped.name == ref.name and qualifier == wanted:
            found.append(mapping)
    return sorted(found, key=lambda m: str(m.get("LastModified", "")))


def get_mapping(client, uuid):
    """GetEventSourceMapping, or None when it is gone."""
    try:
        return client.get_event_source_mapping(aws_retry=True, UUID=uuid)
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


def wait_stable(client, uuid, timeout, want_state=None):
    """botocore has no waiter for event source mappings: poll State until Enabled/Disabled (or *want_state*).

    Returns the mapping, or None if it disappeared meanwhile.
    """
    wanted = (want_state,) if want_state else STABLE_STATES
    return poll_until(lambda: get_mapping(client, uuid), timeout,
                      lambda m: m is None or m.get("State") in wanted, MAPPING,
                      "event source mapping %s to be %s" % (uuid, " or ".join(wanted)),
                      lambda m: (m or {}).get("State", "gone"))


def wait_gone(client, uuid, timeout):
    """Deleting lasts a while, and the same function+source cannot be mapped again until it ends
    (ResourceConflictException)."""
    poll_until(lambda: get_mapping(client, uuid), timeout, lambda m: m is None, MAPPING,
               "event source mapping %s to be deleted" % uuid, lambda m: (m or {}).get("State", "gone"))


def create_mapping(client, function_arn, stream_arn, settings, tags, timeout):
    """CreateEventSourceMapping, retrying IAM propagation errors (a new role is not usable at once) and a
    conflict with a mapping of the same pair that is still Deleting, with backoff until *timeout*."""
    request = dict(api_fields(settings), FunctionName=function_arn, EventSourceArn=stream_arn)
    if tags:
        request["Tags"] = dict(tags)

    def retryable(exc):
        return is_iam_propagation_error(exc) or error_code(exc) == "ResourceConflictException"

    return retry_until_deadline(lambda: client.create_event_source_mapping(aws_retry=True, **request),
                                retryable, timeout)


def update_mapping(client, uuid, request, timeout):
    """UpdateEventSourceMapping; ResourceInUseException while the mapping is mid-transition is retried. IAM
    errors are retried too: enabling a mapping re-checks the function's role."""
    def retryable(exc):
        return is_mapping_busy_error(exc) or is_iam_propagation_error(exc)

    return retry_until_deadline(lambda: client.update_event_source_mapping(aws_retry=True, UUID=uuid, **request),
                                retryable, timeout)


def delete_mapping(client, uuid, timeout):
    """DeleteEventSourceMapping; a mapping mid-transition answers ResourceInUseException, so retry. Gone already
    counts as deleted."""
    def call():
        try:
            return client.delete_event_source_mapping(aws_retry=True, UUID=uuid)
        except is_boto3_error_code("ResourceNotFoundException"):
            return None

    return retry_until_deadline(call, is_mapping_busy_error, timeout)


def mapping_arn(mapping):
    """EventSourceMappingArn, or built from the function ARN where an endpoint does not return it."""
    if mapping.get("EventSourceMappingArn"):
        return mapping["EventSourceMappingArn"]
    return arn_beside(mapping["FunctionArn"], "lambda", "event-source-mapping:" + mapping["UUID"])


def mapping_tags(client, mapping):
    return client.list_tags(aws_retry=True, Resource=mapping_arn(mapping)).get("Tags", {}) or {}
