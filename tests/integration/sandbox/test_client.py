"""sandbox/client.py, the one launcher of the tests, the benchmark and the demo, against real sandbox processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox.client import (  # noqa: E402  pylint: disable=wrong-import-position
    SandboxAdminError, SandboxClient, SandboxProcess, SandboxStartError, free_port, port_is_free)


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


# --- the command line: python -m sandbox.client start|stop (molecule's create.yml and destroy.yml) -----------------
def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox.client", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _sandboxes_on(port: int) -> list[str]:
    """The command lines of live `python -m sandbox --port <port>` processes."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = stat.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args[1:5] == ["-m", "sandbox", "--port", str(port)] and _alive(int(stat.parent.name)):
            found.append(" ".join(args))
    return found


def test_cli_start_leaves_a_ready_detached_sandbox_and_stop_is_idempotent(tmp_path):
    port = free_port()
    log, pidfile = tmp_path / "sandbox.log", tmp_path / "run" / "sandbox.pid"
    started = _cli("start", "--port", str(port), "--log", str(log), "--pidfile", str(pidfile), "--",
                   "--mapping-transition", "2")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"http://127.0.0.1:{port}"
    pid = int(pidfile.read_text())
    try:
        assert _alive(pid) and _sandboxes_on(port)
        assert os.getsid(pid) == pid  # its own session: it outlives the command and the shell that ran it
        assert os.getsid(pid) != os.getsid(0)
        client = SandboxClient(started.stdout.strip())
        assert client.health() == {"status": "ok"}
        assert client.config()["mapping_transition"] == 2.0  # the options after -- reached the sandbox
        assert log.read_text().startswith(f"sandbox ready on http://127.0.0.1:{port}")
    finally:
        stopped = _cli("stop", "--pidfile", str(pidfile))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"sandbox {pid} stopped"
    assert not _alive(pid) and not pidfile.exists()
    assert log.read_text().splitlines()[-1] == "sandbox stopped"  # SIGTERM: a clean exit
    again = _cli("stop", "--pidfile", str(pidfile))  # no pid file: nothing to do
    assert again.returncode == 0 and "no sandbox to stop" in again.stdout
    pidfile.write_text(f"{pid}\n")  # a pid file of a process that has gone
    gone = _cli("stop", "--pidfile", str(pidfile))
    assert gone.returncode == 0 and gone.stdout.strip() == f"sandbox {pid} was not running"
    assert not pidfile.exists()


def test_cli_start_with_a_bad_option_exits_non_zero_with_the_sandboxs_message_and_no_process(tmp_path):
    port = free_port()
    log, pidfile = tmp_path / "sandbox.log", tmp_path / "sandbox.pid"
    result = _cli("start", "--port", str(port), "--log", str(log), "--pidfile", str(pidfile), "--",
                  "--throttle", "2")
    assert result.returncode != 0
    assert "exited (status 2) before it was ready" in result.stderr
    assert "throttle out of range" in result.stderr  # the sandbox's own words, from the end of its log
    assert not pidfile.exists()
    assert port_is_free(port)
    assert not _sandboxes_on(port)


def test_cli_start_on_a_port_in_use_exits_non_zero_naming_it(tmp_path):
    pidfile = tmp_path / "sandbox.pid"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli("start", "--port", str(port), "--log", str(tmp_path / "sandbox.log"), "--pidfile", str(pidfile))
    assert result.returncode != 0
    assert f"{port} is in use" in result.stderr
    assert not pidfile.exists()


def test_cli_start_timeout_stops_the_sandbox_it_started(tmp_path):
    """A sandbox that says nothing within --start-timeout is stopped, not left behind."""
    site = tmp_path / "slow"
    site.mkdir()
    # Holds the sandbox (not the launcher, which shares the environment) before its start, past the timeout.
    (site / "sitecustomize.py").write_text("import sys, time\n"
                                           "if 'sandbox.client' not in sys.orig_argv:\n"
                                           "    time.sleep(600)\n")
    pidfile = tmp_path / "sandbox.pid"
    env = {**os.environ, "PYTHONPATH": str(site)}
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "sandbox.client", "start", "--port", str(port), "--log",
                             str(tmp_path / "sandbox.log"), "--pidfile", str(pidfile), "--start-timeout", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert result.returncode != 0
    assert "did not become ready within 1s" in result.stderr
    assert not pidfile.exists()
    assert not _sandboxes_on(port)
