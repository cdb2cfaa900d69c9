"""Every code block of README.md runs, as written, against a sandbox: what a new user pastes must work.

The blocks run in README order in one working copy of the checkout (tracked and untracked files, so an edit is
tested before it is committed), the way a user in one terminal would run them:

- ``sh`` blocks run in bash (``-e -o pipefail``) from the copy's root; what one block exports (``. .venv/bin/activate``,
  ``export AWS_...``) the next one sees. The copy's ``.venv`` is this test's Python environment, already installed.
- ``yaml`` blocks start with ``# <file name>`` and are written to that file in the copy; a later shell block must
  use the file, or the block would go untested.
- An HTML comment right before a block changes how it runs:
  ``<!-- not run: why -->`` skips it (only the reasons in NOT_RUN are accepted);
  ``<!-- runs until stopped: ... -->`` starts it in the background and waits for the sandbox's ready line;
  ``<!-- endpoint: ... -->`` runs it as written, checks that it sets only endpoint, credentials and region, and
  from then on those variables point at the test's own sandbox.
- What comes from outside, as the README says: the sandbox's port (``SANDBOX_PORT``), the endpoint and
  credentials; ``HOME`` is a fresh directory (``~/.ansible`` of the user running the test stays untouched).

A block without a language tag, with a language this test cannot run, or with an unknown marker fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHELL_LANGS = {"sh", "bash", "shell"}
ENDPOINT_VARS = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                 "AWS_DEFAULT_REGION"}
# The blocks that genuinely cannot run here, by the reason the README gives. A new exclusion has to be added here,
# on purpose.
NOT_RUN = {
    "needs an AWS account and its credentials",
    "a diagram (GitHub draws it); the test checks that each subgraph is a role",
}
BLOCK_TIMEOUT = 600


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    body: str
    marker: str | None

    @property
    def id(self) -> str:
        first = next((ln for ln in self.body.splitlines() if ln.strip()), "").strip()
        return f"L{self.line}-{self.lang or 'untagged'}-{re.sub(r'[^A-Za-z0-9_.@/-]+', '_', first)[:40]}"


def parse(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    previous = ""  # the last non-blank line before the current one
    while i < len(lines):
        fence = re.match(r"^(```+|~~~+)(.*)$", lines[i])
        if fence:
            start, lang = i, fence.group(2).strip()
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith(fence.group(1)):
                body.append(lines[i])
                i += 1
            marker = re.fullmatch(r"<!--\s*(.*?)\s*-->", previous.strip())
            blocks.append(Block(start + 1, lang, "\n".join(body) + "\n", marker.group(1) if marker else None))
            previous = ""
        elif lines[i].strip():
            previous = lines[i]
        i += 1
    return blocks


BLOCKS = parse(README.read_text(encoding="utf-8"))


def yaml_file_name(block: Block) -> str | None:
    match = re.match(r"#\s*(\S+\.ya?ml)\b", block.body)
    return match.group(1) if match else None


def kind(block: Block) -> str:
    if block.marker is not None:
        if block.marker.startswith("not run:"):
            return "skip"
        if block.marker.startswith("runs until stopped:"):
            return "background"
        if block.marker.startswith("endpoint:"):
            return "endpoint"
        return "unknown marker"
    if block.lang in SHELL_LANGS:
        return "shell"
    if block.lang in ("yaml", "yml"):
        return "file"
    return "untagged" if not block.lang else "unknown language"


def test_every_block_is_run_or_deliberately_not():
    problems = []
    for block in BLOCKS:
        k = kind(block)
        if k in ("untagged", "unknown language", "unknown marker"):
            problems.append(f"README.md:{block.line}: {k} ({block.lang!r}, marker {block.marker!r})")
        elif k == "skip" and block.marker.removeprefix("not run:").strip() not in NOT_RUN:
            problems.append(f"README.md:{block.line}: not run for a reason this test does not accept: {block.marker}")
        elif k in ("background", "endpoint") and block.lang not in SHELL_LANGS:
            problems.append(f"README.md:{block.line}: a {k} block must be a shell block")
        elif k == "file":
            name = yaml_file_name(block)
            later = [b for b in BLOCKS if b.line > block.line and kind(b) == "shell"]
            if not name:
                problems.append(f"README.md:{block.line}: a YAML block must start with '# <file name>.yml'")
            elif not any(re.search(rf"(?<![\w.-]){re.escape(name)}\b", b.body) for b in later):
                problems.append(f"README.md:{block.line}: no later shell block uses {name}, so it would not run")
    assert not problems, "\n".join(problems)
    assert any(kind(b) == "shell" for b in BLOCKS)


def test_the_diagram_names_the_roles():
    roles = {p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir()}
    for block in BLOCKS:
        if block.lang == "mermaid":
            subgraphs = re.findall(r"^\s*subgraph\s+(\S+)", block.body, flags=re.M)
            assert subgraphs and set(subgraphs) <= roles, (block.line, subgraphs, roles)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_checkout(dest: Path) -> None:
    """The checkout's tracked and untracked (not ignored) files, symlinks kept (collections/ links back)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the work tree, not yet in git
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)


