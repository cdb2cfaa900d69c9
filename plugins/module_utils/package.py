# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Deterministic Lambda packaging shared by ``lambda_package`` and ``stream_function``.

The archive's bytes depend only on the files' names, contents and executable bits (sorted entries, fixed
timestamps, fixed permissions, no ``__pycache__`` or compiled Python), so its base64 SHA-256 (``code_sha256``)
equals the ``CodeSha256`` Lambda reports for code uploaded from it. A ``requirements.txt`` is installed for the
function's platform (``dependencies``) and its tree joins the same archive. Bad input raises ``PackageError`` whose
message starts with the option at fault (``src:``, ``handler:``, ``runtime:``, ``requirements:``, ...).
"""

from __future__ import annotations

import ast
import base64
import fnmatch
import hashlib
import inspect
import io
import os
import re
import stat
import tempfile
import zipfile

from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import dependencies
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import record_log as record_log_wrapper
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dependencies import DIRECT_UPLOAD_LIMIT
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dependencies import PackageError
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dependencies import UNZIPPED_LIMIT

__all__ = ["DIRECT_UPLOAD_LIMIT", "PackageError", "UNZIPPED_LIMIT", "build", "build_archive",
           "build_deployment_package", "code_sha256", "collect", "needs_bucket_problem", "package",
           "record_log_settings", "record_log_source", "write_if_changed"]

REQUIREMENTS_FILE = "requirements.txt"
ALWAYS_EXCLUDED = ("__pycache__", "*.pyc", "*.pyo")
# 1980-01-01 is the earliest time a zip entry can carry.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
LANGUAGE_SUFFIXES = {"python": (".py",), "nodejs": (".js", ".mjs", ".cjs")}
# Python runtimes are python3.<minor>; with the rule in words for messages.
PYTHON_RUNTIME = re.compile(r"^python3\.\d+$")
PYTHON_RUNTIME_RULE = "a Python 3 Lambda runtime (python3.<minor>, for example python3.12)"
# A handler names a module (a path in the package, dots or slashes) and a function in it.
HANDLER = re.compile(r"^[A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*$")
HANDLER_RULE = "<module>.<function> (for example handler.lambda_handler)"


def _excluded(relative, patterns):
    name = os.path.basename(relative)
    parts = relative.split("/")
    for pattern in patterns:
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(name, pattern):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts[:-1]):
            return True
    return False


def collect(src, exclude=()):
    """Sorted (archive name, absolute path) pairs under src."""
    patterns = ALWAYS_EXCLUDED + tuple(exclude)
    entries = []
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src)
        rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        dirs[:] = [d for d in dirs if not _excluded(rel_root + d, patterns)]
        for name in files:
            relative = rel_root + name
            if not _excluded(relative, patterns):
                entries.append((relative, os.path.join(root, name)))
    return sorted(entries)


def build(entries):
    """The archive bytes for entries: identical input -> identical bytes.

    An entry is (archive name, path of a file) or (archive name, bytes) for a file the package step adds itself.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative, path in entries:
            info = zipfile.ZipInfo(relative, date_time=FIXED_DATE)
            info.create_system = 3  # unix, so external_attr's permission bits are honoured on extraction
            if isinstance(path, bytes):
                executable, content = False, path
            else:
                executable = os.stat(path).st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                with open(path, "rb") as handle:
                    content = handle.read()
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=9)
    return buffer.getvalue()


def record_log_source():
    """The wrapper file's bytes, read from the collection's own module_utils (works from AnsiballZ's zip too)."""
    return inspect.getsource(record_log_wrapper).encode("utf-8")


def record_log_settings(handler):
    """What the record log changes on a function whose own handler is handler: its Handler and one variable."""
    return {"handler": record_log_wrapper.HANDLER, "environment": {record_log_wrapper.HANDLER_ENV: handler},
            "file": record_log_wrapper.FILE_NAME}


def code_sha256(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _language(runtime):
    for language in LANGUAGE_SUFFIXES:
        if runtime.startswith(language):
            return language
    return None


def _defines(tree, function):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == function for t in node.targets):
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == function for a in node.names):
            return True
    return False


