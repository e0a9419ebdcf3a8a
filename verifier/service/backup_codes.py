"""Backup codes as a factor: ten single-use codes, stored salted and hashed, one slow hash per attempt."""

from __future__ import annotations

from ..core import backup as rules
from ..core import notices
from ..settings import VerifierSettings
from ..store import Store
from ..store.base import Effects
from .gate import Gate
from .results import OK, VerifyResult
from .users import require_user


class BackupCodes:
    """Generate and verify backup codes."""

    def __init__(self, store: Store, settings: VerifierSettings, gate: Gate, server_key: bytes) -> None:
        self.store = store
        self.settings = settings
        self.gate = gate
        self._lookup_key = rules.lookup_key(server_key)
        # Checked when an attempt has no candidate code, so every attempt costs one scrypt hash. Built here
        # (one hash per Verifier) so that the first such attempt is not slower than the rest.
        self._dummy_hash = rules.hash_code(rules.generate_codes(1)[0], settings.backup_hash)

    def generate(self, username: str, actor: str | None = None, ip: str | None = None,
                 user_agent: str | None = None) -> list[str]:
        """Ten fresh codes, shown once; the old set stops working. The user is mailed (never the codes)."""
        require_user(self.store, username)
        pairs = rules.generate_tagged_codes(self._lookup_key)
        now = self.gate.clock()
        effects = Effects([self.gate.record("backup_codes_generated", now, username=username, method="backup",
                                            actor=actor, ip=ip, user_agent=user_agent, result="ok",
                                            detail=f"{len(pairs)} codes")],
                          self.gate.mails("backup_codes_regenerated", username, now, ip=ip, user_agent=user_agent,
                                          count=len(pairs), by_admin=actor is not None and actor != username))
        self.store.replace_backup_codes(username, [rules.hash_code(c, self.settings.backup_hash) for c, _tag in pairs],
                                        [tag for _c, tag in pairs], effects)
        self.gate.published(effects)
        return [code for code, _tag in pairs]

    def verify(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a backup code; each one works once.

        One scrypt check per attempt: the code's keyed lookup tag picks the one candidate (a dummy hash when
        none, or when the user is unknown), so unknown users, users without codes and wrong codes cost the
        same and get the same answer (``invalid``). Codes stored before schema 3 have no tag and are checked
        one by one, as before, until the user generates a new set.
        """
        name = username if isinstance(username, str) else ""
        tag = rules.lookup_tag(code, self._lookup_key) if isinstance(code, str) else None
        network = notices.network_of(ip)
        context = self.store.backup_code_context(name, tag or "", self.gate.counter_keys(name, ip), network)
        if (locked := self.gate.locked(context["failures"], self.gate.clock())) is not None:
            return locked
        if tag is None:  # cannot be a code of ours: refused before any hashing, for every user alike
            return self.gate.fail(name, ip, user_agent, "backup", "invalid")
        candidates = [context["match"]] if context["match"] is not None else context["untagged"]
        if not candidates:
            rules.check_code(code, self._dummy_hash)  # the one slow hash every attempt costs
        found = next((row for row in candidates if rules.check_code(code, row["code_hash"])), None)
        if found is None:
            truth = None if context["codes_left"] else "not_enrolled"
            return self.gate.fail(name, ip, user_agent, "backup", "invalid", audit_result=truth,
                                  detail=None if context["user"] else "unknown user")
        now = self.gate.clock()
        left = context["codes_left"] - 1
        record = self.gate.success_record(name, ip, user_agent, "backup", detail=f"{left} backup codes left", now=now)
        low = self.gate.mails("backup_codes_low", name, now, settings=notices.notice_settings_of(context["notices"]),
                              ip=ip, user_agent=user_agent, left=left) if left <= notices.LOW_BACKUP_CODES else []
        # The code taken, the counters cleared, the audit row and any mail: one transaction.
        audit_id = self.store.accept_backup_code(found["id"], self.gate.counter_keys(name, ip), record, low,
                                                 self.gate.sign_in_network(name, context, network, now, ip,
                                                                           user_agent, "backup"))
        if audit_id is None:  # a concurrent attempt used this code first
            return self.gate.fail(name, ip, user_agent, "backup", "replay", count_user=False)
        self.gate.accepted(record, audit_id)
        return OK
