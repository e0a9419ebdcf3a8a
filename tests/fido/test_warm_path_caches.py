"""The warm-path shortcuts change no behaviour: python-fido2 sees the same type hints, deadlines still fire."""

from __future__ import annotations

import math
import threading
import time
import typing

import fido2.ctap2
import fido2.utils
import fido2.webauthn
import pytest

from native_host.fido import fido2_hints
from native_host.fido.ceremonies import race


def _fido2_data_classes() -> list[type]:
    found = []
    for module in (fido2.webauthn, fido2.ctap2):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, fido2.utils._DataClassMapping) and \
                    hasattr(value, "__dataclass_fields__"):
                found.append(value)
    return found


@pytest.mark.parametrize("cls", _fido2_data_classes(), ids=lambda c: c.__name__)
def test_python_fido2_sees_the_same_type_hints_through_the_cache(cls):
    fido2_hints.install()
    assert fido2.utils.get_type_hints(cls) == typing.get_type_hints(cls)
    assert fido2.utils.get_type_hints(cls) is fido2.utils.get_type_hints(cls)  # cached, not derived again


def test_options_parsed_through_the_cache_equal_the_json_they_came_from():
    fido2_hints.install()
    data = {"challenge": "AAECAwQFBgcICQoLDA0ODw", "rpId": "example.com", "timeout": 30000,
            "allowCredentials": [{"type": "public-key", "id": "AQID", "transports": ["usb", "nfc"]}],
            "userVerification": "discouraged", "extensions": {"appid": "https://example.com/app.json"}}
    parsed = fido2.webauthn.PublicKeyCredentialRequestOptions.from_dict(data)
    assert parsed.allow_credentials[0].id == b"\x01\x02\x03"
    assert dict(parsed) | {"allowCredentials": [dict(c) for c in parsed.allow_credentials]} == data


def test_a_short_deadline_registered_after_a_long_one_still_fires():
    watchdog = race._Watchdog()
    long_wait, short_wait = threading.Event(), threading.Event()
    watchdog.watch(time.monotonic() + 600, long_wait)
    while watchdog._wakes_at == math.inf:  # until the thread sleeps towards the long deadline
        time.sleep(0.001)
    watchdog.watch(time.monotonic() + 0.01, short_wait)
    assert short_wait.wait(10), "the earlier deadline did not wake the watchdog"
    assert not long_wait.is_set()


def test_a_deadline_after_an_unwatched_one_fires_when_due():
    watchdog = race._Watchdog()
    first, second = threading.Event(), threading.Event()
    watchdog.unwatch(watchdog.watch(time.monotonic() + 0.02, first))
    watchdog.watch(time.monotonic() + 0.05, second)
    assert second.wait(10)
    assert not first.is_set()
