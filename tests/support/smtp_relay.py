"""A real SMTP relay for the tests: aiosmtpd on 127.0.0.1, with STARTTLS (or implicit TLS) under a throwaway
self-signed certificate made with ``cryptography``, and AUTH (PLAIN, LOGIN) required.

It keeps every message it accepted (``received``), with the envelope, whether the session was encrypted and
who logged in. ``before_accept`` runs in the relay's thread when a message's data has arrived, before the relay
answers: a test kills the sender there, or makes the relay refuse (``refuse_with``).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RELAY_USER = "relay-user"
RELAY_PASSWORD = "relay-password-1"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and 127.0.0.1 (its own CA), and its key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "relay-cert.pem", directory / "relay-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    """One message the relay accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    def text(self) -> str:
        """The plain-text part."""
        return self.message.get_body(("plain",)).get_content()

    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()


class _Handler:
    def __init__(self, relay: TestRelay) -> None:
        self.relay = relay

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.relay.before_accept is not None:
            self.relay.before_accept(envelope)
        if self.relay.refuse_with is not None:
            return self.relay.refuse_with
        login = session.auth_data if isinstance(session.auth_data, str) else None
        with self.relay.lock:
            encrypted = server.transport.get_extra_info("ssl_object") is not None  # STARTTLS or implicit TLS
            self.relay.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                                or envelope.content, encrypted, login))
        return "250 OK: queued"


class _Controller(Controller):
    """aiosmtpd's controller on an ephemeral port (it connects to its own port once started)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class TestRelay:
    """``mode``: ``starttls`` (STARTTLS required before AUTH and mail), ``tls`` (implicit TLS) or ``none``."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, *, mode: str = "starttls", auth: bool = True, port: int = 0) -> None:
        self.mode = mode
        self.auth = auth
        self.cert, self.key = self_signed_certificate(directory)
        self.port = port
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.before_accept: Callable[[object], None] | None = None
        self.refuse_with: str | None = None
        self.logins: list[tuple[str, bool]] = []
        self._controller: _Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == RELAY_USER.encode() and \
            auth_data.password == RELAY_PASSWORD.encode()
        self.logins.append((auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?", ok))
        # handled=False: aiosmtpd answers a refusal with 535 itself (its default leaves the client waiting)
        return AuthResult(success=ok, handled=False, auth_data=RELAY_USER if ok else None)

    def start(self) -> TestRelay:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        kwargs: dict = {}
        if self.auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        if self.mode == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif self.mode == "tls":  # aiosmtpd knows TLS only from STARTTLS: AUTH must not wait for one here
            kwargs.update(ssl_context=context, auth_require_tls=False)
        else:
            kwargs.update(auth_require_tls=False)
        self._controller = _Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        """The received messages once there are at least ``count`` (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"the relay received {len(self.received)} message(s), not {count}, in {timeout} s")

    def __enter__(self) -> TestRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
