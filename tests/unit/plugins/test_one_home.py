"""One home per rule and default: plugins/module_utils holds each AWS rule and option default once; the copies that
YAML needs (the roles' defaults and argument specs, the pipelines role's field spec and defaults, the playbooks'
mapping playbooks/vars/pipeline_roles.json) are bound to it here, so a copy that drifts (or a typo in a key) fails.

The function settings' copies are bound in module_utils/test_function_settings.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import event_source_mapping as esm
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import function_settings as fs
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import stream
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import dynamodb_stream
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_trigger

ROOT = Path(__file__).resolve().parents[3]
ROLES = sorted(p.parents[1].name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def load(path):
    return yaml.safe_load((ROOT / path).read_text())


def role_options(role):
    return load("roles/%s/meta/argument_specs.yml" % role)["argument_specs"]["main"]["options"]


def role_defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def mapping():
    """The role variables the playbooks set: vars/pipeline_roles.json, and the pipeline's fields that each pipeline's
    host carries (``__streamops_fields``, given to the pipelines role's add_host), as ``streamops_pipeline.<field>``."""
    found = json.loads((ROOT / "playbooks" / "vars" / "pipeline_roles.json").read_text())
    for variable, field in found["__streamops_fields"].items():
        assert variable not in found, variable  # vars_files would beat the host variable
        found[variable] = "{{ streamops_pipeline.%s }}" % field
    return found


def entry_spec():
    return load("roles/pipelines/vars/main.yml")["__pipelines_entry_spec"]


def pipelines_defaults():
    return load("roles/pipelines/defaults/main.yml")["pipelines_defaults"]


def role_of(variable):
    """The role whose variables start with its name (the longest such name)."""
    owners = [role for role in ROLES if variable.startswith(role + "_")]
    return max(owners, key=len) if owners else None


# --- playbooks/vars/pipeline_roles.json ------------------------------------------------------------------------

def test_the_mapping_covers_the_roles_the_playbooks_run():
    roles = {role_of(key) for key in mapping() if not key.startswith("__")}
    assert roles == {"table_stream", "execution_role", "stream_function", "stream_trigger", "stream_verify"}


@pytest.mark.parametrize("key", sorted(k for k in mapping() if not k.startswith("__")))
def test_every_key_of_the_mapping_is_an_option_of_its_roles_argument_spec(key):
    role = role_of(key)
    assert role is not None, "%s names no role (roles: %s)" % (key, ", ".join(ROLES))
    assert key in role_options(role), "%s is not an option of roles/%s/meta/argument_specs.yml" % (key, role)


@pytest.mark.parametrize("key", sorted(mapping()["__streamops_fields"]))
def test_every_key_of_the_field_names_is_an_option_of_its_roles_argument_spec(key):
    role = role_of(key)
    assert role is not None and key in role_options(role), key


def test_every_pipeline_field_the_mapping_reads_is_a_field_of_the_entry_spec():
    spec = entry_spec()
    read = set()
    for template in list(mapping().values()) + list(mapping()["__streamops_fields"].values()):
        if isinstance(template, str):
            read.update(re.findall(r"streamops_pipeline\.([\w.]+)", template))
    read.update(mapping()["__streamops_fields"].values())
    assert read
    for field in sorted(read):
        if field.startswith("trigger."):
            assert field.split(".", 1)[1] in spec["trigger"]["options"], field
        else:
            assert field in spec, field


# --- every role: defaults/main.yml and the argument spec say the same ------------------------------------------

# Defaults the argument spec leaves out on purpose: with a default there, validate_argument_spec would reject the
# null a caller passes for "no sort key".
NO_SPEC_DEFAULT = {"table_stream_range_key", "pipelines_walkthrough"}


@pytest.mark.parametrize("role", ROLES)
def test_each_roles_defaults_are_its_argument_specs_defaults(role):
    options = role_options(role)
    for variable, value in role_defaults(role).items():
        assert variable in options, "roles/%s/defaults/main.yml: %s is not in the argument spec" % (role, variable)
        if "{{" in json.dumps(value) or variable in NO_SPEC_DEFAULT:
            continue  # templated: rendered by Ansible, not comparable here
        assert options[variable].get("default") == value, "roles/%s: %s" % (role, variable)


# --- the trigger: event_source_mapping.DEFAULTS, STARTING_POSITIONS, METRICS, RANGES -------------------------

def test_the_trigger_defaults_are_awss():
    assert esm.DEFAULTS["batch_size"] == 100 and esm.DEFAULTS["maximum_batching_window"] == 0
    assert esm.DEFAULTS["maximum_retry_attempts"] == -1 and esm.DEFAULTS["maximum_record_age"] == -1
    assert esm.DEFAULTS["parallelization_factor"] == 1 and esm.DEFAULTS["tumbling_window"] == 0
    assert esm.DEFAULTS["starting_position"] == "LATEST"


@pytest.mark.parametrize("option", sorted(esm.DEFAULTS))
def test_each_trigger_default_is_the_same_in_the_module_the_role_and_the_pipelines_role(option):
    expected = esm.DEFAULTS[option]
    assert stream_trigger.ARGUMENT_SPEC[option]["default"] == expected
    variable = "stream_trigger_" + option
    assert role_options("stream_trigger")[variable].get("default") == expected, variable
    assert role_defaults("stream_trigger")[variable] == expected, variable
    assert pipelines_defaults()["trigger"][option] == expected, "pipelines_defaults.trigger." + option
    assert option in entry_spec()["trigger"]["options"], option


def test_the_trigger_choices_are_the_modules():
    options, spec = role_options("stream_trigger"), entry_spec()["trigger"]["options"]
    for option, choices in (("starting_position", esm.STARTING_POSITIONS), ("metrics", esm.METRICS)):
        assert stream_trigger.ARGUMENT_SPEC[option]["choices"] == list(choices)
        assert options["stream_trigger_" + option]["choices"] == list(choices), option
        assert spec[option]["choices"] == list(choices), option


@pytest.mark.parametrize("option, low, high", list(esm.RANGES) + [("maximum_record_age",) + esm.RECORD_AGE_RANGE])
def test_the_role_documents_each_trigger_range_as_the_module_checks_it(option, low, high):
    description = role_options("stream_trigger")["stream_trigger_" + option]["description"]
    assert re.search(r"(^|[ (])%d\b.*\b%d\b" % (low, high), description), (option, description)
    assert not esm.settings_problems({option: low}) and not esm.settings_problems({option: high})
    assert esm.settings_problems({option: high + 1})


# --- the stream's view type: stream.VIEW_TYPES, stream.DEFAULT_VIEW_TYPE -------------------------------------

def test_view_types_are_one_list_everywhere():
    expected = list(stream.VIEW_TYPES)
    assert expected == ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
    assert dynamodb_stream.ARGUMENT_SPEC["view_type"]["choices"] == expected
    assert role_options("table_stream")["table_stream_view_type"]["choices"] == expected
    assert role_options("stream_verify")["stream_verify_view_type"]["choices"] == expected
    assert entry_spec()["view_type"]["choices"] == expected


def test_the_view_type_default_is_one_value_everywhere():
    expected = stream.DEFAULT_VIEW_TYPE
    assert dynamodb_stream.ARGUMENT_SPEC["view_type"]["default"] == expected
    assert role_options("table_stream")["table_stream_view_type"]["default"] == expected
    assert role_defaults("table_stream")["table_stream_view_type"] == expected
    assert pipelines_defaults()["view_type"] == expected


# --- the function's core settings: function_settings.MEMORY_RANGE, TIMEOUT_RANGE, LOG_RETENTION_DAYS ----------

def test_the_function_roles_document_the_modules_ranges():
    options = role_options("stream_function")
    for variable, (low, high) in (("stream_function_memory", fs.MEMORY_RANGE),
                                  ("stream_function_timeout", fs.TIMEOUT_RANGE)):
        assert "%d-%d" % (low, high) in options[variable]["description"], variable


def test_the_function_defaults_of_the_role_and_the_pipelines_role_agree_and_pass_the_modules_checks():
    defaults, pipeline = role_defaults("stream_function"), pipelines_defaults()
    pairs = {"memory_size": ("stream_function_memory", "function_memory"),
             "timeout": ("stream_function_timeout", "function_timeout"),
             "log_retention_days": ("stream_function_log_retention_days", "log_retention_days"),
             "environment_variables": ("stream_function_environment", "function_environment")}
    for option, (variable, field) in pairs.items():
        assert defaults[variable] == pipeline[field], (variable, field)
    assert fs.core_problems({option: defaults[variable] for option, (variable, _f) in pairs.items()}) == []


@pytest.mark.parametrize("values, option", [
    ({"memory_size": fs.MEMORY_RANGE[0] - 1}, "memory_size"),
    ({"memory_size": fs.MEMORY_RANGE[1] + 1}, "memory_size"),
    ({"timeout": fs.TIMEOUT_RANGE[1] + 1}, "timeout"),
    ({"timeout": "30"}, "timeout"),
    ({"log_retention_days": 2}, "log_retention_days"),
    ({"environment_variables": {"AWS_REGION": "x"}}, "environment_variables"),
    ({"environment_variables": {"X": "1"}}, "environment_variables"),
])
def test_core_problems_name_the_option_or_its_word(values, option):
    problems = fs.core_problems(values, {option: "word"})
    assert len(problems) == 1 and problems[0].startswith("word: "), problems


@pytest.mark.parametrize("playbook", ["setup.yml", "teardown.yml", "verify.yml"])
def test_a_playbook_sets_no_variable_that_a_pipeline_field_gives(playbook):
    """A pipeline's fields reach the roles as host variables, which a play's vars and vars_files, a role entry's vars
    and a task's vars all beat: a playbook that set one of them would silently replace that field of every pipeline."""
    mapped = set(json.loads((ROOT / "playbooks" / "vars" / "pipeline_roles.json").read_text())["__streamops_fields"])
    set_here = set()
    for play in load("playbooks/" + playbook):
        set_here.update(play.get("vars") or {})
        for path in play.get("vars_files") or []:
            set_here.update(json.loads((ROOT / "playbooks" / path).read_text()))
        for entry in play.get("roles", []):
            if isinstance(entry, dict):
                set_here.update(entry.get("vars") or {})
        for task in play.get("pre_tasks", []) + play.get("tasks", []):
            set_here.update(task.get("vars") or {})
            set_here.update(task.get("ansible.builtin.set_fact") or {})
    assert set_here, playbook
    assert not set_here & mapped, sorted(set_here & mapped)


# The AWS settings every module of the playbooks takes (endpoint, region, credentials, retries): one dict in the
# mapping, given to both action groups. group/aws alone would not reach this collection's modules, which are in
# streamops.dynamodb_lambda.aws (meta/runtime.yml extends amazon.aws.aws with them).
AWS_DEFAULTS = {"group/aws": "{{ __streamops_aws }}", "group/streamops.dynamodb_lambda.aws": "{{ __streamops_aws }}"}


def plays_that_run_modules():
    """(playbook file name, play) of every play of playbooks/ that runs a module which calls AWS."""
    modules = [p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")]
    found = []
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        for play in load("playbooks/" + path.name):
            text = yaml.safe_dump([play.get(key, []) for key in ("roles", "pre_tasks", "tasks", "post_tasks")])
            # Every role but pipelines (which checks the list and adds hosts) runs modules.
            roles = set(re.findall(r"streamops\.dynamodb_lambda\.(\w+)", text)) & set(ROLES) - {"pipelines"}
            if roles or any(f"streamops.dynamodb_lambda.{m}:" in text for m in modules):
                found.append((path.name, play))
    return found


def test_every_play_that_runs_modules_gives_them_the_one_aws_settings():
    plays = plays_that_run_modules()
    # setup.yml's pipeline and verify plays, teardown.yml's, verify.yml's.
    assert sorted(entry[0] for entry in plays) == ["setup.yml", "setup.yml", "teardown.yml", "verify.yml"], \
        [(name, play.get("name")) for name, play in plays]
    for name, play in plays:
        assert play.get("module_defaults") == AWS_DEFAULTS, (name, play.get("name"))
    assert "__streamops_aws" in json.loads((ROOT / "playbooks" / "vars" / "pipeline_roles.json").read_text())


@pytest.mark.parametrize("role, variable, spec, option", [
    ("table_stream", "table_stream_wait", dynamodb_stream.ARGUMENT_SPEC, "wait"),
    ("stream_trigger", "stream_trigger_wait_for_source", stream_trigger.ARGUMENT_SPEC, "wait_for_source"),
])
def test_a_wait_switch_of_a_role_defaults_to_its_modules_default(role, variable, spec, option):
    """The roles alone wait as the modules do by default; only the playbooks turn a wait off or on."""
    assert role_defaults(role)[variable] == spec[option]["default"]
    assert role_options(role)[variable].get("default", role_defaults(role)[variable]) == spec[option]["default"]


# --- what the roles publish ------------------------------------------------------------------------------------
# Each role computes what it publishes once, in its vars/main.yml (__<role>_published, from the module's registered
# result). Its state file publishes that after its module task; setup.yml and teardown.yml import the module task
# alone (<state>_module.yml) and publish every role's values in one set_fact per pipeline host.
PUBLISHING = {"table_stream": "present", "execution_role": "present", "stream_function": "present",
              "stream_trigger": "mapping"}
CLEARING = ("table_stream", "execution_role", "stream_function")


def published(role):
    return load("roles/%s/vars/main.yml" % role)["__%s_published" % role]


def state_file(role, state):
    """The state file's tasks: the import of its module task, then one set_fact."""
    tasks = load("roles/%s/tasks/%s.yml" % (role, state))
    assert [t.get("ansible.builtin.import_tasks") for t in tasks] == ["%s_module.yml" % state, None], tasks
    return tasks[1]["ansible.builtin.set_fact"]


def role_spec_description(role):
    return load("roles/%s/meta/argument_specs.yml" % role)["argument_specs"]["main"]["description"]


def reads_published(role, key):
    return "{{ __%s_published.%s }}" % (role, key)


@pytest.mark.parametrize("role", sorted(PUBLISHING))
def test_a_role_publishes_its_published_values_after_its_module_task(role):
    facts = state_file(role, PUBLISHING[role])
    assert facts == {key: reads_published(role, key) for key in published(role)}
    # Every published value is a role variable of the role's own prefix, and the role documents it.
    description = " ".join(role_spec_description(role))
    for key in facts:
        assert role_of(key) == role, key
        assert "C(%s)" % key in description, (role, key)


@pytest.mark.parametrize("role", CLEARING)
def test_a_roles_absent_clears_what_its_present_publishes(role):
    assert state_file(role, "absent") == {key: None for key in published(role)}


def playbook_publish(playbook, play_name):
    play = next(p for p in load("playbooks/" + playbook) if p["name"].startswith(play_name))
    imported = [t["ansible.builtin.import_role"]["tasks_from"] for t in play["tasks"] if "ansible.builtin.import_role" in t]
    publishes = [t["ansible.builtin.set_fact"] for t in play["tasks"] if "ansible.builtin.set_fact" in t]
    assert len(publishes) == 1, publishes
    return imported, publishes[0]


def test_setup_publishes_every_roles_values_once_after_their_module_tasks():
    imported, facts = playbook_publish("setup.yml", "Set up each pipeline")
    assert imported == ["present_module", "present_module", "present_module", "mapping_module"]
    assert facts == {key: reads_published(role, key) for role in PUBLISHING for key in published(role)}


def test_teardown_publishes_the_triggers_result_and_clears_the_other_roles_values():
    imported, facts = playbook_publish("teardown.yml", "Tear down each pipeline")
    assert imported == ["mapping_module", "absent_module", "absent_module", "absent_module"]
    expected = {key: reads_published("stream_trigger", key) for key in published("stream_trigger")}
    expected.update({key: None for role in CLEARING for key in published(role)})
    assert facts == expected


def test_the_mapping_reads_this_plays_arns_not_the_published_facts():
    """A fact an earlier play of the same run left (teardown's cleared ARNs, the first setup's stream) beats a play
    variable; the mapping reads the setup play's own names for the ARNs the roles pass along."""
    found = json.loads((ROOT / "playbooks" / "vars" / "pipeline_roles.json").read_text())
    every_published = {key for role in PUBLISHING for key in published(role)}
    for variable, value in found.items():
        if isinstance(value, str):
            assert not set(re.findall(r"[a-z_]+", value)) & every_published, (variable, value)
    setup = next(p for p in load("playbooks/setup.yml") if p["name"].startswith("Set up each pipeline"))
    assert setup["vars"]["__streamops_stream_arn"] == reads_published("table_stream", "table_stream_stream_arn")
    assert setup["vars"]["__streamops_role_arn"] == reads_published("execution_role", "execution_role_arn")
