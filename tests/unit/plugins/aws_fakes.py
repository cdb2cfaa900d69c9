"""Fake boto3 clients that answer like AWS while a resource is mid-transition, for the modules' core functions.

Each fake keeps the resources of one service in memory, answers in the shapes botocore returns, records every call
as ``(operation, kwargs)`` in ``calls`` (``aws_retry`` dropped: it is the retry decorator's switch, not a request
field; ``aws_retry=False`` fails the test) and raises ``botocore.exceptions.ClientError`` with the error codes AWS uses.

Transitions are scripts: a resource carries a list of partial updates, and every *read* of it (GetFunction,
GetFunctionConfiguration, GetEventSourceMapping, DescribeTable, DescribeStream) first applies the next one. So
"InProgress twice then Successful" is ``[{"LastUpdateStatus": "InProgress"}] * 2 + [{"LastUpdateStatus":
"Successful"}]``, and a test controls how long AWS takes without any real time passing. ``fail(operation, *errors)``
makes the next calls of an operation raise the given errors before it behaves normally again.

Use them with the ``clock`` fixture (conftest.py), which makes every poll and retry sleep on a fake clock.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from types import SimpleNamespace

from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::%s:role/fn-role" % ACCOUNT

# The exact message Lambda gives while a new role has not propagated yet (CreateFunction, CreateEventSourceMapping).
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


def client_error(code, message, operation):
    """A ClientError as botocore builds it from an AWS error response."""
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


class FakeModule:
    """The parts of AnsibleAWSModule the core functions use; fail_json raises so a test sees the message."""

    class Failed(Exception):
        def __init__(self, kwargs):
            super().__init__(kwargs.get("msg"))
            self.kwargs = kwargs

    def __init__(self, check_mode=False, diff=True):
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)

    def fail_json(self, **kwargs):
        raise FakeModule.Failed(kwargs)


class FakeClient:
    """Call recording, error injection and transition scripts shared by the per-service fakes."""

    WRITE_PREFIXES = ("create", "update", "delete", "put", "tag", "untag", "attach", "detach", "remove")

    def __init__(self):
        self.calls = []
        self.meta = SimpleNamespace(region_name=REGION)
        self._errors = {}

    def fail(self, operation, *errors):
        self._errors.setdefault(operation, []).extend(errors)

    def _record(self, operation, kwargs):
        # The modules pass aws_retry=True on every call so throttling is retried; a call wrapped in its own retry
        # decorator leaves it out. False would turn retries off: fail loudly.
        if kwargs.get("aws_retry", True) is not True:
            raise AssertionError("%s called with aws_retry=%r" % (operation, kwargs["aws_retry"]))
        kwargs = {k: v for k, v in kwargs.items() if k != "aws_retry"}
        self.calls.append((operation, copy.deepcopy(kwargs)))
        queued = self._errors.get(operation)
        if queued:
            raise queued.pop(0)
        return kwargs

    def operations(self):
        return [op for op, _kwargs in self.calls]

    def writes(self):
        return [op for op in self.operations() if op.startswith(self.WRITE_PREFIXES)]

    @staticmethod
    def _advance(resource):
        script = resource.get("_script")
        if script:
            resource.update(script.pop(0))

    @staticmethod
    def _public(resource):
        return copy.deepcopy({k: v for k, v in resource.items() if not k.startswith("_")})


class FakeLambda(FakeClient):
    """Lambda functions and event source mappings.

    Functions: CreateFunction answers State Pending; reads step through the script given to ``create_script``
    (by default Pending once, then Active / Successful). An update is refused with ResourceConflictException while
    LastUpdateStatus is InProgress, and leaves LastUpdateStatus InProgress until the ``update_script`` plays out.
    https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
    https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html
    https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html (ResourceConflictException)
    https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (InvalidParameterValueException)

    Mappings: CreateEventSourceMapping answers State Creating and the ``mapping_script`` takes it to Enabled; a
    second mapping of the same function and stream is refused with ResourceConflictException, also while the old
    one is still Deleting; Update/Delete of a mapping that is Creating/Updating/Deleting (etc.) answer
    ResourceInUseException; DeleteEventSourceMapping answers State Deleting and the mapping disappears after
    ``delete_reads`` more reads. ListEventSourceMappings matches FunctionName given as a name or an ARN.
    https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
    https://docs.aws.amazon.com/lambda/latest/api/API_UpdateEventSourceMapping.html
    https://docs.aws.amazon.com/lambda/latest/api/API_DeleteEventSourceMapping.html
    https://docs.aws.amazon.com/lambda/latest/api/API_ListEventSourceMappings.html
    """

    STABLE = ("Enabled", "Disabled")

    def __init__(self):
        super().__init__()
        self.functions = {}
        self.mappings = {}
        self.tags = {}
        self.create_script = [{"State": "Pending"}, {"State": "Active", "LastUpdateStatus": "Successful"}]
        self.update_script = [{"LastUpdateStatus": "Successful"}]
        self.mapping_script = None
        self.delete_reads = 1
        self._uuids = 0

    # --- functions ------------------------------------------------------------------------------------------

    def function_arn(self, name):
        return "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, name)

    def add_function(self, name, tags=None, script=None, **conf):
        """A function that exists before the test starts (Active, Successful unless *conf* says otherwise)."""
        arn = self.function_arn(name)
        self.functions[name] = dict({
            "FunctionName": name, "FunctionArn": arn, "Runtime": "python3.12", "Handler": "handler.lambda_handler",
            "Role": ROLE_ARN, "Description": "", "MemorySize": 128, "Timeout": 3, "CodeSha256": "old-sha",
            "State": "Active", "LastUpdateStatus": "Successful", "PackageType": "Zip",
            "_script": list(script or [])}, **conf)
        self.tags[arn] = dict(tags or {})
        return self.functions[name]

    def _function(self, name, operation):
        name = name.split(":function:")[-1].split(":")[0]
        if name not in self.functions:
            raise client_error("ResourceNotFoundException", "Function not found: %s" % self.function_arn(name),
                               operation)
        return self.functions[name]

    def get_function(self, **kwargs):
        kwargs = self._record("get_function", kwargs)
        fn = self._function(kwargs["FunctionName"], "GetFunction")
        self._advance(fn)
        return {"Configuration": self._public(fn), "Code": {"RepositoryType": "S3"},
                "Tags": dict(self.tags[fn["FunctionArn"]])}

    def get_function_configuration(self, **kwargs):
        kwargs = self._record("get_function_configuration", kwargs)
        fn = self._function(kwargs["FunctionName"], "GetFunctionConfiguration")
        self._advance(fn)
        return self._public(fn)

    def create_function(self, **kwargs):
        kwargs = self._record("create_function", kwargs)
        name = kwargs["FunctionName"]
        if name in self.functions:
            raise client_error("ResourceConflictException", "Function already exist: %s" % name, "CreateFunction")
        conf = {k: kwargs[k] for k in ("Runtime", "Handler", "Role", "Description", "MemorySize", "Timeout")}
        fn = self.add_function(name, tags=kwargs.get("Tags"), script=self.create_script,
                               Environment=kwargs.get("Environment"), CodeSha256="sha-of-upload", **conf)
        fn.update(State="Pending", LastUpdateStatus=None)
        return self._public(fn)

    def _start_update(self, fn, operation, changes):
        if fn.get("LastUpdateStatus") == "InProgress" or fn.get("State") == "Pending":
            raise client_error("ResourceConflictException",
                               "The operation cannot be performed at this time. An update is in progress for "
                               "resource: %s" % fn["FunctionArn"], operation)
        fn.update(changes, LastUpdateStatus="InProgress")
        fn["_script"] = list(self.update_script)
        return self._public(fn)

    def update_function_configuration(self, **kwargs):
        kwargs = self._record("update_function_configuration", kwargs)
        fn = self._function(kwargs.pop("FunctionName"), "UpdateFunctionConfiguration")
        return self._start_update(fn, "UpdateFunctionConfiguration", kwargs)

    def update_function_code(self, **kwargs):
        kwargs = self._record("update_function_code", kwargs)
        fn = self._function(kwargs["FunctionName"], "UpdateFunctionCode")
        return self._start_update(fn, "UpdateFunctionCode", {"CodeSha256": "sha-of-new-upload"})

    def delete_function(self, **kwargs):
        kwargs = self._record("delete_function", kwargs)
        fn = self._function(kwargs["FunctionName"], "DeleteFunction")
        del self.functions[fn["FunctionName"]]

    def tag_resource(self, **kwargs):
        kwargs = self._record("tag_resource", kwargs)
        self.tags.setdefault(kwargs["Resource"], {}).update(kwargs["Tags"])

    def untag_resource(self, **kwargs):
        kwargs = self._record("untag_resource", kwargs)
        for key in kwargs["TagKeys"]:
            self.tags.get(kwargs["Resource"], {}).pop(key, None)

    def list_tags(self, **kwargs):
        kwargs = self._record("list_tags", kwargs)
        return {"Tags": dict(self.tags.get(kwargs["Resource"], {}))}

    # --- event source mappings ------------------------------------------------------------------------------

    def add_mapping(self, function_name, stream_arn, state="Enabled", script=None, tags=None, **fields):
        """A mapping that exists before the test starts, with AWS's defaults for a DynamoDB stream."""
        self._uuids += 1
        uuid = "uuid-%d" % self._uuids
        arn = "arn:aws:lambda:%s:%s:event-source-mapping:%s" % (REGION, ACCOUNT, uuid)
        mapping = dict({
            "UUID": uuid, "EventSourceMappingArn": arn, "FunctionArn": self.function_arn(function_name),
            "EventSourceArn": stream_arn, "StartingPosition": "LATEST", "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 0, "ParallelizationFactor": 1, "BisectBatchOnFunctionError": False,
            "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1, "TumblingWindowInSeconds": 0,
            "FunctionResponseTypes": [], "DestinationConfig": {"OnFailure": {}}, "State": state,
            "StateTransitionReason": "USER_INITIATED", "LastModified": "2026-01-01T00:00:%02d" % self._uuids,
            "_script": list(script or [])}, **fields)
        self.mappings[uuid] = mapping
        self.tags[arn] = dict(tags or {})
        return mapping

    def _mapping(self, uuid, operation):
        mapping = self.mappings.get(uuid)
        if mapping is None:
            raise client_error("ResourceNotFoundException", "The resource you requested does not exist.", operation)
        return mapping

    def get_event_source_mapping(self, **kwargs):
        kwargs = self._record("get_event_source_mapping", kwargs)
        mapping = self._mapping(kwargs["UUID"], "GetEventSourceMapping")
        if mapping["State"] == "Deleting":
            mapping["_reads_left"] = mapping.get("_reads_left", self.delete_reads) - 1
            if mapping["_reads_left"] < 0:
                del self.mappings[mapping["UUID"]]
                return self._mapping(kwargs["UUID"], "GetEventSourceMapping")
        self._advance(mapping)
        return self._public(mapping)

    def list_event_source_mappings(self, **kwargs):
        kwargs = self._record("list_event_source_mappings", kwargs)
        found = []
        for mapping in self.mappings.values():
            wanted = kwargs.get("FunctionName")
            if wanted and self.function_arn(wanted.split(":function:")[-1]) != mapping["FunctionArn"]:
                continue
            if kwargs.get("EventSourceArn") and kwargs["EventSourceArn"] != mapping["EventSourceArn"]:
                continue
            found.append(self._public(mapping))
        return {"EventSourceMappings": found}

    def create_event_source_mapping(self, **kwargs):
        kwargs = self._record("create_event_source_mapping", kwargs)
        function_name = kwargs.pop("FunctionName").split(":function:")[-1]
        stream_arn = kwargs.pop("EventSourceArn")
        for other in self.mappings.values():
            if other["FunctionArn"] == self.function_arn(function_name) and other["EventSourceArn"] == stream_arn:
                raise client_error("ResourceConflictException",
                                   "An event source mapping with DynamoDB stream arn (%s) and function (%s) already "
                                   "exists. Please update or delete the existing mapping with UUID %s"
                                   % (stream_arn, function_name, other["UUID"]), "CreateEventSourceMapping")
        tags = kwargs.pop("Tags", None)
        enabled = kwargs.pop("Enabled", True)
        script = self.mapping_script if self.mapping_script is not None else [
            {"State": "Enabled" if enabled else "Disabled"}]
        mapping = self.add_mapping(function_name, stream_arn, state="Creating", script=script, tags=tags, **kwargs)
        return self._public(mapping)

    def update_event_source_mapping(self, **kwargs):
        kwargs = self._record("update_event_source_mapping", kwargs)
        mapping = self._mapping(kwargs.pop("UUID"), "UpdateEventSourceMapping")
        if mapping["State"] not in self.STABLE:
            raise client_error("ResourceInUseException", "Cannot update the event source mapping because it is in "
                               "use.", "UpdateEventSourceMapping")
        enabled = kwargs.pop("Enabled", mapping["State"] == "Enabled")
        mapping.update(kwargs, State="Updating")
        mapping["_script"] = [{"State": "Enabled" if enabled else "Disabled"}]
        return self._public(mapping)

    def delete_event_source_mapping(self, **kwargs):
        kwargs = self._record("delete_event_source_mapping", kwargs)
        mapping = self._mapping(kwargs["UUID"], "DeleteEventSourceMapping")
        if mapping["State"] not in self.STABLE:
            raise client_error("ResourceInUseException", "Cannot delete the event source mapping because it is in "
                               "use.", "DeleteEventSourceMapping")
        mapping.update(State="Deleting", _script=[])
        return self._public(mapping)


