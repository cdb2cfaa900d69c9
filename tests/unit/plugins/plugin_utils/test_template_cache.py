"""The code of this collection's templates, compiled once per run and read back by the next worker."""

from __future__ import annotations

import marshal
import os

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils import template_cache
from ansible_collections.streamops.dynamodb_lambda.plugins.plugin_utils.template_cache import (
    COLLECTION_ROOT,
    TemplateCodeCache,
    switched_off,
    wrap_compile,
)

jinja_bits = pytest.importorskip("ansible._internal._templating._jinja_bits", reason="ansible-core 2.19's engine")
tags = pytest.importorskip("ansible._internal._datatag._tags")
Origin = tags.Origin
OURS = os.path.join(COLLECTION_ROOT, "roles", "table_stream", "tasks", "present_module.yml")


def ours(text, path=OURS):
    return Origin(path=path).tag(text)


def fresh_environment_class():
    """A subclass of ansible-core's environment whose compile counts the compiles that reach Jinja."""

    class Counting(jinja_bits.AnsibleEnvironment):
        compiled: list[str] = []

        def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
            type(self).compiled.append(str(source))
            return super().compile(source, name, filename, raw, defer_init)

    Counting.compiled = []
    return Counting


def make_cache(directory):
    return TemplateCodeCache(str(directory), get_origin=Origin.get_tag,
                             compile_context=jinja_bits._TemplateCompileContext)


def test_a_template_of_the_collection_is_compiled_once(tmp_path):
    env_class = fresh_environment_class()
    wrap_compile(env_class, make_cache(tmp_path))
    env = env_class()
    first = env.compile(ours("{{ table_stream_name | default(omit) }}"))
    again = env.compile(ours("{{ table_stream_name | default(omit) }}"))
    assert env_class.compiled == ["{{ table_stream_name | default(omit) }}"]
    assert marshal.dumps(again) == marshal.dumps(first)


def test_another_process_reads_the_code_back_from_the_directory(tmp_path):
    env_class = fresh_environment_class()
    wrap_compile(env_class, make_cache(tmp_path))
    code = env_class().compile(ours("{{ a ~ b }}"))
    # A worker forked before the first compile has the directory but not this process's memory.
    other = make_cache(tmp_path)
    key = other.key(env_class(), "{{ a ~ b }}")
    assert other.memory == {}
    assert marshal.dumps(other.get(key)) == marshal.dumps(code)
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".partial-")]


@pytest.mark.parametrize("source", [
    Origin(path="/somewhere/else/playbook.yml").tag("{{ x }}"),
    Origin(description="<command line>").tag("{{ x }}"),
    "{{ x }}",
])
def test_templates_from_elsewhere_compile_as_usual(tmp_path, source):
    env_class = fresh_environment_class()
    wrap_compile(env_class, make_cache(tmp_path))
    env = env_class()
    env.compile(source)
    env.compile(source)
    assert env_class.compiled == ["{{ x }}", "{{ x }}"]
    assert os.listdir(tmp_path) == []


def test_a_path_beside_the_collection_with_the_same_prefix_is_not_ours(tmp_path):
    cache = make_cache(tmp_path)
    assert cache.ours(ours("{{ x }}"))
    assert not cache.ours(ours("{{ x }}", path=COLLECTION_ROOT + "-fork/roles/x.yml"))


def test_the_key_follows_the_settings_the_code_depends_on(tmp_path):
    cache = make_cache(tmp_path)
    env = jinja_bits.AnsibleEnvironment()
    plain = cache.key(env, "{{ x }}")
    assert cache.key(jinja_bits.AnsibleEnvironment(), "{{ x }}") == plain
    assert cache.key(env, "{{ y }}") != plain
    # A template's own `#jinja2:` overrides compile in an overlay environment with other lexer settings.
    assert cache.key(env.overlay(variable_start_string="[[", variable_end_string="]]"), "{{ x }}") != plain
    assert cache.key(env.overlay(trim_blocks=False), "{{ x }}") != plain
    with jinja_bits._TemplateCompileContext(escape_backslashes=True):
        escaped = cache.key(env, "{{ x }}")
    with jinja_bits._TemplateCompileContext(escape_backslashes=False):
        unescaped = cache.key(env, "{{ x }}")
    assert escaped != unescaped
    assert unescaped == plain  # no compile context: Jinja's own nested compiles, which never escape


