"""Give a tox environment the amazon.aws and community.aws of the pinned ansible bundle.

Galaxy is not reachable from CI, only PyPI; the versions that go with this collection are the ones ansible 12.3.0
bundles (amazon.aws 10.1.2, community.aws 10.0.0, both requires_ansible >=2.17.0). Installing the whole bundle
would pull ansible-core 2.19 back in, so the environment's site-packages gets links to the bundle's directories in
the development virtualenv instead: ansible-core finds them through its sys.path scan of ansible_collections, as
it finds the bundle itself.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / ".venv" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages" / "ansible_collections"


def main() -> int:
    target = Path(sysconfig.get_paths()["purelib"]) / "ansible_collections"
    target.mkdir(exist_ok=True)
    for namespace in ("amazon", "community"):
        source = BUNDLE / namespace
        if not source.is_dir():
            print(f"link_collections: {source} not found (make venv installs the ansible bundle)", file=sys.stderr)
            return 1
        link = target / namespace
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source, target_is_directory=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
