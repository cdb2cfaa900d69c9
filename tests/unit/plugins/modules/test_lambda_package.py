"""lambda_package: deterministic bytes, exclusions, handler checks, check mode; no network."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.modules import lambda_package as lp

REPO_HANDLER = Path(__file__).resolve().parents[4] / "files" / "lambda" / "stream_handler"


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    (root / "lib").mkdir(parents=True)
    (root / "handler.py").write_text("def lambda_handler(event, context):\n    return event\n")
    (root / "lib" / "util.py").write_text("X = 1\n")
    return root


def run_main(args, check=False, diff=False):
    from ansible_collections.streamops.dynamodb_lambda.tests.compat import patch_module_args

    out = io.StringIO()
    with patch_module_args({**args, "_ansible_check_mode": check, "_ansible_diff": diff}), \
            contextlib.redirect_stdout(out):
        with pytest.raises(SystemExit):
            lp.main()
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_same_source_gives_same_bytes_even_with_new_mtimes(src, tmp_path):
    first = lp.package(str(src), str(tmp_path / "a.zip"))
    for path in src.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    second = lp.package(str(src), str(tmp_path / "b.zip"))
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert first["sha256"] == second["sha256"]
    assert first["changed"] and second["changed"]  # new destinations


def test_second_run_to_same_dest_is_unchanged_and_leaves_file_alone(src, tmp_path):
    dest = tmp_path / "cache" / "deep" / "fn.zip"
    assert lp.package(str(src), str(dest))["changed"] is True
    before = dest.stat().st_mtime_ns
    again = lp.package(str(src), str(dest))
    assert again["changed"] is False
    assert dest.stat().st_mtime_ns == before


def test_sha256_is_lambdas_code_sha256_of_the_written_bytes(src, tmp_path):
    dest = tmp_path / "fn.zip"
    result = lp.package(str(src), str(dest))
    assert result["sha256"] == base64.b64encode(hashlib.sha256(dest.read_bytes()).digest()).decode()
    assert result["size"] == dest.stat().st_size


def test_changed_file_changes_sha_and_rewrites(src, tmp_path):
    dest = tmp_path / "fn.zip"
    first = lp.package(str(src), str(dest))
    (src / "lib" / "util.py").write_text("X = 2\n")
    second = lp.package(str(src), str(dest))
    assert second["changed"] is True
    assert second["sha256"] != first["sha256"]
    with zipfile.ZipFile(dest) as archive:
        assert archive.read("lib/util.py") == b"X = 2\n"


def test_executable_bit_is_the_only_permission_that_matters(src, tmp_path):
    first = lp.package(str(src), str(tmp_path / "a.zip"))
    os.chmod(src / "handler.py", 0o600)
    assert lp.package(str(src), str(tmp_path / "b.zip"))["sha256"] == first["sha256"]
    os.chmod(src / "handler.py", 0o700)
    third = lp.package(str(src), str(tmp_path / "c.zip"))
    assert third["sha256"] != first["sha256"]
    with zipfile.ZipFile(tmp_path / "c.zip") as archive:
        info = archive.getinfo("handler.py")
        assert info.external_attr >> 16 & 0o777 == 0o755
        assert info.date_time == (1980, 1, 1, 0, 0, 0)


def test_pycache_and_compiled_files_are_ignored(src, tmp_path):
    clean = lp.package(str(src), str(tmp_path / "a.zip"))
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\x00junk")
    (src / "lib" / "util.pyc").write_bytes(b"\x00junk")
    (src / "lib" / "__pycache__").mkdir()
    (src / "lib" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\x00junk")
    dirty = lp.package(str(src), str(tmp_path / "b.zip"))
    assert dirty["sha256"] == clean["sha256"]
    assert dirty["files"] == ["handler.py", "lib/util.py"]


def test_exclude_patterns(src, tmp_path):
    (src / "notes.md").write_text("x")
    (src / "tests").mkdir()
    (src / "tests" / "test_x.py").write_text("x")
    result = lp.package(str(src), str(tmp_path / "a.zip"), exclude=["*.md", "tests"])
    assert result["files"] == ["handler.py", "lib/util.py"]


def test_check_mode_writes_nothing_but_reports_the_sha(src, tmp_path):
    dest = tmp_path / "fn.zip"
    checked = run_main({"src": str(src), "dest": str(dest)}, check=True)
    assert checked["changed"] is True
    assert not dest.exists()
    real = run_main({"src": str(src), "dest": str(dest)})
    assert real["changed"] is True and dest.exists()
    assert real["sha256"] == checked["sha256"]
    assert run_main({"src": str(src), "dest": str(dest)}, check=True)["changed"] is False


def test_diff_mode_shows_file_lists(src, tmp_path):
    dest = tmp_path / "fn.zip"
    result = run_main({"src": str(src), "dest": str(dest)}, diff=True)
    assert result["diff"]["before"] == {"sha256": None, "files": []}
    assert result["diff"]["after"]["files"] == ["handler.py", "lib/util.py"]
    assert "diff" not in run_main({"src": str(src), "dest": str(dest)})


def test_repository_handler_packages_and_validates(tmp_path):
    result = lp.package(str(REPO_HANDLER), str(tmp_path / "fn.zip"), handler="handler.lambda_handler",
                        runtime="python3.12")
    assert "handler.py" in result["files"]


@pytest.mark.parametrize("handler,runtime,message", [
    ("handler.nope", "python3.12", "defines no top-level 'nope'"),
    ("missing.lambda_handler", "python3.12", "needs missing.py"),
    ("handler", None, "not of the form"),
    ("handler.lambda_handler", "nodejs20.x", "found only handler.py (python), which does not match"),
    ("handler.lambda_handler", "python2", "not a Python runtime name"),
    ("handler.lambda_handler", "java21", "runtime: 'java21'"),
])
def test_handler_checks_fail_naming_the_option(src, tmp_path, handler, runtime, message):
    dest = tmp_path / "fn.zip"
    args = {"src": str(src), "dest": str(dest), "handler": handler}
    if runtime:
        args["runtime"] = runtime
    result = run_main(args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert result["msg"].split(":")[0] in ("handler", "runtime")
    assert not dest.exists()


def test_handler_in_subpackage_and_reexport(src, tmp_path):
    (src / "lib" / "entry.py").write_text("from handler import lambda_handler as main\n")
    assert lp.package(str(src), str(tmp_path / "a.zip"), handler="lib/entry.main", runtime="python3.12")
    assert lp.package(str(src), str(tmp_path / "b.zip"), handler="lib.entry.main", runtime="python3.12")


def test_syntax_error_in_handler_is_reported(src, tmp_path):
    (src / "handler.py").write_text("def lambda_handler(event, context)\n    return 1\n")
    with pytest.raises(lp.PackageError, match=r"handler: handler.py does not parse"):
        lp.package(str(src), str(tmp_path / "a.zip"), handler="handler.lambda_handler")


def test_nodejs_handler_with_nodejs_runtime(tmp_path):
    root = tmp_path / "node"
    root.mkdir()
    (root / "index.mjs").write_text("export const handler = async () => {};\n")
    assert lp.package(str(root), str(tmp_path / "n.zip"), handler="index.handler", runtime="nodejs20.x")
    with pytest.raises(lp.PackageError, match="needs index.py"):
        lp.package(str(root), str(tmp_path / "n.zip"), handler="index.handler", runtime="python3.12")


def test_missing_or_empty_source(tmp_path):
    with pytest.raises(lp.PackageError, match=r"^src: .* is not a directory"):
        lp.package(str(tmp_path / "nowhere"), str(tmp_path / "a.zip"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(lp.PackageError, match=r"^src: .* holds no files"):
        lp.package(str(tmp_path / "empty"), str(tmp_path / "a.zip"))


@pytest.fixture
def deps_src(src):
    (src / "requirements.txt").write_text("tiny==1.0\n")
    return src


def deps_args(deps_src, tmp_path, local_index, **extra):
    return {"src": str(deps_src), "dest": str(tmp_path / "fn.zip"), "handler": "handler.lambda_handler",
            "runtime": "python3.12", "cache_dir": str(tmp_path / "cache"), "extra_pip_args": local_index, **extra}


def test_module_installs_requirements_for_the_architecture_and_reuses_the_cache(deps_src, tmp_path, local_index):
    args = deps_args(deps_src, tmp_path, local_index, architecture="arm64")
    checked = run_main(args, check=True)
    assert checked["changed"] is True and not (tmp_path / "fn.zip").exists()
    assert checked["dependencies"] == [{"name": "dep", "version": "2.0"}, {"name": "tiny", "version": "1.0"}]
    assert checked["cached"] is False and checked["needs_s3"] is False
    assert checked["requirements"] == str(deps_src / "requirements.txt")
    real = run_main(args)
    assert real["changed"] is True and real["cached"] is True and real["sha256"] == checked["sha256"]
    with zipfile.ZipFile(tmp_path / "fn.zip") as archive:
        assert "tiny/__init__.py" in archive.namelist()
    again = run_main(args)
    assert again["changed"] is False and again["cached"] is True
    assert again["size"] == (tmp_path / "fn.zip").stat().st_size and again["unzipped_size"] > 0


def test_module_reports_the_requirement_without_a_wheel_and_writes_nothing(deps_src, tmp_path, local_index):
    (deps_src / "requirements.txt").write_text("cext\n")
    result = run_main(deps_args(deps_src, tmp_path, local_index, architecture="arm64"))
    assert result["failed"] is True
    assert result["msg"].startswith("requirements: %s: no wheel of 'cext' for python3.12 on arm64"
                                    % (deps_src / "requirements.txt"))
    assert not (tmp_path / "fn.zip").exists()
    assert run_main(deps_args(deps_src, tmp_path, local_index, architecture="x86_64"))["changed"] is True


@pytest.mark.parametrize("value,installed", [(False, False), ("no", False), ("false", False), (True, True),
                                             ("yes", True), ("requirements.txt", True)])
def test_module_requirements_option_is_a_boolean_or_a_path(deps_src, tmp_path, local_index, value, installed):
    result = run_main(deps_args(deps_src, tmp_path, local_index, requirements=value))
    assert ("tiny/__init__.py" in result["files"]) is installed
    assert bool(result["dependencies"]) is installed


@pytest.mark.parametrize("extra,message", [
    ({"architecture": "aarch64"}, "value of architecture must be one of: x86_64, arm64, got: aarch64"),
    ({"requirements": "nope.txt"}, "requirements: {src}/nope.txt is not a file"),
    ({"requirements": ["a"]}, "requirements: ['a'] is neither a boolean nor a path"),
    ({"layers_unzipped_size": -1}, "layers_unzipped_size: -1 is negative"),
    ({"runtime": None, "handler": None}, "runtime: {src} holds requirements.txt"),
])
def test_module_bad_dependency_options_fail_naming_them(deps_src, tmp_path, local_index, extra, message):
    args = {k: v for k, v in deps_args(deps_src, tmp_path, local_index, **extra).items() if v is not None}
    result = run_main(args)
    assert result["failed"] is True
    assert message.format(src=deps_src) in result["msg"]
    assert not (tmp_path / "fn.zip").exists()


def test_module_documents_every_option_it_accepts():
    import yaml

    documented = yaml.safe_load(lp.DOCUMENTATION)["options"]
    returned = yaml.safe_load(lp.RETURN)
    for name in ("architecture", "requirements", "cache_dir", "extra_pip_args", "layers_unzipped_size"):
        assert documented[name]["description"]
    assert documented["architecture"]["choices"] == list(lp.ARCHITECTURES)
    for name in ("dependencies", "cached", "unzipped_size", "needs_s3", "requirements"):
        assert {"returned", "type", "sample"} <= set(returned[name])
