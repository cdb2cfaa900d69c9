# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compile each of this collection's Jinja templates once per playbook run, not once per task and host.

Why: ansible-core compiles a template (Jinja's lexer, parser and code generator, then Python's compile) each time
it renders it, and a task renders its arguments in the worker ansible forks for that task and host, which exits
after it and keeps nothing. The roles' module tasks and the playbooks render the same templates for every
pipeline: measured on setup.yml for 10 pipelines (the CPU time of each compile, summed over every process),
1665 compiles of 145 distinct templates, 1.65 s of the run's 7.7 s of controller CPU.

The code object Jinja compiles a template to is written to a directory of the run's own temporary directory
(ansible-core's DEFAULT_LOCAL_TMP: made for this run with mode 0700, removed when the run ends; ansible-core keeps
its AnsiballZ cache there for the same reason), under a hash of everything the compiled code depends on. The next
worker to compile the same template reads it back (marshal) instead, in about a twentieth of the time.

Only templates read from this collection's own files (their Origin tag names a file under the collection) are
kept: a user's templates compile as they always do. Nothing outlives the run, so code compiled by another
ansible-core, Jinja or Python, or against another version of a filter, is never read. The key holds the source,
the environment's lexer and code generator settings (a template's own `#jinja2:` overrides give it another
environment), and whether ansible-core escapes backslashes in this compile (its _TemplateCompileContext).

ansible-core's templating engine is private (ansible._internal, 2.19): `install` looks for what it wraps and
changes nothing when that is not there (ansible-core 2.17/2.18 have another engine), when template debugging is
on, or when STREAMOPS_TEMPLATE_CACHE is 0/false/no/off. Any error reading or writing the cache compiles as usual.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import tempfile

from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils.switches import is_off

ENV_SWITCH = "STREAMOPS_TEMPLATE_CACHE"
# The collection's root: this file is plugins/plugin_utils/template_cache.py under it.
COLLECTION_ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# The environment settings Jinja's lexer is built from (jinja2.lexer.get_lexer keys its cache on the same).
LEXER_SETTINGS = ("block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
                  "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
                  "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline")
# And those Jinja's code generator reads.
GENERATOR_SETTINGS = ("optimized", "autoescape", "is_async")


def switched_off(environ=None):
    return is_off((os.environ if environ is None else environ).get(ENV_SWITCH))


def _qualname(obj):
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"


def environment_key(env):
    """What of the environment the compiled code depends on, or None when this file cannot tell (not kept)."""
    if callable(env.autoescape):
        return None  # decided per template name at compile time
    return (tuple(getattr(env, name) for name in LEXER_SETTINGS + GENERATOR_SETTINGS),
            _qualname(type(env)), _qualname(env.code_generator_class), _qualname(env.finalize),
            tuple(sorted(env.extensions)))


class TemplateCodeCache:
    """Code objects of compiled templates: this process's own, then the files in *directory*."""

    def __init__(self, directory, root=COLLECTION_ROOT, get_origin=None, compile_context=None):
        self.directory = directory
        self.root = root
        self.get_origin = get_origin
        self.compile_context = compile_context
        self.memory = {}
        self._ours = {}  # an Origin path -> whether it is under the collection

    def ours(self, source):
        """Whether *source* was read from a file of this collection (its Origin tag says so)."""
        origin = self.get_origin(source) if self.get_origin else None
        path = getattr(origin, "path", None)
        if not path:
            return False
        known = self._ours.get(path)
        if known is None:
            real = os.path.realpath(path)
            known = self._ours[path] = real == self.root or real.startswith(self.root + os.sep)
        return known

    def key(self, env, source):
        env_key = environment_key(env)
        if env_key is None:
            return None
        context = self.compile_context.current(optional=True) if self.compile_context else None
        escape = bool(context and context.escape_backslashes)
        digest = hashlib.sha256(repr((env_key, escape)).encode("utf-8"))
        digest.update(b"\0")
        digest.update(str(source).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def get(self, key):
        code = self.memory.get(key)
        if code is None:
            try:
                with open(os.path.join(self.directory, key), "rb") as handle:
                    code = marshal.loads(handle.read())
            except (OSError, EOFError, ValueError, TypeError):
                return None
            self.memory[key] = code
        return code

    def put(self, key, code):
        self.memory[key] = code
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            handle, partial = tempfile.mkstemp(dir=self.directory, prefix=".partial-")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(marshal.dumps(code))
                os.replace(partial, os.path.join(self.directory, key))  # whole or not at all for a reader
            except BaseException:
                os.unlink(partial)
                raise
        except (OSError, ValueError):
            pass  # the next worker compiles it again


def wrap_compile(environment_class, cache):
    """Have environment_class.compile keep and reuse the code of this collection's templates (once per class)."""
    if environment_class.__dict__.get("_streamops_template_cache") is not None:
        return
    original = environment_class.compile

    # pylint: disable-next=redefined-builtin
    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        key = None
        if (isinstance(source, str) and not raw and name is None and filename is None and not defer_init
                and not getattr(self, "_debuggable_template_source", False) and cache.ours(source)):
            key = cache.key(self, source)
            code = cache.get(key) if key else None
            if code is not None:
                return code
        code = original(self, source, name, filename, raw, defer_init)
        if key:
            cache.put(key, code)
        return code

    compile.__doc__ = original.__doc__
    environment_class.compile = compile
    environment_class._streamops_template_cache = cache  # pylint: disable=protected-access


def install():
    """Wrap ansible-core 2.19's Jinja environment, in this process and the workers it forks. The cache or None."""
    if switched_off():
        return None
    try:
        # pylint: disable=import-outside-toplevel
        from ansible import constants as C
        from ansible._internal._datatag._tags import Origin
        from ansible._internal._templating._jinja_bits import AnsibleEnvironment, _TemplateCompileContext
    except ImportError:
        return None
    existing = AnsibleEnvironment.__dict__.get("_streamops_template_cache")
    if existing is not None:
        return existing
    local_tmp = getattr(C, "DEFAULT_LOCAL_TMP", None)
    if not (isinstance(local_tmp, str) and os.path.isdir(local_tmp) and callable(getattr(Origin, "get_tag", None))
            and callable(getattr(_TemplateCompileContext, "current", None))):
        return None
    cache = TemplateCodeCache(os.path.join(local_tmp, "streamops_template_code"), get_origin=Origin.get_tag,
                              compile_context=_TemplateCompileContext)
    wrap_compile(AnsibleEnvironment, cache)
    return cache
