"""Short import path for the HTTP API: ``from verifier.api import create_app``."""

from .http import create_app

__all__ = ["create_app"]
