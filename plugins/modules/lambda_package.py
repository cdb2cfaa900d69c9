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

import os

from ansible.module_utils.basic import AnsibleModule

# The packaging code lives in module_utils so stream_function builds the very same bytes; the names stay
# importable from here.
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import PackageError
from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils.package import package


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
