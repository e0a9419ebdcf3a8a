"""Parsers on the trust boundary: the browser's argv (who is calling) and the host configuration file."""

from __future__ import annotations

import json
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID
from native_host.config import ConfigError, HostConfig, load_config, save_config
from native_host.host import Caller, check_caller, identify_caller

chromium_ids = st.text(alphabet="abcdefghijklmnop", min_size=32, max_size=32)


@given(st.lists(st.text(max_size=60), max_size=4))
def test_any_argv_gives_a_caller_or_none_never_an_exception(args):
    result = identify_caller(["tracker2fa-host", *args])
    assert result is None or isinstance(result, Caller)


@given(chromium_ids)
def test_every_chromium_origin_argument_names_its_extension(ext_id):
    assert identify_caller(["host", f"chrome-extension://{ext_id}/"]) == Caller("chromium", ext_id)


def test_firefox_argv_names_the_manifest_and_the_add_on():
    caller = identify_caller(["host", "/home/u/.mozilla/native-messaging-hosts/dev.tracker2fa.host.json", "a@b.c"])
    assert caller == Caller("firefox", "a@b.c", "/home/u/.mozilla/native-messaging-hosts/dev.tracker2fa.host.json")


@pytest.mark.parametrize(
    "argv",
    [
        ["host"],
        ["host", "chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP/"],
        ["host", f"chrome-extension://{DEV_EXTENSION_ID}/path"],
        ["host", f"chrome-extension://{DEV_EXTENSION_ID}x/"],
        ["host", "one-argument-only"],
        ["host", "a", "b", "c"],
    ],
)
def test_argv_a_browser_never_passes_is_not_a_caller(argv):
    assert identify_caller(argv) is None


def test_the_default_config_allows_exactly_the_development_extension():
    config = HostConfig()
    assert check_caller(["h", f"chrome-extension://{DEV_EXTENSION_ID}/"], config)[1] == ""
    assert check_caller(["h", "/m.json", GECKO_EXTENSION_ID], config)[1] == ""
    assert check_caller(["h", f"chrome-extension://{'a' * 32}/"], config)[1]
    assert check_caller(["h", "/m.json", "other@example.com"], config)[1]


def test_a_chromium_id_does_not_pass_as_a_firefox_id():
    config = HostConfig(chromium_extension_ids=[DEV_EXTENSION_ID], firefox_extension_ids=[])
    assert check_caller(["h", "/m.json", DEV_EXTENSION_ID], config)[1]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=25), c, max_size=4),
    max_leaves=10,
)
config_like = st.fixed_dictionaries(
    {},
    optional={
        "version": json_values,
        "chromium_extension_ids": st.lists(chromium_ids | st.text(max_size=40), max_size=2) | json_values,
        "firefox_extension_ids": st.lists(st.text(max_size=40), max_size=2) | json_values,
        "auto_lock_seconds": st.integers(-5, 10**7) | json_values,
    },
)


@given(json_values | config_like)
def test_any_config_json_gives_a_valid_config_or_config_error(data):
    try:
        config = HostConfig.from_json(data)
    except ConfigError:
        return
    assert all(len(i) == 32 for i in config.chromium_extension_ids)
    assert 0 <= config.auto_lock_seconds <= 7 * 24 * 3600


def test_a_missing_config_file_gives_the_defaults(tmp_path):
    config = load_config(tmp_path / "none.json")
    assert config.chromium_extension_ids == [DEV_EXTENSION_ID]
    assert config.firefox_extension_ids == [GECKO_EXTENSION_ID]


@pytest.mark.parametrize("content", ["{", "[]", '{"version": 99}', '{"chromium_extension_ids": ["short"]}'])
def test_an_unusable_config_file_is_an_error_not_the_defaults(tmp_path, content):
    path = tmp_path / "host.json"
    path.write_text(content)
    with pytest.raises(ConfigError):
        load_config(path)


def test_saved_config_round_trips_and_is_private(tmp_path):
    path = tmp_path / "sub" / "host.json"
    save_config(HostConfig(["a" * 32], ["x@y.z"], 42), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_config(path)
    assert (loaded.chromium_extension_ids, loaded.firefox_extension_ids, loaded.auto_lock_seconds) == (
        ["a" * 32],
        ["x@y.z"],
        42,
    )
    assert json.loads(path.read_text())["version"] == 1


@pytest.mark.parametrize("xdg", [None, "/tmp/xdg-config"])
def test_the_linux_config_path_is_what_platformdirs_says(monkeypatch, tmp_path, xdg):
    # config_path() computes platformdirs' answer without importing it (cold start); they must agree.
    import sys

    import platformdirs

    from native_host.config import config_path

    if not sys.platform.startswith("linux"):
        pytest.skip("the shortcut is Linux-only")
    monkeypatch.delenv("TRACKER2FA_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert config_path() == platformdirs.user_config_path("tracker2fa", appauthor=False) / "host.json"
