"""Security keys as a factor: WebAuthn registration and assertion, legacy U2F keys, key management.

python-fido2 checks the ceremony itself; here: challenges single-use with an expiry (stored server-side),
the sign counter (a regression is refused as a possible clone), the legacy ``appid`` and key names.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from fido2.webauthn import AttestedCredentialData, PublicKeyCredentialUserEntity

from ..core import fido2_hints, notices
from ..core import webauthn as rules
from ..errors import BadRequest, CredentialNotFound, WebAuthnRejected
from ..settings import VerifierSettings
from ..store import Store
from ..store.base import Effects
from .gate import Gate
from .results import OK, CeremonyStart, CredentialInfo, VerifyResult
from .users import require_user

MAX_CREDENTIAL_NAME = 64
DEFAULT_CREDENTIAL_NAME = "Security key"
MAX_STATE_ID = 128
Credential = tuple[dict[str, Any], AttestedCredentialData]  # the store's row and the parsed credential
PARSED_CACHE = 4096  # parsed credentials kept per process (a stored credential never changes)
SWEEP_EVERY = 10.0  # seconds between two sweeps of expired ceremony states by one process


@functools.lru_cache(maxsize=PARSED_CACHE)
def parse_credential(credential_data: str) -> AttestedCredentialData:
    """The stored credential (base64 of its CTAP bytes), parsed once per process rather than per assertion."""
    return AttestedCredentialData(base64.b64decode(credential_data))


def parsed_credentials(rows: list[dict[str, Any]]) -> list[Credential]:
    return [(row, parse_credential(row["credential_data"])) for row in rows]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _websafe(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def request_options(rp_id: str, credential_ids: list[str], user_verification: str,
                    extensions: dict[str, Any] | None,
                    challenge: bytes | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """PublicKeyCredentialRequestOptions (WebAuthn JSON) and the state ``Fido2Server.authenticate_complete`` reads.

    The same JSON and state as ``dict(Fido2Server.authenticate_begin(...))``, written out directly: fido2
    builds dataclasses from the parsed credentials and converts them back to JSON, which cost more than the
    rest of the begin request. A stored credential id is already the websafe base64 of the key's id.
    """
    encoded = _websafe(challenge if challenge is not None else secrets.token_bytes(32))
    public_key: dict[str, Any] = {
        "challenge": encoded, "rpId": rp_id,
        "allowCredentials": [{"type": "public-key", "id": cred_id} for cred_id in credential_ids],
        "userVerification": user_verification}
    if extensions:
        public_key["extensions"] = extensions
    return {"publicKey": public_key}, {"challenge": encoded, "user_verification": user_verification}


def valid_state_id(state_id: Any) -> bool:
    """A state id as ``_put_state`` makes them could be this (anything else is never looked up)."""
    return isinstance(state_id, str) and 1 <= len(state_id) <= MAX_STATE_ID


def credential_name(name: Any) -> str:
    """A key's display name: whitespace collapsed, 1–64 printable characters; raises BadRequest."""
    if name is None:
        return DEFAULT_CREDENTIAL_NAME
    if not isinstance(name, str):
        raise BadRequest("a key name must be text")
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_CREDENTIAL_NAME or not name.isprintable():
        raise BadRequest(f"a key name must be 1-{MAX_CREDENTIAL_NAME} printable characters")
    return name


def user_handle(username: str) -> bytes:
    """The WebAuthn user id of ``username`` (stable, and not the name itself)."""
    return hashlib.sha256(f"tracker2fa-user:{username}".encode()).digest()[:32]


def credential_info(row: Mapping[str, Any]) -> CredentialInfo:
    """A stored credential as its owner sees it."""
    return CredentialInfo(id=row["credential_id"], name=row["name"], created=row["created"],
                          last_used=row["last_used"], sign_count=row["sign_count"], legacy_u2f=bool(row["appid"]))


