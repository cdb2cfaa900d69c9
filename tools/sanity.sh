#!/usr/bin/env bash
# ansible-test sanity for this collection, offline-capable, no Docker, local Python 3.11 only.
#
# ansible-test only runs from a directory named ansible_collections/<namespace>/<name>, so the checkout is copied
# into build/ansible_collections/streamops/dynamodb_lambda first. The checkout's own
# collections/ansible_collections/streamops/dynamodb_lambda is a symlink back to the checkout; copying it would
# recurse, so it is left out.
#
# Usage: tools/sanity.sh [extra ansible-test arguments, e.g. --test pylint]
#        tools/sanity.sh --prepare-only   lay out the copy (with amazon/community beside it), print its path, stop
#                                         (tools/lint.sh uses it; BUILD_DIR picks another place than build/sanity)
# SANITY_TREE=head   check the last commit (what CI sees) instead of the working tree (tracked + untracked,
#                    not ignored files: what a developer is about to commit).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# SANITY_BIN: the bin directory of another virtualenv (another ansible-core: the tox-ansible matrix).
BIN="${SANITY_BIN:-${ROOT}/.venv/bin}"
PYTHON_VERSION=3.11
NAMESPACE=streamops
NAME=dynamodb_lambda
BUILD="${BUILD_DIR:-${ROOT}/build/sanity}"
DEST="${BUILD}/ansible_collections/${NAMESPACE}/${NAME}"

rm -rf "${BUILD}"
mkdir -p "${DEST}"

cd "${ROOT}"
if [[ "${SANITY_TREE:-worktree}" == head ]]; then
    git archive --format=tar HEAD | tar -x -C "${DEST}"
else
    # -z: paths may contain anything; deleted-but-tracked files are skipped by the existence test.
    git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf - | tar -x -C "${DEST}"
fi
rm -rf "${DEST}/collections"
# build/ is git-ignored by the checkout, and ansible-test lists content with git from the nearest .git upwards, so
# it would see no files at all. A repository of its own makes it list exactly the copy (minus .gitignore'd paths).
git -c init.defaultBranch=main init -q "${DEST}"

# ansible-test resolves the collection's dependencies (amazon.aws for module_utils imports in the import and
# validate-modules tests) from the same ansible_collections tree; the pinned ansible package provides them.
# ansible_collections is a namespace package: its first search path entry is the ansible package's bundle.
SITE_COLLECTIONS="$("${BIN}/python" -c 'import ansible_collections; print(list(ansible_collections.__path__)[0])')"
for dep in amazon community; do
    [[ -d "${SITE_COLLECTIONS}/${dep}" ]] || { echo "sanity: ${dep} collections not found in ${SITE_COLLECTIONS}" >&2; exit 1; }
    ln -s "${SITE_COLLECTIONS}/${dep}" "${BUILD}/ansible_collections/${dep}"
done
if [[ "${1:-}" == --prepare-only ]]; then
    echo "${DEST}"
    exit 0
fi

# No test is skipped: every test that applies to a collection runs. Tests that would need other Pythons are limited
# by --python; tests that need Docker or a remote host do not apply with --local.
#
# Paths left out (ansible-test's own --exclude): exactly the development machinery that galaxy.yml's build_ignore
# keeps out of the artifact. Sanity checks what ships (what Galaxy and Automation Hub check on import); the local AWS
# endpoint, the benchmarks and the dev tools never reach a user, and ansible-test's collection rules (pylint
# config, module conventions) are not meant for them. tools/*.sh get shellcheck in tools/lint.sh instead.
EXCLUDE=(sandbox/ bench/ tools/ tests/unit/sandbox/ tests/unit/bench/ tests/integration/sandbox/)

# Even with --local, ansible-test 2.19 runs each sanity test in a virtualenv of its own that it creates without
# pip, bootstraps with a get-pip script from ci-files.testing.ansible.com, then fills with that test's pinned
# requirements (its _data/requirements/sanity.*.txt) from an index. Only PyPI is reachable in CI, and a laptop
# may be offline, so ansible-test runs with a HOME of its own (it passes only HOME, PATH and a few build variables
# to pip) where:
#   - pip.conf points at a local wheelhouse and nothing else (no index at all during the run),
#   - the bootstrap cache holds a get-pip equivalent that runs pip from the pinned pip wheel in that wheelhouse.
# The wheelhouse is filled from ansible-test's own pinned requirement files (pinned through ansible-core in
# constraints.txt), online only when a wheel is missing; afterwards the gate runs offline.
ANSIBLE_TEST_DATA="$("${BIN}/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')"
# What ansible-test seeds each virtualenv with: pip alone on 2.19, pip, setuptools and wheel on 2.17/2.18.
VENV_PACKAGES="$("${BIN}/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(" ".join(f"{name}=={version}" for name, version in
               get_venv_packages(NativePythonConfig(version="3.11", path="/unused")).items()))
PY
)"
PIP_VERSION="$(tr ' ' '\n' <<<"${VENV_PACKAGES}" | sed -n 's/^pip==//p')"
TEST_HOME="${ROOT}/.cache/ansible-test-home"
WHEELS="${ROOT}/.cache/sanity-wheels"
mkdir -p "${WHEELS}" "${TEST_HOME}/.config/pip" "${TEST_HOME}/.ansible/test/cache"
read -r -a WHEEL_REQS <<<"${VENV_PACKAGES}"
for req in "${ANSIBLE_TEST_DATA}"/sanity.*.txt; do WHEEL_REQS+=(-r "${req}"); done
if ! "${BIN}/pip" download --quiet --no-index --find-links "${WHEELS}" -d "${WHEELS}" "${WHEEL_REQS[@]}" >/dev/null 2>&1; then
    echo "sanity: fetching pinned wheels for the import test into ${WHEELS}"
    "${BIN}/pip" download --quiet --only-binary=:all: -d "${WHEELS}" "${WHEEL_REQS[@]}"
fi
printf '[global]\nno-index = true\nfind-links = %s\n' "${WHEELS}" > "${TEST_HOME}/.config/pip/pip.conf"
PIP_WHEEL="$(ls "${WHEELS}"/pip-"${PIP_VERSION}"-*.whl)"
cat > "${TEST_HOME}/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py" <<PY
# Written by tools/sanity.sh: does what get-pip.py does (run pip from its own wheel to install pip into the
# interpreter that runs this script), from the pinned wheel instead of a download.
import sys
sys.path.insert(0, "${PIP_WHEEL}")
from pip._internal.cli.main import main
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--no-index", "--find-links", "${WHEELS}", *args]))
PY

cd "${DEST}"
# --local: the .venv's Python 3.11 is the controller; no Docker. The per-test virtualenvs are cached under
# ${TEST_HOME}/.ansible/test/venv, keyed by their requirements, so only the first run pays for creating them.
exec env HOME="${TEST_HOME}" PATH="${BIN}:${PATH}" "${BIN}/ansible-test" sanity --local --python "${PYTHON_VERSION}" --color no \
    "${EXCLUDE[@]/#/--exclude=}" "$@"
