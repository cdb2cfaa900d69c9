"""tags: the one tag rule set and the ownership interface every module uses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import tags

ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize("given, where", [
    ({"": "x"}, "tag key ''"),
    ({"k" * 129: "x"}, "must be 1-128"),
    ({"aws:owner": "x"}, "prefix aws:"),
    ({"AWS:Owner": "x"}, "prefix aws:"),
    ({"team!": "x"}, "characters tags do not allow (!)"),
    ({"team": "v" * 257}, "257 characters; at most 256"),
    ({"team": "a;b"}, "characters tags do not allow (;)"),
    ({"team": None}, "must be a string"),
    ({"team": ["a"]}, "must be a string"),
    ({"team": True}, "must be a string"),
    ({"k%d" % i: "v" for i in range(51)}, "at most 50 tags"),
])
def test_each_rule_is_one_problem_naming_the_option(given, where):
    problems = tags.tag_problems("tags", given)
    assert len(problems) == 1 and problems[0].startswith("tags: ") and where in problems[0], problems


def test_good_tags_pass_at_the_limits():
    good = {"k" * 128: "v" * 256, "empty": "", "team name": "data/eng_1+2=3:x.y-z@corp", "ünïcode": "値", "n": 5}
    assert tags.tag_problems("tags", good) == []
    assert tags.tag_problems("tags", None) == []
    assert tags.tag_problems("tags", {"k%d" % i: "v" for i in range(50)}) == []


def test_dynamodb_does_not_list_the_at_sign():
    assert tags.tag_problems("t", {"owner": "me@corp"}) == []
    assert tags.tag_problems("t", {"owner": "me@corp"}, service="dynamodb") != []


def test_not_a_mapping():
    assert tags.tag_problems("tags", ["a"]) == ["tags: must be a mapping of tag keys to values (got list)"]


def test_ownership():
    mine = {"team": "x", tags.MANAGED_BY_TAG: tags.COLLECTION}
    assert tags.OWNER_TAG == {"streamops:managed-by": "streamops.dynamodb_lambda"}
    assert tags.owns(mine) and tags.owns(mine, tags.OWNER_TAG)
    assert not tags.owns({tags.MANAGED_BY_TAG: "someone-else"})
    assert not tags.owns(None)
    # Every tag of a custom owner tag must be there with its value.
    assert tags.owns({"a": "1", "b": "2"}, {"a": "1", "b": "2"})
    assert not tags.owns({"a": "1"}, {"a": "1", "b": "2"})
    assert tags.not_owned_reason("role r", {"a": "1"}, {"a": "1", "b": "2"}) == "role r does not carry tag b=2"
    assert tags.not_owned_reason("role r", mine) is None


def test_with_owner_wins_and_stringifies():
    assert tags.with_owner({"n": 1, tags.MANAGED_BY_TAG: "other"}) == {"n": "1", tags.MANAGED_BY_TAG: tags.COLLECTION}
    assert tags.with_owner(None, {"o": "me"}) == {"o": "me"}


@pytest.mark.parametrize("owner_tag", [{}, None, {"a": ""}, {"aws:x": "1"}, "streamops"])
def test_owner_tag_must_be_one_or_more_valid_tags_with_values(owner_tag):
    problems = tags.owner_tag_problems("owner_tag", owner_tag)
    assert problems and all(p.startswith("owner_tag: ") for p in problems)


def test_owner_tag_option_of_every_module_defaults_to_the_one_owner_tag():
    """Modules that delete only what they own take owner_tag with the same meaning and default."""
    from ansible_collections.streamops.dynamodb_lambda.plugins.modules import execution_role
    from ansible_collections.streamops.dynamodb_lambda.plugins.modules import stream_function
    for module in (execution_role, stream_function):
        assert module.ARGUMENT_SPEC["owner_tag"] == {"type": "dict", "default": tags.OWNER_TAG}, module.__name__


def _string_constants(path):
    tree = ast.parse(path.read_text())
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_the_owner_tag_is_written_once_in_the_code():
    """No module, module_util, filter or role task/vars file spells the owner tag again: they import it (or, in
    the roles, leave it to the modules' default)."""
    home = ROOT / "plugins" / "module_utils" / "tags.py"
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        if path == home:
            continue
        code = {s for s in _string_constants(path) if "\n" not in s}  # DOCUMENTATION strings may name the tag
        for spelled in (tags.MANAGED_BY_TAG, tags.TABLE_CREATED_BY_TAG, tags.STREAM_ENABLED_BY_TAG):
            assert spelled not in code, "%s spells %r" % (path.relative_to(ROOT), spelled)
    for path in sorted((ROOT / "roles").glob("*/*/*.yml")):
        if path.parent.name in ("tasks", "vars", "defaults"):
            lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
            assert tags.MANAGED_BY_TAG not in "\n".join(lines), path.relative_to(ROOT)


def test_every_missing_owner_tag_is_named():
    assert tags.not_owned_reason("role r", {}, {"a": "1", "b": "2"}) == "role r does not carry tag a=1, b=2"
