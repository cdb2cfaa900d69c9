# -*- coding: utf-8 -*-
# Copyright: contributors to streamops.dynamodb_lambda
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A function's ``requirements.txt``, installed for Lambda's platform and cached on the controller.

Lambda runs Linux on x86_64 or arm64 with the runtime's CPython, and cannot build anything at deploy time, so
dependencies must be wheels built for that platform, whatever the controller runs. pip does this with
``--platform``/``--python-version``/``--implementation``/``--abi`` and ``--only-binary=:all:``, which is what AWS
documents for .zip packages with dependencies and what ``sam build`` does:
https://docs.aws.amazon.com/lambda/latest/dg/python-package.html#python-package-create-dependencies

The installed tree is cached under a key of everything that decides its contents (the requirements' bytes,
runtime, architecture, pip's version and configuration, the extra pip arguments), so a second build with the
same inputs runs no pip. Errors raise ``PackageError`` whose message starts with the option at fault.
"""

from __future__ import annotations

import email.parser
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Lambda quotas: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
# A .zip uploaded in the request itself (ZipFile) may be at most 50 MB; larger ones must come from S3.
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
# The function's code unzipped, together with all its layers, may be at most 250 MB.
UNZIPPED_LIMIT = 250 * 1024 * 1024

# Lambda's architecture names and the machine names wheels are tagged with.
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
DEFAULT_ARCHITECTURE = "x86_64"

# glibc of the runtime's operating system (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html):
# python3.12 and later run on Amazon Linux 2023 (glibc 2.34), earlier ones on Amazon Linux 2 (glibc 2.26). A
# manylinux_2_N wheel runs on glibc 2.N and later, so every N up to the runtime's is acceptable.
AL2023_FIRST_MINOR = 12
GLIBC_MINOR = {"al2": 26, "al2023": 34}
# manylinux2014 is manylinux_2_17, the oldest tag pip needs spelled out (pip adds manylinux2010 and manylinux1
# itself for x86_64).
MANYLINUX2014_GLIBC_MINOR = 17

# Bumped when the layout of a cache entry or the normalisation of the installed tree changes.
CACHE_FORMAT = 1
CACHE_TREE = "python"
CACHE_MANIFEST = "manifest.json"

# pip prints these when the index cannot be reached, and then also "No matching distribution found", which must
# not be read as "no wheel for this platform".
UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Could not fetch URL|ProxyError|SSLError"
    r"|Temporary failure in name resolution|Name or service not known|Max retries exceeded|ConnectTimeout"
    r"|Network is unreachable")
# pip settings that change how it talks or what it caches, never which files it installs: a change of one is no
# reason to run pip again.
PIP_SETTINGS_WITHOUT_EFFECT = frozenset((
    "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", "PIP_DEFAULT_TIMEOUT", "PIP_TIMEOUT", "PIP_RETRIES",
    "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_PROGRESS_BAR", "PIP_NO_INPUT", "PIP_NO_COLOR", "PIP_QUIET", "PIP_VERBOSE",
    "PIP_LOG", "PIP_ROOT_USER_ACTION",
))
NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
FROM_VERSIONS = re.compile(r"Could not find a version that satisfies the requirement (\S+) \(from versions: ([^)]*)\)")


class PackageError(Exception):
    """Bad input; the message starts with the option at fault. (``package`` re-exports it.)"""


def python_version(runtime):
    """(3, N) for a pythonX.Y runtime name, else PackageError naming runtime."""
    match = re.match(r"^python(3)\.(\d+)$", runtime or "")
    if not match:
        raise PackageError("runtime: installing requirements needs a Python runtime (python3.N), got %r" % runtime)
    return int(match.group(1)), int(match.group(2))


def platform_tags(runtime, architecture):
    """The pip --platform values for the runtime and architecture, the AWS-documented manylinux2014 tag first."""
    if architecture not in ARCHITECTURES:
        raise PackageError("architecture: %r is not one of %s" % (architecture, ", ".join(ARCHITECTURES)))
    machine = ARCHITECTURES[architecture]
    _major, minor = python_version(runtime)
    glibc = GLIBC_MINOR["al2023" if minor >= AL2023_FIRST_MINOR else "al2"]
    tags = ["manylinux2014_%s" % machine]
    tags += ["manylinux_2_%d_%s" % (n, machine) for n in range(glibc, MANYLINUX2014_GLIBC_MINOR - 1, -1)]
    return tags


def pip_command(requirements, target, runtime, architecture, extra_pip_args=()):
    """The argv that installs requirements into target for Lambda's platform (run with the controller's Python)."""
    major, minor = python_version(runtime)
    argv = [sys.executable, "-m", "pip", "install", "--target", target, "--requirement", requirements,
            # Lambda cannot compile: a requirement without a wheel for the platform must fail here, not at import.
            "--only-binary=:all:",
            "--implementation", "cp", "--python-version", "%d.%d" % (major, minor), "--abi", "cp%d%d" % (major, minor),
            # Byte code would be the controller's Python's, and its timestamps would change the archive's bytes.
            "--no-compile",
            "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    for tag in platform_tags(runtime, architecture):
        argv += ["--platform", tag]
    return argv + list(extra_pip_args)


def pip_version():
    """The version of the pip the controller's Python would run, read without running it."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python 3.8+ has it
        return None
    try:
        return version("pip")
    except PackageNotFoundError:
        return None


