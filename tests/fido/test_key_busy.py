"""A ceremony queued behind another on the same key: it says so and ends on its own cancel."""

from __future__ import annotations

import threading

import pytest
from fido2.server import Fido2Server

from native_host.fido.ceremonies import webauthn
from native_host.fido.errors import Cancelled
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.origins import Origin
from tests.fido.helpers import ORIGIN, RP_ID, open_key

JOIN_SECONDS = 20.0  # a bound for a hung thread, never a timing assertion


@pytest.mark.parametrize("ceremony", ["create", "get"])
def test_a_ceremony_waiting_for_a_busy_key_ends_when_cancelled(ceremony):
    key = open_key("usb", SoftAuthenticator())
    server = Fido2Server({"id": RP_ID, "name": "Example Jira"})
    if ceremony == "create":
        options, _ = server.register_begin({"id": b"u", "name": "u"})
    else:
        options, _ = server.authenticate_begin()
    waiting, cancel, outcome = threading.Event(), threading.Event(), {}

    def on_event(name, details):
        if name == "fido.key_busy":
            waiting.set()

    def run():
        try:
            getattr(webauthn, ceremony)(ORIGIN, dict(options.public_key), [key], on_event=on_event, cancel=cancel)
        except Exception as exc:
            outcome["error"] = exc

    key.busy.acquire()  # another request holds the key (and never lets it go in this test)
    try:
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert waiting.wait(JOIN_SECONDS), "the queued ceremony never said the key was busy"
        cancel.set()
        thread.join(JOIN_SECONDS)
        assert not thread.is_alive(), "the queued ceremony did not end on its cancel"
        assert isinstance(outcome["error"], Cancelled)
    finally:
        key.busy.release()


def test_the_hosts_parsed_origin_is_used_as_is(monkeypatch):
    from native_host.fido.ceremonies import rules

    def never(value):
        raise AssertionError("the origin was parsed again")

    monkeypatch.setattr(rules, "normalize_origin", never)
    assert rules.checked_origin(Origin.parse("https://JIRA.example.com:443")) == "https://jira.example.com"


def test_an_opaque_parsed_origin_is_still_refused():
    from native_host.fido.ceremonies.rules import checked_origin
    from native_host.fido.errors import OriginRefused

    with pytest.raises(OriginRefused):
        checked_origin(Origin.parse("null", allow_opaque=True))


def test_a_parsed_http_origin_off_localhost_is_still_refused():
    from native_host.fido.ceremonies.rules import checked_origin
    from native_host.fido.errors import OriginRefused

    with pytest.raises(OriginRefused, match="https"):
        checked_origin(Origin.parse("http://jira.example.com"))
