"""The mock tracker ("Jibra"): a Jira-like login flow backed by the real verifier (docs/mock-tracker.md)."""

from .app import create_mock_app

__all__ = ["create_mock_app"]
