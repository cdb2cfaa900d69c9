"""What the tests need from ansible-core that only 2.19 provides, for the controller matrix (2.17, 2.18, 2.19).

`ansible.module_utils.testing.patch_module_args` is new in ansible-core 2.19; before it, the tests of collections
set `basic._ANSIBLE_ARGS` themselves (the JSON AnsiballZ would pass a module), which is what this does there.
"""

from __future__ import annotations

import contextlib
import json
from unittest import mock

try:
    from ansible.module_utils.testing import patch_module_args  # noqa: F401  # pylint: disable=unused-import
except ImportError:  # ansible-core < 2.19

    @contextlib.contextmanager
    def patch_module_args(args=None):
        """Expose the given module args to AnsibleModule instances created within this context."""
        from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

        params = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", params):
            yield
