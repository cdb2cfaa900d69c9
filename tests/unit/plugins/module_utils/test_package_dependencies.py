"""package with requirements: one deterministic archive of code and dependencies, the cache, the size limits.

No network: pip installs only from the wheelhouse fixture."""

from __future__ import annotations

import io
import zipfile

import pytest

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import package as pkg

HANDLER = "import tiny\n\n\ndef lambda_handler(event, context):\n    return tiny.main()\n"


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "handler.py").write_text(HANDLER)
    (root / "requirements.txt").write_text("tiny==1.0\n")
    return root


def build(src, cache, local_index, **options):
    options.setdefault("handler", "handler.lambda_handler")
    options.setdefault("runtime", "python3.12")
    return pkg.build_deployment_package(str(src), cache_dir=str(cache), extra_pip_args=local_index, **options)


def test_code_and_dependencies_share_the_archive_root(src, tmp_path, local_index):
    built = build(src, tmp_path / "cache", local_index, architecture="arm64")
    names = zipfile.ZipFile(io.BytesIO(built["data"])).namelist()
    assert names == sorted(names) == built["files"]
    for name in ("handler.py", "requirements.txt", "tiny/__init__.py", "dep.py", "tiny-1.0.dist-info/METADATA"):
        assert name in names
    assert not [n for n in names if n.startswith("bin/") or n.endswith(".pyc") or "__pycache__" in n]
    assert built["dependencies"] == [{"name": "dep", "version": "2.0"}, {"name": "tiny", "version": "1.0"}]
    assert built["requirements"] == str(src / "requirements.txt")
    assert built["sha256"] == pkg.code_sha256(built["data"]) and built["size"] == len(built["data"])
    assert built["needs_s3"] is False
    unzipped = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(built["data"])).infolist())
    assert built["unzipped_size"] == unzipped


def test_two_cold_builds_give_the_same_bytes_and_a_cached_one_too(src, tmp_path, local_index, pip_calls):
    cold_one = build(src, tmp_path / "cache-one", local_index, architecture="arm64")
    cold_two = build(src, tmp_path / "cache-two", local_index, architecture="arm64")
    warm = build(src, tmp_path / "cache-one", local_index, architecture="arm64")
    assert len(pip_calls) == 2
    assert (cold_one["cached"], cold_two["cached"], warm["cached"]) == (False, False, True)
    assert cold_one["data"] == cold_two["data"] == warm["data"]
    assert cold_one["sha256"] == warm["sha256"]


def test_the_functions_own_file_wins_over_a_dependencys(src, tmp_path, local_index):
    (src / "dep.py").write_text("X = 'mine'\n")
    built = build(src, tmp_path / "cache", local_index)
    archive = zipfile.ZipFile(io.BytesIO(built["data"]))
    assert archive.read("dep.py") == b"X = 'mine'\n"
    assert built["files"].count("dep.py") == 1


def test_exclude_applies_to_the_functions_code_not_to_dependencies(src, tmp_path, local_index):
    (src / "notes.md").write_text("x")
    built = build(src, tmp_path / "cache", local_index, exclude=["*.md", "dep.py", "tiny"])
    assert "notes.md" not in built["files"]
    assert "dep.py" in built["files"] and "tiny/__init__.py" in built["files"]


def test_without_requirements_txt_no_pip_runs(src, tmp_path, local_index, pip_calls):
    (src / "requirements.txt").unlink()
    built = build(src, tmp_path / "cache", local_index)
    assert built["files"] == ["handler.py"]
    assert (built["requirements"], built["dependencies"], built["cached"]) == (None, [], False)
    assert pip_calls == []


def test_requirements_false_packages_the_file_as_it_is(src, tmp_path, local_index, pip_calls):
    built = build(src, tmp_path / "cache", local_index, requirements=False)
    assert built["files"] == ["handler.py", "requirements.txt"]
    assert pip_calls == []


def test_a_nodejs_function_does_not_install_a_requirements_txt(tmp_path, local_index, pip_calls):
    root = tmp_path / "node"
    root.mkdir()
    (root / "index.mjs").write_text("export const handler = async () => {};\n")
    (root / "requirements.txt").write_text("tiny\n")
    built = build(root, tmp_path / "cache", local_index, handler="index.handler", runtime="nodejs20.x")
    assert built["files"] == ["index.mjs", "requirements.txt"] and pip_calls == []
    with pytest.raises(pkg.PackageError, match=r"^runtime: installing requirements needs a Python runtime"):
        build(root, tmp_path / "cache", local_index, handler="index.handler", runtime="nodejs20.x",
              requirements=True)


def test_requirements_txt_without_a_runtime_asks_for_one(src, tmp_path, local_index):
    with pytest.raises(pkg.PackageError, match=r"^runtime: .* holds requirements.txt; installing it needs"):
        build(src, tmp_path / "cache", local_index, handler=None, runtime=None)


def test_a_runtime_without_handler_is_fine_when_installing(src, tmp_path, local_index):
    assert build(src, tmp_path / "cache", local_index, handler=None)["dependencies"]
    with pytest.raises(pkg.PackageError, match=r"^runtime: checking a runtime needs handler"):
        build(src, tmp_path / "cache", local_index, handler=None, requirements=False)


