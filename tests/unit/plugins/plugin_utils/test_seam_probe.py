"""The fork relies on ansible-core's private AnsiballZ loader; without it (or with another signature) every task
runs as a normal module, and the run says so once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from ansible.release import __version__ as ANSIBLE_CORE

from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils import in_process

COLLECTIONS = Path(__file__).resolve().parents[4] / "collections"
CORE = tuple(int(p) for p in ANSIBLE_CORE.split(".")[:2])


def test_the_seam_is_found_exactly_on_the_controller_it_was_written_for():
    seam, missing = in_process.probe_seam()
    if CORE >= (2, 19):
        assert seam is not None and missing is None
    else:  # 2.17/2.18: no such loader, and no module JSON profiles either
        assert seam is None and "cannot be imported" in missing


def _fake_loader(monkeypatch, run_module):
    fake = types.ModuleType(in_process.LOADER_MODULE)
    fake.run_module = run_module
    monkeypatch.setitem(sys.modules, in_process.LOADER_MODULE, fake)


def test_a_missing_loader_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, in_process.LOADER_MODULE, None)  # what `import` makes of it: ImportError
    seam, missing = in_process.probe_seam()
    assert seam is None
    assert missing.startswith(f"{in_process.LOADER_MODULE}.run_module cannot be imported (ModuleNotFoundError")


def test_a_loader_without_run_module_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, in_process.LOADER_MODULE, types.ModuleType(in_process.LOADER_MODULE))
    seam, missing = in_process.probe_seam()
    assert seam is None and "cannot be imported (AttributeError" in missing


@pytest.mark.parametrize(
    "signature",
    [
        "def run_module(json_params, profile): pass",  # an argument dropped
        "def run_module(*, json_params, profile, module_fqn, modlib_path): pass",  # extensions gone
        "def run_module(*, json_params, profile, module_fqn, modlib_path, extensions, sandbox): pass",  # new, required
        "def run_module(params, /): pass",  # positional only
    ],
)
def test_a_changed_loader_signature_is_reported(monkeypatch, signature):
    namespace = {}
    exec(signature, namespace)  # pylint: disable=exec-used
    _fake_loader(monkeypatch, namespace["run_module"])
    seam, missing = in_process.probe_seam()
    assert seam is None
    assert missing.startswith(f"{in_process.LOADER_MODULE}.run_module has another signature")


@pytest.mark.skipif(CORE < (2, 19), reason="the rest of the seam (module JSON profiles) is 2.19's")
def test_compatible_changes_to_the_loader_are_accepted(monkeypatch):
    def run_module(*, json_params, profile, module_fqn, modlib_path, extensions, init_globals=None, new=None):
        del json_params, profile, module_fqn, modlib_path, extensions, init_globals, new

    _fake_loader(monkeypatch, run_module)
    seam, missing = in_process.probe_seam()
    assert missing is None and seam.run_module is run_module


def test_a_missing_seam_sends_every_task_to_the_normal_module_path():
    reason = in_process.fallback_reason(switch_env=None, switch_var=None, connection="local", become=False,
                                        environment=[], async_val=0, interpreter=sys.executable,
                                        controller_python=sys.executable, seam_missing="the loader is gone")
    assert reason == "the loader is gone"
    # The user's own switch is the reason given when both apply: nothing is "missing" then.
    reason = in_process.fallback_reason(switch_env="0", switch_var=None, connection="local", become=False,
                                        environment=[], async_val=0, interpreter=sys.executable,
                                        controller_python=sys.executable, seam_missing="the loader is gone")
    assert reason == "STREAMOPS_IN_PROCESS=0"


# A fresh Python (the probe runs once, when the plugin file is imported, as in the main ansible process): break
# the loader, load the plugin, then run tasks through the action plugin in forked workers as ansible's strategies
# do. Each worker's Display forwards to the parent over a pipe, as a WorkerProcess forwards to the main process
# over its final queue (Display._final_q.send_display), and the parent replays the call on its own Display, whose
# output (stderr) the test counts.
RUN = textwrap.dedent("""
    import json, os, pickle, sys
    from unittest import mock

    sys.path.insert(0, {collections!r})
    # ansible-core 2.19 itself imports the loader (executor.module_common): load that first, then take the loader
    # away from everyone who imports it after, as a release that moved it would.
    import ansible.plugins.action
    LOADER = "ansible.module_utils._internal._ansiballz._loader"
    if {breakage!r} == "missing":
        sys.modules[LOADER] = None
    elif {breakage!r} == "signature":
        import types
        fake = types.ModuleType(LOADER)
        fake.run_module = lambda json_params, profile: None
        sys.modules[LOADER] = fake

    from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils import in_process
    from ansible.utils.display import Display

    class Queue:  # what a worker's Display sends display calls through
        def __init__(self, fd):
            self.fd = fd
        def send_display(self, method, *args, **kwargs):
            data = pickle.dumps((method, args, kwargs))
            os.write(self.fd, len(data).to_bytes(8, "big") + data)

    def action():
        task = mock.MagicMock(environment=None, async_val=0, check_mode=False, diff=False,
                              resolved_action="streamops.dynamodb_lambda.dynamodb_item")
        connection = mock.MagicMock(_load_name="local")
        templar = mock.MagicMock()
        templar.template.side_effect = lambda value: value
        act = in_process.InProcessModuleAction(task, connection, mock.MagicMock(become=False), mock.MagicMock(),
                                               templar, mock.MagicMock())
        act._execute_module = lambda **kwargs: {{"ran": "module"}}
        act._execute_in_fork = lambda task_vars: {{"ran": "fork"}}
        return act

    ways = []
    for _task in range(3):
        read, write = os.pipe()
        if os.fork() == 0:  # a worker: a fork of the process that loaded the plugin
            os.close(read)
            Display()._final_q = Queue(write)
            result = action().run(task_vars={{"ansible_python_interpreter": sys.executable}})
            Display()._final_q = None
            os.write(write, (0).to_bytes(8, "big") + json.dumps(result["ran"]).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            while True:
                size = int.from_bytes(pipe.read(8), "big")
                if not size:
                    ways.append(json.loads(pipe.read()))
                    break
                method, args, kwargs = pickle.loads(pipe.read(size))
                getattr(Display(), method)(*args, **kwargs)  # the main process shows what a worker sent
        os.wait()
    print(json.dumps(ways))
""")


def _run_tasks(breakage, env=None):
    """(how each of three tasks ran, the warnings ansible would print for the whole run)."""
    script = RUN.format(collections=str(COLLECTIONS), breakage=breakage)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "[WARNING]" in line]
    return json.loads(proc.stdout.splitlines()[-1]), warnings, proc.stderr


@pytest.mark.parametrize("breakage", ["missing", "signature"])
def test_broken_loader_means_normal_modules_and_exactly_one_warning(breakage):
    ways, warnings, stderr = _run_tasks(breakage)
    assert ways == ["module"] * 3  # every task ran the normal way
    assert len(warnings) == 1, stderr  # three tasks, each in its own worker, one warning
    assert "streamops.dynamodb_lambda: modules run as normal modules" in warnings[0]
    assert in_process.LOADER_MODULE in " ".join(stderr.split())


@pytest.mark.skipif(CORE < (2, 19), reason="the fork needs 2.19's loader")
def test_intact_loader_means_forks_and_no_warning():
    ways, warnings, stderr = _run_tasks("none")
    assert (ways, warnings) == (["fork"] * 3, []), stderr


def test_no_warning_when_the_user_turned_the_fork_off():
    ways, warnings, stderr = _run_tasks("missing", env={**os.environ, "STREAMOPS_IN_PROCESS": "0"})
    assert (ways, warnings) == (["module"] * 3, []), stderr


def test_no_warning_for_tasks_that_would_not_fork_anyway():
    reason = in_process.fallback_reason(switch_env=None, switch_var=None, connection="ssh", become=False,
                                        environment=[], async_val=0, interpreter=sys.executable,
                                        controller_python=sys.executable, seam_missing="the loader is gone")
    assert reason == "connection ssh is not local"  # not the missing seam: run() warns only for that reason