def _link_venv(dest: Path) -> None:
    """dest/.venv: this test's environment (links to its parts), with `make`'s install stamps, so `make demo` in
    the copy finds everything installed and installs nothing into the shared environment."""
    venv = Path(sys.prefix)
    dest.mkdir()
    for entry in venv.iterdir():
        if not entry.name.startswith(".installed"):
            (dest / entry.name).symlink_to(entry)
    for stamp in (".installed-runtime", ".installed-dev"):
        (dest / stamp).touch()


class Session:
    """One user's terminal: blocks run in order, exports carry over."""

    def __init__(self, workdir: Path, home: Path):
        self.workdir = workdir
        self.state = workdir.parent / "state.sh"
        self.state.write_text("")
        self.supplied: dict[str, str] = {}
        self.background: list[subprocess.Popen[str]] = []
        venv_bin = str(Path(sys.executable).parent)
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("AWS_", "ANSIBLE_", "SANDBOX_", "MAKE", "MFLAGS", "PYTEST_", "VIRTUAL_ENV",
                                     "STREAMOPS_"))}
        # A user's shell has no .venv/bin on PATH until the README's activate line puts it there.
        keep["PATH"] = os.pathsep.join(p for p in keep.get("PATH", "").split(os.pathsep)
                                       if p and Path(p).resolve() != Path(venv_bin).resolve())
        keep["HOME"] = str(home)
        keep["SANDBOX_PORT"] = str(_free_port())
        self.env = keep

    @property
    def port(self) -> str:
        return self.env["SANDBOX_PORT"]

    def script(self, body: str, save_state: bool) -> str:
        supplied = "".join(f"export {k}={v!r}\n" for k, v in self.supplied.items())
        # The block is the script's end, so its last command's status is the script's (`a && b` failing in the
        # last line does not stop `set -e`); the exports are saved on the way out, only when it succeeded.
        save = f"trap 'rc=$?; [ $rc -eq 0 ] && export -p > \"{self.state}\"; exit $rc' EXIT\n" if save_state else ""
        return (f"set -eo pipefail\nsource \"{self.state}\"\n{supplied}{save}cd \"{self.workdir}\"\n"
                f"# ---- README block ----\n{body}")

    def run(self, body: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", self.script(body, save_state=True)], env=self.env, capture_output=True,
                              text=True, timeout=BLOCK_TIMEOUT, check=False, stdin=subprocess.DEVNULL)

    def start(self, body: str) -> str:
        proc = subprocess.Popen(["bash", "-c", self.script(body, save_state=False)], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.background.append(proc)
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            seen.append(line)
            if "ready on" in line or time.monotonic() > deadline:
                break
        if not any("ready on" in line for line in seen):
            pytest.fail("the background block never said it was ready:\n" + "".join(seen[-40:]))
        # Keep draining its output so its pipe never fills.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        return "".join(seen)

    def stop(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    base = tmp_path_factory.mktemp("readme")
    workdir = base / "clone"
    _copy_checkout(workdir)
    _link_venv(workdir / ".venv")
    (base / "home").mkdir()
    s = Session(workdir, base / "home")
    yield s
    s.stop()


def _report(block: Block, proc: subprocess.CompletedProcess[str]) -> str:
    return (f"README.md:{block.line} ({block.lang}) exited {proc.returncode}\n--- block ---\n{block.body}"
            f"--- output (last 8000 characters) ---\n{(proc.stdout + proc.stderr)[-8000:]}")


def _params():
    for block in BLOCKS:
        yield pytest.param(block, id=block.id)


@pytest.mark.parametrize("block", _params())
def test_block_runs_as_written(block: Block, session: Session):
    k = kind(block)
    if k == "skip":
        pytest.skip(block.marker)
    if k == "file":
        name = yaml_file_name(block)
        assert name, f"README.md:{block.line}: a YAML block must start with '# <file name>.yml'"
        (session.workdir / name).write_text(block.body, encoding="utf-8")
        return
    if k == "background":
        session.start(block.body)
        return
    if k == "endpoint":
        home = Path(session.env["HOME"])
        first = session.run('env -0 > "$HOME/.env-before"\n')
        assert first.returncode == 0, _report(block, first)
        probe = session.run(block.body + '\nenv -0 > "$HOME/.env-after"\n')
        assert probe.returncode == 0, _report(block, probe)
        before, after = (dict(item.split("=", 1) for item in (home / name).read_text().split("\0") if "=" in item)
                         for name in (".env-before", ".env-after"))
        changed = {k for k in after.keys() | before.keys() if after.get(k) != before.get(k)} - {"_", "SHLVL"}
        assert changed <= ENDPOINT_VARS, f"the endpoint block sets more than endpoint and credentials: {changed}"
        assert after.get("AWS_ENDPOINT_URL") == "http://127.0.0.1:4566", "the README's sandbox address changed"
        # The same variables with the same values, but this test's sandbox instead of port 4566.
        session.supplied = {k: after[k] for k in changed if k in after}
        session.supplied["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{session.port}"
        return
    assert k == "shell", f"README.md:{block.line}: {k}"
    proc = session.run(block.body)
    assert proc.returncode == 0, _report(block, proc)
    output = proc.stdout + proc.stderr
    # Runs from the clone's root get ansible.cfg's inventory.
    assert "No inventory was parsed" not in output or "cd ~" in block.body, _report(block, proc)
