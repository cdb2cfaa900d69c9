"""When a module of this collection may run in a fork of the controller, and when it must run as usual."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils.in_process import (
    SEAM,
    SEAM_MISSING,
    fallback_reason,
    run_module_here,
    run_module_in_fork,
    runs_once_per_worker,
)

# On a controller without the loader the fork is never used (test_seam_probe.py covers that path).
needs_seam = pytest.mark.skipif(SEAM is None, reason=f"no fork on this ansible-core: {SEAM_MISSING}")

SAFE = {
    "switch_env": None,
    "switch_var": None,
    "connection": "local",
    "become": False,
    "environment": [],
    "async_val": 0,
    "interpreter": sys.executable,
    "controller_python": sys.executable,
}


@pytest.mark.parametrize("connection", ["local", "ansible.builtin.local", "ansible.legacy.local"])
def test_local_task_on_the_controllers_python_runs_in_a_fork(connection):
    assert fallback_reason(**{**SAFE, "connection": connection}) is None


@pytest.mark.parametrize("switch", ["1", "true", "yes", "on"])
def test_switches_that_keep_it_on(switch):
    assert fallback_reason(**{**SAFE, "switch_env": switch, "switch_var": switch}) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"switch_env": "0"}, "STREAMOPS_IN_PROCESS=0"),
        ({"switch_env": "false"}, "STREAMOPS_IN_PROCESS=false"),
        ({"switch_var": False}, "streamops_in_process is false"),
        ({"switch_var": "no"}, "streamops_in_process is false"),
        ({"connection": "ssh"}, "connection ssh is not local"),
        ({"connection": "community.docker.docker"}, "is not local"),
        ({"become": True}, "become is set"),
        ({"environment": [{"AWS_PROFILE": "x"}]}, "the task sets environment"),
        ({"async_val": 30}, "the task is async"),
        ({"interpreter": None}, "ansible_python_interpreter is not set"),
        ({"interpreter": "/usr/bin/python3.6"}, "is not the controller's Python"),
    ],
)
def test_anything_else_runs_as_a_normal_module(change, expected):
    reason = fallback_reason(**{**SAFE, **change})
    assert reason is not None and expected in reason


def test_interpreter_compared_after_resolving_links(tmp_path):
    link = tmp_path / "python"
    link.symlink_to(sys.executable)
    assert fallback_reason(**{**SAFE, "interpreter": str(link)}) is None


@pytest.fixture
def fake_modules(tmp_path, monkeypatch):
    """A package of tiny modules on sys.path, run by their dotted name as the fork would run a collection's."""
    package = tmp_path / "fake_in_process_modules"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "ok.py").write_text(
        "from ansible.module_utils.basic import AnsibleModule\n"
        "m = AnsibleModule(argument_spec={'name': {'type': 'str'}}, supports_check_mode=True)\n"
        "m.exit_json(changed=not m.check_mode, name=m.params['name'])\n")
    (package / "crash.py").write_text("import sys\nprint('partial output')\nraise RuntimeError('boom in module')\n")
    (package / "noisy.py").write_text(
        "import sys\nfrom ansible.module_utils.basic import AnsibleModule\n"
        "m = AnsibleModule(argument_spec={})\nsys.stderr.write('a warning on stderr\\n')\n"
        "m.fail_json(msg='it failed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "fake_in_process_modules"


def _params(**args):
    return json.dumps({"ANSIBLE_MODULE_ARGS": {"_ansible_check_mode": False, **args}}).encode()


@needs_seam
def test_fork_runs_the_module_and_returns_its_json(fake_modules):
    rc, stdout, stderr = run_module_in_fork(f"{fake_modules}.ok", _params(name="x"))
    assert rc == 0, stderr
    result = json.loads(stdout)
    assert result["changed"] is True and result["name"] == "x"
    rc, stdout, _stderr = run_module_in_fork(f"{fake_modules}.ok", _params(name="y", _ansible_check_mode=True))
    assert json.loads(stdout)["changed"] is False


@needs_seam
def test_fork_reports_failure_exit_code_and_stderr(fake_modules):
    rc, stdout, stderr = run_module_in_fork(f"{fake_modules}.noisy", _params())
    assert rc == 1
    assert json.loads(stdout)["msg"] == "it failed"
    assert "a warning on stderr" in stderr


@needs_seam
def test_a_crash_in_the_module_does_not_take_the_caller_with_it(fake_modules):
    rc, stdout, stderr = run_module_in_fork(f"{fake_modules}.crash", _params())
    assert rc == 1
    assert "partial output" in stdout
    assert "boom in module" in stdout + stderr
    # The caller (here: pytest, in ansible: the worker) is still alive and its stdout is its own.
    assert sys.stdout is not None


def _as_a_worker(call):
    """Call in a fork of this process, as ansible's worker is one, and return what it returned (as JSON)."""
    import os

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            data = json.dumps(call()).encode()
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            data = json.dumps({"error": repr(exc)}).encode()
        os.write(write, data)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@needs_seam
def test_the_worker_runs_the_module_and_gets_its_json_exit_code_and_stderr(fake_modules):
    def run():
        before = sys.stdout, sys.stderr
        ok = run_module_here(f"{fake_modules}.ok", _params(name="x"))
        check = run_module_here(f"{fake_modules}.ok", _params(name="y", _ansible_check_mode=True))
        noisy = run_module_here(f"{fake_modules}.noisy", _params())
        return [ok, check, noisy, (sys.stdout, sys.stderr) == before]

    (rc, stdout, stderr), (_rc, check_stdout, _err), (noisy_rc, noisy_stdout, noisy_stderr), restored = _as_a_worker(run)
    assert rc == 0, stderr
    assert json.loads(stdout)["changed"] is True and json.loads(stdout)["name"] == "x"
    assert json.loads(check_stdout)["changed"] is False
    assert noisy_rc == 1 and json.loads(noisy_stdout)["msg"] == "it failed"
    assert "a warning on stderr" in noisy_stderr
    # The worker's own stdout and stderr are back once the module has exited.
    assert restored is True


@needs_seam
def test_a_crash_in_the_module_run_by_the_worker_is_its_failure_not_the_workers(fake_modules):
    def run():
        before = sys.stdout, sys.stderr
        rc, stdout, stderr = run_module_here(f"{fake_modules}.crash", _params())
        return [rc, stdout, stderr, (sys.stdout, sys.stderr) == before]

    rc, stdout, stderr, restored = _as_a_worker(run)
    assert rc == 1
    assert "partial output" in stdout
    assert "boom in module" in stdout + stderr
    assert restored is True


@pytest.mark.parametrize("task, once", [
    ({}, True),
    ({"loop": ["a", "b"]}, False),
    ({"loop_with": "items"}, False),
    ({"until": "result is succeeded"}, False),
    ({"retries": 3}, False),
    ({"retries": 0}, True),
    ({"timeout": 30}, False),
])
def test_only_a_task_that_runs_its_action_once_runs_the_module_in_its_worker(task, once):
    keywords = {"loop": None, "loop_with": None, "until": [], "retries": None, "timeout": 0, **task}
    assert runs_once_per_worker(**keywords) is once


def test_botocore_loaders_share_parsed_models_only_with_the_same_search_paths(tmp_path):
    import botocore.loaders

    from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils.in_process import (
        share_botocore_loader_cache,
    )

    class Loader(botocore.loaders.Loader):  # a subclass, so the real Loader is not patched by this test
        pass

    share_botocore_loader_cache(Loader)
    share_botocore_loader_cache(Loader)  # idempotent: the second call must not wrap __init__ again
    first, second = Loader(), Loader()
    model = first.load_service_model("dynamodb", "service-2")
    assert second.load_service_model("dynamodb", "service-2") is model  # parsed once, for both

    elsewhere = Loader(extra_search_paths=[str(tmp_path)])
    assert elsewhere._cache is not first._cache  # pylint: disable=protected-access

    class OtherFileLoader(botocore.loaders.JSONFileLoader):
        pass

    custom = Loader(file_loader=OtherFileLoader())
    assert custom._cache is not first._cache  # pylint: disable=protected-access


@needs_seam
def test_loading_the_plugin_froze_the_heap_for_the_forks():
    import gc

    # Imported above (the module's warm-up runs at import, as in the main ansible process): without the freeze,
    # every fork's garbage collector would walk and copy the inherited heap.
    assert gc.get_freeze_count() > 0


def _rewording_action(register="__role_result"):
    """An action of this collection whose module result is given, with a real templar over a real loader."""
    from unittest import mock

    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils import in_process

    task = mock.MagicMock(register=register, resolved_action="streamops.dynamodb_lambda.dynamodb_stream")
    return in_process.InProcessModuleAction(task, mock.MagicMock(), mock.MagicMock(), DataLoader(),
                                            Templar(loader=DataLoader()), mock.MagicMock())


def _trusted(value):
    """A template as a role's vars file gives it (ansible-core 2.19 renders only trusted templates)."""
    try:
        from ansible.template import trust_as_template
    except ImportError:  # ansible-core before 2.19 renders every string
        return value
    return trust_as_template(value)


REWORD_VARS = {
    "__streamops_failure_msg": "{{ __role_failure_msg }}",
    "__role_where": "streamops_pipelines[0] (orders): ",
    "__role_failure_msg": "{{ __role_where }}{{ {'table_missing': 'table_create: is false'}"
                          "[__role_result.reason | default('')] | default(__role_result.msg) }}",
}


@pytest.mark.parametrize("reason, expected", [
    ("table_missing", "streamops_pipelines[0] (orders): table_create: is false"),
    (None, "streamops_pipelines[0] (orders): AccessDenied: not allowed"),
])
def test_a_failure_is_reworded_with_the_result_registered(reason, expected):
    result = {"failed": True, "msg": "AccessDenied: not allowed", **({"reason": reason} if reason else {})}
    _rewording_action()._reword_failure(result, {key: _trusted(value) for key, value in REWORD_VARS.items()})
    assert result["msg"] == expected
    assert result["failed"] is True


def test_a_success_or_a_task_without_the_message_variable_is_left_as_the_module_wrote_it():
    variables = {key: _trusted(value) for key, value in REWORD_VARS.items()}
    ok = {"changed": True, "table_arn": "arn"}
    _rewording_action()._reword_failure(ok, variables)
    assert ok == {"changed": True, "table_arn": "arn"}
    failed = {"failed": True, "msg": "the module's words"}
    _rewording_action()._reword_failure(failed, {k: v for k, v in variables.items() if k != "__streamops_failure_msg"})
    assert failed["msg"] == "the module's words"


def test_the_modules_words_are_never_rendered_as_a_template():
    # A module may echo what the caller wrote; that text is data, as it is to a task after a register.
    result = {"failed": True, "msg": "no table named {{ lookup('env', 'HOME') }}"}
    _rewording_action()._reword_failure(result, {key: _trusted(value) for key, value in REWORD_VARS.items()})
    assert result["msg"] == "streamops_pipelines[0] (orders): no table named {{ lookup('env', 'HOME') }}"


def test_a_message_that_cannot_be_rendered_leaves_the_modules_own():
    variables = {"__streamops_failure_msg": _trusted("{{ undefined_variable.attribute }}")}
    result = {"failed": True, "msg": "the module's words"}
    _rewording_action()._reword_failure(result, variables)
    assert result["msg"] == "the module's words"


def test_the_error_detail_ansible_core_prints_gets_the_new_words_too():
    # ansible-core 2.19 prints a failed task's "Task failed: Module failed: ..." from the result's exception.
    messages = pytest.importorskip("ansible.module_utils._internal._messages")
    summary = messages.ErrorSummary(event=messages.Event(msg="the module's words", formatted_traceback="tb\n"))
    result = {"failed": True, "msg": "the module's words", "exception": summary}
    _rewording_action()._reword_failure(result, {key: _trusted(value) for key, value in REWORD_VARS.items()})
    assert result["exception"].event.msg == "streamops_pipelines[0] (orders): the module's words"
    assert result["exception"].event.formatted_traceback == "tb\n"


def _builtin_handler_table(session):
    """What each builtin event name resolves to for a session: the handlers, in the order they would be called."""
    import botocore.handlers

    emitter = session._original_handler  # pylint: disable=protected-access
    names = sorted({spec[0] for spec in botocore.handlers.BUILTIN_HANDLERS})
    return {name: list(emitter._handlers.prefix_search(name)) for name in names}  # pylint: disable=protected-access


def test_a_new_session_gets_the_builtin_handlers_a_registration_of_its_own_gives():
    import botocore.hooks
    import botocore.session

    from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils.in_process import (
        share_botocore_builtin_handlers,
    )

    share_botocore_builtin_handlers(botocore.session.Session, botocore.hooks.HierarchicalEmitter,
                                    botocore.hooks.EventAliaser)
    assert botocore.session.Session.__dict__.get("_streamops_shared_handlers")
    botocore.session.Session()  # the first fresh session makes the copy the later ones get
    shared = botocore.session.Session()
    # Given its own event hooks, a session registers the builtin handlers one by one, as botocore does.
    registered = botocore.session.Session(event_hooks=botocore.hooks.HierarchicalEmitter())
    assert _builtin_handler_table(shared) == _builtin_handler_table(registered)
    assert len(_builtin_handler_table(shared)) > 50


def _a_handler(**kwargs):
    """An event handler of a test's own (botocore requires **kwargs)."""
    del kwargs


def test_a_handler_one_session_registers_is_that_sessions_only():
    import botocore.session

    first, second = botocore.session.Session(), botocore.session.Session()
    first.register("before-call.lambda.GetFunction", _a_handler)
    third = botocore.session.Session()
    for session, expected in ((first, True), (second, False), (third, False)):
        handlers = session._original_handler._handlers.prefix_search("before-call.lambda.GetFunction")  # pylint: disable=protected-access
        assert (_a_handler in list(handlers)) is expected


def test_a_session_given_its_own_event_hooks_keeps_them():
    import botocore.hooks
    import botocore.session

    hooks = botocore.hooks.HierarchicalEmitter()
    hooks.register("before-call.lambda.GetFunction", _a_handler)
    session = botocore.session.Session(event_hooks=hooks)
    assert session._original_handler is hooks  # pylint: disable=protected-access
    assert _a_handler in list(hooks._handlers.prefix_search("before-call.lambda.GetFunction"))  # pylint: disable=protected-access


def _precompiling_loader(tmp_path):
    """A loader class like the collection loader's (get_filename, get_code), over module files in tmp_path."""
    from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils.in_process import precompile_modules

    compiled = []

    class Loader:
        def __init__(self, filename):
            self.filename = filename

        def get_filename(self, fullname):
            return self.filename

        def get_code(self, fullname):
            compiled.append(self.filename)
            with open(self.filename, "rb") as f:
                return compile(f.read(), self.filename, "exec", dont_inherit=True)

    (tmp_path / "one.py").write_text("X = 1\n")
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "notes.txt").write_text("not python")
    precompile_modules(Loader, [str(tmp_path)])
    return Loader, compiled


