"""pip install for the tox-ansible matrix: constraints.txt's exact pins, minus the controller itself.

constraints.txt pins the whole development tree, ansible-core 2.19 and the ansible 12 bundle included, and pip
cannot override a constraint. The older controllers of the matrix (ansible-core 2.17, 2.18) need every other pin
(boto3, botocore, moto, pytest, ...) unchanged, so this drops the controller's lines and installs with the rest:
one list of pins for all environments. Used as tox's install_command (tox-ansible.ini).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The controller, and what older ansible-cores cap: resolvelib (ansible-core 2.17/2.18: <1.1.0, 2.19: <2.0.0).
CONTROLLER = ("ansible==", "ansible-core==", "resolvelib==")


def main(argv: list[str]) -> int:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    kept = [line for line in lines if not line.strip().lower().startswith(CONTROLLER)]
    with tempfile.NamedTemporaryFile("w", suffix="-constraints.txt", delete=False) as out:
        out.write("\n".join(kept) + "\n")
    try:
        cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-c", out.name, *argv]
        return subprocess.call(cmd)
    finally:
        os.unlink(out.name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
