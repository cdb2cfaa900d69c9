"""Shared helpers for the reliability tests (bad input, nothing lost, ownership, least privilege, secrets).

Reached through conftest.py's session fixture `h`, which loads this file by path (the suite runs in importlib
mode and this folder is not a package). Everything here talks to the sandbox through boto3 or runs ansible-playbook
the way a user does; nothing here knows how the collection is built.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# The sandbox's account, region and test credentials, from its one client (tests/integration/conftest.py puts the
# repository root on sys.path before this file is loaded). ACCOUNT_ID is for the tests, through the h fixture.
from sandbox.client import ACCOUNT_ID, CREDENTIALS, REGION  # noqa: F401  pylint: disable=unused-import

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"


# --- boto3 and polling ------------------------------------------------------------------------------------------

def client(url: str, service: str, **credentials: str):
    import boto3
    from botocore.config import Config

    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", **credentials}
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=120), **creds)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll *probe* until it returns something truthy; raise naming *what* (and the last value) at the deadline."""
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {value!r})")
        time.sleep(interval)


def _pages(call: Callable[..., dict[str, Any]], key: str, token_in: str, token_out: str,
           **kwargs: Any) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        page = call(**kwargs, **({token_in: token} if token else {}))
        out.extend(page.get(key, []))
        token = page.get(token_out)
        if not token:
            return out


# --- a snapshot of everything in the sandbox ---------------------------------------------------------------------

