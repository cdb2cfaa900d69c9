"""Install the collections galaxy.yml depends on (amazon.aws, community.aws) into this Python's site-packages.

    python -m tools.install_collections

They come from the `ansible` package pinned in constraints.txt, the only registry this project reaches that carries
them (no Galaxy). The whole package unpacks to about 470 MB of collections; the demo needs these two (about
15 MB), so only they are taken from its wheel. They land where the full package puts them
(site-packages/ansible_collections/<namespace>/<name>), so `pip install ansible==<pin>` later (`make test`) simply
installs over them with the same files. Nothing happens when that package is already installed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def ansible_pin(constraints: Path = ROOT / "constraints.txt") -> str:
    for line in constraints.read_text().splitlines():
        match = re.fullmatch(r"ansible==(\S+)", line.strip())
        if match:
            return match.group(1)
    raise SystemExit(f"install_collections: no ansible==<version> line in {constraints}")


def dependencies(galaxy: Path = ROOT / "galaxy.yml") -> list[str]:
    return sorted(yaml.safe_load(galaxy.read_text()).get("dependencies") or {})


def extract(wheel: Path, names: list[str], dest: Path) -> dict[str, str]:
    """Unpack ansible_collections/<ns>/<name>/ of each name from the wheel into dest; return {name: version}."""
    prefixes = {name: "ansible_collections/{}/{}/".format(*name.split(".")) for name in names}
    versions: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        members = archive.namelist()
        for name, prefix in prefixes.items():
            wanted = [m for m in members if m.startswith(prefix)]
            if not wanted:
                raise SystemExit(f"install_collections: {wheel.name} carries no {name}")
            archive.extractall(dest, wanted)
            manifest = json.loads((dest / prefix / "MANIFEST.json").read_text())
            versions[name] = manifest["collection_info"]["version"]
    return versions


def main() -> int:
    pin = ansible_pin()
    names = dependencies()
    try:
        installed = metadata.version("ansible")
    except metadata.PackageNotFoundError:
        installed = None
    if installed == pin:
        print(f"collections: the ansible {pin} package is installed; it has {', '.join(names)}")
        return 0
    dest = Path(sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory(prefix="streamops-collections-") as tmp:
        print(f"collections: fetching the ansible {pin} wheel for {', '.join(names)} (about 55 MB)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--disable-pip-version-check", "-d", tmp, f"ansible=={pin}"], check=True)
        wheel = next(Path(tmp).glob("ansible-*.whl"))
        versions = extract(wheel, names, dest)
    print("collections: installed " + ", ".join(f"{n} {v}" for n, v in versions.items()) + f" into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
