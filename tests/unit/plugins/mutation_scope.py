"""Which lines of the modules a mutation run mutates: the core functions (mutmut_config.py skips the rest).

mutmut 2 mutates whole files. The validation messages and
DOCUMENTATION strings around the core change all the time and are covered by other tests, so the mutation run
looks at the functions that talk to AWS and decide what to do. Line numbers come from the source at run time
(``ast``), so the scope follows edits. Docstrings are left out: a mutated docstring changes nothing.

    python tests/unit/plugins/mutation_scope.py      # lines in scope per file
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# file -> functions in scope (None: every function of the file).
SCOPE = {
    "plugins/modules/stream_function.py": (
        "ensure_log_group", "checked_ready", "busy", "ensure_function", "run_present", "run_absent"),
    "plugins/modules/stream_trigger.py": (
        "resolve_source", "settle", "desired_tags", "ensure_absent", "ensure_present", "run"),
    "plugins/module_utils/stream.py": (
        "describe_table", "stream_facts", "wait_table_active", "wait_stream_enabled", "wait_table_gone"),
    "plugins/modules/dynamodb_stream.py": (
        "plan", "missing_table", "update_stream", "settled", "create", "delete", "ensure"),
    "plugins/module_utils/waiters.py": None,
    "plugins/module_utils/event_source_mapping.py": (
        "find_table_mappings", "find_mappings_to_remove", "get_mapping", "wait_stable", "wait_gone",
        "create_mapping", "update_mapping", "delete_mapping"),
    "plugins/modules/execution_role.py": (
        "create", "update", "ensure_present", "empty_role", "ensure_absent"),
    "plugins/modules/pipeline_wait.py": ("function_reader", "mapping_reader", "wait_all", "run"),
    # Ownership decides what teardown may delete.
    "plugins/module_utils/tags.py": ("with_owner", "missing_owner_tags", "owns", "not_owned_reason"),
    "plugins/module_utils/code_s3.py": ("object_key", "function_prefix", "find_object", "owned_objects"),
}


def body_lines(path, names):
    tree = ast.parse((ROOT / path).read_text())
    lines = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or (names is not None and node.name not in names):
            continue
        body = node.body
        first = body[0]
        docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        if docstring and isinstance(first.value.value, str):
            body = body[1:]
        lines.add(node.lineno)  # default argument values live on the def line
        for stmt in body:
            lines.update(range(stmt.lineno, stmt.end_lineno + 1))
    if names is not None:
        found = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        missing = set(names) - found
        if missing:
            raise SystemExit("%s: no function %s" % (path, ", ".join(sorted(missing))))
    return sorted(lines)


_CACHE = {}


def in_scope(path, line_number):
    """Whether the 1-based *line_number* of *path* (relative to the repository) is in a core function."""
    if path not in SCOPE:
        return False
    if path not in _CACHE:
        _CACHE[path] = set(body_lines(path, SCOPE[path]))
    return line_number in _CACHE[path]


if __name__ == "__main__":
    for name, names in SCOPE.items():
        print("%s: %d lines in scope" % (name, len(body_lines(name, names))))
