#!/usr/bin/env bash
# The lint gate (`make lint`): yamllint, ansible-lint (production profile), the changelog, the execution
# environment definition, shellcheck. Runs offline. Each step can run alone:
#   tools/lint.sh yamllint|shellcheck|ansible-lint|changelog|ee
#
# tools/lint.sh --fix-changelog   refold changelogs/fragments into the release of galaxy.yml's version
#                                 (changelogs/changelog.yaml) and regenerate CHANGELOG.md
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/.venv/bin"
export PATH="${BIN}:${PATH}"
cd "${ROOT}"

VERSION="$("${BIN}/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')"

step() { printf '\n== %s\n' "$*"; }

run_yamllint() {
    step "yamllint (.yamllint)"
    yamllint --strict .
}

run_shellcheck() {
    step "shellcheck (tools/*.sh, .ci/run)"
    shellcheck tools/*.sh .ci/run
}

run_ansible_lint() {
    step "ansible-lint (.ansible-lint, profile production)"
    # The repository's ansible.cfg points collections_path at the checkout's collections/ link, which is how
    # ansible-lint resolves streamops.dynamodb_lambda.* FQCNs in roles and playbooks.
    ANSIBLE_CONFIG="${ROOT}/ansible.cfg" ansible-lint --nocolor --format pep8
}

# The release date of galaxy.yml's version in changelog.yaml, or nothing when that version is not released yet.
release_date() {
    "${BIN}/python" - "$1" "${VERSION}" <<'PY'
import sys, yaml
from pathlib import Path
path = Path(sys.argv[1]) / "changelogs" / "changelog.yaml"
data = yaml.safe_load(path.read_text()) if path.exists() else None
release = ((data or {}).get("releases") or {}).get(sys.argv[2])
print(release.get("release_date", "") if release else "")
PY
}

# Fold the fragments into the release of ${VERSION} inside the collection at $1, keeping its release date.
fold_release() {
    local dir="$1" date
    date="$(release_date "${dir}")"
    (cd "${dir}" && antsibull-changelog release --version "${VERSION}" --date "${date:-$(date -u +%F)}" \
        --update-existing --reload-plugins --refresh)
}

run_changelog() {
    step "antsibull-changelog lint (fragments and changelog.yaml)"
    antsibull-changelog lint
    if [[ ! -f changelogs/changelog.yaml ]]; then
        echo "changelogs/changelog.yaml is missing: run tools/lint.sh --fix-changelog" >&2
        return 1
    fi
    antsibull-changelog lint-changelog-yaml --no-semantic-versioning changelogs/changelog.yaml
    if [[ -z "$(release_date "${ROOT}")" ]]; then
        # Version ${VERSION} is still being developed: fragments are linted above; the release folds them later.
        return 0
    fi
    step "changelog of ${VERSION} is up to date with its fragments and modules"
    # The plugin list comes from ansible-doc, which needs the collection at ansible_collections/<ns>/<name>.
    local copy
    copy="$(BUILD_DIR="${ROOT}/build/changelog" tools/sanity.sh --prepare-only)"
    fold_release "${copy}" >/dev/null
    local stale=0
    for f in changelogs/changelog.yaml CHANGELOG.md; do
        if ! diff -u "${f}" "${copy}/${f}"; then
            stale=1
        fi
    done
    if (( stale )); then
        echo "CHANGELOG.md / changelogs/changelog.yaml are stale (diff above): run tools/lint.sh --fix-changelog" >&2
        return 1
    fi
}

fix_changelog() {
    local copy
    copy="$(BUILD_DIR="${ROOT}/build/changelog" tools/sanity.sh --prepare-only)"
    fold_release "${copy}"
    cp "${copy}/changelogs/changelog.yaml" changelogs/changelog.yaml
    cp "${copy}/CHANGELOG.md" CHANGELOG.md
    echo "updated changelogs/changelog.yaml and CHANGELOG.md for ${VERSION}"
}

run_ee() {
    step "ansible-builder create (execution-environment.yml)"
    rm -rf build/collection build/ee
    ansible-galaxy collection build --output-path build/collection . >/dev/null
    ansible-builder create -f execution-environment.yml -c build/ee --output-filename Containerfile -v 1
    # ansible-builder only warns when an additional build file is missing; the image would lack the collection.
    local tarball="build/ee/_build/collection/streamops-dynamodb_lambda-${VERSION}.tar.gz"
    [[ -f "${tarball}" ]] || { echo "EE build context lacks ${tarball}" >&2; return 1; }
    grep -q "ansible-galaxy collection install .*streamops-dynamodb_lambda" build/ee/Containerfile \
        || { echo "EE Containerfile does not install the collection" >&2; return 1; }
    echo "EE build context ok: build/ee (building the image needs podman or docker)"
}

case "${1:-all}" in
    yamllint) run_yamllint ;;
    shellcheck) run_shellcheck ;;
    ansible-lint) run_ansible_lint ;;
    changelog) run_changelog ;;
    ee) run_ee ;;
    --fix-changelog) fix_changelog ;;
    all)
        # Every step runs even when an earlier one fails, so one run shows all findings.
        failed=()
        run_yamllint || failed+=(yamllint)
        run_shellcheck || failed+=(shellcheck)
        run_ansible_lint || failed+=(ansible-lint)
        run_changelog || failed+=(changelog)
        run_ee || failed+=(ee)
        if (( ${#failed[@]} )); then
            printf '\nlint: failed: %s\n' "${failed[*]}" >&2
            exit 1
        fi
        printf '\nlint: all steps passed\n'
        ;;
    *) echo "usage: $0 [all|yamllint|shellcheck|ansible-lint|changelog|ee|--fix-changelog]" >&2; exit 2 ;;
esac
