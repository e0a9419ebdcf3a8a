"""The app each ``verifier serve`` worker process builds: ``create_worker_app`` is uvicorn's import-string factory.

uvicorn's process manager (``workers=N``) starts each worker as a fresh interpreter (multiprocessing spawn), so
an app object cannot be handed over: every worker imports this module and builds its own Verifier and store
(its own SQLite connections or PostgreSQL pool). ``serve`` resolves everything once in the parent and passes
it down in the environment, which spawned workers inherit (and a restarted worker inherits again):
the non-secret settings as JSON in ``$TRACKER2FA_SERVE_CONFIG``, the tokens in ``$TRACKER2FA_ADMIN_TOKEN`` and
``$TRACKER2FA_SERVICE_TOKEN`` (the variables an operator may set anyway), the server key in
``$TRACKER2FA_VERIFIER_KEY`` or the key file beside a SQLite database that the parent created.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

CONFIG_ENV = "TRACKER2FA_SERVE_CONFIG"
ADMIN_TOKEN_ENV = "TRACKER2FA_ADMIN_TOKEN"
SERVICE_TOKEN_ENV = "TRACKER2FA_SERVICE_TOKEN"


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker needs besides the secrets: the database and the relying party."""

    db_url: str
    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    appid: str | None
    allowed_hosts: tuple[str, ...]

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> WorkerConfig:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            raise RuntimeError(f"${CONFIG_ENV} is not set: workers are started by `tracker2fa verifier serve`")
        data = json.loads(raw)
        data["origins"] = tuple(data["origins"])
        data["allowed_hosts"] = tuple(data["allowed_hosts"])
        return cls(**data)


class ClosingStore:
    """ASGI wrapper: answers the lifespan protocol itself and closes the worker's store on shutdown.

    uvicorn sends ``lifespan.shutdown`` after the worker has finished its in-flight requests (on SIGTERM from
    the process manager), so PostgreSQL sees its connections closed and SQLite's last connection
    checkpoints the WAL. Everything else goes to the API app unchanged.
    """

    def __init__(self, app: Any, store: Any) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_worker_app() -> ClosingStore:
    """Build this worker's API app from the environment ``serve`` prepared."""
    from ..http import create_app
    from ..service import Verifier, VerifierSettings
    from ..settings import ApiSettings
    from ..store import open_store

    config = WorkerConfig.from_env()
    store = open_store(config.db_url)
    verifier = Verifier(store, VerifierSettings(rp_id=config.rp_id, rp_name=config.rp_name, origins=config.origins,
                                                appid=config.appid))
    app = create_app(verifier, ApiSettings(admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None,
                                           service_token=os.environ[SERVICE_TOKEN_ENV],
                                           allowed_hosts=config.allowed_hosts))
    return ClosingStore(app, store)