def snapshot(url: str) -> dict[str, Any]:
    """Everything a pipeline could have created or changed, in a comparable form (no timestamps, no counters).

    Tables (key schema, stream setting, latest stream, tags, items), streams, IAM roles (trust policy, inline
    policies with their documents, attached policies, boundary, tags), customer managed policies, functions
    (configuration that a run could change, environment, tags), event source mappings, log groups (retention,
    tags, streams), SQS queues and SNS topics.
    """
    import botocore.exceptions

    ddb, streams = client(url, "dynamodb"), client(url, "dynamodbstreams")
    iam, lam, logs = client(url, "iam"), client(url, "lambda"), client(url, "logs")
    sqs, sns = client(url, "sqs"), client(url, "sns")

    tables: dict[str, Any] = {}
    for name in _pages(ddb.list_tables, "TableNames", "ExclusiveStartTableName", "LastEvaluatedTableName"):
        desc = ddb.describe_table(TableName=name)["Table"]
        tags = _pages(ddb.list_tags_of_resource, "Tags", "NextToken", "NextToken", ResourceArn=desc["TableArn"])
        items = _pages(ddb.scan, "Items", "ExclusiveStartKey", "LastEvaluatedKey", TableName=name)
        tables[name] = {
            "arn": desc["TableArn"],
            "key_schema": desc["KeySchema"],
            "stream": desc.get("StreamSpecification", {"StreamEnabled": False}),
            "latest_stream_arn": desc.get("LatestStreamArn"),
            "tags": {t["Key"]: t["Value"] for t in tags},
            "items": sorted(json.dumps(i, sort_keys=True) for i in items),
        }

    stream_list = _pages(streams.list_streams, "Streams", "ExclusiveStartStreamArn", "LastEvaluatedStreamArn")
    stream_state = {}
    for s in stream_list:
        try:
            desc = streams.describe_stream(StreamArn=s["StreamArn"])["StreamDescription"]
        except botocore.exceptions.ClientError as exc:
            # The sandbox (moto) answers 500 for a stream that was disabled (KeyError 'StreamViewType' in
            # moto/dynamodbstreams/models.py); AWS describes it as DISABLED. Recorded, not fatal: the snapshot
            # is about what exists, and the table's own description still says whether its stream is on.
            desc = {"StreamStatus": f"unreadable ({exc.response['Error'].get('Code')})"}
        stream_state[s["StreamArn"]] = {"table": s["TableName"], "status": desc["StreamStatus"],
                                        "view_type": desc.get("StreamViewType")}

    roles: dict[str, Any] = {}
    for role in _pages(iam.list_roles, "Roles", "Marker", "Marker"):
        name = role["RoleName"]
        inline = {p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                  for p in _pages(iam.list_role_policies, "PolicyNames", "Marker", "Marker", RoleName=name)}
        attached = sorted(p["PolicyArn"] for p in _pages(iam.list_attached_role_policies, "AttachedPolicies",
                                                         "Marker", "Marker", RoleName=name))
        full = iam.get_role(RoleName=name)["Role"]
        roles[name] = {
            "arn": full["Arn"],
            "trust": full.get("AssumeRolePolicyDocument"),
            "inline": inline,
            "attached": attached,
            "boundary": (full.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
            "tags": {t["Key"]: t["Value"] for t in full.get("Tags", [])},
        }
    policies = sorted(p["Arn"] for p in _pages(iam.list_policies, "Policies", "Marker", "Marker", Scope="Local"))

    functions: dict[str, Any] = {}
    for fn in _pages(lam.list_functions, "Functions", "Marker", "NextMarker"):
        tags = lam.list_tags(Resource=fn["FunctionArn"]).get("Tags", {})
        functions[fn["FunctionName"]] = {
            "arn": fn["FunctionArn"], "runtime": fn.get("Runtime"), "handler": fn.get("Handler"),
            "role": fn.get("Role"), "code_sha256": fn.get("CodeSha256"), "memory": fn.get("MemorySize"),
            "timeout": fn.get("Timeout"), "environment": (fn.get("Environment") or {}).get("Variables", {}),
            "tags": tags,
        }

    mappings = {}
    for m in _pages(lam.list_event_source_mappings, "EventSourceMappings", "Marker", "NextMarker"):
        mappings[m["UUID"]] = {
            "source": m.get("EventSourceArn"), "function": m.get("FunctionArn"), "batch_size": m.get("BatchSize"),
            "starting_position": m.get("StartingPosition"), "enabled": m.get("State") in ("Enabled", "Enabling",
                                                                                          "Creating", "Updating"),
            "destination": m.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
        }

    groups = {}
    for g in _pages(logs.describe_log_groups, "logGroups", "nextToken", "nextToken"):
        name = g["logGroupName"]
        groups[name] = {
            "retention": g.get("retentionInDays"),
            "tags": logs.list_tags_log_group(logGroupName=name).get("tags", {}),
            "streams": sorted(s["logStreamName"] for s in _pages(
                logs.describe_log_streams, "logStreams", "nextToken", "nextToken", logGroupName=name)),
        }

    queues = sorted(sqs.list_queues().get("QueueUrls", []))
    topics = sorted(t["TopicArn"] for t in _pages(sns.list_topics, "Topics", "NextToken", "NextToken"))
    return {"tables": tables, "streams": stream_state, "roles": roles, "policies": policies,
            "functions": functions, "mappings": mappings, "log_groups": groups, "queues": queues, "topics": topics}


def snapshot_diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Human-readable differences between two snapshots (empty when equal)."""
    out = []
    for kind in sorted(set(before) | set(after)):
        b, a = before.get(kind), after.get(kind)
        if b == a:
            continue
        if isinstance(b, dict) and isinstance(a, dict):
            for key in sorted(set(b) | set(a)):
                if key not in b:
                    out.append(f"{kind}: added {key}")
                elif key not in a:
                    out.append(f"{kind}: removed {key}")
                elif b[key] != a[key]:
                    out.append(f"{kind}: changed {key}: {json.dumps(b[key], default=str)[:400]} -> "
                               f"{json.dumps(a[key], default=str)[:400]}")
        else:
            out.append(f"{kind}: {json.dumps(b, default=str)[:400]} -> {json.dumps(a, default=str)[:400]}")
    return out


def resource_names(snap: dict[str, Any]) -> list[str]:
    """Every name and ARN in a snapshot, for "did anything named like X appear" checks."""
    names: list[str] = []
    for kind in ("tables", "streams", "roles", "functions", "mappings", "log_groups"):
        for key, value in snap[kind].items():
            names.append(key)
            names.extend(str(v) for v in value.values() if isinstance(v, str))
    names.extend(snap["policies"] + snap["queues"] + snap["topics"])
    return names


# --- ansible-playbook, the way a user runs it --------------------------------------------------------------------

def playbook_command(url: str, playbook: Path, extra_vars: dict[str, Any] | None, *args: str) -> list[str]:
    ev = {"streamops_endpoint_url": url, "streamops_region": REGION, **(extra_vars or {})}
    return [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-e", json.dumps(ev), *args]


def run_playbook(url: str, playbook: Path, extra_vars: dict[str, Any] | None = None, *args: str,
                 env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """ansible-playbook against the sandbox (same environment as the conftest's run_playbook fixture).

    Usable outside a test function (a module-scoped fixture, a thread), which the fixture is not.
    """
    full_env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_NOCOLOR": "1", **CREDENTIALS, **(env or {})}
    started = time.monotonic()
    proc = subprocess.run(playbook_command(url, playbook, extra_vars, *args), cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    proc.duration = time.monotonic() - started  # type: ignore[attr-defined]
    return proc


def json_callback_env() -> dict[str, str]:
    """Environment for a machine-readable run (ansible.posix.json prints one JSON document at the end)."""
    return {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}


def parse_json_run(stdout: str) -> dict[str, Any]:
    """The document ansible.posix.json printed (warnings may precede it on stdout)."""
    start = stdout.find("{\n")
    if start < 0:
        start = stdout.find("{")
    return json.loads(stdout[start:]) if start >= 0 else {}


def failure_messages(document: dict[str, Any]) -> list[str]:
    """The `msg` of every failed task result (loop items included), in play order."""
    msgs: list[str] = []

    def walk(result: dict[str, Any]) -> None:
        if result.get("failed") or result.get("unreachable"):
            if result.get("msg"):
                msgs.append(str(result["msg"]))
            elif result.get("argument_errors"):
                msgs.extend(str(e) for e in result["argument_errors"])
        for item in result.get("results", []) or []:
            if isinstance(item, dict):
                walk(item)

    for play in document.get("plays", []):
        for task in play.get("tasks", []):
            for result in task.get("hosts", {}).values():
                walk(result)
    return msgs


def recap(document: dict[str, Any]) -> dict[str, dict[str, int]]:
    return document.get("stats", {})


# --- stream, logs and queue readers ------------------------------------------------------------------------------

def stream_records(url: str, stream_arn: str) -> list[dict[str, Any]]:
    """Every record in the stream, every shard from TRIM_HORIZON, in sequence order."""
    streams = client(url, "dynamodbstreams")
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    records: list[dict[str, Any]] = []
    for shard in shards:
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(page["Records"])
            # An open shard always hands back a next iterator; an empty page means we reached its end.
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return sorted(records, key=lambda r: int(r["dynamodb"]["SequenceNumber"]))


def log_events(url: str, group: str) -> list[dict[str, Any]]:
    """Every event in a log group through FilterLogEvents, in write order (time, then each stream's own order)."""
    logs = client(url, "logs")
    try:
        events = _pages(logs.filter_log_events, "events", "nextToken", "nextToken", logGroupName=group)
    except logs.exceptions.ResourceNotFoundException:
        return []
    position: dict[str, int] = {}
    keyed = []
    for event in events:
        stream = event.get("logStreamName", "")
        position[stream] = position.get(stream, 0) + 1
        keyed.append(((event["timestamp"], stream, position[stream]), event))
    return [event for _key, event in sorted(keyed, key=lambda pair: (pair[0][0], pair[0][2]))]


def json_lines(events: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    out = []
    for event in events:
        text = event["message"].strip()
        if not text.startswith("{"):
            continue
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("kind") == kind:
            out.append(line)
    return out


def drain_queue(url: str, queue_url: str, expected: int, timeout: float = 90.0) -> list[dict[str, Any]]:
    """Receive (and delete) messages until *expected* arrived, then one more empty poll to catch extras."""
    sqs = client(url, "sqs")
    got: list[dict[str, Any]] = []

    def receive() -> bool:
        page = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in page.get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(got) >= expected

    wait_for(f"{expected} message(s) in {queue_url}", receive, timeout=timeout, interval=0)
    receive()
    return got


# --- a write guard in front of the sandbox -----------------------------------------------------------------------

_READ_PREFIXES = ("Describe", "Get", "List", "Query", "Scan", "BatchGet", "Filter", "Receive", "Invoke")


def classify(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str, bool]:
    """(service, operation, is_write) of one AWS call, from its signature scope and protocol.

    JSON protocols name the operation in X-Amz-Target, query protocols in Action=, Lambda's REST API in its
    method (every GET is a read; Invoke is a read for this purpose, as in the sandbox's own stats).
    """
    import urllib.parse

    auth = headers.get("authorization", "")
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    service = scope.group(1) if scope else ""
    target = headers.get("x-amz-target", "")
    if target:
        operation = target.rsplit(".", 1)[-1]
    else:
        fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        if body and "x-www-form-urlencoded" in headers.get("content-type", ""):
            fields.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        operation = fields.get("Action", "")
    if service == "lambda" and not target:
        is_write = method != "GET" and not path.rstrip("/").endswith("/invocations")
        return service, f"{method} {urllib.parse.urlsplit(path).path}", is_write
    return service, operation, bool(operation) and not operation.startswith(_READ_PREFIXES)


class WriteGuard:
    """An HTTP proxy to the sandbox that records every call and, by default, refuses every write.

    Pointing one playbook run at its own guard attributes each call to that run (the sandbox's stats cannot tell
    parallel runs apart), and a run that would create something fails at its first write instead of building a
    whole pipeline, so a case that validates too late is reported by name, quickly, and leaves nothing behind.
    """

    def __init__(self, upstream: str, refuse_writes: bool = True):
        import http.server
        import threading
        import urllib.parse

        self.upstream = urllib.parse.urlsplit(upstream)
        self.refuse_writes = refuse_writes
        self.calls: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        guard = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet: the test reports what matters
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                call = classify(self.command, self.path, headers, body)
                with guard._lock:
                    guard.calls.append(call)
                if call[2] and guard.refuse_writes:
                    payload = json.dumps({"__type": "AccessDeniedException", "Type": "User",
                                          "message": f"bad-input test: write {call[0]}:{call[1]} refused"}).encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                    self.send_header("x-amzn-ErrorType", "AccessDeniedException")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                status, out_headers, data = guard._forward(self.command, self.path, self.headers.items(), body)
                self.send_response(status)
                for key, value in out_headers:
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _forward(self, method: str, path: str, headers: Iterable[tuple[str, str]],
                 body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        import http.client

        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        try:
            conn.request(method, path, body=body or None,
                         headers={k: v for k, v in headers if k.lower() not in ("host", "connection")})
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    @property
    def writes(self) -> list[str]:
        with self._lock:
            return [f"{service}:{operation}" for service, operation, write in self.calls if write]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