def check_handler(src, names, handler, runtime):
    """Fail (PackageError) unless handler names a file in the package that fits the runtime."""
    if "." not in handler or handler.startswith(".") or handler.endswith("."):
        raise PackageError("handler: %r is not of the form <module>.<function>" % handler)
    module_path, function = handler.rsplit(".", 1)
    # Lambda's Python bootstrap accepts both pkg/module and pkg.module.
    stem = module_path.replace(".", "/")
    found = {}
    for language, suffixes in LANGUAGE_SUFFIXES.items():
        candidates = [stem + suffix for suffix in suffixes]
        if language == "python":
            candidates.append(stem + "/__init__.py")
        hits = [c for c in candidates if c in names]
        if hits:
            found[language] = hits[0]
    language = _language(runtime) if runtime else None
    if runtime:
        if language is None:
            raise PackageError("runtime: %r is not a runtime this module can check (python3.N or nodejsN.x)" % runtime)
        if language == "python" and not PYTHON_RUNTIME.match(runtime):
            raise PackageError("runtime: %r is not a Python runtime name (expected python3.N)" % runtime)
        if language not in found:
            other = ", ".join("%s (%s)" % (path, lang) for lang, path in sorted(found.items()))
            raise PackageError(
                "handler: %r needs %s in %s for runtime %s%s"
                % (handler, " or ".join(stem + s for s in LANGUAGE_SUFFIXES[language]), src, runtime,
                   "; found only %s, which does not match the runtime" % other if other else ""))
    elif not found:
        raise PackageError("handler: %r names no file in %s (looked for %s.py, %s.js)" % (handler, src, stem, stem))
    language = language or sorted(found)[0]
    if language == "python":
        path = os.path.join(src, found["python"])
        with open(path, "rb") as handle:
            source = handle.read()
        try:
            tree = ast.parse(source, filename=found["python"])
        except SyntaxError as exc:
            raise PackageError("handler: %s does not parse: %s (line %s)" % (found["python"], exc.msg, exc.lineno))
        if not _defines(tree, function):
            raise PackageError("handler: %s defines no top-level %r (handler %r)" % (found["python"], function, handler))
    return found[language]


def read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def archive_names(data):
    if data is None:
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except zipfile.BadZipFile:
        return ["<not a zip archive>"]


def write_atomically(dest, data):
    directory = os.path.dirname(dest) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lambda_package-", suffix=".zip", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def requirements_file(src, requirements, runtime):
    """The requirements file to install, or None.

    requirements: None (install src/requirements.txt when there is one and the runtime is Python), False (never),
    True (src/requirements.txt, which must exist) or a path (relative paths are relative to src).
    """
    if requirements is False:
        return None
    if requirements is None:
        path = os.path.join(src, REQUIREMENTS_FILE)
        if not os.path.isfile(path) or (runtime and not runtime.startswith("python")):
            return None
        if not runtime:
            raise PackageError("runtime: %s holds %s; installing it needs the function's runtime (python3.N), or set "
                               "requirements to false to package it as a plain file" % (src, REQUIREMENTS_FILE))
        return path
    path = os.path.join(src, REQUIREMENTS_FILE) if requirements is True else \
        os.path.join(src, os.path.expanduser(requirements))
    if not os.path.isfile(path):
        raise PackageError("requirements: %s is not a file" % path)
    if not runtime:
        raise PackageError("runtime: installing requirements %s needs the function's runtime (python3.N)" % path)
    return path


def unzipped_size(entries):
    return sum(len(path) if isinstance(path, bytes) else os.path.getsize(path) for _name, path in entries)


