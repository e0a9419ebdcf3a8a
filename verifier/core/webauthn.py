"""WebAuthn rules around ``fido2.server.Fido2Server``: origins, attestation policy, legacy U2F, counters.

python-fido2 checks type, origin, challenge, rpIdHash, UP/UV and the signature; it does not check sign
counters, keep challenges single-use, or know about U2F app ids. Those are here and in the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import idna
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fido2.attestation import AttestationVerifier
from fido2.server import Fido2Server
from fido2.utils import websafe_decode
from fido2.webauthn import (
    AuthenticationResponse,
    AuthenticatorAssertionResponse,
    AuthenticatorData,
    CollectedClientData,
    PublicKeyCredentialRpEntity,
)

ATTESTATION_MODES = ("none", "verify")


class RootAttestationVerifier(AttestationVerifier):
    """Accepts attestation whose chain ends at one of the configured root certificates (DER)."""

    def __init__(self, roots: Sequence[bytes]) -> None:
        super().__init__()
        self._roots = [x509.load_der_x509_certificate(r) for r in roots]

    def ca_lookup(self, attestation_result, auth_data) -> bytes | None:  # type: ignore[override]
        """The configured root that issued the last certificate of the trust path, if any."""
        if not attestation_result.trust_path:
            return None
        last = x509.load_der_x509_certificate(attestation_result.trust_path[-1])
        for root in self._roots:
            if root.subject == last.issuer:
                return root.public_bytes(Encoding.DER)
        return None


@dataclass(frozen=True)
class WebAuthnConfig:
    """The relying party as the verifier serves it."""

    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    attestation: str = "none"
    attestation_roots: tuple[bytes, ...] = ()
    appid: str | None = None  # legacy U2F app id, e.g. https://jira.example.com/u2f-app-id.json
    user_verification: str = "discouraged"

    def __post_init__(self) -> None:
        if self.attestation not in ATTESTATION_MODES:
            raise ValueError(f"attestation must be one of {', '.join(ATTESTATION_MODES)}")
        if self.attestation == "verify" and not self.attestation_roots:
            raise ValueError("attestation 'verify' needs at least one root certificate")
        if not self.origins:
            raise ValueError("at least one allowed origin is needed")
        # Compared with the browser's clientDataJSON origin, which is always in canonical form.
        object.__setattr__(self, "origins", tuple(dict.fromkeys(canonical_origin(o) for o in self.origins)))


def canonical_origin(origin: str) -> str:
    """``origin`` as a browser writes it: lower case, no default port, the host through IDNA UTS-46.

    UTS-46 non-transitional (the WHATWG URL standard's choice): ``https://straße.example`` is
    ``https://xn--strae-oqa.example``, never ``https://strasse.example`` (another site). The host's
    ``native_host/origins.py`` does the same for vault bindings; it is written again here on purpose, since
    the verifier and the user's machine share no code. Raises ValueError for a malformed origin.
    """
    parts = urlsplit(origin.strip().rstrip("/"))
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise ValueError(f"an allowed origin is scheme://host[:port], not {origin!r}")
    if "@" in parts.netloc:
        raise ValueError(f"an allowed origin carries no user name: {origin!r}")
    host = parts.netloc[: parts.netloc.rindex("]") + 1] if parts.netloc.startswith("[") else parts.netloc.split(":")[0]
    port = parts.port  # ValueError for a port out of range
    if host.isascii():
        host = host.lower()
    else:
        try:
            mapped = idna.uts46_remap(host, std3_rules=False)  # non-transitional (the default)
        except idna.IDNAError as exc:
            raise ValueError(f"invalid host in the allowed origin {origin!r}: {exc}") from None
        host = ".".join(
            label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
            for label in mapped.split(".")
        )
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def origin_checker(origins: Iterable[str]):
    """A ``verify_origin`` for Fido2Server: exact match against the configured origins."""
    allowed = frozenset(o.rstrip("/") for o in origins)
    return lambda origin: isinstance(origin, str) and origin in allowed


def build_servers(config: WebAuthnConfig) -> tuple[Fido2Server, Fido2Server | None]:
    """The server for ``rp_id`` and, when an appid is configured, one whose rp id is the appid.

    A U2F key registered under the old API signs with rpIdHash = SHA-256(appid); asking a second
    Fido2Server whose rp id *is* the appid to check it reuses every other check unchanged.
    """
    verify_origin = origin_checker(config.origins)
    if config.attestation == "verify":
        attestation, verify_attestation = "direct", RootAttestationVerifier(config.attestation_roots)
    else:
        attestation, verify_attestation = "none", None
    main = Fido2Server(PublicKeyCredentialRpEntity(name=config.rp_name, id=config.rp_id),
                       attestation=attestation, verify_origin=verify_origin,
                       verify_attestation=verify_attestation)
    legacy = None
    if config.appid:
        legacy = Fido2Server(PublicKeyCredentialRpEntity(name=config.rp_name, id=config.appid),
                             verify_origin=verify_origin)
    return main, legacy


def counter_ok(stored: int, presented: int) -> bool:
    """WebAuthn §6.1.1: the new count must exceed the stored one unless both are zero."""
    if stored == 0 and presented == 0:
        return True
    return presented > stored


def parse_assertion(data: Any) -> AuthenticationResponse:
    """AuthenticationResponseJSON as python-fido2's ``AuthenticationResponse``; raises ValueError/TypeError.

    The same object as ``AuthenticationResponse.from_dict`` gives (a property test compares them), built
    with fido2's own types: ``from_dict`` evaluates every field's type annotation again for each nested
    object, which cost more than the signature check. The checks of the assertion stay python-fido2's
    (``Fido2Server.authenticate_complete``).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("response"), Mapping):
        raise TypeError("an assertion is a JSON object with a response object")
    refuse_huge_numbers(data)
    raw_id, response = data["rawId"], data["response"]
    if "id" in data and data["id"] != raw_id:
        raise ValueError("id does not match rawId")
    user_handle = response.get("userHandle")
    return AuthenticationResponse(
        raw_id=_bytes(raw_id),
        response=AuthenticatorAssertionResponse(
            client_data=CollectedClientData(_bytes(response["clientDataJSON"])),
            authenticator_data=AuthenticatorData(_bytes(response["authenticatorData"])),
            signature=_bytes(response["signature"]),
            user_handle=_bytes(user_handle) if user_handle is not None else None),
        # The rarely used members go through fido2's own conversion (enums, extension outputs).
        **{name: data[key] for name, key in (("authenticator_attachment", "authenticatorAttachment"),
                                             ("client_extension_results", "clientExtensionResults"),
                                             ("type", "type")) if data.get(key) is not None})


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("binary members are base64url text")
    return websafe_decode(value)


MAX_JSON_NUMBER = 2**24  # WebAuthn response JSON carries no number anywhere near this


def refuse_huge_numbers(value: Any, depth: int = 0) -> None:
    """Raise ValueError for a number beyond ±MAX_JSON_NUMBER anywhere in ``value`` (or nesting over 32).

    python-fido2's ``from_dict`` turns a number found where bytes belong into ``bytes(number)``: a response
    with ``"attestationObject": 1e12`` would make the server allocate that many bytes. Run before any
    client JSON reaches python-fido2.
    """
    if depth > 32:
        raise ValueError("the credential JSON is nested too deeply")
    if isinstance(value, Mapping):
        for item in value.values():
            refuse_huge_numbers(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            refuse_huge_numbers(item, depth + 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and \
            not -MAX_JSON_NUMBER <= value <= MAX_JSON_NUMBER:
        raise ValueError(f"the credential JSON holds the number {value!r}, out of range for WebAuthn")
