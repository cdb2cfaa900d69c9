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
  - When O(src) holds a C(requirements.txt) (or O(requirements) names a file), installs those requirements into
    the archive root for the function's O(runtime) and O(architecture), as Linux (manylinux) wheels for Lambda's
    CPython, as C(sam build) does, whatever the controller runs. A requirement with no such wheel fails the task
    and the message names it; Lambda cannot build from source.
  - The installed dependencies are cached on the controller under O(cache_dir), keyed by the requirements file's
    bytes, runtime, architecture, pip's version and configuration and O(extra_pip_args), so a second run with the
    same inputs runs no pip and gives the same bytes. Pin versions in C(requirements.txt); a cached entry is not
    refreshed when the index publishes a newer release.
  - Fails before writing anything when the function would unzip to more than Lambda's 250 MB (with
    O(layers_unzipped_size)); reports RV(needs_s3) when the archive is over the 50 MB direct-upload limit.
  - Runs where the task runs and calls no AWS API (pip reaches the package index when the cache misses).
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
      - Lambda runtime, for example C(python3.12). Checked against the handler file's language.
      - Requires O(handler), unless requirements are installed, for which it is required (it picks the Python
        version of the wheels).
    type: str
  architecture:
    description:
      - Instruction set of the function; dependencies are installed as C(manylinux) wheels for it (C(x86_64) or
        C(aarch64)).
    type: str
    choices: [x86_64, arm64]
    default: x86_64
  requirements:
    description:
      - Which requirements file to install into the package.
      - Unset, installs C(requirements.txt) in O(src) when there is one and O(runtime) is a Python runtime.
      - V(true) requires C(requirements.txt) in O(src); V(false) installs nothing (C(requirements.txt) is then
        packaged as a plain file).
      - Any other value is the path of a requirements file, relative to O(src) unless absolute.
      - Relative paths inside the file (C(./vendor/x.whl), C(-c constraints.txt)) are relative to its directory;
        the cache key covers the file's own bytes only.
    type: raw
  cache_dir:
    description:
      - Directory of the dependency cache; one subdirectory per key, each written atomically.
      - Defaults to C($XDG_CACHE_HOME/streamops.dynamodb_lambda/deps), or C(~/.cache/streamops.dynamodb_lambda/deps)
        when E(XDG_CACHE_HOME) is unset.
    type: path
  extra_pip_args:
    description:
      - Extra arguments for C(pip install), for example a private index (C(--index-url URL)) or a folder of
        wheels (C(--no-index), C(--find-links DIR)). Part of the cache key.
      - pip's own configuration (C(PIP_*) variables, C(pip.conf)) applies too and is part of the cache key.
    type: list
    elements: str
    default: []
  record_log:
    description:
      - Add the record-log wrapper to the archive as C(streamops_record_log.py), for
        M(streamops.dynamodb_lambda.stream_verify)'s check of any handler. The wrapper writes one compact JSON line
        per DynamoDB stream record to stdout, then calls the function's own handler with the same event and
        context and returns its result.
      - The function must then be deployed with the handler C(streamops_record_log.lambda_handler) and its own
        O(handler) in the environment variable C(STREAMOPS_HANDLER) (RV(record_log) says both);
        M(streamops.dynamodb_lambda.stream_function) does that itself with its own O(record_log) option.
      - Python runtimes only. Fails when O(src) already holds a C(streamops_record_log.py).
    type: bool
    default: false
  layers_unzipped_size:
    description:
      - Unzipped size in bytes of the layers the function will use, counted against Lambda's 250 MB limit for a
        function and its layers.
    type: int
    default: 0
