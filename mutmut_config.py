"""mutmut 2 hook: each mutant runs only the tests of the file it mutates (the suite of a module takes a second;
the whole unit suite several, times 1500 mutants on a shared machine). Scope and command: docs/testing.md."""

M = "tests/unit/plugins/modules/"
TESTS = {
    "plugins/modules/stream_function.py": [M + "test_stream_function_core.py", M + "test_stream_function.py"],
    "plugins/modules/stream_trigger.py": [M + "test_stream_trigger_core.py", M + "test_stream_trigger.py"],
    "plugins/modules/dynamodb_stream.py": [M + "test_dynamodb_stream_core.py", M + "test_dynamodb_stream.py"],
    "plugins/modules/execution_role.py": [M + "test_execution_role_core.py", M + "test_execution_role.py"],
}
# module_utils are shared: their mutants meet every core test and the module_utils tests.
SHARED = [M + "test_stream_function_core.py", M + "test_stream_trigger_core.py", M + "test_dynamodb_stream_core.py",
          M + "test_execution_role_core.py", "tests/unit/plugins/module_utils"]
RUNNER = ".venv/bin/python -m pytest -x -q -p no:cacheprovider "


def pre_mutation(context):
    context.config.test_command = RUNNER + " ".join(TESTS.get(context.filename, SHARED))
