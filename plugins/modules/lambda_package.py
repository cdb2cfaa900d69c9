#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: lambda_package
version_added: 0.1.0
short_description: Zip a Lambda handler directory deterministically
description:
  - Builds a zip archive of O(src) whose bytes depend only on the files' names, contents and executable bits
    (sorted entries, fixed timestamps, fixed permissions, no C(__pycache__) or compiled Python files), and writes
    it to O(dest) only when those bytes differ from what is already there.
  - Because the bytes are stable, the returned RV(sha256) equals the C(CodeSha256) Lambda reports for code uploaded
    from this archive, so M(amazon.aws.lambda) sees no code change on a second run.
  - With O(handler), checks before anything is deployed that the handler's file is in the package and, for Python,
    that it parses and defines the handler function; with O(runtime) too, that the runtime family matches the
    handler file (a C(.py) handler needs a C(pythonX.Y) runtime).
  - Runs where the task runs and calls no AWS API.
options:
  src:
    description: Directory holding the handler code. Its contents become the root of the archive.
    type: path
    required: true
  dest:
    description:
      - Where to write the archive. Missing parent directories are created.
      - Written atomically (temporary file, then rename), so parallel runs never see a half-written archive.
    type: path
    required: true
  exclude:
    description:
      - Extra glob patterns (matched against each path relative to O(src) and against the base name) to leave out.
      - C(__pycache__) directories, C(*.pyc) and C(*.pyo) are always left out.
    type: list
    elements: str
    default: []
  handler:
    description:
      - Lambda handler string, for example C(handler.lambda_handler) or C(pkg/module.fn). When given, the module
        fails unless the handler's file is in the package (and, for Python, defines the function).
    type: str
  runtime:
    description:
      - Lambda runtime, for example C(python3.12). Checked against the handler file's language. Requires O(handler).
    type: str
notes:
  - Supports check mode (computes the archive in memory, writes nothing) and diff mode (file lists and digests).
author:
  - streamops maintainers (@streamops)
"""

EXAMPLES = r"""
- name: Package the stream handler
  streamops.dynamodb_lambda.lambda_package:
    src: "{{ role_path }}/../../files/lambda/stream_handler"
    dest: ~/.cache/streamops/Lambda_demo_DynamoDB_stream.zip
    handler: handler.lambda_handler
    runtime: python3.12
  register: package

- name: Deploy it
  amazon.aws.lambda:
    name: Lambda_demo_DynamoDB_stream
    zip_file: "{{ package.path }}"
    runtime: python3.12
    handler: handler.lambda_handler
    role: "{{ execution_role_arn }}"
"""

RETURN = r"""
path:
  description: Absolute path of the archive.
  returned: always
  type: str
  sample: /home/me/.cache/streamops/Lambda_demo_DynamoDB_stream.zip
sha256:
  description: Base64 SHA-256 of the archive bytes, comparable with Lambda's C(CodeSha256).
  returned: always
  type: str
  sample: 3Jz4cFqOKb0y2X0tN2i0o2bTTm0n1Gk3Vr8qvO8y1e4=
size:
  description: Archive size in bytes.
  returned: always
  type: int
  sample: 2211
files:
  description: Archive entries, in archive order.
  returned: always
  type: list
  elements: str
  sample: [handler.py]
"""

import ast
import base64
import fnmatch
import hashlib
import io
import os
import re
import stat
import tempfile
import zipfile

from ansible.module_utils.basic import AnsibleModule

ALWAYS_EXCLUDED = ("__pycache__", "*.pyc", "*.pyo")
# 1980-01-01 is the earliest time a zip entry can carry.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
LANGUAGE_SUFFIXES = {"python": (".py",), "nodejs": (".js", ".mjs", ".cjs")}


class PackageError(Exception):
    """Bad input; the message starts with the option at fault."""


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
    """The archive bytes for entries: identical input -> identical bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative, path in entries:
            info = zipfile.ZipInfo(relative, date_time=FIXED_DATE)
            info.create_system = 3  # unix, so external_attr's permission bits are honoured on extraction
            executable = os.stat(path).st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read(), compresslevel=9)
    return buffer.getvalue()


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
        if language == "python" and not re.match(r"^python3\.\d+$", runtime):
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


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _names(data):
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


def package(src, dest, exclude=(), handler=None, runtime=None, check_mode=False):
    """Build the archive for src; write it to dest unless unchanged or check_mode. Returns the result dict."""
    if not os.path.isdir(src):
        raise PackageError("src: %s is not a directory" % src)
    if runtime and not handler:
        raise PackageError("runtime: checking a runtime needs handler as well")
    entries = collect(src, exclude)
    if not entries:
        raise PackageError("src: %s holds no files to package" % src)
    names = [name for name, _path in entries]
    if handler:
        check_handler(src, set(names), handler, runtime)
    data = build(entries)
    current = _read(dest)
    changed = current != data
    if changed and not check_mode:
        write_atomically(dest, data)
    result = {"changed": changed, "path": dest, "sha256": code_sha256(data), "size": len(data), "files": names}
    result["diff"] = {
        "before": {"sha256": code_sha256(current) if current is not None else None, "files": _names(current)},
        "after": {"sha256": result["sha256"], "files": names},
    }
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            exclude=dict(type="list", elements="str", default=[]),
            handler=dict(type="str"),
            runtime=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    dest = os.path.abspath(module.params["dest"])
    try:
        result = package(module.params["src"], dest, module.params["exclude"], module.params["handler"],
                         module.params["runtime"], module.check_mode)
    except PackageError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot package %s into %s: %s" % (module.params["src"], dest, exc))
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
