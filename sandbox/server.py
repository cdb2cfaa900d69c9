"""Start and stop the sandbox: moto's server wrapped in SandboxApp, plus the sandbox's extensions."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import socket
import threading
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from . import DEFAULT_HOST, DEFAULT_PORT
from .app import LOOPBACK_HOSTS, SandboxApp, is_loopback
from .config import SandboxConfig

# The sandbox patches moto's internals (backends, models, response shapes), so it runs only on the moto it was
# written against: the pin in this file, next to the sandbox package.
REQUIREMENTS_FILE = Path(__file__).resolve().parent.parent / "requirements-sandbox.txt"
_MOTO_PIN = re.compile(r"^\s*moto(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)", re.MULTILINE)


class MotoVersionMismatch(RuntimeError):
    pass


def check_moto_version(requirements: Path = REQUIREMENTS_FILE) -> str:
    """Return the installed moto version; raise MotoVersionMismatch unless it is the one *requirements* pins."""
    try:
        installed = importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError:
        installed = "none"
    try:
        found = _MOTO_PIN.search(requirements.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MotoVersionMismatch(f"cannot read the moto pin from {requirements}: {exc}") from exc
    if not found:
        raise MotoVersionMismatch(f"{requirements} pins no moto version (expected a line 'moto[server]==X.Y.Z')")
    pinned = found.group(1)
    if installed != pinned:
        raise MotoVersionMismatch(
            f"the sandbox needs moto {pinned} (pinned in {requirements}) but moto {installed} is installed; "
            f"install the pin: pip install -r {requirements}")
    return installed


class RemoteBindRefused(ValueError):
    pass

# Each extension module exposes install(app: SandboxApp) -> None and registers its hooks there.
# Order matters only where two extensions hook the same operation; faults go first so they see every call.
EXTENSIONS = (
    "sandbox.faults",
    "sandbox.validation",
    "sandbox.transitions",
    "sandbox.aws_behaviour",
    "sandbox.logs_api",
    "sandbox.lambda_config",
    "sandbox.lambda_vpc",
    "sandbox.lambda_runtime",
    "sandbox.event_source_mappings",
)


class _QuietRequestHandler(WSGIRequestHandler):
    """Per-request access lines drown the useful output (a test run makes thousands); keep server errors."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            failed = int(getattr(code, "value", code)) >= 500
        except (TypeError, ValueError):
            failed = True
        if failed:
            super().log_request(code, size)


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::", "[::]")


class SandboxServer:
    """*host* must be a loopback address unless *allow_remote_code_execution*: anyone who reaches the port can
    run code on this machine (the Lambda runtime runs what it is sent). *allowed_hosts* adds Host header names
    answered besides loopback names and the bind address; *cors_origins* are the origins given CORS headers."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, config: SandboxConfig | None = None, *,
                 allow_remote_code_execution: bool = False, allowed_hosts: list[str] | None = None,
                 cors_origins: list[str] | None = None):
        if not is_loopback(host) and not allow_remote_code_execution:
            raise RemoteBindRefused(
                f"refusing to listen on {host!r}, which is not a loopback address: the sandbox runs the code it is "
                "sent, so anyone who can reach it can run code on this machine. Pass "
                "--allow-remote-code-execution to do it anyway.")
        names = [*LOOPBACK_HOSTS, *(allowed_hosts or ())]
        if not _is_wildcard(host):
            names.append(host)
        # moto must never try Docker for Lambda, and answers as account 123456789012 by default.
        os.environ.setdefault("MOTO_DOCKER_NETWORK_MODE", "none")
        # AWS managed policies (arn:aws:iam::aws:policy/...) exist on every real account; the walkthrough attaches
        # two of them, so the sandbox must know them too.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        self.config = config or SandboxConfig()
        self.app = SandboxApp(self.config, allowed_hosts=names, cors_origins=cors_origins)
        self.host, self.port = host, port
        self._server = None
        self._thread: threading.Thread | None = None
        self.extensions = []
        for name in EXTENSIONS:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
                continue
            module.install(self.app)
            self.extensions.append(module)

    @property
    def url(self) -> str:
        # On a wildcard bind, the sandbox's own clients (Lambda handlers calling back) use loopback.
        host = "127.0.0.1" if _is_wildcard(self.host) else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> "SandboxServer":
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietRequestHandler)
        self.port = self._server.server_address[1]
        self.app.url = self.url
        os.environ["SANDBOX_ENDPOINT_URL"] = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for module in reversed(self.extensions):
            stop = getattr(module, "shutdown", None)
            if stop:
                stop(self.app)
        if self._server is not None:
            self._shutdown_http()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _shutdown_http(self) -> None:
        # serve_forever() looks at its shutdown flag only between select() calls, every poll_interval (0.5 s);
        # a connection wakes select() at once, so stopping takes milliseconds instead of up to half a second.
        assert self._server is not None
        stopper = threading.Thread(target=self._server.shutdown, name="sandbox-http-stop", daemon=True)
        stopper.start()
        address = self._server.server_address[:2]
        while stopper.is_alive():
            try:
                with socket.create_connection(address, timeout=0.2):
                    pass
            except OSError:
                pass
            stopper.join(0.05)
