"""Fixtures of the plugin unit tests: fake AWS clients (aws_fakes.py) and a fake clock for every wait, for the
modules' core tests; a local folder of wheels (and one sdist) that pip can install from without a network, for the
packaging tests.

``aws_fakes`` sits beside this file; with ``--import-mode=importlib`` test files do not put their folder on
sys.path, so this conftest does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


class FakeClock:
    """Monotonic time that moves only when something sleeps; ``sleeps`` lists every sleep asked for."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """Every poll and retry of the collection sleeps on a FakeClock, so a five-minute wait takes no time.

    waiters.poll_until (the one loop every wait and retry runs) takes ``sleep``/``clock`` as defaults bound when
    it was defined, so patching time.sleep alone would not reach it: its defaults are swapped. time.sleep is
    patched too, for AWSRetry's backoff (the throttling and IAM-propagation decorators).
    """
    from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import waiters

    fake = FakeClock()
    swap = {time.sleep: fake.sleep, time.monotonic: fake}
    fn = waiters.poll_until
    monkeypatch.setattr(fn, "__defaults__", tuple(swap.get(d, d) for d in fn.__defaults__))
    # A Deadline shared by two waits (stream.wait_stream_readable) reads the same clock.
    init = waiters.Deadline.__init__
    monkeypatch.setattr(init, "__defaults__", tuple(swap.get(d, d) for d in init.__defaults__))
    monkeypatch.setattr(time, "sleep", fake.sleep)
    return fake


def make_wheel(directory, name, version, files, tag="py3-none-any", requires=(), scripts=None):
    """Write a minimal valid wheel (METADATA, WHEEL, RECORD, optional console scripts); return its path."""
    dist_info = "%s-%s.dist-info" % (name, version)
    contents = dict(files)
    contents[dist_info + "/METADATA"] = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
        name, version, "".join("Requires-Dist: %s\n" % r for r in requires))
    contents[dist_info + "/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: %s\nTag: %s\n" % (
        "true" if tag.endswith("-any") else "false", tag)
    if scripts:
        contents[dist_info + "/entry_points.txt"] = "[console_scripts]\n" + "".join(
            "%s = %s\n" % item for item in sorted(scripts.items()))
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(text.encode())))
    contents[dist_info + "/RECORD"] = "\n".join(record + [dist_info + "/RECORD,,"]) + "\n"
    path = directory / ("%s-%s-%s.whl" % (name, version, tag))
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in contents.items():
            archive.writestr(member, text)
    return path


def make_sdist(directory, name, version):
    path = directory / ("%s-%s.tar.gz" % (name, version))
    with tarfile.open(path, "w:gz") as archive:
        data = b"from setuptools import setup\nsetup(name=%r, version=%r)\n" % (name.encode(), version.encode())
        info = tarfile.TarInfo("%s-%s/setup.py" % (name, version))
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory):
    """Folder of distributions; install from it with extra_pip_args=["--no-index", "--find-links", str(folder)].

    tiny 1.0 (pure, needs dep>=1, has a console script), dep 1.0 and 2.0 (pure), cext 1.0 (CPython 3.12 x86_64
    only), needscext 1.0 (pure, needs cext), glibc228 1.0 (CPython 3.12/3.11 manylinux_2_28 for both machines),
    srconly 1.0 (sdist only).
    """
    folder = tmp_path_factory.mktemp("wheelhouse")
    make_wheel(folder, "tiny", "1.0", {"tiny/__init__.py": "from dep import X\n\n\ndef main():\n    return X\n"},
               requires=["dep>=1"], scripts={"tiny": "tiny:main"})
    make_wheel(folder, "dep", "1.0", {"dep.py": "X = 1\n"})
    make_wheel(folder, "dep", "2.0", {"dep.py": "X = 2\n"})
    make_wheel(folder, "cext", "1.0", {"cext.py": "X = 1\n"}, tag="cp312-cp312-manylinux2014_x86_64")
    make_wheel(folder, "needscext", "1.0", {"needscext.py": "import cext\n"}, requires=["cext"])
    for python in ("cp311", "cp312"):
        for machine in ("x86_64", "aarch64"):
            make_wheel(folder, "glibc228", "1.0", {"glibc228.py": "X = 1\n"},
                       tag="%s-%s-manylinux_2_28_%s" % (python, python, machine))
    make_sdist(folder, "srconly", "1.0")
    return folder


@pytest.fixture
def local_index(wheelhouse):
    """extra_pip_args that make pip use only the wheelhouse."""
    return ["--no-index", "--find-links", str(wheelhouse)]


@pytest.fixture
def pip_calls(monkeypatch):
    """The argv of every pip run dependencies makes (each still runs)."""
    # Imported here: at conftest import time the collection loader has not set the collection up yet.
    from ansible_collections.streamops.dynamodb_lambda.plugins.module_utils import dependencies

    calls = []
    real = subprocess.run

    def spy(argv, **kwargs):
        calls.append(argv)
        return real(argv, check=kwargs.pop("check", False), **kwargs)

    monkeypatch.setattr(dependencies.subprocess, "run", spy)
    return calls