def test_escaped_and_unescaped_backslashes_are_two_entries(tmp_path):
    env_class = fresh_environment_class()
    wrap_compile(env_class, make_cache(tmp_path))
    env = env_class()
    source = ours("{{ 'a\\nb' }}")
    with jinja_bits._TemplateCompileContext(escape_backslashes=True):
        escaped = env.compile(source)
    with jinja_bits._TemplateCompileContext(escape_backslashes=False):
        unescaped = env.compile(source)
    assert len(env_class.compiled) == 2
    assert marshal.dumps(escaped) != marshal.dumps(unescaped)


def test_an_unreadable_entry_compiles_as_usual(tmp_path):
    env_class = fresh_environment_class()
    cache = make_cache(tmp_path)
    wrap_compile(env_class, cache)
    key = cache.key(env_class(), "{{ x }}")
    (tmp_path / key).write_bytes(b"not marshal data")
    env_class().compile(ours("{{ x }}"))
    assert env_class.compiled == ["{{ x }}"]


def test_a_cache_that_cannot_write_still_compiles(tmp_path):
    env_class = fresh_environment_class()
    blocker = tmp_path / "file"
    blocker.write_text("")
    wrap_compile(env_class, make_cache(blocker / "cache"))  # a directory that cannot be made
    env = env_class()
    env.compile(ours("{{ x }}"))
    env.compile(ours("{{ x }}"))  # from this process's memory
    assert env_class.compiled == ["{{ x }}"]


def test_template_debugging_is_never_cached(tmp_path, monkeypatch):
    env_class = fresh_environment_class()
    wrap_compile(env_class, make_cache(tmp_path))
    monkeypatch.setattr(env_class, "_debuggable_template_source", True)
    monkeypatch.setattr(env_class, "_debuggable_template_source_path", tmp_path / "debug")
    env = env_class()
    env.compile(ours("{{ x }}"))
    env.compile(ours("{{ x }}"))
    assert len(env_class.compiled) == 2


@pytest.mark.parametrize("value, off", [("0", True), ("false", True), ("off", True), ("1", False), (None, False)])
def test_the_switch(value, off):
    assert switched_off({} if value is None else {template_cache.ENV_SWITCH: value}) is off


def test_a_rendered_template_gives_the_same_result_from_the_cache(tmp_path, monkeypatch):
    """End to end through ansible-core's TemplateEngine, with the wrap the controller installs."""
    engine_module = pytest.importorskip("ansible._internal._templating._engine")
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    from ansible._internal._datatag._tags import TrustedAsTemplate

    env_class = fresh_environment_class()
    cache = make_cache(tmp_path)
    wrap_compile(env_class, cache)
    engine = engine_module.TemplateEngine(variables={"name": "users_post", "items": [1, 2]})
    monkeypatch.setattr(type(engine), "environment", property(lambda self: env_class()), raising=False)
    source = AnsibleTagHelper.tag(
        "{{ name | upper }}-{{ items | map('string') | join(',') }}", (Origin(path=OURS), TrustedAsTemplate()))
    assert engine.template(source) == "USERS_POST-1,2"
    assert engine.template(source) == "USERS_POST-1,2"
    assert len(env_class.compiled) == 1
    assert len(cache.memory) == 1


def test_install_wraps_ansible_cores_environment_once_in_the_runs_temporary_directory(monkeypatch):
    from ansible import constants as C

    monkeypatch.delenv(template_cache.ENV_SWITCH, raising=False)
    cache = template_cache.install()
    assert cache is not None
    assert jinja_bits.AnsibleEnvironment.__dict__["_streamops_template_cache"] is cache
    assert os.path.dirname(cache.directory) == C.DEFAULT_LOCAL_TMP
    assert template_cache.install() is cache  # a second install changes nothing


def test_install_does_nothing_when_switched_off(monkeypatch):
    monkeypatch.setenv(template_cache.ENV_SWITCH, "0")
    assert template_cache.install() is None