def _pip_configuration():
    """pip's settings from the environment and its configuration files, which change what it installs."""
    settings = {key: value for key, value in os.environ.items()
                if key.startswith("PIP_") and key not in PIP_SETTINGS_WITHOUT_EFFECT}
    # https://pip.pypa.io/en/stable/topics/configuration/#location
    candidates = [os.environ.get("PIP_CONFIG_FILE") or "", "/etc/pip.conf",
                  os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "pip", "pip.conf"),
                  os.path.expanduser("~/.pip/pip.conf"), os.path.join(sys.prefix, "pip.conf")]
    candidates += [os.path.join(d, "pip", "pip.conf") for d in (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")]
    files = {}
    for path in candidates:
        if path and os.path.isfile(path):
            with open(path, "rb") as handle:
                files[path] = hashlib.sha256(handle.read()).hexdigest()
    return {"env": settings, "files": files}


def cache_key(requirements_bytes, runtime, architecture, extra_pip_args=()):
    """Hex SHA-256 of everything that decides which files pip installs."""
    material = {
        "format": CACHE_FORMAT,
        "requirements": hashlib.sha256(requirements_bytes).hexdigest(),
        "runtime": runtime,
        "architecture": architecture,
        "platforms": platform_tags(runtime, architecture),
        "pip": pip_version(),
        # pip evaluates environment markers other than python_version against the Python it runs on.
        "controller": "%s %d.%d" % (sys.platform, sys.version_info[0], sys.version_info[1]),
        "extra_pip_args": list(extra_pip_args),
        "pip_configuration": _pip_configuration(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()


def default_cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "streamops.dynamodb_lambda", "deps")


def _read_manifest(entry):
    try:
        with open(os.path.join(entry, CACHE_MANIFEST), "r", encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return None
    if manifest.get("format") != CACHE_FORMAT or not os.path.isdir(os.path.join(entry, CACHE_TREE)):
        return None
    return manifest


def normalize(target):
    """Drop what pip writes that depends on the controller rather than on the requirements.

    Console scripts land in ``bin/`` with the controller Python's path in their shebang (and their hashes in the
    distribution's RECORD); Lambda never runs them. ``direct_url.json`` records the local path or URL a
    requirement came from, which differs between checkouts.
    """
    for record in sorted(glob.glob(os.path.join(target, "*.dist-info", "RECORD"))):
        dist_info = os.path.dirname(record)
        with open(record, "r", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        kept = []
        for line in lines:
            path = line.rsplit(",", 2)[0]
            # RECORD paths are relative to the library directory pip installs into, two levels below target.
            if path.startswith("../../bin/"):
                script = os.path.join(target, path[len("../../"):])
                if os.path.isfile(script):
                    os.unlink(script)
                continue
            if path == os.path.basename(dist_info) + "/direct_url.json":
                continue
            kept.append(line)
        direct_url = os.path.join(dist_info, "direct_url.json")
        if os.path.exists(direct_url):
            os.unlink(direct_url)
        if kept != lines:
            with open(record, "w", encoding="utf-8") as handle:
                handle.write("\n".join(kept) + "\n")
    bin_dir = os.path.join(target, "bin")
    if os.path.isdir(bin_dir) and not os.listdir(bin_dir):
        os.rmdir(bin_dir)


def installed_distributions(target):
    """[{name, version}] of the distributions installed in target, sorted by name."""
    found = []
    for metadata in glob.glob(os.path.join(target, "*.dist-info", "METADATA")):
        with open(metadata, "r", encoding="utf-8", errors="replace") as handle:
            headers = email.parser.Parser().parse(handle, headersonly=True)
        found.append({"name": headers.get("Name", ""), "version": headers.get("Version", "")})
    return sorted(found, key=lambda d: (d["name"].lower(), d["version"]))


def explain_failure(output, requirements, runtime, architecture, returncode):
    """The PackageError message for a failed pip run: the requirement without a wheel, or pip's own error."""
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR:")]
    if UNREACHABLE.search(output):
        last = [line.strip() for line in output.splitlines() if UNREACHABLE.search(line)][-1]
        return ("requirements: %s: cannot reach the package index to install it for %s on %s (%s); set pip's index "
                "with extra_pip_args or its configuration" % (requirements, runtime, architecture, last))
    missing = NO_MATCH.findall(output)
    if missing:
        available = dict(FROM_VERSIONS.findall(output))
        names = []
        for requirement in missing:
            versions = available.get(requirement, "none").strip()
            names.append("%r%s" % (requirement, "" if versions in ("", "none")
                                   else " (versions with a suitable wheel: %s)" % versions))
        return ("requirements: %s: no wheel of %s for %s on %s (%s); Lambda cannot build from source, so pin a "
                "version that publishes one or provide the wheel through extra_pip_args (--find-links)"
                % (requirements, ", ".join(names), runtime, architecture, platform_tags(runtime, architecture)[0]))
    detail = "; ".join(errors) or (output.strip().splitlines() or ["no output"])[-1]
    return "requirements: %s: pip install for %s on %s failed (exit %s): %s" % (
        requirements, runtime, architecture, returncode, detail)


def install(requirements, runtime, architecture=DEFAULT_ARCHITECTURE, cache_dir=None, extra_pip_args=()):
    """Install requirements for Lambda's platform, or reuse the cached tree.

    Returns a dict: ``path`` (the directory whose contents go to the archive root), ``distributions``
    ([{name, version}]), ``cached`` (True when no pip ran) and ``key`` (the cache key).
    """
    platform_tags(runtime, architecture)  # validate before touching anything
    try:
        with open(requirements, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise PackageError("requirements: cannot read %s: %s" % (requirements, exc.strerror or exc))
    if pip_version() is None:
        raise PackageError("requirements: installing %s needs pip for %s (python -m pip)"
                           % (requirements, sys.executable))
    extra_pip_args = list(extra_pip_args)
    key = cache_key(data, runtime, architecture, extra_pip_args)
    # Absolute: pip runs in the requirements file's folder, where a relative target would land in the source.
    root = os.path.abspath(os.path.expanduser(cache_dir) if cache_dir else default_cache_dir())
    entry = os.path.join(root, key)
    manifest = _read_manifest(entry)
    if manifest is not None:
        return {"path": os.path.join(entry, CACHE_TREE), "distributions": manifest["distributions"], "cached": True,
                "key": key}
    try:
        os.makedirs(root, mode=0o755, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".install-", dir=root)
    except OSError as exc:
        raise PackageError("cache_dir: cannot create %s: %s" % (root, exc.strerror or exc))
    try:
        target = os.path.join(staging, CACHE_TREE)
        argv = pip_command(os.path.abspath(requirements), target, runtime, architecture, extra_pip_args)
        # Relative paths inside requirements.txt (./vendor/x.whl, -c constraints.txt) are relative to its folder.
        completed = subprocess.run(argv, cwd=os.path.dirname(os.path.abspath(requirements)),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                   check=False)
        if completed.returncode != 0:
            raise PackageError(explain_failure(completed.stdout, requirements, runtime, architecture,
                                               completed.returncode))
        if not os.path.isdir(target):
            os.makedirs(target)  # a requirements.txt with only comments installs nothing
        normalize(target)
        distributions = installed_distributions(target)
        with open(os.path.join(staging, CACHE_MANIFEST), "w", encoding="utf-8") as handle:
            json.dump({"format": CACHE_FORMAT, "distributions": distributions, "pip": pip_version(),
                       "runtime": runtime, "architecture": architecture}, handle, sort_keys=True, indent=1)
        os.chmod(staging, 0o755)
        if os.path.isdir(entry) and _read_manifest(entry) is None:
            # Entries appear whole (rename below), so one without its manifest was damaged or is of an older format.
            shutil.rmtree(entry)
        try:
            # Atomic: a reader sees either no entry or a complete one.
            os.rename(staging, entry)
        except OSError:
            if _read_manifest(entry) is None:  # not another run that filled the same entry first
                raise
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return {"path": os.path.join(entry, CACHE_TREE), "distributions": distributions, "cached": False, "key": key}
