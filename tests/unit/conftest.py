"""Unit test setup: make `ansible_collections.streamops.dynamodb_lambda` importable without installing it.

`collections/ansible_collections/streamops/dynamodb_lambda` is a symlink to the repository root, so putting
`<repo>/collections` on sys.path is enough (the same trick tests/integration/conftest.py uses).

The `offline_main` fixture runs a module's main() without AWS (see its docstring).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


@pytest.fixture
def offline_main(monkeypatch):
    """``run(module, **args) -> dict``: run ``module.main()`` with ``{"region": "us-east-1", **args}`` and return the
    JSON result it printed (it must exit). Building an AWS client fails the test, so this is for input that a module
    must reject (or otherwise answer) before any AWS call."""
    from ansible_collections.streamops.dynamodb_lambda.tests.compat import patch_module_args
    from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

    def no_client(*_a, **_k):
        raise AssertionError("the module built an AWS client before rejecting its input")

    def run(module, **args):
        monkeypatch.setattr(AnsibleAWSModule, "client", no_client)
        out = io.StringIO()
        with patch_module_args({"region": "us-east-1", **args}), contextlib.redirect_stdout(out):
            with pytest.raises(SystemExit):
                module.main()
        return json.loads(out.getvalue().strip().splitlines()[-1])

    return run
