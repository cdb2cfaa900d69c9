"""sandbox/client.py, the one launcher of the tests, the benchmark and the demo, against real sandbox processes."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox.client import (  # noqa: E402  pylint: disable=wrong-import-position
    SandboxAdminError, SandboxClient, SandboxProcess, SandboxStartError, free_port)


def test_start_with_args_reset_restores_them_and_stop_ends_the_process(tmp_path):
    log = tmp_path / "sandbox.log"
    sandbox = SandboxProcess(args=["--mapping-transition", "2", "--stream-shards", "3"], log_path=log)
    with sandbox:
        assert sandbox.url == f"http://127.0.0.1:{sandbox.port}" and sandbox.port > 0  # the port it picked
        assert sandbox.health() == {"status": "ok"}
        assert (sandbox.knobs["mapping_transition"], sandbox.knobs["stream_shards"]) == (2.0, 3)
        changed = sandbox.configure(mapping_transition=0, throttle=0.5)
        assert (changed["mapping_transition"], changed["throttle"]) == (0.0, 0.5)
        sandbox.reset()
        assert sandbox.config() == sandbox.knobs  # what the command line set, not the live change
        assert sandbox.config()["throttle"] == 0.0
        SandboxClient(sandbox.url).configure(throttle=0)  # a client of a sandbox it did not start
        assert sandbox.stats()["total"] == 0  # admin calls are not AWS calls
        sandbox.reset_stats()
        process = sandbox.process
    assert process is not None and process.poll() == 0  # SIGTERM: a clean exit
    assert sandbox.stop() == 0  # stopping twice is harmless
    lines = log.read_text().splitlines()
    assert lines[0].startswith("sandbox ready on " + sandbox.url) and "'mapping_transition': 2.0" in lines[0]
    assert lines[-1] == "sandbox stopped"


def test_a_given_port_is_used():
    port = free_port()
    with SandboxProcess(port) as sandbox:
        assert sandbox.url == f"http://127.0.0.1:{port}"
        assert sandbox.health() == {"status": "ok"}


def test_a_port_in_use_is_a_start_error_with_the_sandboxs_words():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sandbox = SandboxProcess(port)
        with pytest.raises(SandboxStartError, match=r"exited \(status 1\) before it was ready") as err:
            sandbox.start()
    assert f"{port} is in use" in str(err.value)  # werkzeug's words, from the sandbox's output
    assert sandbox.process is not None and sandbox.process.poll() == 1


def test_a_bad_option_is_a_start_error_naming_it():
    with pytest.raises(SandboxStartError, match="throttle") as err:
        SandboxProcess(args=["--throttle", "2"]).start()
    assert "status 2" in str(err.value)


def test_another_moto_stops_the_start_naming_both_versions(tmp_path):
    """The sandbox patches moto's internals: it refuses to start on a moto other than the pinned one."""
    site = tmp_path / "other-moto"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "m.version = lambda name: '9.9.9' if name == 'moto' else real(name)\n")
    with pytest.raises(SandboxStartError) as err:
        SandboxProcess(env={"PYTHONPATH": str(site)}).start()
    message = str(err.value)
    assert "moto 9.9.9 is installed" in message and "requirements-sandbox.txt" in message, message
    assert "status 2" in message


def test_an_admin_error_carries_the_sandboxs_message():
    with SandboxProcess() as sandbox:
        with pytest.raises(SandboxAdminError, match=r"HTTP 400: throttle out of range") as err:
            sandbox.configure(throttle=2)
        assert err.value.code == 400
        with pytest.raises(SandboxAdminError, match="unknown sandbox setting 'no_such_knob'"):
            sandbox.configure(no_such_knob=1)
        with pytest.raises(SandboxAdminError, match="HTTP 404"):
            sandbox.call("GET", "/_sandbox/nothing-here")
