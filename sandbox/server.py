"""Start and stop the sandbox: moto's server wrapped in SandboxApp, plus the sandbox's extensions."""

from __future__ import annotations

import importlib
import os
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from . import DEFAULT_HOST, DEFAULT_PORT
from .app import SandboxApp
from .config import SandboxConfig

# Each extension module exposes install(app: SandboxApp) -> None and registers its hooks there.
# Order matters only where two extensions hook the same operation; faults go first so they see every call.
EXTENSIONS = (
    "sandbox.faults",
    "sandbox.aws_behaviour",
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


class SandboxServer:
    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, config: SandboxConfig | None = None):
        # moto must never try Docker for Lambda, and answers as account 123456789012 by default.
        os.environ.setdefault("MOTO_DOCKER_NETWORK_MODE", "none")
        # AWS managed policies (arn:aws:iam::aws:policy/...) exist on every real account; the walkthrough attaches
        # two of them, so the sandbox must know them too.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        self.config = config or SandboxConfig()
        self.app = SandboxApp(self.config)
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
        return f"http://{self.host}:{self.port}"

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
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