class FakeLogs(FakeClient):
    """CloudWatch Logs log groups: DescribeLogGroups by prefix (sorted by name), tags by ARN without ':*'.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogGroups.html
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_ListTagsForResource.html
    """

    def __init__(self):
        super().__init__()
        self.groups = {}

    def arn(self, name):
        return "arn:aws:logs:%s:%s:log-group:%s" % (REGION, ACCOUNT, name)

    def add_group(self, name, tags=None, retention=None):
        group = {"logGroupName": name, "arn": self.arn(name) + ":*", "logGroupArn": self.arn(name),
                 "_tags": dict(tags or {})}
        if retention:
            group["retentionInDays"] = retention
        self.groups[name] = group
        return group

    def _by_arn(self, arn, operation):
        for group in self.groups.values():
            if group["logGroupArn"] == arn:
                return group
        raise client_error("ResourceNotFoundException", "The specified log group does not exist.", operation)

    def describe_log_groups(self, **kwargs):
        kwargs = self._record("describe_log_groups", kwargs)
        prefix = kwargs.get("logGroupNamePrefix", "")
        return {"logGroups": [self._public(g) for n, g in sorted(self.groups.items()) if n.startswith(prefix)]}

    def create_log_group(self, **kwargs):
        kwargs = self._record("create_log_group", kwargs)
        if kwargs["logGroupName"] in self.groups:
            raise client_error("ResourceAlreadyExistsException", "The specified log group already exists",
                               "CreateLogGroup")
        self.add_group(kwargs["logGroupName"], kwargs.get("tags"))

    def put_retention_policy(self, **kwargs):
        kwargs = self._record("put_retention_policy", kwargs)
        self.groups[kwargs["logGroupName"]]["retentionInDays"] = kwargs["retentionInDays"]

    def delete_retention_policy(self, **kwargs):
        kwargs = self._record("delete_retention_policy", kwargs)
        self.groups[kwargs["logGroupName"]].pop("retentionInDays", None)

    def list_tags_for_resource(self, **kwargs):
        kwargs = self._record("list_tags_for_resource", kwargs)
        return {"tags": dict(self._by_arn(kwargs["resourceArn"], "ListTagsForResource")["_tags"])}

    def tag_resource(self, **kwargs):
        kwargs = self._record("tag_resource", kwargs)
        self._by_arn(kwargs["resourceArn"], "TagResource")["_tags"].update(kwargs["tags"])

    def untag_resource(self, **kwargs):
        kwargs = self._record("untag_resource", kwargs)
        for key in kwargs["tagKeys"]:
            self._by_arn(kwargs["resourceArn"], "UntagResource")["_tags"].pop(key, None)

    def delete_log_group(self, **kwargs):
        kwargs = self._record("delete_log_group", kwargs)
        self.groups.pop(kwargs["logGroupName"])


