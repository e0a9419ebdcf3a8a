"""The verifier facade: the only entry point the HTTP API, the CLI and the mock tracker use.

It wires the pure rules of :mod:`verifier.core` to a :class:`verifier.store.Store`. Every public method is
safe to call from many threads and from several processes sharing one database: whatever must happen
once (a TOTP step, a backup code, a challenge, a sign counter) is decided by an atomic compare-and-set
in the store, never by a read followed by a write here.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .core import backup as backup_rules
from .core import ratelimit, totp
from .core import webauthn as wa
from .core.audit import make_event
from .core.policy import Policy
from .errors import (
    BadRequest,
    CredentialNotFound,
    InvalidPolicy,
    UserNotFound,
    WebAuthnRejected,
)
from .settings import VerifierSettings, resolve_server_key
from .store import Store

__all__ = ["Verifier", "VerifierSettings", "VerifyResult"]

MAX_NAME = 150
MAX_CREDENTIAL_NAME = 64
DEFAULT_CREDENTIAL_NAME = "Security key"
_DUMMY_HASH = backup_rules.hash_password("timing-equalizer", backup_rules.HashParams(n=2**14))


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one verification.

    ``reason``: ok | invalid | replay | locked | not_enrolled | expired | counter_regression.
    ``retry_after``: seconds until a lock lifts (set with ``locked``, and on the failure that starts one).
    """

    ok: bool
    reason: str
    retry_after: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "reason": self.reason, "retry_after": self.retry_after}


