"""App-internal files from rooted devices: Steam Guard, Duo Mobile, Battle.net.

These are not exports; users copy them off a rooted phone. Each is small, so they share a module.
"""

from __future__ import annotations

from typing import Any

from ...errors import ImportFailed
from ..entry import Entry
from ._common import Collector, b64decode, expect, get, hex_decode, int_field, load_json, make_entry, text_field
from ._xml import shared_preferences

# Battle.net masks the serial and secret with this fixed key (public knowledge, in WinAuth and Aegis docs).
_BATTLE_NET_MASK = bytes.fromhex(
    "398e27fc50276a656065b0e525f4c06c04c61075286b8e7aeda59da9813b5dd6c80d2fb38068773fa59ba47c17ca6c6479015c1d5b8b8f6b9a"
)
_BATTLE_NET = "com.blizzard.messenger."


def _steam_account(item: Any) -> Entry:
    item = expect(item, dict, "account")
    secret = b64decode(get(item, "shared_secret", str), "shared_secret")
    return make_entry(secret=secret, kind="steam", issuer="Steam", account=text_field(item, "account_name"))


def parse_steam(data: bytes, password: str | None = None) -> Collector:
    """A Steam Guard JSON file: one account object, or ``{"accounts": {id: account}}``."""
    doc = expect(load_json(data, "Steam Guard"), dict, "the Steam Guard file")
    if isinstance(doc.get("accounts"), dict):
        accounts = list(doc["accounts"].items())
    elif "shared_secret" in doc:
        accounts = [("account", doc)]
    else:
        raise ImportFailed("this is not a Steam Guard file: no shared_secret")
    collector = Collector()
    for key, item in accounts:
        collector.add(f"account {key!r}", lambda item=item: _steam_account(item))
    return collector


def _duo_account(item: Any) -> Entry:
    item = expect(item, dict, "account")
    generator = expect(item.get("otpGenerator"), dict, "otpGenerator")
    hotp = "counter" in generator
    return make_entry(
        secret=get(generator, "otpSecret", str),
        kind="hotp" if hotp else "totp",
        account=text_field(item, "name"),
        counter=int_field(generator, "counter", 0),
    )


def parse_duo(data: bytes, password: str | None = None) -> Collector:
    """Duo Mobile's ``accounts.json``: a list of accounts with an ``otpGenerator``."""
    collector = Collector()
    for position, item in enumerate(expect(load_json(data, "Duo"), list, "the Duo account list"), start=1):
        collector.add(f"account {position}", lambda item=item: _duo_account(item))
    return collector


def _unmask(value: str, what: str) -> bytes:
    masked = hex_decode(value, what)
    if len(masked) > len(_BATTLE_NET_MASK):
        raise ImportFailed(f"the {what} is longer than Battle.net's mask")
    return bytes(a ^ b for a, b in zip(masked, _BATTLE_NET_MASK, strict=False))


def _battle_net(values: dict[str, str]) -> Entry:
    kind = values.get(_BATTLE_NET + "AUTHENTICATOR_CREDENTIALS_ENCRYPTION_TYPE", "MASK")
    if kind != "MASK":
        raise ImportFailed(f"unsupported Battle.net encryption type {kind!r}")
    try:
        serial = _unmask(values[_BATTLE_NET + "AUTHENTICATOR_SERIAL"], "serial").decode("ascii")
        secret = hex_decode(_unmask(values[_BATTLE_NET + "AUTHENTICATOR_DEVICE_SECRET"], "secret").decode("ascii"),
                            "secret")
    except UnicodeDecodeError:
        raise ImportFailed("the Battle.net serial or secret does not unmask to text") from None
    return make_entry(secret=secret, issuer="Battle.net", account=serial, digits=8)


def parse_battle_net(data: bytes, password: str | None = None) -> Collector:
    """Battle.net's authenticator SharedPreferences XML."""
    values = shared_preferences(data, "Battle.net")
    if _BATTLE_NET + "AUTHENTICATOR_DEVICE_SECRET" not in values:
        raise ImportFailed("this is not Battle.net's authenticator file: no AUTHENTICATOR_DEVICE_SECRET")
    collector = Collector()
    collector.add("authenticator", lambda: _battle_net(values))
    return collector