class FakeDynamoDB(FakeClient):
    """DynamoDB tables and their stream settings.

    UpdateTable answers the TableDescription with TableStatus UPDATING and refuses another UpdateTable until the
    table is ACTIVE again (ResourceInUseException); enabling a stream on a table that has one, or changing the view
    type in place, is a ValidationException. Disabling keeps LatestStreamArn and LatestStreamLabel in the
    description (the old stream stays readable for 24 hours) with StreamSpecification.StreamEnabled false; enabling
    gives a new label and ARN. ``update_reads`` says how many DescribeTable reads stay UPDATING.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_StreamSpecification.html
    """

    def __init__(self):
        super().__init__()
        self.tables = {}
        self.tags = {}
        self.update_reads = 1
        # Some endpoints (the sandbox, moto) answer a write with the table ACTIVE already.
        self.answer_active = False
        self._labels = 0

    def table_arn(self, name):
        return "arn:aws:dynamodb:%s:%s:table/%s" % (REGION, ACCOUNT, name)

    def _new_stream(self, table):
        self._labels += 1
        label = "2026-01-01T00:00:00.%03d" % self._labels
        table.update(LatestStreamLabel=label, LatestStreamArn="%s/stream/%s" % (table["TableArn"], label))

    def add_table(self, name, view_type=None, tags=None, status="ACTIVE", script=None):
        """A table that exists before the test; *view_type* None means no stream was ever enabled."""
        table = {"TableName": name, "TableArn": self.table_arn(name), "TableStatus": status,
                 "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                 "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                 "_script": list(script or [])}
        if view_type:
            table["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view_type}
            self._new_stream(table)
        self.tables[name] = table
        self.tags[table["TableArn"]] = dict(tags or {})
        return table

    def disable_stream_keeping_arn(self, name):
        """The state AWS leaves after a stream was disabled: no StreamSpecification enabled, old ARN still there."""
        self.tables[name]["StreamSpecification"] = {"StreamEnabled": False}

    def _table(self, name, operation):
        if name not in self.tables:
            raise client_error("ResourceNotFoundException", "Requested resource not found: Table: %s not found"
                               % name, operation)
        return self.tables[name]

    def describe_table(self, **kwargs):
        kwargs = self._record("describe_table", kwargs)
        table = self._table(kwargs["TableName"], "DescribeTable")
        self._advance(table)
        if table.get("_gone"):
            del self.tables[table["TableName"]]
            table = self._table(kwargs["TableName"], "DescribeTable")
        return {"Table": self._public(table)}

    def update_table(self, **kwargs):
        kwargs = self._record("update_table", kwargs)
        table = self._table(kwargs["TableName"], "UpdateTable")
        if table["TableStatus"] != "ACTIVE":
            raise client_error("ResourceInUseException", "Attempt to change a resource which is still in use: Table "
                               "is being updated: %s" % table["TableName"], "UpdateTable")
        spec = kwargs["StreamSpecification"]
        enabled_now = (table.get("StreamSpecification") or {}).get("StreamEnabled", False)
        if spec["StreamEnabled"] and enabled_now:
            raise client_error("ValidationException", "Table already has an enabled stream: %s" % table["TableArn"],
                               "UpdateTable")
        if not spec["StreamEnabled"] and not enabled_now:
            raise client_error("ValidationException", "Stream is already disabled", "UpdateTable")
        if spec["StreamEnabled"]:
            table["StreamSpecification"] = dict(spec)
            self._new_stream(table)
        else:
            table["StreamSpecification"] = {"StreamEnabled": False}
        table["TableStatus"] = "UPDATING"
        table["_script"] = [{}] * (self.update_reads - 1) + [{"TableStatus": "ACTIVE"}]
        if self.answer_active:
            table.update(TableStatus="ACTIVE", _script=[])
        return {"TableDescription": self._public(table)}

    def create_table(self, **kwargs):
        """CreateTable answers CREATING; the stream in StreamSpecification exists from the start."""
        kwargs = self._record("create_table", kwargs)
        if kwargs["TableName"] in self.tables:
            raise client_error("ResourceInUseException", "Table already exists: %s" % kwargs["TableName"],
                               "CreateTable")
        spec = kwargs.get("StreamSpecification") or {}
        table = self.add_table(kwargs["TableName"], view_type=spec.get("StreamViewType") if spec.get("StreamEnabled")
                               else None, tags={t["Key"]: t["Value"] for t in kwargs.get("Tags", [])},
                               status="CREATING", script=[{}] * (self.update_reads - 1) + [{"TableStatus": "ACTIVE"}])
        table.update(KeySchema=kwargs["KeySchema"], AttributeDefinitions=kwargs["AttributeDefinitions"])
        if self.answer_active:
            table.update(TableStatus="ACTIVE", _script=[])
        return {"TableDescription": self._public(table)}

    def delete_table(self, **kwargs):
        """DeleteTable answers DELETING; the table disappears after ``update_reads`` more reads."""
        kwargs = self._record("delete_table", kwargs)
        table = self._table(kwargs["TableName"], "DeleteTable")
        table["TableStatus"] = "DELETING"
        answer = self._public(table)
        table["_script"] = [{}] * (self.update_reads - 1) + [{"_gone": True}]
        return {"TableDescription": answer}

    def list_tags_of_resource(self, **kwargs):
        kwargs = self._record("list_tags_of_resource", kwargs)
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(self.tags.get(kwargs["ResourceArn"], {}).items())]}

    def tag_resource(self, **kwargs):
        kwargs = self._record("tag_resource", kwargs)
        self.tags.setdefault(kwargs["ResourceArn"], {}).update({t["Key"]: t["Value"] for t in kwargs["Tags"]})

    def untag_resource(self, **kwargs):
        kwargs = self._record("untag_resource", kwargs)
        for key in kwargs["TagKeys"]:
            self.tags.get(kwargs["ResourceArn"], {}).pop(key, None)


