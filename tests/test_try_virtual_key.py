"""`tracker2fa try` keeps the developer's virtual key: the throwaway profile's environment (and so the host the
browser starts) carries TRACKER2FA_VIRTUAL_KEY, resolved before HOME changes; no other TRACKER2FA_ variable."""

from __future__ import annotations

from pathlib import Path

from native_host.devtools import browsers
from native_host.devtools.try_cmd import _virtual_key


def test_the_virtual_key_reaches_the_browsers_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER2FA_VIRTUAL_KEY", "~/vkey.json")
    monkeypatch.setenv("TRACKER2FA_SERVICE_TOKEN", "not-for-the-browser")
    env = browsers.profile_env(tmp_path / "throwaway", extra=browsers.virtual_key_extra(_virtual_key()))
    assert env["TRACKER2FA_VIRTUAL_KEY"] == str(tmp_path / "vkey.json")
    assert "TRACKER2FA_SERVICE_TOKEN" not in env


def test_without_a_virtual_key_none_is_invented(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRACKER2FA_VIRTUAL_KEY", raising=False)
    assert _virtual_key() is None
