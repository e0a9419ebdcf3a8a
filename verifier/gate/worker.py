"""The app each ``gate serve`` worker process builds (uvicorn's import-string factory).

Workers are fresh interpreters (uvicorn's process manager spawns them), so ``serve`` hands them the
configuration it checked as text in ``$TRACKER2FA_GATE_CONFIG`` (with its file name, for messages, in
``$TRACKER2FA_GATE_SOURCE``) and the resolved database URL in ``$TRACKER2FA_GATE_DB``: every worker runs
exactly what was checked at start, even if the file changes on disk meanwhile. The server key comes as for
the verifier (``$TRACKER2FA_VERIFIER_KEY``, or the key file beside a SQLite database).
"""

from __future__ import annotations

import json
import os
from typing import Any

CONFIG_ENV = "TRACKER2FA_GATE_CONFIG"
SOURCE_ENV = "TRACKER2FA_GATE_SOURCE"
DB_ENV = "TRACKER2FA_GATE_DB"
LISTEN_ENV = "TRACKER2FA_GATE_AUTHZ_LISTEN"  # {"host": ..., "port": ...} of the forward-auth listener


class GateWorker:
    """ASGI wrapper answering the lifespan itself: at startup the worker also listens on the forward-auth port
    (authz_server.py), at shutdown (after in-flight requests) that listener and the store close."""

    def __init__(self, app: Any, store: Any, listen: dict[str, Any] | None) -> None:
        self.app = app
        self.store = store
        self.listen = listen
        self.server: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        from .authz_server import start_authz_server

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.listen:
                    try:
                        self.server = await start_authz_server(self.app.authz, self.listen["host"],
                                                               self.listen["port"])
                    except OSError as exc:
                        await send({"type": "lifespan.startup.failed",
                                    "message": f"cannot listen on {self.listen['host']}:{self.listen['port']} for "
                                               f"forward auth: {exc.strerror}"})
                        return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.server is not None:
                    self.server.close()
                self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_gate_worker_app() -> GateWorker:
    """Build this worker's gate from the environment ``gate serve`` prepared."""
    from ..store import open_store
    from .app import create_gate_app
    from .config import load_config

    text = os.environ.get(CONFIG_ENV)
    if text is None or DB_ENV not in os.environ:
        raise RuntimeError(f"${CONFIG_ENV} is not set: gate workers are started by `tracker2fa gate serve`")
    config = load_config(text, os.environ.get(SOURCE_ENV, "gate.toml"))
    store = open_store(os.environ[DB_ENV])
    listen = json.loads(os.environ[LISTEN_ENV]) if os.environ.get(LISTEN_ENV) else None
    return GateWorker(create_gate_app(config, store), store, listen)