def test_requirements_path_is_relative_to_src(src, tmp_path, local_index):
    (src / "requirements.txt").unlink()
    (src / "deploy").mkdir()
    (src / "deploy" / "prod.txt").write_text("dep==1.0\n")
    built = build(src, tmp_path / "cache", local_index, requirements="deploy/prod.txt")
    assert built["dependencies"] == [{"name": "dep", "version": "1.0"}]
    with pytest.raises(pkg.PackageError, match=r"^requirements: .*nope.txt is not a file"):
        build(src, tmp_path / "cache", local_index, requirements="nope.txt")
    with pytest.raises(pkg.PackageError, match=r"^requirements: .*src/requirements.txt is not a file"):
        build(src, tmp_path / "cache", local_index, requirements=True)


def test_a_missing_wheel_fails_before_anything_is_built(src, tmp_path, local_index, monkeypatch):
    (src / "requirements.txt").write_text("needscext\n")
    monkeypatch.setattr(pkg, "build", lambda entries: pytest.fail("built an archive"))
    with pytest.raises(pkg.PackageError, match=r"^requirements: .*no wheel of 'cext' for python3.12 on arm64"):
        build(src, tmp_path / "cache", local_index, architecture="arm64")


def test_over_the_unzipped_limit_fails_before_compressing_and_counts_layers(src, tmp_path, local_index,
                                                                            monkeypatch):
    size = build(src, tmp_path / "cache", local_index)["unzipped_size"]
    monkeypatch.setattr(pkg, "UNZIPPED_LIMIT", size + 10)
    assert build(src, tmp_path / "cache", local_index, layers_unzipped_size=10)["unzipped_size"] == size
    monkeypatch.setattr(pkg, "build", lambda entries: pytest.fail("compressed an archive Lambda would reject"))
    with pytest.raises(pkg.PackageError) as caught:
        build(src, tmp_path / "cache", local_index, layers_unzipped_size=11)
    message = str(caught.value)
    assert message.startswith("src: the function unzips to %d bytes (code " % (size + 11))
    assert "layers 11), over Lambda's limit of %d bytes (250 MB)" % (size + 10) in message


def test_over_the_direct_upload_limit_needs_s3(src, tmp_path, local_index, monkeypatch):
    size = build(src, tmp_path / "cache", local_index)["size"]
    monkeypatch.setattr(pkg, "DIRECT_UPLOAD_LIMIT", size)
    assert build(src, tmp_path / "cache", local_index)["needs_s3"] is False
    monkeypatch.setattr(pkg, "DIRECT_UPLOAD_LIMIT", size - 1)
    assert build(src, tmp_path / "cache", local_index)["needs_s3"] is True


def test_build_archive_keeps_its_results_and_installs_only_when_asked(src, tmp_path, local_index, pip_calls):
    data, names = pkg.build_archive(str(src), (), "handler.lambda_handler", "python3.12")
    assert names == ["handler.py", "requirements.txt"] and pip_calls == []
    data, names = pkg.build_archive(str(src), (), "handler.lambda_handler", "python3.12", requirements=None,
                                    architecture="arm64", cache_dir=str(tmp_path / "cache"),
                                    extra_pip_args=local_index)
    assert "tiny/__init__.py" in names and len(pip_calls) == 1
    assert data == build(src, tmp_path / "cache", local_index, architecture="arm64")["data"]


def test_package_reports_dependencies_and_writes_nothing_in_check_mode(src, tmp_path, local_index):
    dest = tmp_path / "out" / "fn.zip"
    checked = pkg.package(str(src), str(dest), handler="handler.lambda_handler", runtime="python3.12",
                          check_mode=True, cache_dir=str(tmp_path / "cache"), extra_pip_args=local_index)
    assert checked["changed"] is True and not dest.exists()
    assert checked["cached"] is False and checked["dependencies"][1]["name"] == "tiny"
    real = pkg.package(str(src), str(dest), handler="handler.lambda_handler", runtime="python3.12",
                       cache_dir=str(tmp_path / "cache"), extra_pip_args=local_index)
    assert real["cached"] is True and real["sha256"] == checked["sha256"] == pkg.code_sha256(dest.read_bytes())


def test_a_relative_cache_dir_is_the_callers_not_the_sources(src, tmp_path, local_index, monkeypatch):
    # pip runs in the requirements file's folder: a relative cache path must not send the install into src.
    monkeypatch.chdir(tmp_path)
    cold = build(src, "relative-cache", local_index)
    assert cold["cached"] is False
    assert cold["dependencies"] == [{"name": "dep", "version": "2.0"}, {"name": "tiny", "version": "1.0"}]
    assert sorted(p.name for p in src.iterdir()) == ["handler.py", "requirements.txt"]
    assert (tmp_path / "relative-cache").is_dir()
    warm = build(src, "relative-cache", local_index)
    assert warm["cached"] is True and warm["data"] == cold["data"]
