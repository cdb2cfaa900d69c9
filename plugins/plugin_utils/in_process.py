# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run this collection's modules in the controller's worker process (or a fork of it) instead of a fresh Python.

Why: an AWS module task spends nearly all of its time starting up (a new Python, the AnsiballZ payload, importing
amazon.aws's module_utils and boto3, part of it compiling module_utils that a zip import can never cache), against
a few milliseconds of API work against the sandbox. A playbook that sets up many pipelines pays that for every
module task of every pipeline (the figures are in bench/README.md and bench/RESULTS.md).

When the task runs on the controller anyway (local connection, the controller's own Python, no become, no task
environment, not async), the action plugin of a module runs the module in the worker process with the same
arguments and the same JSON protocol as AnsiballZ (`_update_module_args`, `ANSIBLE_MODULE_ARGS`,
`_parse_returned_data`), so check mode, diff, no_log and module_defaults behave exactly as in a normal run. Ansible
forks one worker per task and host, which runs the task and exits, so a module run there leaves nothing behind
(module globals, warnings; sys.exit is caught). A task that runs its action more than once in its worker (a loop,
retries) forks the worker for each module run instead, so one run's globals never reach the next; so does a task
with a timeout. Either way the module starts with boto3, botocore and the AWS module_utils already imported, and
its own code already compiled: the linear and free strategies load a task's action plugin in the main ansible
process before forking the per-host workers, so the imports below happen once per playbook run.

Anything else falls back to the normal module execution, as does every task when the environment variable
STREAMOPS_IN_PROCESS is 0/false/no/off or the variable `streamops_in_process` is false for the host. Mitogen for
Ansible runs modules in-process for the same reason.

The fork runs the module with ansible-core's own AnsiballZ loader (`ansible.module_utils._internal._ansiballz.
_loader.run_module`, ansible-core 2.19), which is private: it may move or change in any release, and ansible-core
2.17/2.18 have no such loader. `probe_seam` checks, once when this file is imported, that the loader and the 2.19
JSON protocol are there with the expected signatures; when they are not, every task of the run falls back to the
normal module execution and the run says so in one warning.
"""
from __future__ import annotations

import copy
import dataclasses
import gc
import importlib
import inspect
import io
import json
import os
import pkgutil
import signal
import sys
import tempfile

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var
from ansible.vars.clean import remove_internal_keys

from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils import template_cache
from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils.switches import is_off

ENV_SWITCH = "STREAMOPS_IN_PROCESS"
VAR_SWITCH = "streamops_in_process"
# A task variable of the roles' module tasks: the message a failure is reported with, in the caller's words.
FAILURE_MSG_VAR = "__streamops_failure_msg"
# The private loader the fork runs modules with, and the keyword arguments this file passes it.
LOADER_MODULE = "ansible.module_utils._internal._ansiballz._loader"
LOADER_KEYWORDS = ("json_params", "profile", "module_fqn", "modlib_path", "extensions")
LOCAL_CONNECTIONS = frozenset(("local", "ansible.builtin.local", "ansible.legacy.local"))
# The JSON protocol every module of this collection speaks (none declares another serialization profile).
PROFILE = "legacy"


class Seam:
    """What running a module in a fork needs from ansible-core (2.19): its loader and its JSON protocol."""

    def __init__(self, run_module, get_module_encoder, direction):
        self.run_module = run_module
        self.get_module_encoder = get_module_encoder
        self.direction = direction


def _call_mismatch(func, *args, **kwargs):
    """None when func can be called with these arguments (checked against its signature, not called), else why not."""
    try:
        inspect.signature(func).bind(*args, **kwargs)
    except TypeError as exc:
        return f"has another signature ({exc})"
    except ValueError as exc:
        return f"has no readable signature ({exc})"
    return None


def probe_seam():
    """(Seam, None) when this ansible-core has what the fork relies on, else (None, why not).

    Checked against their signatures (nothing is called): the private loader takes the keyword arguments
    run_module_in_fork passes; the module JSON encoder of the 2.19 protocol takes a profile and a direction;
    ActionBase._parse_returned_data takes the profile. An import that fails in any way (ansible-core 2.17/2.18 have
    neither the loader nor the encoder; a later release may move them) counts as missing.
    """
    try:
        run_module = importlib.import_module(LOADER_MODULE).run_module
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return None, f"{LOADER_MODULE}.run_module cannot be imported ({type(exc).__name__}: {exc})"
    problem = _call_mismatch(run_module, **dict.fromkeys(LOADER_KEYWORDS))
    if problem:
        return None, f"{LOADER_MODULE}.run_module {problem}"
    try:
        from ansible.module_utils.common.json import Direction, get_module_encoder  # pylint: disable=import-outside-toplevel
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return None, f"ansible.module_utils.common.json.get_module_encoder cannot be imported ({exc})"
    problem = _call_mismatch(get_module_encoder, PROFILE, None)
    if problem or not hasattr(Direction, "CONTROLLER_TO_MODULE"):
        return None, f"ansible.module_utils.common.json.get_module_encoder {problem or 'has no Direction'}"
    problem = _call_mismatch(ActionBase._parse_returned_data, None, {}, PROFILE)  # pylint: disable=protected-access
    if problem:
        return None, f"ActionBase._parse_returned_data {problem}"
    return Seam(run_module, get_module_encoder, Direction), None


# The services this collection's modules talk to: their models are loaded once in the main process.
WARM_SERVICES = ("dynamodb", "dynamodbstreams", "iam", "lambda", "logs")

_SHARED_LOADER_CACHES = {}


def share_botocore_loader_cache(loader_class):
    """Let every botocore Loader with the same search paths share one cache of parsed model files.

    botocore caches what a Loader reads (service models, endpoints, partitions) per Loader instance, and every
    boto3 Session makes a new one, so each module run re-read and re-parsed ~10 JSON files (~70 ms of the ~130 ms a
    module run in a fork costs). botocore already hands the same cached dicts to every client of a session; this
    hands them to every session of the process (and of its forks). Loaders with another file loader or other
    search paths get caches of their own.
    """
    if loader_class.__dict__.get("_streamops_shared_cache", False):
        return
    original_init = loader_class.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if type(self.file_loader) is self.FILE_LOADER_CLASS:  # pylint: disable=unidiomatic-typecheck
            key = (tuple(self.search_paths), tuple(self.extras_types))
            self._cache = _SHARED_LOADER_CACHES.setdefault(key, {})  # pylint: disable=protected-access

    loader_class.__init__ = __init__
    loader_class._streamops_shared_cache = True  # pylint: disable=protected-access


def share_botocore_builtin_handlers(session_class, emitter_class, aliaser_class):
    """Give every new botocore Session a copy of one set of builtin event handlers instead of registering them again.

    botocore.session.Session registers its ~120 builtin handlers one by one, each with an alias check and an
    inspect.getfullargspec of the handler: ~3.5 ms of the ~4 ms a Session costs, and amazon.aws makes a Session for
    every client (module_utils/botocore.py, _boto3_conn). The handlers are module-level functions and objects, the
    same for every session; the first fresh session registers them as usual and its emitter is kept, and later
    fresh sessions get a copy of it (HierarchicalEmitter supports copy.copy: botocore copies a session's emitter for
    every client it creates). A session given its own event hooks, or an emitter that does not look as expected,
    registers as usual.
    """
    if session_class.__dict__.get("_streamops_shared_handlers", False):
        return
    original = session_class._register_builtin_handlers  # pylint: disable=protected-access
    templates = []

    def _register_builtin_handlers(self, events):
        # pylint: disable=protected-access,unidiomatic-typecheck
        try:
            # Exactly botocore's emitter (a subclass may hold more than handlers), still empty.
            fresh = (events is self._events and type(self._original_handler) is emitter_class
                     and not self._original_handler._unique_id_handlers
                     and not self._original_handler._handlers._root["children"])
        except (AttributeError, KeyError, TypeError):
            fresh = False
        if not fresh:
            return original(self, events)
        if not templates:
            original(self, events)
            templates.append(copy.copy(self._original_handler))
            return None
        self._original_handler = copy.copy(templates[0])
        self._events = aliaser_class(self._original_handler)
        return None

    session_class._register_builtin_handlers = _register_builtin_handlers  # pylint: disable=protected-access
    session_class._streamops_shared_handlers = True  # pylint: disable=protected-access


# The module files compiled in this process: file name -> ((size, mtime_ns), code object).
_PRECOMPILED = {}


def _file_stamp(filename):
    st = os.stat(filename)
    return st.st_size, st.st_mtime_ns


def precompile_modules(loader_class, paths):
    """Compile the module files under *paths* once, in this process, and have loader_class.get_code hand them out.

    A module runs as __main__ (runpy, as AnsiballZ runs it) from code that ansible-core's collection loader
    compiles from source every time: it writes and reads no bytecode cache, and keeps what it compiled only in the
    loader of that one import. So every worker compiled its task's module file again, documentation included
    (5-13 ms of CPU for one of this collection's in a warmed process, more in a worker, whose first touch of each
    inherited page copies it). Compiled here, before the workers fork, the code is in every worker. get_code
    returns it for the same file while the file has the size and modification time it had when compiled; any other
    file, or a changed one, is compiled by the loader as before. The cost is paid once per playbook run, for every
    module file of the collection (about 50 ms for the ten, warmed), whether or not the run uses them all.
    """
    if not loader_class.__dict__.get("_streamops_precompiled", False):
        original = loader_class.get_code

        def get_code(self, fullname):
            try:
                filename = self.get_filename(fullname)
                stamp, code = _PRECOMPILED[filename]
                if _file_stamp(filename) == stamp:
                    return code
            except Exception:  # pylint: disable=broad-exception-caught
                pass  # not compiled here, gone or unreadable: the loader does as it always did (and says why)
            return original(self, fullname)

        loader_class.get_code = get_code
        loader_class._streamops_precompiled = True  # pylint: disable=protected-access
    for path in paths:
        for name in sorted(os.listdir(path)):
            filename = os.path.join(path, name)
            if not name.endswith(".py") or name == "__init__.py" or not os.path.isfile(filename):
                continue
            stamp = _file_stamp(filename)
            with open(filename, "rb") as source:
                # As the collection loader compiles (ansible/utils/collection_loader/_collection_finder.py).
                code = compile(source=source.read(), filename=filename, mode="exec", flags=0, dont_inherit=True)
            _PRECOMPILED[filename] = (stamp, code)


def import_module_utils(package):
    """Import every module of *package* (this collection's module_utils) in this process, for the forks.

    The modules import them at the top; imported here, before the workers fork, they are in every worker's
    sys.modules instead of being found and compiled from source (see precompile_modules) by each worker again.
    """
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")


# This collection's plugins package (ansible_collections.<namespace>.<name>.plugins), wherever it is installed.
PLUGINS_PACKAGE = __name__.rsplit(".", 2)[0]

# A filter of this collection: asking the loader for one imports the collection's filter files together.
COLLECTION_FILTER = "streamops.dynamodb_lambda.arn_parts"


def warm_template_plugins(filter_loader, test_loader):
    """Import ansible-core's filter and test plugins and this collection's filters in this process.

    A worker imports every plugin file a template of its task names, since the main process has not (ansible-core's
    filters and tests come as a handful of files, each imported whole). Imported here, before the workers fork,
    they are in sys.modules of every worker, which the plugin loader looks in first.
    """
    for loader in (filter_loader, test_loader):
        for _plugin in loader.all():
            pass
    filter_loader.get_with_context(COLLECTION_FILTER)


def _warm_up():
    """Import what every task needs and load the services' models, once, before the workers fork.

    The template code cache and the template plugins always (every worker renders templates); boto3, amazon.aws's
    and this collection's module_utils, this collection's module files compiled, and the services' models when
    modules run in a fork.
    Then freeze what the process holds (gc.freeze, after a collection): the workers ansible forks from this process
    and the module forks of those would otherwise have the garbage collector walk, and so copy on write, the whole
    inherited heap. Measured on setup.yml for 10 pipelines: ansible CPU 20.6/21.3 s
    -> 18.0/18.9 s, wall 13.5/13.7 s -> 11.9/12.3 s. What is frozen is never collected: a bounded cost, paid once
    per playbook run.
    """
    try:
        template_cache.install()
    except Exception:  # pylint: disable=broad-exception-caught
        pass  # only speed depends on it: every template compiles as it does without it
    try:
        from ansible.plugins.loader import filter_loader, test_loader  # pylint: disable=import-outside-toplevel

        warm_template_plugins(filter_loader, test_loader)
    except Exception:  # pylint: disable=broad-exception-caught
        # Only speed depends on this; a plugin that cannot load fails the task that uses it, as without it.
        pass
    if _switched_off() or SEAM is None:
        gc.collect()
        gc.freeze()
        return
    try:
        # pylint: disable=unused-import,import-outside-toplevel
        import ansible.module_utils.basic  # noqa: F401
        import ansible_collections.amazon.aws.plugins.module_utils.modules  # noqa: F401
        import boto3
        import botocore.hooks
        import botocore.loaders
        import botocore.session

        share_botocore_loader_cache(botocore.loaders.Loader)
        share_botocore_builtin_handlers(botocore.session.Session, botocore.hooks.HierarchicalEmitter,
                                        botocore.hooks.EventAliaser)
        session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="warm-up",
                                        aws_secret_access_key="warm-up")  # no call is made: clients only
        for service in WARM_SERVICES:
            session.client(service)
        from ansible.utils.collection_loader import _collection_finder  # pylint: disable=import-outside-toplevel

        import_module_utils(importlib.import_module(f"{PLUGINS_PACKAGE}.module_utils"))
        precompile_modules(_collection_finder._AnsibleCollectionPkgLoaderBase,  # pylint: disable=protected-access
                           importlib.import_module(f"{PLUGINS_PACKAGE}.modules").__path__)
    except Exception:  # pylint: disable=broad-exception-caught
        # Only speed depends on this; a missing library is reported by the module run itself.
        pass
    gc.collect()
    gc.freeze()


display = Display()


def _switched_off():
    return is_off(os.environ.get(ENV_SWITCH))


SEAM, SEAM_MISSING = probe_seam()


def seam_missing_warning():
    """The warning of a task that would have run in a fork but cannot: the same text for every task of a run.

    It is sent from each task's worker, and ansible-core prints a warning once per run however many tasks send it:
    a worker's Display forwards warnings to the main process (Display._final_q), whose Display drops repeats
    (Display._warns). Not at import: ansible-test's import sanity test rejects output from importing a plugin.
    """
    return (f"streamops.dynamodb_lambda: modules run as normal modules (slower), not in a fork of the controller: "
            f"{SEAM_MISSING}. The fork is tested on ansible-core 2.19.")


def fallback_reason(*, switch_env, switch_var, connection, become, environment, async_val, interpreter,
                    controller_python, seam_missing=None):
    """Why this task must run as a normal module, or None when it can run in a fork of the controller."""
    if is_off(switch_env):
        return f"{ENV_SWITCH}={switch_env}"
    if is_off(switch_var):
        return f"{VAR_SWITCH} is false"
    if connection not in LOCAL_CONNECTIONS:
        return f"connection {connection} is not local"
    if become:
        return "become is set"
    if environment:
        return f"the task sets environment {environment!r}"
    if async_val:
        return "the task is async"
    if not interpreter:
        return "ansible_python_interpreter is not set (interpreter discovery may pick another Python)"
    if os.path.realpath(interpreter) != os.path.realpath(controller_python):
        return f"ansible_python_interpreter {interpreter} is not the controller's Python {controller_python}"
    # Last: only a task that would otherwise run in a fork is one the missing seam slows down (and warns about).
    if seam_missing:
        return seam_missing
    return None


def run_module_here(module_fqn, json_params, run_module=None):
    """Run the module in this process, as AnsiballZ would (as __main__, exiting itself); return rc, stdout, stderr.

    For the worker ansible forked for this one task and host: the worker runs the task once and exits, so what the
    module leaves in the process (basic._ANSIBLE_ARGS, its warnings and deprecations, its imports) goes with it,
    and the module costs no fork of its own (a fork copies the worker's page tables, and the child's first write to
    each page copies that page again: about 15% of the controller CPU of a setup of 50 pipelines). Only the module's
    stdout and stderr are its own, in buffers; sys.exit is the exit code. An exception the loader does not report
    itself (the loader reports the module's own) is printed to the module's stderr, as in the fork.
    """
    run_module = run_module or SEAM.run_module
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape", write_through=True)
    saved = sys.stdout, sys.stderr
    code = 1
    sys.stdout, sys.stderr = out, err
    try:
        run_module(json_params=json_params, profile=PROFILE, module_fqn=module_fqn, modlib_path="", extensions={})
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception:  # pylint: disable=broad-exception-caught
        import traceback  # pylint: disable=import-outside-toplevel

        traceback.print_exc()
    finally:
        sys.stdout, sys.stderr = saved
    return (code, out.buffer.getvalue().decode("utf-8", "surrogateescape"),
            err.buffer.getvalue().decode("utf-8", "surrogateescape"))


def runs_once_per_worker(*, loop, loop_with, until, retries, timeout):
    """Whether this task runs its action once in its worker, so the module may run in the worker itself.

    A loop or retries run the action again in the same worker: each run gets a fork, so one item's module globals
    and warnings do not reach the next. A task timeout raises in the worker (TaskTimeoutError) and must not land
    inside the module, whose loader would report it as the module's own failure.
    """
    return not (loop or loop_with or until or (retries or 0) > 0 or timeout)


def run_module_in_fork(module_fqn, json_params, run_module=None):
    """Fork, run the module as AnsiballZ would (as __main__, exiting itself), return rc, stdout, stderr.

    run_module: the loader probe_seam found (the default); it sets module globals (basic._ANSIBLE_ARGS) in the
    child only.
    """
    run_module = run_module or SEAM.run_module
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child; covered by the integration tests' results
            code = 1
            try:
                os.close(read_fd)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(write_fd, 1)
                os.dup2(err.fileno(), 2)
                sys.stdin = open(0, "r", closefd=False)  # pylint: disable=consider-using-with
                sys.stdout = open(1, "w", closefd=False)  # pylint: disable=consider-using-with
                sys.stderr = open(2, "w", closefd=False)  # pylint: disable=consider-using-with
                run_module(json_params=json_params, profile=PROFILE, module_fqn=module_fqn, modlib_path="",
                           extensions={})
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # pylint: disable=broad-exception-caught
                import traceback  # pylint: disable=import-outside-toplevel

                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            stdout = pipe.read()
        _pid, status = os.waitpid(pid, 0)
        err.seek(0)
        stderr = err.read()
    rc = os.waitstatus_to_exitcode(status)
    return rc, stdout.decode("utf-8", "surrogateescape"), stderr.decode("utf-8", "surrogateescape")


_warm_up()


class InProcessModuleAction(ActionBase):
    """Action plugin base: run the module of the same name in a fork of the controller when that is safe."""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        reason = self._fallback_reason(task_vars)
        if reason is not None and reason == SEAM_MISSING:
            display.warning(seam_missing_warning())
        if reason is not None:
            display.vvv(f"streamops: {self._task.resolved_action} runs as a normal module: {reason}")
            result.update(self._execute_module(task_vars=task_vars))
        else:
            result.update(self._execute_in_fork(task_vars))
        self._reword_failure(result, task_vars)
        return result

    def _reword_failure(self, result, task_vars):
        """Replace a failed result's msg with the task's __streamops_failure_msg, rendered with the result registered.

        The roles name a failure in the caller's words (the role variable, or the pipeline field when the playbooks
        run the role), which only the role knows, and some of the words depend on the result (its reason, what the
        module found). The role's module task sets the task variable __streamops_failure_msg to its message
        template; it is rendered here with the result under the task's register name, as a following task would
        see it. So the failure is printed once, by the module task itself, and no second task per host is needed to
        reword it. A message that cannot be rendered leaves the module's own, with a warning.
        """
        if not result.get("failed") or FAILURE_MSG_VAR not in task_vars:
            return
        variables = dict(task_vars)
        if self._task.register:
            # The module's words are data, never a template (a message may echo what the caller wrote).
            variables[self._task.register] = wrap_var(dict(result))
        try:
            templar = self._templar.copy_with_new_env(available_variables=variables)
            msg = templar.template(task_vars[FAILURE_MSG_VAR])
        except Exception as exc:  # pylint: disable=broad-exception-caught
            display.warning(f"streamops: the failure of {self._task.resolved_action} could not be reworded ({exc})")
            return
        if not msg:
            return
        result["msg"] = str(msg).strip()
        # ansible-core 2.19 reports a failure from the error detail the module returned (the result's exception,
        # a dataclass whose event holds the module's msg), not from msg: that detail gets the new words too. Before
        # 2.19 the exception is the traceback text and msg is what is printed.
        exception = result.get("exception")
        event = getattr(exception, "event", None)
        if dataclasses.is_dataclass(exception) and dataclasses.is_dataclass(event) and hasattr(event, "msg"):
            result["exception"] = dataclasses.replace(exception, event=dataclasses.replace(event, msg=result["msg"]))

    def _fallback_reason(self, task_vars):
        interpreter = task_vars.get("ansible_python_interpreter")
        if interpreter is not None:
            interpreter = self._templar.template(interpreter)
        switch_var = task_vars.get(VAR_SWITCH)
        if switch_var is not None:
            switch_var = self._templar.template(switch_var)
        connection = getattr(self._connection, "_load_name", None) or getattr(self._connection, "transport", "")
        return fallback_reason(
            switch_env=os.environ.get(ENV_SWITCH),
            switch_var=switch_var,
            connection=connection,
            become=self._play_context.become,
            environment=[env for env in (self._templar.template(e) for e in self._task.environment or []) if env],
            async_val=self._task.async_val,
            interpreter=interpreter,
            controller_python=sys.executable,
            seam_missing=SEAM_MISSING,
        )

    def _execute_in_fork(self, task_vars):
        fqcn = self._task.resolved_action
        namespace, collection, name = fqcn.split(".")
        module_args = self._task.args.copy()
        self._update_module_args(fqcn, module_args, task_vars)
        encoder = SEAM.get_module_encoder(PROFILE, SEAM.direction.CONTROLLER_TO_MODULE)
        json_params = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode()
        once = runs_once_per_worker(loop=self._task.loop, loop_with=self._task.loop_with, until=self._task.until,
                                    retries=self._task.retries, timeout=self._task.timeout)
        runner = run_module_here if once else run_module_in_fork
        where = "the controller's worker process" if once else "a fork of the controller's worker (loop, retries or timeout)"
        display.vvv(f"streamops: running {fqcn} in {where} ({ENV_SWITCH}=0 turns this off)")
        rc, stdout, stderr = runner(f"ansible_collections.{namespace}.{collection}.plugins.modules.{name}", json_params)
        data = self._parse_returned_data({"rc": rc, "stdout": stdout, "stderr": stderr}, PROFILE)
        data.pop("_ansible_suppress_tmpdir_delete", None)
        remove_internal_keys(data)
        if not data.get("_ansible_parsed", True) or (rc and "failed" not in data):
            data.setdefault("module_stderr", stderr)
            data.setdefault("rc", rc)
        return data
