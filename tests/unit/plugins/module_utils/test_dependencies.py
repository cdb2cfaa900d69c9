"""dependencies: Lambda's platform rules, pip's install from a local wheelhouse, the controller cache, pip's errors.

No network: pip installs only from the wheelhouse fixture (--no-index --find-links)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import dependencies as deps
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dependencies import PackageError


def requirements(tmp_path, text, name="requirements.txt"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_limits_are_lambdas_quotas():
    assert deps.DIRECT_UPLOAD_LIMIT == 52428800
    assert deps.UNZIPPED_LIMIT == 262144000


@pytest.mark.parametrize("runtime,architecture,first,newest,too_new", [
    ("python3.12", "arm64", "manylinux2014_aarch64", "manylinux_2_34_aarch64", "manylinux_2_35_aarch64"),
    ("python3.13", "x86_64", "manylinux2014_x86_64", "manylinux_2_34_x86_64", "manylinux_2_35_x86_64"),
    ("python3.11", "x86_64", "manylinux2014_x86_64", "manylinux_2_26_x86_64", "manylinux_2_27_x86_64"),
    ("python3.9", "arm64", "manylinux2014_aarch64", "manylinux_2_26_aarch64", "manylinux_2_28_aarch64"),
])
def test_platform_tags_follow_the_runtimes_glibc(runtime, architecture, first, newest, too_new):
    tags = deps.platform_tags(runtime, architecture)
    assert tags[0] == first
    assert newest in tags and too_new not in tags
    assert tags[-1].startswith("manylinux_2_17_")
    assert all(tag.endswith(deps.ARCHITECTURES[architecture]) for tag in tags)


def test_pip_command_targets_lambdas_cpython_with_binaries_only():
    argv = deps.pip_command("/src/requirements.txt", "/tmp/t", "python3.12", "arm64", ["--no-index"])
    assert argv[:4] == [sys.executable, "-m", "pip", "install"]
    joined = " ".join(argv)
    for fragment in ("--target /tmp/t", "--requirement /src/requirements.txt", "--only-binary=:all:",
                     "--implementation cp", "--python-version 3.12", "--abi cp312", "--no-compile",
                     "--platform manylinux2014_aarch64", "--platform manylinux_2_34_aarch64"):
        assert fragment in joined
    assert argv[-1] == "--no-index"


@pytest.mark.parametrize("runtime,architecture,message", [
    ("nodejs20.x", "x86_64", "runtime: installing requirements needs a Python runtime (python3.N), got 'nodejs20.x'"),
    (None, "x86_64", "runtime: installing requirements needs a Python runtime"),
    ("python3.12", "aarch64", "architecture: 'aarch64' is not one of x86_64, arm64"),
])
def test_bad_runtime_or_architecture_names_the_option(tmp_path, runtime, architecture, message, pip_calls):
    with pytest.raises(PackageError) as caught:
        deps.install(requirements(tmp_path, "dep\n"), runtime, architecture, str(tmp_path / "cache"))
    assert str(caught.value).startswith(message)
    assert pip_calls == []


def test_install_resolves_dependencies_and_strips_controller_specific_files(tmp_path, local_index, pip_calls):
    result = deps.install(requirements(tmp_path, "tiny==1.0\n"), "python3.12", "arm64", str(tmp_path / "cache"),
                          local_index)
    assert result["cached"] is False and len(pip_calls) == 1
    assert result["distributions"] == [{"name": "dep", "version": "2.0"}, {"name": "tiny", "version": "1.0"}]
    tree = result["path"]
    assert os.path.isfile(os.path.join(tree, "tiny", "__init__.py"))
    assert os.path.isfile(os.path.join(tree, "dep.py"))
    # The console script carries this controller's interpreter path; it is gone, and so is its RECORD line.
    assert not os.path.exists(os.path.join(tree, "bin"))
    with open(os.path.join(tree, "tiny-1.0.dist-info", "RECORD")) as handle:
        record = handle.read()
    assert "bin/tiny" not in record and "tiny/__init__.py," in record
    assert not [f for _r, _d, files in os.walk(tree) for f in files if f.endswith(".pyc")]
    assert result["path"] == os.path.join(str(tmp_path / "cache"), result["key"], "python")


def test_second_install_with_the_same_key_runs_no_pip(tmp_path, local_index, pip_calls):
    path = requirements(tmp_path, "tiny==1.0\n")
    first = deps.install(path, "python3.12", "arm64", str(tmp_path / "cache"), local_index)
    second = deps.install(path, "python3.12", "arm64", str(tmp_path / "cache"), local_index)
    assert len(pip_calls) == 1
    assert second["cached"] is True
    assert (second["path"], second["distributions"], second["key"]) == (first["path"], first["distributions"],
                                                                        first["key"])


@pytest.mark.parametrize("change", ["requirements", "runtime", "architecture", "extra_pip_args", "pip_env"])
def test_any_input_that_changes_what_pip_installs_changes_the_key(tmp_path, local_index, pip_calls, monkeypatch,
                                                                  change):
    args = {"text": "tiny==1.0\n", "runtime": "python3.12", "architecture": "arm64", "extra": list(local_index)}
    first = deps.install(requirements(tmp_path / "a", args["text"]), args["runtime"], args["architecture"],
                         str(tmp_path / "cache"), args["extra"])
    if change == "requirements":
        args["text"] = "tiny==1.0\ndep==1.0\n"
    elif change == "runtime":
        args["runtime"] = "python3.13"
    elif change == "architecture":
        args["architecture"] = "x86_64"
    elif change == "extra_pip_args":
        args["extra"] = args["extra"] + ["--no-cache-dir"]
    else:
        monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    second = deps.install(requirements(tmp_path / "b", args["text"]), args["runtime"], args["architecture"],
                          str(tmp_path / "cache"), args["extra"])
    assert second["key"] != first["key"]
    assert second["cached"] is False and len(pip_calls) == 2


def test_cache_key_ignores_pip_settings_that_do_not_change_what_it_installs(monkeypatch):
    one = deps.cache_key(b"tiny==1.0\n", "python3.12", "arm64", ["--no-index"])
    assert one != deps.cache_key(b"tiny==1.0\n", "python3.12", "arm64", [])
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "5")
    assert one == deps.cache_key(b"tiny==1.0\n", "python3.12", "arm64", ["--no-index"])
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://mirror.example/simple")
    assert one != deps.cache_key(b"tiny==1.0\n", "python3.12", "arm64", ["--no-index"])


def test_cache_key_follows_pip_configuration_files(monkeypatch, tmp_path):
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = https://one.example/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    one = deps.cache_key(b"dep\n", "python3.12", "arm64")
    config.write_text("[global]\nindex-url = https://two.example/simple\n")
    assert deps.cache_key(b"dep\n", "python3.12", "arm64") != one


@pytest.mark.parametrize("requirement,architecture,named", [
    ("cext", "arm64", "'cext'"),          # a wheel exists, for x86_64 only
    ("needscext", "arm64", "'cext'"),     # the missing wheel is a dependency's dependency
    ("srconly==1.0", "x86_64", "'srconly==1.0'"),  # only an sdist, which Lambda could not build
    ("nosuchthing", "x86_64", "'nosuchthing'"),
])
def test_a_requirement_without_a_wheel_for_the_platform_fails_naming_it(tmp_path, local_index, requirement,
                                                                        architecture, named):
    path = requirements(tmp_path, requirement + "\n")
    with pytest.raises(PackageError) as caught:
        deps.install(path, "python3.12", architecture, str(tmp_path / "cache"), local_index)
    message = str(caught.value)
    assert message.startswith("requirements: %s: no wheel of %s for python3.12 on %s (manylinux2014_%s)"
                              % (path, named, architecture, deps.ARCHITECTURES[architecture]))
    assert "Lambda cannot build from source" in message
    assert os.listdir(str(tmp_path / "cache")) == []  # neither an entry nor a staging directory is left


def test_the_same_requirement_installs_for_the_architecture_that_has_its_wheel(tmp_path, local_index):
    result = deps.install(requirements(tmp_path, "cext\n"), "python3.12", "x86_64", str(tmp_path / "cache"),
                          local_index)
    assert result["distributions"] == [{"name": "cext", "version": "1.0"}]


def test_manylinux_2_28_wheels_install_on_amazon_linux_2023_runtimes_only(tmp_path, local_index):
    assert deps.install(requirements(tmp_path, "glibc228\n"), "python3.12", "arm64", str(tmp_path / "c"),
                        local_index)["distributions"] == [{"name": "glibc228", "version": "1.0"}]
    with pytest.raises(PackageError, match=r"no wheel of 'glibc228' for python3.11 on x86_64"):
        deps.install(requirements(tmp_path, "glibc228\n"), "python3.11", "x86_64", str(tmp_path / "c"), local_index)


def test_versions_with_a_wheel_are_listed_when_the_pin_matches_none(tmp_path, local_index):
    with pytest.raises(PackageError, match=r"no wheel of 'dep==3.0' \(versions with a suitable wheel: 1.0, 2.0\)"):
        deps.install(requirements(tmp_path, "dep==3.0\n"), "python3.12", "arm64", str(tmp_path / "c"), local_index)


def test_local_wheel_paths_are_relative_to_the_requirements_file_and_leave_no_trace_of_it(tmp_path, wheelhouse):
    trees = []
    for checkout in ("one", "two"):
        vendor = tmp_path / checkout / "vendor"
        vendor.mkdir(parents=True)
        (vendor / "dep-1.0-py3-none-any.whl").write_bytes((wheelhouse / "dep-1.0-py3-none-any.whl").read_bytes())
        path = requirements(tmp_path / checkout, "./vendor/dep-1.0-py3-none-any.whl\n")
        result = deps.install(path, "python3.12", "arm64", str(tmp_path / checkout / "cache"), ["--no-index"])
        assert result["distributions"] == [{"name": "dep", "version": "1.0"}]
        tree = {}
        for root, _dirs, files in os.walk(result["path"]):
            for name in files:
                with open(os.path.join(root, name), "rb") as handle:
                    tree[os.path.relpath(os.path.join(root, name), result["path"])] = handle.read()
        trees.append(tree)
    assert "dep-1.0.dist-info/direct_url.json" not in trees[0]
    assert trees[0] == trees[1]


def test_an_empty_requirements_file_installs_nothing(tmp_path, local_index):
    result = deps.install(requirements(tmp_path, "# nothing yet\n"), "python3.12", "arm64", str(tmp_path / "c"),
                          local_index)
    assert result["distributions"] == [] and os.listdir(result["path"]) == []


def test_an_unreadable_requirements_file_names_the_option(tmp_path):
    with pytest.raises(PackageError, match=r"^requirements: cannot read .*missing.txt"):
        deps.install(str(tmp_path / "missing.txt"), "python3.12", "arm64", str(tmp_path / "c"))


def test_an_unusable_cache_dir_names_the_option(tmp_path, local_index):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PackageError, match=r"^cache_dir: cannot create"):
        deps.install(requirements(tmp_path, "dep\n"), "python3.12", "arm64", str(blocker / "cache"), local_index)


def test_a_damaged_entry_is_not_a_cache_hit_and_is_replaced(tmp_path, local_index, pip_calls):
    path = requirements(tmp_path, "dep==1.0\n")
    key = deps.install(path, "python3.12", "arm64", str(tmp_path / "c"), local_index)["key"]
    os.unlink(str(tmp_path / "c" / key / "manifest.json"))
    again = deps.install(path, "python3.12", "arm64", str(tmp_path / "c"), local_index)
    assert again["cached"] is False and again["distributions"] == [{"name": "dep", "version": "1.0"}]
    assert deps.install(path, "python3.12", "arm64", str(tmp_path / "c"), local_index)["cached"] is True
    assert len(pip_calls) == 2


def test_two_builds_racing_for_one_key_both_succeed_and_leave_one_entry(tmp_path, local_index, monkeypatch):
    both_running = threading.Barrier(2, timeout=60)
    real = subprocess.run

    def pip_after_the_other_started(argv, **kwargs):
        both_running.wait()  # so both missed the cache and both will rename onto the same entry
        return real(argv, check=kwargs.pop("check", False), **kwargs)

    monkeypatch.setattr(deps.subprocess, "run", pip_after_the_other_started)
    path = requirements(tmp_path, "tiny==1.0\n")
    results, errors = [], []

    def build():
        try:
            results.append(deps.install(path, "python3.12", "arm64", str(tmp_path / "c"), local_index))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            errors.append(exc)

    threads = [threading.Thread(target=build) for _thread in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r["cached"] for r in results] == [False, False]
    assert results[0]["path"] == results[1]["path"] and results[0]["distributions"] == results[1]["distributions"]
    assert os.listdir(str(tmp_path / "c")) == [results[0]["key"]]


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert deps.default_cache_dir() == os.path.join(str(tmp_path), "streamops.dynamodb_lambda", "deps")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert deps.default_cache_dir() == os.path.join(str(tmp_path), "home", ".cache", "streamops.dynamodb_lambda",
                                                    "deps")


UNREACHABLE_OUTPUT = """\
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by \
'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new \
connection: [Errno -3] Temporary failure in name resolution')': /simple/dep/
ERROR: Could not find a version that satisfies the requirement dep (from versions: none)
ERROR: No matching distribution found for dep
"""


def test_an_unreachable_index_is_not_reported_as_a_missing_wheel():
    message = deps.explain_failure(UNREACHABLE_OUTPUT, "r.txt", "python3.12", "arm64", 1)
    assert message.startswith("requirements: r.txt: cannot reach the package index")
    assert "no wheel" not in message


def test_other_pip_errors_are_passed_on():
    output = "ERROR: Cannot install a==1 and b==2 because these package versions have conflicting dependencies.\n"
    message = deps.explain_failure(output, "r.txt", "python3.12", "arm64", 1)
    assert message == ("requirements: r.txt: pip install for python3.12 on arm64 failed (exit 1): ERROR: Cannot install "
                       "a==1 and b==2 because these package versions have conflicting dependencies.")