notes:
  - Supports check mode (computes the archive in memory and writes nothing to O(dest); the dependency cache is
    filled, since it is not the task's output) and diff mode (file lists and digests).
  - Dependencies are installed with the Python that runs the module (C(python -m pip)); it needs pip.
  - See U(https://docs.aws.amazon.com/lambda/latest/dg/python-package.html) and
    U(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
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

- name: Package a consumer with its requirements.txt for arm64
  streamops.dynamodb_lambda.lambda_package:
    src: "{{ playbook_dir }}/files/orders_consumer"
    dest: ~/.cache/streamops/orders_consumer.zip
    handler: app.handler
    runtime: python3.12
    architecture: arm64
  register: consumer

- name: Package against a folder of vetted wheels only
  streamops.dynamodb_lambda.lambda_package:
    src: "{{ playbook_dir }}/files/orders_consumer"
    dest: ~/.cache/streamops/orders_consumer.zip
    runtime: python3.12
    extra_pip_args: [--no-index, --find-links, /srv/wheels]

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
unzipped_size:
  description: Size in bytes of the archive's files unzipped (code and dependencies, without layers).
  returned: always
  type: int
  sample: 3481210
needs_s3:
  description:
    - Whether the archive is over Lambda's 50 MB (52428800 bytes) limit for a direct upload, so it must be
      uploaded through S3.
  returned: always
  type: bool
  sample: false
requirements:
  description: The requirements file installed into the package, or null when none was.
  returned: always
  type: str
  sample: /home/me/project/files/orders_consumer/requirements.txt
dependencies:
  description: Distributions installed from the requirements, with their versions, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Distribution name as its metadata spells it.
      type: str
      sample: aws-lambda-powertools
    version:
      description: Installed version.
      type: str
      sample: 3.4.0
  sample: [{name: aws-lambda-powertools, version: 3.4.0}, {name: typing_extensions, version: 4.12.2}]
cached:
  description: Whether the dependencies came from the controller's cache (no pip ran).
  returned: always
  type: bool
  sample: true
record_log:
  description:
    - With O(record_log) and O(handler), what the function's configuration must say for the wrapper; null
      otherwise.
  returned: always
  type: dict
  contains:
    handler:
      description: The function's Handler setting.
      type: str
      sample: streamops_record_log.lambda_handler
    environment:
      description: The variable that carries O(handler) to the wrapper.
      type: dict
      sample: {STREAMOPS_HANDLER: app.handler}
    file:
      description: The wrapper's file in the archive.
      type: str
      sample: streamops_record_log.py
  sample: {handler: streamops_record_log.lambda_handler, environment: {STREAMOPS_HANDLER: app.handler},
           file: streamops_record_log.py}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.parsing.convert_bool import BOOLEANS
from ansible.module_utils.parsing.convert_bool import boolean

# The packaging code lives in module_utils so stream_function builds the very same bytes; the names stay
# importable from here.
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import PackageError
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import package
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dependencies import ARCHITECTURES
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.dependencies import DEFAULT_ARCHITECTURE


def requirements_option(value):
    """None (auto), True, False or a path, from the raw option (YAML booleans and their strings)."""
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value:
        raise TypeError("requirements: %r is neither a boolean nor a path" % (value,))
    if value.lower() in BOOLEANS:
        return boolean(value)
    return value


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            exclude=dict(type="list", elements="str", default=[]),
            handler=dict(type="str"),
            runtime=dict(type="str"),
            architecture=dict(type="str", choices=list(ARCHITECTURES), default=DEFAULT_ARCHITECTURE),
            requirements=dict(type="raw"),
            cache_dir=dict(type="path"),
            extra_pip_args=dict(type="list", elements="str", default=[]),
            layers_unzipped_size=dict(type="int", default=0),
            record_log=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    dest = os.path.abspath(params["dest"])
    try:
        requirements = requirements_option(params["requirements"])
    except TypeError as exc:
        module.fail_json(msg=str(exc))
    if params["layers_unzipped_size"] < 0:
        module.fail_json(msg="layers_unzipped_size: %d is negative" % params["layers_unzipped_size"])
    try:
        result = package(params["src"], dest, params["exclude"], params["handler"], params["runtime"],
                         module.check_mode, architecture=params["architecture"], requirements=requirements,
                         cache_dir=params["cache_dir"], extra_pip_args=params["extra_pip_args"],
                         layers_unzipped_size=params["layers_unzipped_size"], record_log=params["record_log"])
    except PackageError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot package %s into %s: %s" % (module.params["src"], dest, exc))
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
