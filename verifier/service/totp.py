"""TOTP as a factor: enrolment (pending secret, then a first code) and verification.

The hot path of :meth:`Totp.verify` is one read transaction (user, factor and counters together) and, for
an accepted code, one write transaction (the replay ledger's compare-and-set, the counters cleared and
the audit row); everything in between is pure rules from :mod:`verifier.core`.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..core import sealing
from ..core import totp as rules
from ..settings import VerifierSettings
from ..store import Store
from .gate import Gate
from .results import OK, TotpEnrolment, VerifyResult
from .users import require_user


class Totp:
    """Enrol, verify and remove TOTP factors; secrets are sealed at rest for their user."""

    def __init__(self, store: Store, settings: VerifierSettings, clock: Callable[[], float], gate: Gate,
                 aead: AESGCM) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.gate = gate
        self._aead = aead
        # Unknown users and users without TOTP get the same decryption and comparison, against this secret.
        self._dummy_sealed = sealing.seal(aead, "", rules.new_secret())

    def enrol_begin(self, username: str) -> TotpEnrolment:
        """A pending TOTP secret (reused while unconfirmed and fresh) with its URI and QR code."""
        require_user(self.store, username)
        now = self.clock()
        pending = self.store.get_totp_pending(username)
        if pending and rules.enrolment_fresh(pending["created"], self.settings.enrol_ttl, now):
            secret = sealing.unseal(self._aead, username, pending["secret_enc"])
        else:
            secret = rules.new_secret()
            self.store.put_totp_pending(username, sealing.seal(self._aead, username, secret), now)
            self.gate.audit("totp_enrol_begin", username=username, method="totp", result="ok")
        params = self.settings.totp
        uri = rules.otpauth_uri(secret, username, self.settings.issuer or self.settings.rp_name, params)
        return TotpEnrolment(secret=rules.b32(secret), uri=uri, qr_svg=rules.qr_svg(uri), digits=params.digits,
                             period=params.period, algorithm=params.algorithm)

    def enrol_confirm(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Confirm the pending secret with a first valid code; it then replaces any older TOTP factor."""
        require_user(self.store, username)
        if (locked := self.gate.check(username, ip)) is not None:
            return locked
        now = self.clock()
        pending = self.store.get_totp_pending(username)
        if pending is None:
            return VerifyResult(False, "not_enrolled")
        if not rules.enrolment_fresh(pending["created"], self.settings.enrol_ttl, now):
            return VerifyResult(False, "expired")
        params = self.settings.totp
        secret = sealing.unseal(self._aead, username, pending["secret_enc"])
        step = rules.match_step(secret, code, now, params) if isinstance(code, str) else None
        if step is None:
            return self.gate.fail(username, ip, user_agent, "totp", "invalid")
        drift = rules.drift_of(step, now, params.period)
        if not self.store.confirm_totp(username, pending["secret_enc"], sealing.seal(self._aead, username, secret),
                                       params.digits, params.period, params.algorithm, step, drift, now):
            return VerifyResult(False, "replay")  # a concurrent confirm used this enrolment
        self.gate.clear(username)
        self.gate.audit("totp_enrolled", username=username, method="totp", ip=ip, user_agent=user_agent,
                        result="ok", detail=f"drift {drift} steps")
        return OK

    def verify(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a TOTP code: window ±N steps, each step accepted once (atomic ledger), rate-limited.

        An unknown user, a user without TOTP and a wrong code get the same answer (``invalid``) after the
        same work; the audit log records which it was.
        """
        name = username if isinstance(username, str) else ""
        keys = self.gate.counter_keys(name, ip)
        context = self.store.totp_context(name, keys)
        now = self.clock()
        if (locked := self.gate.locked(context["failures"], now)) is not None:
            return locked
        row = context["totp"]
        if row is None:  # the same decryption and code comparison as a real check, against a throwaway secret
            if isinstance(code, str):
                rules.match_step(sealing.unseal(self._aead, "", self._dummy_sealed), code, now, self.settings.totp)
            return self.gate.fail(name, ip, user_agent, "totp", "invalid", audit_result="not_enrolled",
                                  detail="no TOTP factor" if context["user"] else "unknown user")
        params = rules.TotpParams(row["digits"], row["period"], row["algorithm"], self.settings.totp.window)
        secret = sealing.unseal(self._aead, name, row["secret_enc"])
        step = rules.match_step(secret, code, now, params) if isinstance(code, str) else None
        if step is None:
            return self.gate.fail(name, ip, user_agent, "totp", "invalid")
        if rules.already_used(step, row["last_step"]):
            return self.gate.fail(name, ip, user_agent, "totp", "replay", count_user=False)
        drift = rules.drift_of(step, now, params.period)
        record = self.gate.success_record(name, ip, user_agent, "totp", detail=f"drift {drift} steps", now=now)
        # Only counters the read found are cleared: on the usual path (none) the write is the ledger and audit.
        audit_id = self.store.accept_totp_step(name, step, drift, [k for k in keys if k in context["failures"]],
                                               record)
        if audit_id is None:  # a concurrent request accepted this step first
            return self.gate.fail(name, ip, user_agent, "totp", "replay", count_user=False)
        self.gate.accepted(record, audit_id)
        return OK

    def remove(self, username: str, actor: str | None = None) -> bool:
        """Remove the user's TOTP factor (and any pending enrolment)."""
        require_user(self.store, username)
        removed = self.store.delete_totp(username)
        self.gate.audit("totp_removed", username=username, method="totp", actor=actor,
                        result="ok" if removed else "not_enrolled")
        return removed
