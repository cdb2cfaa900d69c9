# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How this collection's on/off switches (environment or host variables) read: unset is on, a false value is off."""
from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean


def is_off(value):
    """Whether a switch set to *value* (None when unset) turns its feature off: 0/false/no/off and the like."""
    return value is not None and not boolean(value, strict=False)
