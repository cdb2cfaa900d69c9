"""Who can drive the sandbox: it runs the code it is sent, so only this machine, under a loopback name, may.

A web page the developer visits must neither read the sandbox's answers (CORS) nor reach it under its own name
through DNS rebinding (Host). The browser side of this is the Fetch standard's CORS protocol
(https://fetch.spec.whatwg.org/#http-cors-protocol): without Access-Control-Allow-Origin a page cannot read a
cross-origin answer; DNS rebinding is defeated by refusing foreign Host headers
(https://en.wikipedia.org/wiki/DNS_rebinding#Protection).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CREATE_ROLE_FORM = urllib.parse.urlencode({
    "Action": "CreateRole", "Version": "2010-05-08", "RoleName": "rebound",
    "AssumeRolePolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
})
IAM_SCOPE = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"
DDB_LIST_TABLES = {"Authorization": IAM_SCOPE.replace("/iam/", "/dynamodb/"),
                   "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}


def _raw(url: str, method: str, path: str, body: str | bytes = b"", headers: dict[str, str] | None = None):
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        # skip_host: the test sets Host itself, as a rebinding page's browser would.
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        data = body.encode() if isinstance(body, str) else body
        for key, value in {"Content-Length": str(len(data)), **(headers or {})}.items():
            conn.putheader(key, value)
        conn.endheaders(data)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline()


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_foreign_host_header_is_refused_and_changes_nothing(sandbox, aws):
    """The DNS-rebinding attack: a page at rebind.attacker.example resolved to 127.0.0.1 sends its own Host."""
    port = urllib.parse.urlsplit(sandbox.url).port
    status, _headers, body = _raw(sandbox.url, "POST", "/", CREATE_ROLE_FORM, {
        "Host": f"rebind.attacker.example:{port}", "Authorization": IAM_SCOPE,
        "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403, body
    assert b"rebind.attacker.example" in body
    assert aws("iam").list_roles()["Roles"] == []
    status, _headers, _body = _raw(sandbox.url, "GET", "/_sandbox/config",
                                   headers={"Host": "rebind.attacker.example"})
    assert status == 403  # the admin endpoints too: they switch faults and reset everything


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:{port}", "localhost", "LOCALHOST:{port}", "[::1]",
                                  "[::1]:{port}", "localhost:1234"])
def test_loopback_host_names_are_answered_with_or_without_a_port(sandbox, host):
    port = urllib.parse.urlsplit(sandbox.url).port
    status, _headers, body = _raw(sandbox.url, "POST", "/", "{}", {"Host": host.format(port=port), **DDB_LIST_TABLES})
    assert status == 200, body
    assert json.loads(body) == {"TableNames": []}


def test_the_same_role_creation_under_a_loopback_host_works(sandbox, aws):
    """The control for the refusal above: only the Host header differs."""
    port = urllib.parse.urlsplit(sandbox.url).port
    status, _headers, body = _raw(sandbox.url, "POST", "/", CREATE_ROLE_FORM, {
        "Host": f"127.0.0.1:{port}", "Authorization": IAM_SCOPE, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, body
    assert [r["RoleName"] for r in aws("iam").list_roles()["Roles"]] == ["rebound"]


def test_no_cors_headers_by_default(sandbox):
    port = urllib.parse.urlsplit(sandbox.url).port
    base = {"Host": f"127.0.0.1:{port}", "Origin": "http://evil.example"}
    status, headers, _body = _raw(sandbox.url, "POST", "/", "{}", {**base, **DDB_LIST_TABLES})
    assert status == 200
    assert not [k for k in headers if k.startswith("access-control-")], headers
    status, headers, _body = _raw(sandbox.url, "OPTIONS", "/", headers={
        **base, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    assert not [k for k in headers if k.startswith("access-control-")], headers
    status, headers, _body = _raw(sandbox.url, "GET", "/_sandbox/stats", headers=base)
    assert status == 200
    assert not [k for k in headers if k.startswith("access-control-")], headers


def test_cors_only_for_the_origins_given():
    proc, ready = _start("--cors-origin", "http://localhost:3000")
    try:
        assert ready.startswith("sandbox ready on "), ready
        url = ready.split()[3]
        host = {"Host": urllib.parse.urlsplit(url).netloc}
        status, headers, _ = _raw(url, "POST", "/", "{}", {**host, "Origin": "http://localhost:3000",
                                                           **DDB_LIST_TABLES})
        assert status == 200
        assert headers["access-control-allow-origin"] == "http://localhost:3000"
        status, headers, _ = _raw(url, "OPTIONS", "/", headers={
            **host, "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-amz-target"})
        assert status == 200
        assert headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "POST" in headers["access-control-allow-methods"]
        status, headers, _ = _raw(url, "POST", "/", "{}", {**host, "Origin": "http://evil.example",
                                                           **DDB_LIST_TABLES})
        assert "access-control-allow-origin" not in headers
    finally:
        _stop(proc)


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_non_loopback_bind_is_refused_without_the_explicit_flag(host):
    proc = subprocess.run([sys.executable, "-m", "sandbox", "--host", host, "--port", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not a loopback address" in proc.stderr
    assert "--allow-remote-code-execution" in proc.stderr
    assert "ready" not in proc.stdout


def test_remote_bind_with_the_flag_answers_loopback_and_the_named_hosts_and_calls_back_on_loopback():
    proc, ready = _start("--host", "0.0.0.0", "--allow-remote-code-execution", "--allow-host", "devbox.internal")
    try:
        assert ready.startswith("sandbox ready on http://127.0.0.1:"), ready  # what Lambda handlers call back on
        url = ready.split()[3]
        port = urllib.parse.urlsplit(url).port
        for host, expected in ((f"127.0.0.1:{port}", 200), (f"devbox.internal:{port}", 200),
                               (f"rebind.attacker.example:{port}", 403)):
            status, _headers, body = _raw(url, "POST", "/", "{}", {"Host": host, **DDB_LIST_TABLES})
            assert status == expected, (host, body)
    finally:
        _stop(proc)


def test_a_loopback_bind_needs_no_flag():
    proc, ready = _start("--host", "localhost")
    try:
        assert ready.startswith("sandbox ready on http://localhost:"), ready
    finally:
        _stop(proc)


def test_the_start_refuses_a_moto_other_than_the_pinned_one(tmp_path):
    """The sandbox patches moto's internals: another moto version must stop it at start, naming both versions."""
    fake = ("import importlib.metadata as m, sys\n"
            "real = m.version\n"
            "m.version = lambda name: '9.9.9' if name == 'moto' else real(name)\n"
            "from sandbox.__main__ import main\n"
            "sys.exit(main(['--port', '0']))\n")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", fake], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ready" not in proc.stdout
    assert "moto 9.9.9" in proc.stderr and "moto 5.2.5" in proc.stderr, proc.stderr
    assert "requirements-sandbox.txt" in proc.stderr
    assert time.monotonic() - started < 30


def test_the_pin_is_read_from_the_requirements_file(tmp_path):
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sandbox.server import MotoVersionMismatch, check_moto_version

    assert check_moto_version() == "5.2.5"
    other = tmp_path / "requirements-sandbox.txt"
    other.write_text("# pinned\nmoto[server]==5.1.0\n")
    with pytest.raises(MotoVersionMismatch, match=r"moto 5\.1\.0 .*moto 5\.2\.5 is installed"):
        check_moto_version(other)
    other.write_text("boto3\n")
    with pytest.raises(MotoVersionMismatch, match="pins no moto version"):
        check_moto_version(other)
