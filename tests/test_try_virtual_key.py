"""`tracker2fa try`'s own rules, without a browser: the developer's virtual key reaches the throwaway profile's
host (resolved before HOME changes; no other TRACKER2FA_ variable does), and --login's USER:PASSWORD."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@given(user=st.text(min_size=1).filter(lambda u: ":" not in u), password=st.text(min_size=1))
def test_login_takes_the_user_up_to_the_first_colon_and_the_password_whole(user: str, password: str) -> None:
    from native_host.devtools.try_cmd import _parse_login

    assert _parse_login(f"{user}:{password}") == (user, password)


@pytest.mark.parametrize("bad", ["alice", ":secret", "alice:", ":", ""])
def test_login_without_a_user_or_a_password_is_refused_saying_the_form(bad: str) -> None:
    from native_host.devtools.try_cmd import _parse_login
    from native_host.errors import BadRequest

    with pytest.raises(BadRequest, match="--login wants USER:PASSWORD"):
        _parse_login(bad)