class WebAuthn:
    """Register, authenticate and manage a user's security keys."""

    def __init__(self, store: Store, settings: VerifierSettings, clock: Callable[[], float], gate: Gate) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.gate = gate
        self.config = rules.WebAuthnConfig(
            rp_id=settings.rp_id, rp_name=settings.rp_name, origins=tuple(o.rstrip("/") for o in settings.origins),
            attestation=settings.attestation, attestation_roots=tuple(settings.attestation_roots),
            appid=settings.appid)
        self._server, self._legacy_server = rules.build_servers(self.config)
        fido2_hints.install()  # fido2 otherwise re-reads its classes' annotations for every assertion
        self._last_sweep = float("-inf")

    # ---- ceremony state -----------------------------------------------------------------------------
    def _check_origin(self, origin: str) -> None:
        if not isinstance(origin, str) or origin.rstrip("/") not in self.config.origins:
            raise WebAuthnRejected(f"origin {origin!r} is not served by this verifier")

    def _credentials(self, username: str) -> list[Credential]:
        return parsed_credentials(self.store.list_credentials(username))

    def _put_state(self, username: str, kind: str, state: Mapping[str, Any]) -> str:
        state_id = secrets.token_urlsafe(24)
        now = self.clock()
        # Expired states are swept at most every SWEEP_EVERY seconds per process, not on every begin: an
        # expired one is refused whether or not it is still stored, so sweeping is housekeeping only.
        sweep = not now - SWEEP_EVERY < self._last_sweep <= now
        self.store.put_challenge(state_id, username, kind, json.dumps(dict(state)), now + self.settings.challenge_ttl,
                                 now, sweep=sweep)
        if sweep:
            self._last_sweep = now
        return state_id

    def _take_state(self, username: str, kind: str, state_id: Any) -> dict[str, Any] | None:
        """The state once, for the user and ceremony it was issued to, before it expires; else None."""
        if not valid_state_id(state_id):
            return None
        return self._usable_state(self.store.take_challenge(state_id), username, kind)

    def _usable_state(self, row: Mapping[str, Any] | None, username: str, kind: str) -> dict[str, Any] | None:
        if row is None or row["username"] != username or row["kind"] != kind or row["expires"] <= self.clock():
            return None
        return json.loads(row["state_json"])

    # ---- registration -------------------------------------------------------------------------------
    def register_begin(self, username: str, origin: str) -> CeremonyStart:
        """Creation options (WebAuthn JSON) and the id of the single-use, expiring state."""
        require_user(self.store, username)
        self._check_origin(origin)
        existing = [cred for _row, cred in self._credentials(username)]
        options, state = self._server.register_begin(
            PublicKeyCredentialUserEntity(name=username, id=user_handle(username), display_name=username),
            existing, user_verification=self.config.user_verification)
        return CeremonyStart(dict(options), self._put_state(username, "register", state))

    def register_complete(self, username: str, state_id: str, response: dict[str, Any],
                          name: str = DEFAULT_CREDENTIAL_NAME, ip: str | None = None,
                          user_agent: str | None = None) -> CredentialInfo:
        """Verify a registration and store the credential (the user is mailed); raises WebAuthnRejected."""
        require_user(self.store, username)
        name = credential_name(name)
        state = self._take_state(username, "register", state_id)
        if state is None:
            raise WebAuthnRejected("the registration request expired or was already used; start again")
        try:
            rules.refuse_huge_numbers(response)  # before python-fido2 turns a number into bytes(number)
            auth_data = self._server.register_complete(state, response)
        except Exception as exc:  # fido2 raises ValueError/KeyError/TypeError/... for bad input
            raise WebAuthnRejected(f"registration rejected: {exc}") from None
        cred = auth_data.credential_data
        cred_id = _websafe(cred.credential_id)
        if any(row["credential_id"] == cred_id for row in self.store.list_credentials(username)):
            raise WebAuthnRejected("this security key is already registered")
        now = self.clock()
        effects = self._added(username, cred_id, name, now, ip, user_agent, None, name)
        try:
            self.store.add_credential(username, cred_id, name, _b64(bytes(cred)), auth_data.counter, None, now,
                                      effects)
        except Exception as exc:
            if self.store._is_unique_violation(exc):
                raise WebAuthnRejected("this security key is already registered to another user") from None
            raise
        self.gate.published(effects)
        return self.credential(username, cred_id)

    def _added(self, username: str, cred_id: str, name: str, now: float, ip: str | None, user_agent: str | None,
               actor: str | None, detail: str) -> Effects:
        """The audit row and the mail of a key added to an account."""
        return Effects([self.gate.record("webauthn_registered", now, username=username, method="webauthn",
                                         credential=cred_id, ip=ip, user_agent=user_agent, result="ok", actor=actor,
                                         detail=detail)],
                       self.gate.mails("key_added", username, now, factor="security_key", name=name, ip=ip,
                                       user_agent=user_agent, by_admin=actor is not None and actor != username))

    def import_u2f(self, username: str, key_handle: bytes, public_key: bytes, name: str = DEFAULT_CREDENTIAL_NAME,
                   sign_count: int = 0, actor: str | None = None) -> CredentialInfo:
        """Store a key registered with the legacy U2F API (key handle + 65-byte public key) under the appid."""
        require_user(self.store, username)
        if not self.settings.appid:
            raise WebAuthnRejected("legacy U2F keys need the appid setting")
        try:
            cred = AttestedCredentialData.from_ctap1(bytes(key_handle), bytes(public_key))
        except Exception as exc:
            raise WebAuthnRejected(f"not a U2F registration: {exc}") from None
        cred_id = _websafe(cred.credential_id)
        name, now = credential_name(name), self.clock()
        effects = self._added(username, cred_id, name, now, None, None, actor, "legacy U2F (appid)")
        self.store.add_credential(username, cred_id, name, _b64(bytes(cred)), int(sign_count), self.settings.appid,
                                  now, effects)
        self.gate.published(effects)
        return self.credential(username, cred_id)

    # ---- authentication -----------------------------------------------------------------------------
    def authenticate_begin(self, username: str, origin: str) -> CeremonyStart:
        """Request options for the user's keys (with the appid extension when a legacy key exists)."""
        context = self.store.credentials_context(username) if isinstance(username, str) else {"user": False}
        if not context["user"]:
            require_user(self.store, username)  # raises UserNotFound, as every call naming an unknown user
        self._check_origin(origin)
        rows = context["credentials"]
        if not rows:
            raise CredentialNotFound("no security key is registered for this user")
        extensions = None
        if self._legacy_server is not None and any(row["appid"] for row in rows):
            extensions = {"appid": self.settings.appid}
        options, state = request_options(self._server.rp.id, [row["credential_id"] for row in rows],
                                         self.config.user_verification, extensions)
        return CeremonyStart(options, self._put_state(username, "authenticate", state))

    def authenticate_complete(self, username: str, state_id: str, response: dict[str, Any], ip: str,
                              user_agent: str) -> VerifyResult:
        """Verify an assertion: challenge once, signature, then the sign counter (a regression is refused).

        One read (counters, user, keys and the challenge) and, for a valid assertion, one write that takes
        the challenge, moves the counter and audits: two concurrent answers to one challenge cannot both
        count, since only one can delete it. Every refusal takes the challenge too.
        """
        if not isinstance(username, str):
            username = ""
        if not valid_state_id(state_id):
            state_id = None
        network = notices.network_of(ip)
        context = self.store.credentials_context(username, self.gate.counter_keys(username, ip), state_id, network)
        if (locked := self.gate.locked(context["failures"], self.clock())) is not None:
            return locked
        if not context["user"]:
            return self.gate.fail(username, ip, user_agent, "webauthn", "invalid", audit_result="not_enrolled",
                                  detail="unknown user")
        state = self._usable_state(context["challenge"], username, "authenticate")
        if state is None:
            if context["challenge"] is not None:  # another user's, another ceremony's or expired: spent
                self.store.take_challenge(state_id)
            self.gate.audit("verify", username=username, method="webauthn", ip=ip, user_agent=user_agent,
                            result="expired")
            return VerifyResult(False, "expired")
        try:
            parsed = rules.parse_assertion(response)
            auth_data = parsed.response.authenticator_data
        except Exception:
            return self._refuse(username, state_id, ip, user_agent, None)
        cred_id = _websafe(parsed.raw_id)
        match = [(row, cred) for row, cred in parsed_credentials(context["credentials"])
                 if row["credential_id"] == cred_id]
        if not match:
            return self._refuse(username, state_id, ip, user_agent, cred_id)
        row, cred = match[0]
        try:
            self._server_for(row, auth_data.rp_id_hash).authenticate_complete(state, [cred], parsed)
        except Exception:
            return self._refuse(username, state_id, ip, user_agent, cred_id)
        return self._accept(username, state_id, row, int(auth_data.counter), ip, user_agent, context, network)

    def _refuse(self, username: str, state_id: str, ip: str, user_agent: str, cred_id: str | None) -> VerifyResult:
        """An assertion that does not verify: its challenge is spent, the failure counted."""
        self.store.take_challenge(state_id)
        return self.gate.fail(username, ip, user_agent, "webauthn", "invalid", credential=cred_id)

    def _server_for(self, row: Mapping[str, Any], rp_id_hash: bytes):
        """The legacy (appid) server for a U2F key that signed for its appid, else the main one."""
        if row["appid"] and self._legacy_server is not None and \
                rp_id_hash == hashlib.sha256(row["appid"].encode()).digest():
            return self._legacy_server
        return self._server

    def _accept(self, username: str, state_id: str, row: Mapping[str, Any], presented: int, ip: str,
                user_agent: str, context: dict[str, Any], network: str | None) -> VerifyResult:
        """The sign-counter rule, then the write that takes the challenge and makes the assertion count once."""
        cred_id, stored = row["credential_id"], int(row["sign_count"])
        if not rules.counter_ok(stored, presented):
            self.store.take_challenge(state_id)
            self.gate.audit("verify", username=username, method="webauthn", credential=cred_id, ip=ip,
                            user_agent=user_agent, result="counter_regression",
                            detail=f"sign count {presented} <= stored {stored}: possible cloned key")
            return self.gate.fail(username, ip, user_agent, "webauthn", "counter_regression", credential=cred_id)
        now = self.clock()
        record = self.gate.success_record(username, ip, user_agent, "webauthn", credential=cred_id, now=now)
        outcome = self.store.accept_assertion(state_id, cred_id, stored, presented, now, list(context["failures"]),
                                              record, self.gate.sign_in_network(username, context, network, now, ip,
                                                                                user_agent, "webauthn"))
        if outcome == "taken":  # a concurrent answer to the same challenge was accepted or refused first
            self.gate.audit("verify", username=username, method="webauthn", credential=cred_id, ip=ip,
                            user_agent=user_agent, result="expired", detail="challenge already used")
            return VerifyResult(False, "expired")
        if outcome == "replay":  # a concurrent assertion moved the counter first
            return self.gate.fail(username, ip, user_agent, "webauthn", "replay", credential=cred_id,
                                  count_user=False)
        self.gate.accepted(record, outcome)
        return OK

    # ---- key management -----------------------------------------------------------------------------
    def credential(self, username: str, cred_id: str) -> CredentialInfo:
        """One of the user's keys; raises CredentialNotFound."""
        for row in self.store.list_credentials(username):
            if row["credential_id"] == cred_id:
                return credential_info(row)
        raise CredentialNotFound(f"no security key {cred_id!r} for user {username!r}")

    def list_keys(self, username: str) -> list[CredentialInfo]:
        """The user's security keys, oldest first."""
        require_user(self.store, username)
        return [credential_info(row) for row in self.store.list_credentials(username)]

    def rename(self, username: str, cred_id: str, name: str) -> CredentialInfo:
        """Rename one of the user's keys; raises CredentialNotFound."""
        require_user(self.store, username)
        name = credential_name(name)
        if not self.store.rename_credential(username, cred_id, name):
            raise CredentialNotFound(f"no security key {cred_id!r} for user {username!r}")
        self.gate.audit("webauthn_renamed", username=username, method="webauthn", credential=cred_id, result="ok",
                        detail=name)
        return self.credential(username, cred_id)

    def remove(self, username: str, cred_id: str, actor: str | None = None, ip: str | None = None,
               user_agent: str | None = None) -> None:
        """Remove one of the user's keys (the user is mailed, naming it); raises CredentialNotFound."""
        require_user(self.store, username)
        name = next((row["name"] for row in self.store.list_credentials(username) if row["credential_id"] == cred_id),
                    None)
        now = self.clock()
        effects = Effects([self.gate.record("webauthn_removed", now, username=username, method="webauthn",
                                            credential=cred_id, actor=actor, ip=ip, user_agent=user_agent,
                                            result="ok")],
                          self.gate.mails("key_removed", username, now, factor="security_key", name=name, ip=ip,
                                          user_agent=user_agent, by_admin=actor is not None and actor != username))
        if name is None or not self.store.delete_credential(username, cred_id, effects):
            raise CredentialNotFound(f"no security key {cred_id!r} for user {username!r}")
        self.gate.published(effects)