def build_deployment_package(src, exclude=(), handler=None, runtime=None, architecture=dependencies.DEFAULT_ARCHITECTURE,
                             requirements=None, cache_dir=None, extra_pip_args=(), layers_unzipped_size=0,
                             record_log=False):
    """Validate src, install its requirements for Lambda's platform (or reuse the cache) and build the archive.

    record_log adds the record-log wrapper (``record_log.py``) as ``streamops_record_log.py``; handler stays the
    user's own and is checked as such.

    Writes nothing but the dependency cache. Returns a dict: ``data`` (archive bytes), ``files`` (entry names),
    ``sha256`` (Lambda's CodeSha256), ``size``, ``unzipped_size`` (code and dependencies), ``needs_s3`` (over
    Lambda's direct-upload limit, so the code must be uploaded through S3), ``requirements`` (the file installed
    or None), ``dependencies`` ([{name, version}]), ``cached`` (True when the dependencies came from the cache)
    and ``record_log`` (record_log_settings(handler) when the wrapper was added with a handler, else None).
    """
    if not os.path.isdir(src):
        raise PackageError("src: %s is not a directory" % src)
    requirements_path = requirements_file(src, requirements, runtime)
    if runtime and not handler and not requirements_path:
        raise PackageError("runtime: checking a runtime needs handler as well")
    entries = collect(src, exclude)
    if not entries:
        raise PackageError("src: %s holds no files to package" % src)
    names = [name for name, _path in entries]
    if handler:
        check_handler(src, set(names), handler, runtime)
    if record_log:
        if runtime and not runtime.startswith("python"):
            raise PackageError("record_log: the record-log wrapper is Python; runtime %s cannot run it" % runtime)
        if record_log_wrapper.FILE_NAME in names:
            raise PackageError("record_log: %s holds %s, the name of the record-log wrapper; rename that file or "
                               "turn the record log off" % (src, record_log_wrapper.FILE_NAME))
    installed = {"distributions": [], "cached": False}
    code_size = unzipped_size(entries)
    deps_size = 0
    if requirements_path:
        installed = dependencies.install(requirements_path, runtime, architecture, cache_dir, extra_pip_args)
        # The function's own files win over a dependency's file of the same name.
        own = set(names)
        deps = [(name, path) for name, path in collect(installed["path"]) if name not in own]
        deps_size = unzipped_size(deps)
        entries = sorted(entries + deps)
        names = [name for name, _path in entries]
    if record_log:
        # After the dependencies, so a dependency's file of this name cannot shadow the wrapper.
        wrapper = record_log_source()
        entries = sorted([entry for entry in entries if entry[0] != record_log_wrapper.FILE_NAME]
                         + [(record_log_wrapper.FILE_NAME, wrapper)])
        names = [name for name, _path in entries]
        code_size += len(wrapper)
    total = code_size + deps_size + (layers_unzipped_size or 0)
    # Checked before compressing: Lambda rejects it whatever the upload path.
    if total > UNZIPPED_LIMIT:
        raise PackageError(
            "src: the function unzips to %d bytes (code %d, dependencies %d, layers %d), over Lambda's limit of %d "
            "bytes (250 MB) for a function and its layers" % (total, code_size, deps_size, layers_unzipped_size or 0,
                                                              UNZIPPED_LIMIT))
    data = build(entries)
    return {"data": data, "files": names, "sha256": code_sha256(data), "size": len(data),
            "unzipped_size": code_size + deps_size, "needs_s3": len(data) > DIRECT_UPLOAD_LIMIT,
            "requirements": requirements_path, "dependencies": installed["distributions"],
            "cached": installed["cached"],
            "record_log": record_log_settings(handler) if record_log and handler else None}


def needs_bucket_problem(size, option="s3_bucket"):
    """The message for a package of size bytes that is over the direct-upload limit and has no bucket to go
    through, starting with the option that fixes it; None when size is within the limit."""
    if size <= DIRECT_UPLOAD_LIMIT:
        return None
    return ("%s: the package is %d bytes zipped, over Lambda's limit of %d bytes (50 MB) for a direct upload; a "
            "larger package must be uploaded through S3: set %s to a bucket in the function's region"
            % (option, size, DIRECT_UPLOAD_LIMIT, option))


def build_archive(src, exclude=(), handler=None, runtime=None, **options):
    """Validate src (and handler/runtime when given) and return (archive bytes, entry names) without writing.

    options are build_deployment_package's; requirements defaults to False here, so callers that do not pass the
    function's architecture never install dependencies for the wrong one.
    """
    options.setdefault("requirements", False)
    built = build_deployment_package(src, exclude, handler, runtime, **options)
    return built["data"], built["files"]


def write_if_changed(dest, data):
    """Write data to dest unless dest already holds exactly these bytes. Returns (changed, previous bytes or None)."""
    current = read_bytes(dest)
    if current != data:
        write_atomically(dest, data)
    return current != data, current


def package(src, dest, exclude=(), handler=None, runtime=None, check_mode=False, **options):
    """Build the archive for src; write it to dest unless unchanged or check_mode. Returns the result dict.

    options are build_deployment_package's (architecture, requirements, cache_dir, extra_pip_args,
    layers_unzipped_size, record_log); the dependency cache is filled in check mode too, as it is not the task's output.
    """
    built = build_deployment_package(src, exclude, handler, runtime, **options)
    data, names = built["data"], built["files"]
    current = read_bytes(dest)
    changed = current != data
    if changed and not check_mode:
        write_atomically(dest, data)
    result = {"changed": changed, "path": dest, "sha256": built["sha256"], "size": built["size"], "files": names}
    for key in ("unzipped_size", "needs_s3", "requirements", "dependencies", "cached", "record_log"):
        result[key] = built[key]
    result["diff"] = {
        "before": {"sha256": code_sha256(current) if current is not None else None, "files": archive_names(current)},
        "after": {"sha256": result["sha256"], "files": names},
    }
    return result