def check_name(kind: str, value: Any) -> str:
    """A user or group name: 1–150 printable characters without spaces; raises BadRequest."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME or \
            any(c.isspace() or not c.isprintable() for c in value):
        raise BadRequest(f"{kind} must be 1-{MAX_NAME} printable characters without spaces")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _websafe(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _as_timestamp(value: float | dt.datetime | dt.date | None) -> float | None:
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    raise BadRequest("a date must be a unix time, a date or a datetime")


class Verifier:
    """TOTP, backup codes, WebAuthn, rate limiting, policy, remember-device and audit."""

    def __init__(self, store: Store, settings: VerifierSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings or VerifierSettings()
        self.clock = clock
        server_key = resolve_server_key(self.settings.server_key, store.url)
        self._aead = AESGCM(server_key)
        self._backup_lookup_key = backup_rules.lookup_key(server_key)
        # Checked when an attempt has no candidate code, so every attempt costs one scrypt hash. Built here
        # (one hash per Verifier) so that the first such attempt is not slower than the rest.
        self._dummy_backup_hash = backup_rules.hash_code(backup_rules.generate_codes(1)[0], self.settings.backup_hash)
        self._dummy_totp_blob = self._encrypt("", totp.new_secret())
        self._webauthn_config = wa.WebAuthnConfig(
            rp_id=self.settings.rp_id, rp_name=self.settings.rp_name,
            origins=tuple(o.rstrip("/") for o in self.settings.origins), attestation=self.settings.attestation,
            attestation_roots=tuple(self.settings.attestation_roots), appid=self.settings.appid)
        self._server, self._legacy_server = wa.build_servers(self._webauthn_config)
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        self._subscribers_lock = threading.Lock()

    # ---- secrets at rest ----------------------------------------------------------------------------------
    def _encrypt(self, username: str, secret: bytes) -> str:
        nonce = secrets.token_bytes(12)
        # The username is authenticated data: a secret copied to another user's row fails to decrypt.
        return "v1:" + _b64(nonce + self._aead.encrypt(nonce, secret, f"totp:{username}".encode()))

    def _decrypt(self, username: str, blob: str) -> bytes:
        raw = base64.b64decode(blob.removeprefix("v1:"))
        return self._aead.decrypt(raw[:12], raw[12:], f"totp:{username}".encode())

    # ---- audit --------------------------------------------------------------------------------------------
    def _audit(self, event: str, **fields: Any) -> None:
        record = make_event(self.clock(), event, **fields).to_dict()
        record["id"] = self.store.add_audit(record)
        self._publish(record)

    def _publish(self, record: dict[str, Any]) -> None:
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            with contextlib.suppress(Exception):  # a broken listener must never break a login
                callback(dict(record))

    def subscribe_audit(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``callback(event_dict)`` for every new audit event; returns an unsubscribe function."""
        with self._subscribers_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._subscribers_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def audit(self, username: str | None = None, event: str | None = None, since: float | None = None,
              until: float | None = None, after_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Audit events matching every given filter, oldest first (at most ``limit``, the newest ones)."""
        if not 1 <= int(limit) <= 10_000:
            raise BadRequest("limit must be between 1 and 10000")
        return self.store.query_audit(username=username, event=event, since=since, until=until,
                                      after_id=after_id, limit=int(limit))

    # ---- users --------------------------------------------------------------------------------------------
    def _user(self, username: str) -> dict[str, Any]:
        user = self.store.get_user(username) if isinstance(username, str) else None
        if user is None:
            raise UserNotFound(f"no user named {username!r}")
        return user

    def create_user(self, username: str, password: str | None = None, groups: Iterable[str] = (),
                    actor: str | None = None) -> dict[str, Any]:
        """Create a user (password optional: a tracker may keep passwords itself); raises UserExists."""
        check_name("username", username)
        group_list = [check_name("group", g) for g in groups]
        if password is not None and (not isinstance(password, str) or not 1 <= len(password) <= 1024):
            raise BadRequest("password must be 1-1024 characters")
        pw_hash = backup_rules.hash_password(password, self.settings.password_hash) if password else None
        self.store.create_user(username, pw_hash, group_list, self.clock())
        self._audit("user_created", username=username, method="admin", actor=actor, result="ok",
                    detail=f"groups: {', '.join(sorted(set(group_list))) or '-'}")
        return self.user_status(username)

    def list_users(self) -> list[str]:
        """All usernames, sorted."""
        return self.store.list_users()

    def check_password(self, username: str, password: str) -> bool:
        """True when the password matches (unknown users cost the same time and return False)."""
        user = self.store.get_user(username) if isinstance(username, str) else None
        if not isinstance(password, str) or len(password) > 1024:
            return False
        if user is None or not user["password_hash"]:
            backup_rules.check_password(password, _DUMMY_HASH)
            return False
        return backup_rules.check_password(password, user["password_hash"])

    def set_groups(self, username: str, groups: Iterable[str], actor: str | None = None) -> dict[str, Any]:
        """Replace a user's groups."""
        self._user(username)
        group_list = sorted({check_name("group", g) for g in groups})
        self.store.set_groups(username, group_list)
        self._audit("groups_changed", username=username, method="admin", actor=actor, result="ok",
                    detail=f"groups: {', '.join(group_list) or '-'}")
        return self.user_status(username)

    def add_to_group(self, username: str, group: str, actor: str | None = None) -> dict[str, Any]:
        """Add one group to a user's groups."""
        user = self._user(username)
        return self.set_groups(username, [*user["groups"], check_name("group", group)], actor)

    def _lock_state(self, key: str, now: float) -> float | None:
        _count, until = self.store.get_failures(key)
        return until if until is not None and until > now else None

    def user_status(self, username: str) -> dict[str, Any]:
        """What the tracker needs to decide the next login step for ``username``; raises UserNotFound."""
        user = self._user(username)
        now = self.clock()
        policy = self._policy()
        return {
            "username": username,
            "groups": list(user["groups"]),
            "totp": self.store.get_totp(username) is not None,
            "webauthn": len(self.store.list_credentials(username)),
            "backup_codes_left": len(self.store.unused_backup_codes(username)),
            "required": policy.requires(user["groups"], user["excluded_until"], "", now),
            "locked_until": self._lock_state(ratelimit.user_key(username), now),
            "excluded_until": user["excluded_until"] if (user["excluded_until"] or 0) > now else None,
            "remembered_devices": self.store.count_devices(username, now),
        }

    # ---- rate limiting ------------------------------------------------------------------------------------
    # Counters: the username (known or not, so a lock never tells whether a user exists) with a back-off that
    # always lifts by itself, and the client address (plus its /64 for IPv6), which hard-locks at
    # ``ip_rate_limit.max_failures``. See docs/verifier.md, "Rate limiting and lockout".
    @staticmethod
    def _counter_keys(username: str, ip: str) -> tuple[str, ...]:
        return (ratelimit.user_key(username), *ratelimit.address_keys(ip))

    def _locked(self, failures: Mapping[str, tuple[int, float | None]], now: float) -> VerifyResult | None:
        until = max(((lock or 0) for _count, lock in failures.values()), default=0)
        return VerifyResult(False, "locked", until - now) if until > now else None

    def _gate(self, username: str, ip: str) -> VerifyResult | None:
        return self._locked(self.store.failures_for(self._counter_keys(username, ip)), self.clock())

    def _fail(self, username: str, ip: str, ua: str, method: str, reason: str, credential: str | None = None, *,
              count_user: bool = True, audit_result: str | None = None, detail: str | None = None) -> VerifyResult:
        """Count a failure, start any back-off or lock it earns, audit it; ``reason`` is what the caller sees.

        ``count_user=False`` for replays: a replayed code was right once, so it is no guess at the user's
        factor, and counting it would let whoever saw one code lock the user out. It still counts against
        the address. ``audit_result`` keeps the truth (e.g. ``not_enrolled``) for the admin's log when the
        answer must not tell it.
        """
        now = self.clock()
        user_key = ratelimit.user_key(username)
        address_keys = ratelimit.address_keys(ip)
        counts = self.store.add_failures(((user_key,) if count_user else ()) + address_keys)
        lock_ends = 0.0
        for key, count in counts.items():
            is_user = key == user_key
            rules = self.settings.rate_limit if is_user else self.settings.ip_rate_limit
            until = ratelimit.locked_until_after(count, now, rules, hard_lock=not is_user)
            if until is None:
                continue
            self.store.set_locked_until(key, until)
            lock_ends = max(lock_ends, until)
            if until == ratelimit.HARD_LOCK_UNTIL:
                self._audit("lockout", username=username, method=method, ip=ip, user_agent=ua, result="locked",
                            detail=f"{key} locked until an admin unlocks it: {count} consecutive failures")
            else:
                alarm = " (at or past the 100 NIST allows: an attack on this user?)" \
                    if count >= ratelimit.MAX_ALLOWED_FAILURES else ""
                self._audit("throttled", username=username, method=method, ip=ip, user_agent=ua, result="locked",
                            detail=f"{key} back-off {until - now:.0f} s after {count} consecutive failures{alarm}")
        self._audit("verify", username=username, method=method, credential=credential, ip=ip, user_agent=ua,
                    result=audit_result or reason, detail=detail)
        return VerifyResult(False, reason, (lock_ends - now) if lock_ends else None)

    def _succeed(self, username: str, ip: str, ua: str, method: str, credential: str | None = None,
                 detail: str | None = None) -> VerifyResult:
        record = make_event(self.clock(), "verify", username=username, method=method, credential=credential, ip=ip,
                            user_agent=ua, result="ok", detail=detail).to_dict()
        record["id"] = self.store.record_success(self._counter_keys(username, ip), record)
        self._publish(record)
        return VerifyResult(True, "ok")

    # ---- TOTP ---------------------------------------------------------------------------------------------
    def totp_enroll_begin(self, username: str) -> dict[str, str]:
        """A pending TOTP secret (reused while unconfirmed and fresh) with its URI and QR code."""
        self._user(username)
        now = self.clock()
        pending = self.store.get_totp_pending(username)
        if pending and pending["created"] + self.settings.enrol_ttl > now:
            secret = self._decrypt(username, pending["secret_enc"])
        else:
            secret = totp.new_secret()
            self.store.put_totp_pending(username, self._encrypt(username, secret), now)
            self._audit("totp_enrol_begin", username=username, method="totp", result="ok")
        params = self.settings.totp
        uri = totp.otpauth_uri(secret, username, self.settings.issuer or self.settings.rp_name, params)
        return {"secret": totp.b32(secret), "uri": uri, "qr_svg": totp.qr_svg(uri),
                "digits": params.digits, "period": params.period, "algorithm": params.algorithm}

    def totp_enroll_confirm(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Confirm the pending secret with a first valid code; it then replaces any older TOTP factor."""
        self._user(username)
        if (locked := self._gate(username, ip)) is not None:
            return locked
        now = self.clock()
        pending = self.store.get_totp_pending(username)
        if pending is None:
            return VerifyResult(False, "not_enrolled")
        if pending["created"] + self.settings.enrol_ttl <= now:
            return VerifyResult(False, "expired")
        params = self.settings.totp
        secret = self._decrypt(username, pending["secret_enc"])
        step = totp.match_step(secret, str(code), now, params) if isinstance(code, str) else None
        if step is None:
            return self._fail(username, ip, user_agent, "totp", "invalid")
        drift = step - totp.time_step(now, params.period)
        if not self.store.confirm_totp(username, pending["secret_enc"], self._encrypt(username, secret),
                                       params.digits, params.period, params.algorithm, step, drift, now):
            return VerifyResult(False, "replay")  # a concurrent confirm used this enrolment
        self.store.clear_failures(ratelimit.user_key(username))
        self._audit("totp_enrolled", username=username, method="totp", ip=ip, user_agent=user_agent, result="ok",
                    detail=f"drift {drift} steps")
        return VerifyResult(True, "ok")

    def verify_totp(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a TOTP code: window ±N steps, each step accepted once (atomic ledger), rate-limited.

        An unknown user, a user without TOTP and a wrong code get the same answer (``invalid``) after the
        same work; the audit log records which it was. The hot path is one read transaction and, for an
        accepted code, one write transaction.
        """
        name = username if isinstance(username, str) else ""
        keys = self._counter_keys(name, ip)
        context = self.store.totp_context(name, keys)
        now = self.clock()
        if (locked := self._locked(context["failures"], now)) is not None:
            return locked
        row = context["totp"]
        if row is None:  # the same decryption and code comparison as a real check, against a throwaway secret
            totp.match_step(self._decrypt("", self._dummy_totp_blob), code, now, self.settings.totp) \
                if isinstance(code, str) else None
            return self._fail(name, ip, user_agent, "totp", "invalid", audit_result="not_enrolled",
                              detail="no TOTP factor" if context["user"] else "unknown user")
        params = totp.TotpParams(row["digits"], row["period"], row["algorithm"], self.settings.totp.window)
        secret = self._decrypt(name, row["secret_enc"])
        step = totp.match_step(secret, code, now, params) if isinstance(code, str) else None
        if step is None:
            return self._fail(name, ip, user_agent, "totp", "invalid")
        if step <= row["last_step"]:
            return self._fail(name, ip, user_agent, "totp", "replay", count_user=False)
        drift = step - totp.time_step(now, params.period)
        record = make_event(now, "verify", username=name, method="totp", ip=ip, user_agent=user_agent,
                            result="ok", detail=f"drift {drift} steps").to_dict()
        audit_id = self.store.accept_totp_step(name, step, drift, keys, record)
        if audit_id is None:  # a concurrent request accepted this step first
            return self._fail(name, ip, user_agent, "totp", "replay", count_user=False)
        record["id"] = audit_id
        self._publish(record)
        return VerifyResult(True, "ok")

    def totp_remove(self, username: str, actor: str | None = None) -> bool:
        """Remove the user's TOTP factor (and any pending enrolment)."""
        self._user(username)
        removed = self.store.delete_totp(username)
        self._audit("totp_removed", username=username, method="totp", actor=actor, result="ok" if removed else
                    "not_enrolled")
        return removed

    # ---- backup codes -------------------------------------------------------------------------------------
    def generate_backup_codes(self, username: str, actor: str | None = None) -> list[str]:
        """Ten fresh codes, shown once; the old set stops working."""
        self._user(username)
        pairs = backup_rules.generate_tagged_codes(self._backup_lookup_key)
        self.store.replace_backup_codes(username, [backup_rules.hash_code(c, self.settings.backup_hash)
                                                   for c, _tag in pairs], [tag for _c, tag in pairs])
        self._audit("backup_codes_generated", username=username, method="backup", actor=actor, result="ok",
                    detail=f"{len(pairs)} codes")
        return [code for code, _tag in pairs]

    def verify_backup_code(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a backup code; each one works once.

        One scrypt check per attempt: the code's keyed lookup tag picks the one candidate (a dummy hash when
        none, or when the user is unknown), so unknown users, users without codes and wrong codes cost the
        same and get the same answer (``invalid``). Codes stored before schema 3 have no tag and are checked
        one by one, as before, until the user generates a new set.
        """
        name = username if isinstance(username, str) else ""
        tag = backup_rules.lookup_tag(code, self._backup_lookup_key) if isinstance(code, str) else None
        context = self.store.backup_code_context(name, tag or "", self._counter_keys(name, ip))
        if (locked := self._locked(context["failures"], self.clock())) is not None:
            return locked
        if tag is None:  # cannot be a code of ours: refused before any hashing, for every user alike
            return self._fail(name, ip, user_agent, "backup", "invalid")
        candidates = [context["match"]] if context["match"] is not None else context["untagged"]
        if not candidates:
            backup_rules.check_code(code, self._dummy_backup_hash)  # the one slow hash every attempt costs
        found = next((row for row in candidates if backup_rules.check_code(code, row["code_hash"])), None)
        if found is None:
            truth = None if context["codes_left"] else "not_enrolled"
            return self._fail(name, ip, user_agent, "backup", "invalid", audit_result=truth,
                              detail=None if context["user"] else "unknown user")
        if not self.store.use_backup_code(found["id"]):
            return self._fail(name, ip, user_agent, "backup", "replay", count_user=False)
        return self._succeed(name, ip, user_agent, "backup", detail=f"{context['codes_left'] - 1} backup codes left")

    # ---- WebAuthn -----------------------------------------------------------------------------------------
    def _check_origin(self, origin: str) -> None:
        if not isinstance(origin, str) or origin.rstrip("/") not in self._webauthn_config.origins:
            raise WebAuthnRejected(f"origin {origin!r} is not served by this verifier")

    @staticmethod
    def _user_handle(username: str) -> bytes:
        return hashlib.sha256(f"tracker2fa-user:{username}".encode()).digest()[:32]

    def _credential_objects(self, username: str) -> list[tuple[dict[str, Any], Any]]:
        from fido2.webauthn import AttestedCredentialData

        return [(row, AttestedCredentialData(base64.b64decode(row["credential_data"])))
                for row in self.store.list_credentials(username)]

    def _put_state(self, username: str, kind: str, state: Mapping[str, Any]) -> str:
        state_id = secrets.token_urlsafe(24)
        now = self.clock()
        self.store.put_challenge(state_id, username, kind, json.dumps(dict(state)), now + self.settings.challenge_ttl,
                                 now)
        return state_id

    def _take_state(self, username: str, kind: str, state_id: Any) -> dict[str, Any] | None:
        if not isinstance(state_id, str) or not 1 <= len(state_id) <= 128:
            return None
        row = self.store.take_challenge(state_id)
        if row is None or row["username"] != username or row["kind"] != kind or row["expires"] <= self.clock():
            return None
        return json.loads(row["state_json"])

    def webauthn_register_begin(self, username: str, origin: str) -> tuple[dict[str, Any], str]:
        """Creation options (WebAuthn JSON) and the id of the single-use, expiring state."""
        from fido2.webauthn import PublicKeyCredentialUserEntity

        self._user(username)
        self._check_origin(origin)
        existing = [cred for _row, cred in self._credential_objects(username)]
        options, state = self._server.register_begin(
            PublicKeyCredentialUserEntity(name=username, id=self._user_handle(username), display_name=username),
            existing, user_verification=self._webauthn_config.user_verification)
        return dict(options), self._put_state(username, "register", state)

    def webauthn_register_complete(self, username: str, state_id: str, response: dict[str, Any],
                                   name: str = DEFAULT_CREDENTIAL_NAME) -> dict[str, Any]:
        """Verify a registration and store the credential; raises WebAuthnRejected."""
        self._user(username)
        name = self._credential_name(name)
        state = self._take_state(username, "register", state_id)
        if state is None:
            raise WebAuthnRejected("the registration request expired or was already used; start again")
        try:
            auth_data = self._server.register_complete(state, response)
        except Exception as exc:  # fido2 raises ValueError/KeyError/TypeError/... for bad input
            raise WebAuthnRejected(f"registration rejected: {exc}") from None
        cred = auth_data.credential_data
        cred_id = _websafe(cred.credential_id)
        if any(row["credential_id"] == cred_id for row in self.store.list_credentials(username)):
            raise WebAuthnRejected("this security key is already registered")
        try:
            self.store.add_credential(username, cred_id, name, _b64(bytes(cred)), auth_data.counter, None,
                                      self.clock())
        except Exception as exc:
            if self.store._is_unique_violation(exc):
                raise WebAuthnRejected("this security key is already registered to another user") from None
            raise
        self._audit("webauthn_registered", username=username, method="webauthn", credential=cred_id, result="ok",
                    detail=name)
        return self._credential_view(username, cred_id)

    def import_u2f_credential(self, username: str, key_handle: bytes, public_key: bytes,
                              name: str = DEFAULT_CREDENTIAL_NAME, sign_count: int = 0,
                              actor: str | None = None) -> dict[str, Any]:
        """Store a key registered with the legacy U2F API (key handle + 65-byte public key) under the appid."""
        from fido2.webauthn import AttestedCredentialData

        self._user(username)
        if not self.settings.appid:
            raise WebAuthnRejected("legacy U2F keys need the appid setting")
        try:
            cred = AttestedCredentialData.from_ctap1(bytes(key_handle), bytes(public_key))
        except Exception as exc:
            raise WebAuthnRejected(f"not a U2F registration: {exc}") from None
        cred_id = _websafe(cred.credential_id)
        self.store.add_credential(username, cred_id, self._credential_name(name), _b64(bytes(cred)),
                                  int(sign_count), self.settings.appid, self.clock())
        self._audit("webauthn_registered", username=username, method="webauthn", credential=cred_id, result="ok",
                    actor=actor, detail="legacy U2F (appid)")
        return self._credential_view(username, cred_id)

    def webauthn_authenticate_begin(self, username: str, origin: str) -> tuple[dict[str, Any], str]:
        """Request options for the user's keys (with the appid extension when a legacy key exists)."""
        self._user(username)
        self._check_origin(origin)
        creds = self._credential_objects(username)
        if not creds:
            raise CredentialNotFound("no security key is registered for this user")
        extensions = None
        if self._legacy_server is not None and any(row["appid"] for row, _ in creds):
            extensions = {"appid": self.settings.appid}
        options, state = self._server.authenticate_begin(
            [cred for _row, cred in creds], user_verification=self._webauthn_config.user_verification,
            extensions=extensions)
        return dict(options), self._put_state(username, "authenticate", state)

    def webauthn_authenticate_complete(self, username: str, state_id: str, response: dict[str, Any], ip: str,
                                       user_agent: str) -> VerifyResult:
        """Verify an assertion: challenge once, signature, then the sign counter (a regression is refused)."""
        from fido2.webauthn import AuthenticationResponse

        if not isinstance(username, str):
            username = ""
        if (locked := self._gate(username, ip)) is not None:
            return locked
        if self.store.get_user(username) is None:
            return self._fail(username, ip, user_agent, "webauthn", "invalid", audit_result="not_enrolled",
                              detail="unknown user")
        state = self._take_state(username, "authenticate", state_id)
        if state is None:
            self._audit("verify", username=username, method="webauthn", ip=ip, user_agent=user_agent,
                        result="expired")
            return VerifyResult(False, "expired")
        try:
            parsed = AuthenticationResponse.from_dict(response)
            auth_data = parsed.response.authenticator_data
        except Exception:
            return self._fail(username, ip, user_agent, "webauthn", "invalid")
        cred_id = _websafe(parsed.raw_id)
        match = [(row, cred) for row, cred in self._credential_objects(username) if row["credential_id"] == cred_id]
        if not match:
            return self._fail(username, ip, user_agent, "webauthn", "invalid", credential=cred_id)
        row, cred = match[0]
        server = self._server
        if row["appid"] and self._legacy_server is not None and \
                auth_data.rp_id_hash == hashlib.sha256(row["appid"].encode()).digest():
            server = self._legacy_server
        try:
            server.authenticate_complete(state, [cred], parsed)  # parsed once: fido2's from_dict is costly
        except Exception:
            return self._fail(username, ip, user_agent, "webauthn", "invalid", credential=cred_id)
        stored, presented = int(row["sign_count"]), int(auth_data.counter)
        if not wa.counter_ok(stored, presented):
            self._audit("verify", username=username, method="webauthn", credential=cred_id, ip=ip,
                        user_agent=user_agent, result="counter_regression",
                        detail=f"sign count {presented} <= stored {stored}: possible cloned key")
            return self._fail(username, ip, user_agent, "webauthn", "counter_regression", credential=cred_id)
        now = self.clock()
        record = make_event(now, "verify", username=username, method="webauthn", credential=cred_id, ip=ip,
                            user_agent=user_agent, result="ok").to_dict()
        audit_id = self.store.accept_sign_count(cred_id, stored, presented, now, self._counter_keys(username, ip),
                                                record)
        if audit_id is None:  # a concurrent assertion moved the counter first
            return self._fail(username, ip, user_agent, "webauthn", "replay", credential=cred_id, count_user=False)
        record["id"] = audit_id
        self._publish(record)
        return VerifyResult(True, "ok")

    @staticmethod
    def _credential_name(name: Any) -> str:
        if name is None:
            return DEFAULT_CREDENTIAL_NAME
        if not isinstance(name, str):
            raise BadRequest("a key name must be text")
        name = " ".join(name.split())
        if not 1 <= len(name) <= MAX_CREDENTIAL_NAME or not name.isprintable():
            raise BadRequest(f"a key name must be 1-{MAX_CREDENTIAL_NAME} printable characters")
        return name

    @staticmethod
    def _credential_dict(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": row["credential_id"], "name": row["name"], "created": row["created"],
                "last_used": row["last_used"], "sign_count": row["sign_count"], "legacy_u2f": bool(row["appid"])}

    def _credential_view(self, username: str, cred_id: str) -> dict[str, Any]:
        for row in self.store.list_credentials(username):
            if row["credential_id"] == cred_id:
                return self._credential_dict(row)
        raise CredentialNotFound(f"no security key {cred_id!r} for user {username!r}")

    def list_credentials(self, username: str) -> list[dict[str, Any]]:
        """The user's security keys: id, name, created, last_used, sign_count, legacy_u2f."""
        self._user(username)
        return [self._credential_dict(row) for row in self.store.list_credentials(username)]

    def rename_credential(self, username: str, cred_id: str, name: str) -> dict[str, Any]:
        """Rename one of the user's keys; raises CredentialNotFound."""
        self._user(username)
        name = self._credential_name(name)
        if not self.store.rename_credential(username, cred_id, name):
            raise CredentialNotFound(f"no security key {cred_id!r} for user {username!r}")
        self._audit("webauthn_renamed", username=username, method="webauthn", credential=cred_id, result="ok",
                    detail=name)
        return self._credential_view(username, cred_id)

    def remove_credential(self, username: str, cred_id: str, actor: str | None = None) -> None:
        """Remove one of the user's keys; raises CredentialNotFound."""
        self._user(username)
        if not self.store.delete_credential(username, cred_id):
            raise CredentialNotFound(f"no security key {cred_id!r} for user {username!r}")
        self._audit("webauthn_removed", username=username, method="webauthn", credential=cred_id, actor=actor,
                    result="ok")

    # ---- remember this device -----------------------------------------------------------------------------
    @staticmethod
    def _token_hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def remember_device(self, username: str, ip: str, user_agent: str) -> str:
        """A device token valid for the policy's ``remember_days``; only its hash is stored."""
        self._user(username)
        days = self._policy().remember_days
        if days <= 0:
            raise BadRequest("remembering devices is turned off by the policy")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.add_device(self._token_hash(token), username, now + days * 86400, now)
        self._audit("device_remembered", username=username, method="device", ip=ip, user_agent=user_agent,
                    result="ok", detail=f"{days} days")
        return token

    def check_device(self, username: str, token: str) -> str | None:
        """A rotated token when ``token`` is a live device token of ``username``; else None (old one dies)."""
        if not isinstance(token, str) or not 1 <= len(token) <= 200 or self._policy().remember_days <= 0:
            return None
        new_token = secrets.token_urlsafe(32)
        if not self.store.rotate_device(self._token_hash(token), username, self._token_hash(new_token),
                                        self.clock()):
            return None
        return new_token

    def revoke_devices(self, username: str, actor: str | None = None) -> int:
        """Forget every remembered device of the user; returns how many."""
        self._user(username)
        count = self.store.delete_devices(username)
        self._audit("devices_revoked", username=username, method="device", actor=actor, result="ok",
                    detail=f"{count} devices")
        return count

    # ---- policy -------------------------------------------------------------------------------------------
    def _policy(self) -> Policy:
        raw = self.store.get_setting("policy")
        return Policy.from_dict(json.loads(raw)) if raw else Policy()

    def get_policy(self) -> dict[str, Any]:
        """``{"mode", "groups", "ip_allowlist", "remember_days"}``."""
        return self._policy().to_dict()

    def set_policy(self, mode: str, groups: Iterable[str] = (), ip_allowlist: Iterable[str] = (),
                   remember_days: int = 0, actor: str | None = None) -> dict[str, Any]:
        """Replace the policy; raises InvalidPolicy and changes nothing on bad input."""
        try:
            policy = Policy.validated(mode, list(groups), list(ip_allowlist), remember_days)
        except (ValueError, TypeError) as exc:
            raise InvalidPolicy(str(exc)) from None
        self.store.set_setting("policy", json.dumps(policy.to_dict()))
        self._audit("policy_changed", method="admin", actor=actor, result="ok", detail=json.dumps(policy.to_dict()))
        return policy.to_dict()

    def second_factor_required(self, username: str, ip: str) -> bool:
        """Policy, exclusion and IP allowlist together; unknown users are always asked."""
        user = self.store.get_user(username) if isinstance(username, str) else None
        if user is None:
            return True
        return self._policy().requires(user["groups"], user["excluded_until"], str(ip), self.clock())

    def exclude_user(self, username: str, until: float | dt.datetime | dt.date | None,
                     actor: str | None = None) -> dict[str, Any]:
        """Skip the second factor for ``username`` until ``until`` (None ends the exclusion)."""
        self._user(username)
        ts = _as_timestamp(until)
        self.store.set_excluded_until(username, ts)
        self._audit("user_excluded", username=username, method="admin", actor=actor, result="ok",
                    detail=f"until {ts}" if ts else "exclusion ended")
        return self.user_status(username)

    def reset_user(self, username: str, actor: str | None = None) -> None:
        """Remove every factor, backup code and remembered device of the user, and lift its lock."""
        self._user(username)
        self.store.delete_totp(username)
        self.store.delete_backup_codes(username)
        self.store.delete_credentials(username)
        self.store.delete_devices(username)
        self.store.clear_failures(ratelimit.user_key(username))
        self._audit("user_reset", username=username, method="admin", actor=actor, result="ok")

    def reset_group(self, group: str, actor: str | None = None) -> list[str]:
        """:meth:`reset_user` for every member of ``group``; returns the usernames."""
        check_name("group", group)
        members = self.store.users_in_group(group)
        for username in members:
            self.reset_user(username, actor)
        self._audit("group_reset", method="admin", actor=actor, result="ok",
                    detail=f"group {group}: {len(members)} users")
        return members

    def unlock(self, username: str, ip: str | None = None, actor: str | None = None) -> None:
        """Lift a lockout of the user (and of an IP)."""
        self._user(username)
        self.store.clear_failures(ratelimit.user_key(username))
        for key in ratelimit.address_keys(ip) if ip else ():
            self.store.clear_failures(key)  # the address and, for IPv6, its /64
        self._audit("user_reset", username=username, method="admin", actor=actor, result="ok", detail="unlocked")

    # ---- first factor: the password step, under the same rate limiter -------------------------------------
    def verify_password(self, username: str, password: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a login password with the per-user and per-IP back-off of the second factor.

        While a counter is locked the password is not checked (``locked``). A wrong password, or any
        password for an unknown user, is a failure (``invalid``) on both counters. A right one clears
        nothing: only a completed second factor does, so the password step cannot reset its back-off.
        """
        if (locked := self._gate(username, ip)) is not None:
            return locked
        if self.check_password(username, password):
            return VerifyResult(True, "ok")
        return self._fail(username, ip, user_agent, "password", "invalid")
