"""NFC through the real PC/SC stack: pcscd + vsmartcard's vpcd reader driver, pyscard, fido2.pcsc, with the
software key served as a virtual card over vpcd's TCP socket. Needs the Debian packages pcscd and
vsmartcard-vpcd (and pyscard, from the ``nfc`` extra); starts pcscd itself when it is not running."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from fido2.server import Fido2Server

from native_host.fido.ceremonies import webauthn
from native_host.fido.discovery import discover
from native_host.fido.soft_transports.vpcd import VpcdCard
from native_host.fido.softkey.authenticator import SoftAuthenticator
from tests.fido.helpers import ORIGIN

pytestmark = pytest.mark.pcsc


def _virtual_readers() -> list[str]:
    from smartcard.System import readers

    try:
        return [str(r) for r in readers() if str(r).startswith("Virtual PCD")]
    except Exception:
        return []


@pytest.fixture(scope="module")
def pcscd_with_vpcd() -> Iterator[None]:
    started = None
    if not _virtual_readers():
        pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
        assert shutil.which("vpcd-config"), "vsmartcard-vpcd is not installed (apt-get install vsmartcard-vpcd)"
        started = subprocess.Popen([pcscd, "--foreground", "--error"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        for _ in range(100):
            if _virtual_readers():
                break
            time.sleep(0.1)
    assert _virtual_readers(), "pcscd does not show vpcd's 'Virtual PCD' readers"
    yield
    if started is not None:
        started.terminate()
        started.wait(10)


@pytest.fixture
def card(pcscd_with_vpcd: None) -> Iterator[VpcdCard]:
    card = VpcdCard(SoftAuthenticator(transports=("nfc",)))
    yield card
    card.stop()


def _nfc_keys() -> list:
    for _ in range(50):  # pcscd notices a card within its polling interval
        found = discover({}, transports=["nfc"])
        if found.keys:
            return found.keys
        time.sleep(0.1)
    raise AssertionError(f"no NFC key found: {found.to_json()}")


def test_virtual_card_registers_and_authenticates_through_pcscd(card):
    keys = _nfc_keys()
    assert keys[0].transport == "nfc" and "fido2" in keys[0].capabilities
    server = Fido2Server({"id": "example.com", "name": "Example Jira"})
    options, state = server.register_begin({"id": b"nfc-user", "name": "nfc"})
    credential = server.register_complete(state, webauthn.create(ORIGIN, dict(options.public_key), keys))
    options, state = server.authenticate_begin([credential.credential_data])
    assertion = webauthn.get(ORIGIN, dict(options.public_key), keys)
    server.authenticate_complete(state, [credential.credential_data], assertion)
    assert assertion["authenticatorAttachment"] == "cross-platform"
