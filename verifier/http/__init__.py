"""The verifier's HTTP API (FastAPI): ``create_app(verifier, settings)``.

Thin routers per resource over the :class:`verifier.service.Verifier`; pydantic models for every request
and reply; the OpenAPI spec at ``/openapi.json``; a WebSocket of audit events at ``/ws/audit``.
"""

from __future__ import annotations

import importlib.metadata

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..service import Verifier
from ..settings import ApiSettings
from . import errors, routes_admin, routes_backup, routes_totp, routes_users, routes_webauthn, ws
from .deps import VerifierDep
from .models import Health
from .security import SecurityMiddleware

__all__ = ["create_app"]


def create_app(verifier: Verifier, settings: ApiSettings | None = None) -> FastAPI:
    """The API app around ``verifier``."""
    settings = settings or ApiSettings()
    # The distribution's version, read from its metadata: the verifier never imports native_host.
    version = importlib.metadata.version("tracker2fa")
    app = FastAPI(title="tracker2fa verifier", version=version, docs_url=None, redoc_url=None,
                  description="TOTP, backup codes and WebAuthn verification with policy, rate limits and audit.")
    app.state.verifier = verifier
    app.state.api_settings = settings
    errors.install(app)
    for module in (routes_totp, routes_backup, routes_webauthn, routes_users, routes_admin, ws):
        app.include_router(module.router)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz(v: VerifierDep) -> dict:
        """Liveness and the database schema version."""
        return {"status": "ok", "schema_version": v.store.schema_version()}

    # Added last = outermost: even the host check's 400 and any 500 carry the security headers.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts), www_redirect=False)
    app.add_middleware(SecurityMiddleware, max_body=settings.max_body_bytes)
    return app
