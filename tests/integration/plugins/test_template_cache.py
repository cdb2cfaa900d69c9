"""In a real run, a template of the collection's roles is compiled by one worker and read back by the others.

setup.yml (check mode, two pipelines, one fork so that the workers run one after another) runs twice, with a
`sitecustomize` that records, in every process, each compile that reaches Jinja of a template read from the
roles' files (all but the pipelines role, which runs before the cache is installed). With the cache, each such
template reaches Jinja in one process only; with STREAMOPS_TEMPLATE_CACHE=0 the module tasks' arguments are
compiled again by the second pipeline's workers. Both runs say the same.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "playbooks" / "setup.yml"
PIPELINES = [{"name": f"tcache{i}", "table_name": f"tcache_table_{i}", "function_name": f"tcache_fn_{i}"}
             for i in range(2)]
SITECUSTOMIZE = '''
import hashlib, os
import jinja2

_roles = os.path.realpath(os.environ["TCACHE_ROLES"])
# The pipelines role checks the pipeline list before the first of the collection's action plugins loads (and
# installs the cache); its templates are rendered once per run anyway.
_before = os.path.join(_roles, "pipelines") + os.sep
_original = jinja2.Environment.compile


def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
    if isinstance(source, str) and not raw:
        try:
            from ansible._internal._datatag._tags import Origin
            path = getattr(Origin.get_tag(source), "path", None)
        except ImportError:
            path = None
        real = os.path.realpath(path) if path else ""
        if real.startswith(_roles + os.sep) and not real.startswith(_before):
            with open(os.environ["TCACHE_LOG"], "a", encoding="utf-8") as log:
                digest = hashlib.sha256(str(source).encode()).hexdigest()
                log.write(f"{os.getpid()} {digest} {real}\\n")  # the file, to read a failure by
    return _original(self, source, name, filename, raw, defer_init)


jinja2.Environment.compile = compile
'''


def _run(run_playbook, tmp_path, label, env):
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / f"{label}.log"
    proc = run_playbook(SETUP, {"streamops_pipelines": PIPELINES, "streamops_verify": False}, "--check",
                        env={"PYTHONPATH": str(site), "TCACHE_ROLES": str(ROOT / "roles"), "TCACHE_LOG": str(log),
                             "ANSIBLE_FORKS": "1", **env})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    processes = collections.defaultdict(set)
    for line in log.read_text(encoding="utf-8").splitlines():
        pid, digest = line.split()[:2]
        processes[digest].add(pid)
    recap = sorted(re.findall(r"^(tcache\d)\s+:\s+(.*)$", proc.stdout, re.MULTILINE))
    return processes, recap


def test_each_template_of_the_roles_reaches_jinja_in_one_process(run_playbook, tmp_path: Path):
    cached, cached_recap = _run(run_playbook, tmp_path, "cached", {})
    uncached, uncached_recap = _run(run_playbook, tmp_path, "uncached", {"STREAMOPS_TEMPLATE_CACHE": "0"})

    assert uncached, "the sitecustomize saw no template of the roles compiled"
    # Without the cache, the second pipeline's workers compile the module tasks' arguments again.
    assert sum(len(pids) > 1 for pids in uncached.values()) >= 10
    assert {digest: pids for digest, pids in cached.items() if len(pids) > 1} == {}
    assert set(cached) == set(uncached)
    assert cached_recap == uncached_recap and len(cached_recap) == 2