class FakeStreams(FakeClient):
    """DynamoDB Streams DescribeStream: a new stream is ENABLING for ``enabling_reads`` reads, then ``final_status``
    (ENABLED; DISABLED when the stream was disabled meanwhile).
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_DescribeStream.html
    """

    def __init__(self, enabling_reads=1):
        super().__init__()
        self.enabling_reads = enabling_reads
        self.final_status = "ENABLED"
        self._seen = {}

    def describe_stream(self, **kwargs):
        kwargs = self._record("describe_stream", kwargs)
        arn = kwargs["StreamArn"]
        self._seen[arn] = self._seen.get(arn, 0) + 1
        status = "ENABLING" if self._seen[arn] <= self.enabling_reads else self.final_status
        return {"StreamDescription": {"StreamArn": arn, "StreamStatus": status}}


class FakeIAM(FakeClient):
    """IAM roles with tags, inline and attached policies. DeleteRole answers DeleteConflict while the role still
    has policies; missing entities answer NoSuchEntity.
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html
    """

    def __init__(self):
        super().__init__()
        self.roles = {}

    def add_role(self, name, trust, tags=None, description=None, inline=None, attached=None):
        role = {"RoleName": name, "RoleId": "AROA%s" % name.upper(), "Arn": "arn:aws:iam::%s:role/%s" % (ACCOUNT, name),
                "Path": "/", "AssumeRolePolicyDocument": trust,
                "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
                "_inline": dict(inline or {}), "_attached": list(attached or [])}
        if description is not None:
            role["Description"] = description
        self.roles[name] = role
        return role

    def _role(self, name, operation):
        if name not in self.roles:
            raise client_error("NoSuchEntity", "The role with name %s cannot be found." % name, operation)
        return self.roles[name]

    def get_role(self, **kwargs):
        kwargs = self._record("get_role", kwargs)
        return {"Role": self._public(self._role(kwargs["RoleName"], "GetRole"))}

    def create_role(self, **kwargs):
        kwargs = self._record("create_role", kwargs)
        role = self.add_role(kwargs["RoleName"], json.loads(kwargs["AssumeRolePolicyDocument"]),
                             description=kwargs.get("Description"))
        role["Tags"] = list(kwargs.get("Tags", []))
        return {"Role": self._public(role)}

    def get_role_policy(self, **kwargs):
        kwargs = self._record("get_role_policy", kwargs)
        role = self._role(kwargs["RoleName"], "GetRolePolicy")
        if kwargs["PolicyName"] not in role["_inline"]:
            raise client_error("NoSuchEntity", "The role policy with name %s cannot be found." % kwargs["PolicyName"],
                               "GetRolePolicy")
        return {"PolicyDocument": role["_inline"][kwargs["PolicyName"]]}

    def put_role_policy(self, **kwargs):
        kwargs = self._record("put_role_policy", kwargs)
        self._role(kwargs["RoleName"], "PutRolePolicy")["_inline"][kwargs["PolicyName"]] = json.loads(
            kwargs["PolicyDocument"])

    def delete_role_policy(self, **kwargs):
        kwargs = self._record("delete_role_policy", kwargs)
        inline = self._role(kwargs["RoleName"], "DeleteRolePolicy")["_inline"]
        if kwargs["PolicyName"] not in inline:
            raise client_error("NoSuchEntity", "The role policy cannot be found.", "DeleteRolePolicy")
        del inline[kwargs["PolicyName"]]

    def attach_role_policy(self, **kwargs):
        kwargs = self._record("attach_role_policy", kwargs)
        attached = self._role(kwargs["RoleName"], "AttachRolePolicy")["_attached"]
        if kwargs["PolicyArn"] not in attached:
            attached.append(kwargs["PolicyArn"])

    def detach_role_policy(self, **kwargs):
        kwargs = self._record("detach_role_policy", kwargs)
        attached = self._role(kwargs["RoleName"], "DetachRolePolicy")["_attached"]
        if kwargs["PolicyArn"] not in attached:
            raise client_error("NoSuchEntity", "Policy %s was not found." % kwargs["PolicyArn"], "DetachRolePolicy")
        attached.remove(kwargs["PolicyArn"])

    def list_attached_role_policies(self, **kwargs):
        kwargs = self._record("list_attached_role_policies", kwargs)
        role = self._role(kwargs["RoleName"], "ListAttachedRolePolicies")
        return {"AttachedPolicies": [{"PolicyArn": a, "PolicyName": a.rsplit("/", 1)[-1]} for a in role["_attached"]],
                "IsTruncated": False}

    def list_role_policies(self, **kwargs):
        kwargs = self._record("list_role_policies", kwargs)
        return {"PolicyNames": sorted(self._role(kwargs["RoleName"], "ListRolePolicies")["_inline"]),
                "IsTruncated": False}

    def list_instance_profiles_for_role(self, **kwargs):
        kwargs = self._record("list_instance_profiles_for_role", kwargs)
        self._role(kwargs["RoleName"], "ListInstanceProfilesForRole")
        return {"InstanceProfiles": [], "IsTruncated": False}

    def update_assume_role_policy(self, **kwargs):
        kwargs = self._record("update_assume_role_policy", kwargs)
        self._role(kwargs["RoleName"], "UpdateAssumeRolePolicy")["AssumeRolePolicyDocument"] = json.loads(
            kwargs["PolicyDocument"])

    def update_role(self, **kwargs):
        kwargs = self._record("update_role", kwargs)
        self._role(kwargs["RoleName"], "UpdateRole")["Description"] = kwargs["Description"]

    def put_role_permissions_boundary(self, **kwargs):
        kwargs = self._record("put_role_permissions_boundary", kwargs)
        self._role(kwargs["RoleName"], "PutRolePermissionsBoundary")["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": kwargs["PermissionsBoundary"]}

    def delete_role_permissions_boundary(self, **kwargs):
        kwargs = self._record("delete_role_permissions_boundary", kwargs)
        self._role(kwargs["RoleName"], "DeleteRolePermissionsBoundary").pop("PermissionsBoundary", None)

    def tag_role(self, **kwargs):
        kwargs = self._record("tag_role", kwargs)
        role = self._role(kwargs["RoleName"], "TagRole")
        tags = {t["Key"]: t["Value"] for t in role["Tags"]}
        tags.update({t["Key"]: t["Value"] for t in kwargs["Tags"]})
        role["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]

    def untag_role(self, **kwargs):
        kwargs = self._record("untag_role", kwargs)
        role = self._role(kwargs["RoleName"], "UntagRole")
        role["Tags"] = [t for t in role["Tags"] if t["Key"] not in kwargs["TagKeys"]]

    def delete_role(self, **kwargs):
        kwargs = self._record("delete_role", kwargs)
        role = self._role(kwargs["RoleName"], "DeleteRole")
        if role["_inline"] or role["_attached"]:
            raise client_error("DeleteConflict", "Cannot delete entity, must delete policies first.", "DeleteRole")
        del self.roles[kwargs["RoleName"]]


class FakeS3(FakeClient):
    """S3 objects of buckets that exist (``buckets``: name -> {key: {"Body", "ChecksumSHA256", "Tags"}}).

    HeadObject of a missing key (or bucket) answers the bare 404 botocore reports for a HEAD (no error body), with the
    checksum only when the object was put with one and ChecksumMode is ENABLED; PutObject takes its tags as the
    URL-encoded Tagging string; ListObjectsV2 pages by ``page_size``; a missing bucket is NoSuchBucket.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectTagging.html
    """

    def __init__(self, *buckets):
        super().__init__()
        self.buckets = {name: {} for name in buckets}
        self.page_size = 1000

    def _bucket(self, name, operation):
        if name not in self.buckets:
            raise client_error("NoSuchBucket", "The specified bucket does not exist", operation)
        return self.buckets[name]

    def head_object(self, **kwargs):
        kwargs = self._record("head_object", kwargs)
        found = self.buckets.get(kwargs["Bucket"], {}).get(kwargs["Key"])
        if found is None:
            raise client_error("404", "Not Found", "HeadObject")
        answer = {"ContentLength": len(found["Body"])}
        if kwargs.get("ChecksumMode") == "ENABLED" and found.get("ChecksumSHA256"):
            answer["ChecksumSHA256"] = found["ChecksumSHA256"]
        return answer

    def put_object(self, **kwargs):
        kwargs = self._record("put_object", kwargs)
        tags = dict(urllib.parse.parse_qsl(kwargs.get("Tagging", "")))
        self._bucket(kwargs["Bucket"], "PutObject")[kwargs["Key"]] = {
            "Body": kwargs["Body"], "ChecksumSHA256": kwargs.get("ChecksumSHA256"), "Tags": tags}
        return {}

    def list_objects_v2(self, **kwargs):
        kwargs = self._record("list_objects_v2", kwargs)
        keys = sorted(k for k in self._bucket(kwargs["Bucket"], "ListObjectsV2") if k.startswith(kwargs["Prefix"]))
        start = int(kwargs.get("ContinuationToken") or 0)
        page = keys[start:start + self.page_size]
        answer = {"Contents": [{"Key": k} for k in page]} if page else {}
        if start + self.page_size < len(keys):
            answer.update(IsTruncated=True, NextContinuationToken=str(start + self.page_size))
        return answer

    def get_object_tagging(self, **kwargs):
        kwargs = self._record("get_object_tagging", kwargs)
        found = self._bucket(kwargs["Bucket"], "GetObjectTagging").get(kwargs["Key"])
        if found is None:
            raise client_error("NoSuchKey", "The specified key does not exist.", "GetObjectTagging")
        return {"TagSet": [{"Key": k, "Value": v} for k, v in sorted(found["Tags"].items())]}

    def delete_object(self, **kwargs):
        kwargs = self._record("delete_object", kwargs)
        self._bucket(kwargs["Bucket"], "DeleteObject").pop(kwargs["Key"], None)
        return {}


class FakeEC2(FakeClient):
    """DescribeNetworkInterfaces over the interfaces Lambda made
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html): filters by
    description (a trailing * is a prefix) and subnet-id; ``linger(n)`` keeps the interfaces for n more reads (a
    read is one call, or the pages of one listing); ``page_size`` pages the answer with NextToken, as EC2 may."""

    def __init__(self):
        super().__init__()
        self.interfaces = []
        self._reads_left = 0
        self.page_size = 1000

    def add_interface(self, eni_id, description, subnet_id, status="in-use"):
        self.interfaces.append({"NetworkInterfaceId": eni_id, "Description": description, "SubnetId": subnet_id,
                                "Status": status})

    def linger(self, reads):
        self._reads_left = reads

    def describe_network_interfaces(self, **kwargs):
        kwargs = self._record("describe_network_interfaces", kwargs)
        start = int(kwargs.get("NextToken") or 0)
        if not start:
            if self._reads_left <= 0:
                self.interfaces = []
            self._reads_left -= 1

        def matches(eni, flt):
            key = {"description": "Description", "subnet-id": "SubnetId"}[flt["Name"]]
            return any(eni[key].startswith(v[:-1]) if v.endswith("*") else eni[key] == v for v in flt["Values"])
        found = [eni for eni in self.interfaces if all(matches(eni, f) for f in kwargs.get("Filters", []))]
        answer = {"NetworkInterfaces": copy.deepcopy(found[start:start + self.page_size])}
        if start + self.page_size < len(found):
            answer["NextToken"] = str(start + self.page_size)
        return answer
