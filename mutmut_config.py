"""mutmut 2 hooks: mutate only the modules' core functions (tests/unit/plugins/mutation_scope.py), and run each
mutant against the tests of the file it mutates (a module's tests take a second, the whole unit suite several,
times a thousand mutants on a shared machine). How to run it and the last score: docs/testing.md."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "mutation_scope", Path(__file__).resolve().parent / "tests" / "unit" / "plugins" / "mutation_scope.py")
scope = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scope)

M = "tests/unit/plugins/modules/"
TESTS = {
    "plugins/modules/stream_function.py": [M + "test_stream_function_core.py", M + "test_stream_function.py"],
    "plugins/modules/stream_trigger.py": [M + "test_stream_trigger_core.py", M + "test_stream_trigger.py"],
    "plugins/modules/dynamodb_stream.py": [M + "test_dynamodb_stream_core.py", M + "test_dynamodb_stream.py"],
    "plugins/modules/execution_role.py": [M + "test_execution_role_core.py", M + "test_execution_role.py"],
    "plugins/modules/pipeline_wait.py": [M + "test_pipeline_wait.py"],
    "plugins/module_utils/code_s3.py": [M + "test_stream_function_s3.py", "tests/unit/plugins/module_utils"],
}
# module_utils are shared: their mutants meet every core test and the module_utils tests.
SHARED = [M + "test_stream_function_core.py", M + "test_stream_trigger_core.py", M + "test_dynamodb_stream_core.py",
          M + "test_execution_role_core.py", "tests/unit/plugins/module_utils"]
RUNNER = ".venv/bin/python -m pytest -x -q -p no:cacheprovider "


def pre_mutation(context):
    if not scope.in_scope(context.filename, context.current_line_index + 1):
        context.skip = True
        return
    context.config.test_command = RUNNER + " ".join(TESTS.get(context.filename, SHARED))
