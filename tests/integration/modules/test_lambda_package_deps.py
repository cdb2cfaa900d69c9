"""lambda_package with a real requirements.txt resolved from PyPI for Lambda's arm64 python3.12 platform.

Needs the package index (skipped with the reason when pypi.org cannot be reached); calls no AWS API."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import urllib.error
import urllib.request
import zipfile

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import dependencies as deps
from ansible_collections.streamops.dynamodb_lambda.plugins.modules import lambda_package as lp

HANDLER = ("from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent\n\n\n"
           "def lambda_handler(event, context):\n    return len(list(DynamoDBStreamEvent(event).records))\n")


def _pypi_unreachable():
    try:
        with urllib.request.urlopen("https://pypi.org/simple/aws-lambda-powertools/", timeout=10) as response:
            response.read(1)
    except (urllib.error.URLError, OSError) as exc:
        return "pypi.org is unreachable (%s); these tests resolve real requirements from it" % exc
    return None


UNREACHABLE = _pypi_unreachable()
pytestmark = pytest.mark.skipif(UNREACHABLE is not None, reason=UNREACHABLE or "")


@pytest.fixture
def pip_runs(monkeypatch):
    """Marks every pip run (and still runs it)."""
    runs = []
    real = subprocess.run

    def marker(argv, **kwargs):
        runs.append(argv)
        return real(argv, check=kwargs.pop("check", False), **kwargs)

    monkeypatch.setattr(deps.subprocess, "run", marker)
    return runs


@pytest.fixture
def no_aws(monkeypatch):
    botocore_client = pytest.importorskip("botocore.client")
    monkeypatch.setattr(botocore_client.BaseClient, "_make_api_call",
                        lambda *a, **k: pytest.fail("an AWS API call was made: %r" % (a[1:2],)))


def run_main(args, check=False):
    from ansible.module_utils.testing import patch_module_args

    out = io.StringIO()
    with patch_module_args({**args, "_ansible_check_mode": check}), contextlib.redirect_stdout(out):
        with pytest.raises(SystemExit):
            lp.main()
    return json.loads(out.getvalue().strip().splitlines()[-1])


def function_source(tmp_path, requirements):
    src = tmp_path / "src"
    src.mkdir()
    (src / "handler.py").write_text(HANDLER)
    (src / "requirements.txt").write_text(requirements)
    return src


def test_powertools_for_arm64_python312_is_packaged_deterministically_and_cached(tmp_path, pip_runs, no_aws):
    src = function_source(tmp_path, "aws-lambda-powertools\n")
    args = {"src": str(src), "dest": str(tmp_path / "fn.zip"), "handler": "handler.lambda_handler",
            "runtime": "python3.12", "architecture": "arm64", "cache_dir": str(tmp_path / "cache")}
    cold = run_main(args)
    assert cold.get("failed") is not True, cold.get("msg")
    assert cold["changed"] is True and cold["cached"] is False and len(pip_runs) == 1
    installed = {d["name"].lower().replace("_", "-"): d["version"] for d in cold["dependencies"]}
    assert "aws-lambda-powertools" in installed and "jmespath" in installed
    with zipfile.ZipFile(tmp_path / "fn.zip") as archive:
        names = set(archive.namelist())
    for name in ("handler.py", "aws_lambda_powertools/__init__.py",
                 "aws_lambda_powertools/utilities/data_classes/dynamo_db_stream_event.py", "jmespath/__init__.py"):
        assert name in names
    assert not [n for n in names if n.startswith("bin/") or n.endswith((".pyc", ".so")) or "__pycache__" in n]

    warm = run_main(args)
    assert len(pip_runs) == 1  # the cache answered: pip did not run
    assert warm["cached"] is True and warm["changed"] is False and warm["sha256"] == cold["sha256"]

    # A second controller with an empty cache resolves the same (unpinned, so same-day) set to the same bytes.
    other = run_main({**args, "dest": str(tmp_path / "other.zip"), "cache_dir": str(tmp_path / "other-cache")})
    assert len(pip_runs) == 2
    if other["dependencies"] == cold["dependencies"]:
        assert other["sha256"] == cold["sha256"]
        assert (tmp_path / "other.zip").read_bytes() == (tmp_path / "fn.zip").read_bytes()


def test_a_requirement_with_no_arm64_wheel_fails_naming_it_before_any_aws_call(tmp_path, no_aws):
    # psycopg2 publishes source and Windows wheels only; Lambda would need psycopg2-binary.
    src = function_source(tmp_path, "psycopg2==2.9.9\n")
    result = run_main({"src": str(src), "dest": str(tmp_path / "fn.zip"), "handler": "handler.lambda_handler",
                       "runtime": "python3.12", "architecture": "arm64", "cache_dir": str(tmp_path / "cache")})
    assert result["failed"] is True
    assert result["msg"].startswith("requirements: %s: no wheel of 'psycopg2==2.9.9' for python3.12 on arm64 "
                                    "(manylinux2014_aarch64); Lambda cannot build from source"
                                    % (src / "requirements.txt"))
    assert not (tmp_path / "fn.zip").exists()