def test_a_module_file_compiled_before_the_fork_is_not_compiled_again(tmp_path):
    Loader, compiled = _precompiling_loader(tmp_path)
    first, second = Loader(str(tmp_path / "one.py")), Loader(str(tmp_path / "one.py"))
    code = first.get_code("x.one")
    assert second.get_code("x.one") is code and compiled == []
    scope = {}
    exec(code, scope)  # pylint: disable=exec-used
    assert scope["X"] == 1


def test_a_changed_or_unknown_file_is_compiled_by_the_loader_as_before(tmp_path):
    import os

    Loader, compiled = _precompiling_loader(tmp_path)
    other = tmp_path / "two.py"
    other.write_text("Y = 2\n")
    Loader(str(other)).get_code("x.two")
    Loader(str(tmp_path / "__init__.py")).get_code("x")
    assert compiled == [str(other), str(tmp_path / "__init__.py")]

    one = tmp_path / "one.py"
    one.write_text("X = 2\n")  # the same size, another modification time
    stat = one.stat()
    os.utime(one, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    scope = {}
    exec(Loader(str(one)).get_code("x.one"), scope)  # pylint: disable=exec-used
    assert scope["X"] == 2 and compiled[-1] == str(one)


@needs_seam
def test_the_collection_loader_hands_out_the_modules_compiled_when_the_plugin_loaded():
    import importlib.util

    from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils import in_process

    # The plugin's warm-up (at import, as in the main ansible process) compiled this collection's modules and
    # imported its module_utils; the collection loader of a module run (runpy's find_spec) finds the code.
    name = f"{in_process.PLUGINS_PACKAGE}.modules.stream_trigger"
    spec = importlib.util.find_spec(name)
    code = spec.loader.get_code(name)
    assert code is in_process._PRECOMPILED[spec.loader.get_filename(name)][1]  # pylint: disable=protected-access
    assert f"{in_process.PLUGINS_PACKAGE}.module_utils.event_source_mapping" in sys.modules
