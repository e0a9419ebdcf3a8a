"""TOTP as a factor: enrolment (pending secret, then a first code) and verification.

New enrolments take their digits, period, algorithm and issuer from the policy; a confirmed factor keeps
the ones it was enrolled (or imported) with. The policy's accepted window applies to every verification.

The hot path of :meth:`Totp.verify` is one read (user, factor, counters and the stored policy together)
and, for an accepted code, one write transaction (the replay ledger's compare-and-set, the counters cleared and
the audit row); everything in between is pure rules from :mod:`verifier.core`.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..core import notices, sealing
from ..core import totp as rules
from ..settings import VerifierSettings
from ..store import Store
from ..store.base import Effects
from .gate import Gate, Outcome
from .results import OK, TotpEnrolment, VerifyResult
from .users import initial_policy, load_policy, policy_of, require_user


class Totp:
    """Enrol, verify and remove TOTP factors; secrets are sealed at rest for their user."""

    def __init__(self, store: Store, settings: VerifierSettings, clock: Callable[[], float], gate: Gate,
                 aead: AESGCM) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.gate = gate
        self._aead = aead
        self._defaults = initial_policy(settings)  # the policy's TOTP settings until an admin sets them
        # Unknown users and users without TOTP get the same decryption and comparison, against this secret.
        self._dummy_sealed = sealing.seal(aead, "", rules.new_secret())

    def enrol_begin(self, username: str) -> TotpEnrolment:
        """A pending TOTP secret with its URI and QR code, built with the policy's TOTP settings.

        A pending secret is shown again while it is fresh and the policy's digits, period and algorithm are
        still the ones it was shown with; after a change of those a new secret is made.
        """
        require_user(self.store, username)
        now = self.clock()
        policy = load_policy(self.store, self._defaults)
        params = policy.totp_params()
        pending = self.store.get_totp_pending(username)
        if pending and rules.enrolment_fresh(pending["created"], self.settings.enrol_ttl, now) and \
                self._pending_params(pending) == (params.digits, params.period, params.algorithm):
            secret = sealing.unseal(self._aead, username, pending["secret_enc"])
        else:
            secret = rules.new_secret()
            self.store.put_totp_pending(username, sealing.seal(self._aead, username, secret), now, params.digits,
                                        params.period, params.algorithm)
            self.gate.audit("totp_enrol_begin", username=username, method="totp", result="ok",
                            detail=f"{params.digits} digits, {params.period} s, {params.algorithm}")
        issuer = policy.issuer or self.settings.rp_name
        uri = rules.otpauth_uri(secret, username, issuer, params)
        return TotpEnrolment(secret=rules.b32(secret), uri=uri, qr_svg=rules.qr_svg(uri), digits=params.digits,
                             period=params.period, algorithm=params.algorithm, issuer=issuer)

    def _pending_params(self, pending: dict) -> tuple[int, int, str]:
        """The digits, period and algorithm a pending enrolment was shown with (a pending row from before
        schema 4 has none: it was shown with the configured defaults)."""
        if pending["digits"] is None:
            return self.settings.totp.digits, self.settings.totp.period, self.settings.totp.algorithm
        return pending["digits"], pending["period"], pending["algorithm"]

    def enrol_confirm(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Confirm the pending secret with a first valid code; it then replaces any older TOTP factor.

        The code is checked with the parameters the enrolment was shown with and the policy's window now.
        """
        require_user(self.store, username)
        if (locked := self.gate.check(username, ip)) is not None:
            return locked
        now = self.clock()
        pending = self.store.get_totp_pending(username)
        if pending is None:
            return VerifyResult(False, "not_enrolled")
        if not rules.enrolment_fresh(pending["created"], self.settings.enrol_ttl, now):
            return VerifyResult(False, "expired")
        window = load_policy(self.store, self._defaults).totp_window
        params = rules.TotpParams(*self._pending_params(pending), window)
        secret = sealing.unseal(self._aead, username, pending["secret_enc"])
        step = rules.match_step(secret, code, now, params) if isinstance(code, str) else None
        if step is None:
            return self.gate.fail(username, ip, user_agent, "totp", "invalid")
        drift = rules.drift_of(step, now, params.period)
        effects = Effects([self.gate.record("totp_enrolled", now, username=username, method="totp", ip=ip,
                                            user_agent=user_agent, result="ok",
                                            detail=f"drift {drift} steps; {params.digits} digits, {params.period} s, "
                                            f"{params.algorithm}")],
                          self.gate.mails("key_added", username, now, factor="totp", ip=ip, user_agent=user_agent))
        if not self.store.confirm_totp(username, pending["secret_enc"], sealing.seal(self._aead, username, secret),
                                       params.digits, params.period, params.algorithm, step, drift, now, effects):
            return VerifyResult(False, "replay")  # a concurrent confirm used this enrolment
        self.gate.clear(username)
        self.gate.published(effects)
        return OK

    def verify(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a TOTP code: the policy's window (or a narrower one imported with the factor), each step
        accepted once (atomic ledger), rate-limited.

        An unknown user, a user without TOTP and a wrong code get the same answer (``invalid``) after the
        same work; the audit log records which it was. The policy comes with the factor in the one read, so
        a change of its window applies to the next verification on every worker and node.
        """
        name = username if isinstance(username, str) else ""
        keys = self.gate.counter_keys(name, ip)
        network = notices.network_of(ip)
        context = self.store.totp_context(name, keys, network)
        now = self.clock()
        if (locked := self.gate.locked(context["failures"], now)) is not None:
            return locked
        policy = policy_of(context["policy"], self._defaults)
        row = context["totp"]
        if row is None:  # the same decryption and code comparison as a real check, against a throwaway secret
            if isinstance(code, str):
                rules.match_step(sealing.unseal(self._aead, "", self._dummy_sealed), code, now, policy.totp_params())
            return self.gate.fail(name, ip, user_agent, "totp", "invalid", audit_result="not_enrolled",
                                  detail="no TOTP factor" if context["user"] else "unknown user")
        window = policy.totp_window if row["window_steps"] is None else min(policy.totp_window, row["window_steps"])
        params = rules.TotpParams(row["digits"], row["period"], row["algorithm"], window)
        secret = sealing.unseal(self._aead, name, row["secret_enc"])
        step = rules.match_step(secret, code, now, params) if isinstance(code, str) else None
        if step is None:
            return self.gate.fail(name, ip, user_agent, "totp", "invalid")
        if rules.already_used(step, row["last_step"]):
            return self.gate.fail(name, ip, user_agent, "totp", "replay", count_user=False)
        drift = rules.drift_of(step, now, params.period)
        record = self.gate.success_record(name, ip, user_agent, "totp", detail=f"drift {drift} steps", now=now)
        # Only counters the read found are cleared, and a network only written when it is new: on the usual path
        # (neither) the write is the ledger and the audit row.
        audit_id = self.store.accept_totp_step(name, step, drift, [k for k in keys if k in context["failures"]],
                                               record, self.gate.sign_in_network(name, context, network, now, ip,
                                                                                 user_agent, "totp"))
        if audit_id is None:  # a concurrent request accepted this step first
            return self.gate.fail(name, ip, user_agent, "totp", "replay", count_user=False)
        self.gate.accepted(record, audit_id)
        return OK

    def remove(self, username: str, actor: str | None = None, ip: str | None = None,
               user_agent: str | None = None) -> bool:
        """Remove the user's TOTP factor (and any pending enrolment); the user is mailed when there was one."""
        require_user(self.store, username)
        now = self.clock()
        mails = self.gate.mails("key_removed", username, now, factor="totp", ip=ip, user_agent=user_agent,
                                by_admin=actor is not None and actor != username)
        outcome = Outcome(lambda removed: Effects([self.gate.record(
            "totp_removed", now, username=username, method="totp", actor=actor, ip=ip, user_agent=user_agent,
            result="ok" if removed else "not_enrolled")], mails if removed else ()))
        removed = self.store.delete_totp(username, outcome)
        self.gate.published(outcome.effects)
        return removed
