"""The app each ``gate serve`` worker process builds (uvicorn's import-string factory).

Workers are fresh interpreters (uvicorn's process manager spawns them), so ``serve`` hands them the
configuration it checked as text in ``$TRACKER2FA_GATE_CONFIG`` (with its file name, for messages, in
``$TRACKER2FA_GATE_SOURCE``) and the resolved database URL in ``$TRACKER2FA_GATE_DB``: every worker runs
exactly what was checked at start, even if the file changes on disk meanwhile. The server key comes as for
the verifier (``$TRACKER2FA_VERIFIER_KEY``, or the key file beside a SQLite database).
"""

from __future__ import annotations

import os

from ..cli.worker_app import ClosingStore

CONFIG_ENV = "TRACKER2FA_GATE_CONFIG"
SOURCE_ENV = "TRACKER2FA_GATE_SOURCE"
DB_ENV = "TRACKER2FA_GATE_DB"


def create_gate_worker_app() -> ClosingStore:
    """Build this worker's gate from the environment ``gate serve`` prepared."""
    from ..store import open_store
    from .app import create_gate_app
    from .config import load_config

    text = os.environ.get(CONFIG_ENV)
    if text is None or DB_ENV not in os.environ:
        raise RuntimeError(f"${CONFIG_ENV} is not set: gate workers are started by `tracker2fa gate serve`")
    config = load_config(text, os.environ.get(SOURCE_ENV, "gate.toml"))
    store = open_store(os.environ[DB_ENV])
    return ClosingStore(create_gate_app(config, store), store)
