"""Unit test setup: make `ansible_collections.streamops.dynamodb_lambda` importable without installing it.

`collections/ansible_collections/streamops/dynamodb_lambda` is a symlink to the repository root, so putting
`<repo>/collections` on sys.path is enough (the same trick tests/integration/conftest.py uses).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
