"""DOCUMENTATION, EXAMPLES and RETURN of every AWS module agree with its argument spec (one test for all).

This is the part of ansible-test's validate-modules that matters most here, runnable offline.
"""

from __future__ import annotations

import importlib

import pytest
import yaml

MODULES = ["dynamodb_item", "dynamodb_stream", "dynamodb_stream_info", "execution_role", "log_events_info",
           "stream_function", "stream_trigger", "stream_trigger_info"]
FRAGMENTS = ["amazon.aws.common.modules", "amazon.aws.region.modules", "amazon.aws.boto3"]


def load(name):
    return importlib.import_module(f"ansible_collections.streamops.dynamodb_lambda.plugins.modules.{name}")


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name):
    module = load(name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name
    assert doc["version_added"] == "0.1.0"
    assert doc["extends_documentation_fragment"] == FRAGMENTS
    options = doc["options"]
    spec = module.ARGUMENT_SPEC
    assert set(options) == set(spec)
    for option, arg in spec.items():
        documented = options[option]
        assert documented["type"] == arg.get("type", "str"), option
        assert documented.get("default") == arg.get("default"), option
        assert documented.get("choices") == arg.get("choices"), option
        assert bool(documented.get("required")) == bool(arg.get("required")), option
        assert documented.get("elements") == arg.get("elements"), option
        assert documented.get("aliases") == arg.get("aliases"), option
        assert documented["description"], option


@pytest.mark.parametrize("name", MODULES)
def test_examples_use_only_documented_options(name):
    module = load(name)
    options = set(yaml.safe_load(module.DOCUMENTATION)["options"])
    tasks = yaml.safe_load(module.EXAMPLES)
    used = [t[f"streamops.dynamodb_lambda.{name}"] for t in tasks if f"streamops.dynamodb_lambda.{name}" in t]
    assert used
    for args in used:
        assert set(args) <= options, set(args) - options


@pytest.mark.parametrize("name", MODULES)
def test_return_keys_have_returned_type_sample(name):
    returned = yaml.safe_load(load(name).RETURN)
    assert returned
    for key, meta in returned.items():
        assert {"description", "returned", "type", "sample"} <= set(meta), key
