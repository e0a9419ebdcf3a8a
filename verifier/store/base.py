"""The one ``Store`` interface, written once in portable SQL over a small dialect layer.

Each public method is one transaction. Statements use ``?`` placeholders; the PostgreSQL dialect
rewrites them to ``%s``. Nothing here knows a rule: the service decides, the store remembers.

Longer than our ~400-line guide on purpose: one method per transaction, and the SQL for both databases
stays in one place (the dialects in sqlite.py and postgres.py only adapt it).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..errors import UserExists, VerifierConfigError
from .migrations import LATEST, MIGRATIONS

USER_COLUMNS = "username, password_hash, groups_json, excluded_until, created, email, mail_language, mail_off"
CRED_COLUMNS = "credential_id, username, name, credential_data, sign_count, appid, created, last_used"
_JOINED_CRED_COLUMNS = ", ".join(f"c.{c.strip()}" for c in CRED_COLUMNS.split(","))
AUDIT_COLUMNS = "id, ts, event, username, method, credential, ip, user_agent, result, actor, detail"
AUDIT_FIELDS = tuple(c.strip() for c in AUDIT_COLUMNS.split(",")[1:])  # every column but the id
POLICY_SETTING = "policy"  # the settings row that holds the policy as JSON (read with every TOTP check)
NOTICES_SETTING = "notices"  # the admin's mail settings as JSON (read with every sign-in, beside the policy)
# Two scalar subqueries every sign-in's one read carries (no statement of their own): the admin's mail settings,
# and what the user's recorded sign-in networks say of the client's (NULL: none recorded; 1: others; 2: this
# one; see verifier.core.notices). Parameters: the network, the settings name; ``u`` is the user's row.
SIGN_IN_COLUMNS = (
    "(SELECT MAX(CASE WHEN n.network = ? THEN 2 ELSE 1 END) FROM sign_in_networks n "
    "WHERE n.username = u.username) AS seen_network, (SELECT s2.value FROM settings s2 WHERE s2.name = ?) AS notices")
TOTP_CONTEXT_SQL = (
    "SELECT u.username IS NOT NULL AS user_exists, t.username AS factor_of, t.secret_enc, t.digits, t.period, "
    "t.algorithm, t.last_step, t.drift, t.window_steps, (SELECT s.value FROM settings s WHERE s.name = ?) AS policy, "
    f"{SIGN_IN_COLUMNS} "
    "FROM (SELECT 1) AS one LEFT JOIN users u ON u.username = ? LEFT JOIN totp t ON t.username = u.username")
_INSERT_AUDIT = (f"INSERT INTO audit ({', '.join(AUDIT_FIELDS)}) VALUES ({', '.join('?' for _ in AUDIT_FIELDS)}) "
                 "RETURNING id")
OUTBOX_FIELDS = ("created", "kind", "username", "params", "next_attempt")
# A mail is written only for a user that exists (an attempt on an unknown name locks its counter, mails nobody).
# CAST, not PostgreSQL's ::, so one statement serves both databases (a bare parameter in a SELECT list is text).
INSERT_MAIL = ("INSERT INTO outbox (created, kind, username, params, next_attempt) SELECT CAST(? AS DOUBLE PRECISION), "
               "CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS DOUBLE PRECISION) "
               "WHERE EXISTS (SELECT 1 FROM users WHERE username = ?)")
OUTBOX_COLUMNS = ("id, created, kind, username, params, status, attempts, next_attempt, lease_owner, lease_until, "
                  "sent, recipient, last_error")
OUTBOX_STATUSES = ("pending", "sent", "failed", "dropped")


@dataclass(frozen=True)
class Effects:
    """What an event leaves behind, written in the transaction of the change itself: its audit rows and the
    outbox mails it causes (``verifier.core.notices.outbox_row``). Nothing of it exists unless the change does."""

    audit: Sequence[dict[str, Any]] = ()
    mails: Sequence[dict[str, Any]] = ()


NO_EFFECTS = Effects()
EffectsOf = Effects | Callable[[Any], Effects] | None  # a callable gets the change's outcome (e.g. a count)


@dataclass(frozen=True)
class NewNetwork:
    """A sign-in from a network the user's history lacks: record it, and mail ``mail`` (None: the user had no
    history, so this first network is only recorded) if this sign-in is the one that recorded it."""

    network: str
    mail: dict[str, Any] | None = None


class MailerLock(Protocol):
    """The one-sender-per-deployment lock (see :meth:`Store.try_mailer_lock`)."""

    def held(self) -> bool:
        """False once the lock was lost (its connection died): the holder must stop sending."""

    def release(self) -> None:
        """Give the lock up."""


class Tx:
    """A cursor-like wrapper: ``run`` returns rows as dicts, ``change`` the affected row count."""

    def __init__(self, cursor: Any, rewrite) -> None:
        self._cur = cursor
        self._rewrite = rewrite

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Execute and fetch all rows (empty for statements without a result)."""
        self._cur.execute(self._rewrite(sql), tuple(params))
        if self._cur.description is None:
            return []
        names = [d[0] for d in self._cur.description]
        return [dict(zip(names, row, strict=True)) for row in self._cur.fetchall()]

    def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute and return the number of rows changed."""
        self._cur.execute(self._rewrite(sql), tuple(params))
        return self._cur.rowcount

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute one statement for each parameter row (the driver batches them: bulk imports)."""
        self._cur.executemany(self._rewrite(sql), rows)


class Store(ABC):
    """Persistent state of the verifier. Implementations: SQLite (WAL) and PostgreSQL."""

    pk_sql = "INTEGER PRIMARY KEY"
    url = ""
    # True when no call waits on a network (an embedded database): the HTTP edge then calls the hot paths
    # on its event loop instead of handing each to a thread (verifier/http/fast_path.py).
    calls_are_brief = False

    # ---- dialect hooks ------------------------------------------------------------------------------
    @abstractmethod
    def tx(self, write: bool = True) -> AbstractContextManager[Tx]:
        """A transaction (committed on success, rolled back on error); ``write=False`` for read-only ones."""

    @abstractmethod
    def _lock_for_migration(self, tx: Tx) -> None:
        """Serialize concurrent migrators (several processes starting at once)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def read_row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of one read statement as a tuple, or None: the cheapest read there is, for the
        gate's forward-auth check (verifier/store/sessions.py), which runs on every proxied request."""
        with self.tx(write=False) as tx:
            rows = tx.run(sql, params)
        return tuple(rows[0].values()) if rows else None

    def _is_unique_violation(self, exc: Exception) -> bool:
        return "unique" in str(exc).lower() or "duplicate" in str(exc).lower()

    # ---- migrations -----------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version now in place."""
        with self.tx() as tx:
            self._lock_for_migration(tx)
            tx.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = tx.run("SELECT MAX(version) AS v FROM schema_version")
            current = rows[0]["v"] or 0
            if current > LATEST:
                raise VerifierConfigError(f"the database schema (version {current}) is newer than this "
                                          f"verifier (version {LATEST}); upgrade tracker2fa")
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                for sql in statements:
                    tx.run(sql.replace("{pk}", self.pk_sql))
                tx.run("INSERT INTO schema_version (version) VALUES (?)", (version,))
                current = version
        return current

    def schema_version(self) -> int:
        """The applied schema version."""
        with self.tx(write=False) as tx:
            return tx.run("SELECT MAX(version) AS v FROM schema_version")[0]["v"] or 0

    # ---- users ----------------------------------------------------------------------------------------
    def create_user(self, username: str, password_hash: str | None, groups: Sequence[str], now: float,
                    email: str | None = None, effects: Effects = NO_EFFECTS) -> None:
        """Insert a user (and ``effects``); raises UserExists."""
        try:
            with self.tx() as tx:
                tx.run(f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, '[]')",
                       (username, password_hash, json.dumps(sorted(set(groups))), None, now, email))
                self._write_effects(tx, effects)
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise UserExists(f"a user named {username!r} already exists") from None
            raise

    def get_user(self, username: str) -> dict[str, Any] | None:
        """The user's row (``groups`` decoded), or None."""
        with self.tx(write=False) as tx:
            rows = tx.run(f"SELECT {USER_COLUMNS} FROM users WHERE username = ?", (username,))
        if not rows:
            return None
        row = rows[0]
        row["groups"] = json.loads(row.pop("groups_json"))
        return row

    def list_users(self) -> list[str]:
        """All usernames, sorted."""
        with self.tx(write=False) as tx:
            return [r["username"] for r in tx.run("SELECT username FROM users ORDER BY username")]

    def users_in_group(self, group: str) -> list[str]:
        """Usernames whose groups include ``group``."""
        with self.tx(write=False) as tx:
            rows = tx.run("SELECT username, groups_json FROM users ORDER BY username")
        return [r["username"] for r in rows if group in json.loads(r["groups_json"])]

    def set_groups(self, username: str, groups: Sequence[str], effects: Effects = NO_EFFECTS) -> bool:
        """Replace the user's groups (with ``effects``); False (nothing written) when there is no such user."""
        with self.tx() as tx:
            if tx.change("UPDATE users SET groups_json = ? WHERE username = ?",
                         (json.dumps(sorted(set(groups))), username)) != 1:
                return False
            self._write_effects(tx, effects)
            return True

    def set_password_hash(self, username: str, password_hash: str | None) -> bool:
        """Replace the user's password hash."""
        with self.tx() as tx:
            return tx.change("UPDATE users SET password_hash = ? WHERE username = ?",
                             (password_hash, username)) == 1

    def set_email(self, username: str, email: str | None) -> bool:
        """Set (or with None, forget) the user's mail address."""
        with self.tx() as tx:
            return tx.change("UPDATE users SET email = ? WHERE username = ?", (email, username)) == 1

    def set_mail_prefs(self, username: str, language: str | None, off: Sequence[str]) -> bool:
        """The user's mail language (None: the deployment's) and the informational notices they switched off."""
        with self.tx() as tx:
            return tx.change("UPDATE users SET mail_language = ?, mail_off = ? WHERE username = ?",
                             (language, json.dumps(sorted(set(off))), username)) == 1

    def set_excluded_until(self, username: str, until: float | None) -> bool:
        """Exclude the user from the second factor until ``until`` (None: no exclusion)."""
        with self.tx() as tx:
            return tx.change("UPDATE users SET excluded_until = ? WHERE username = ?", (until, username)) == 1

    # ---- TOTP -----------------------------------------------------------------------------------------
    def put_totp_pending(self, username: str, secret_enc: str, now: float, digits: int | None = None,
                         period: int | None = None, algorithm: str | None = None) -> None:
        """Remember an enrolment secret, and the parameters its URI carries, until its first code confirms it."""
        with self.tx() as tx:
            tx.run("DELETE FROM totp_pending WHERE username = ?", (username,))
            tx.run("INSERT INTO totp_pending (username, secret_enc, created, digits, period, algorithm) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (username, secret_enc, now, digits, period, algorithm))

    def get_totp_pending(self, username: str) -> dict[str, Any] | None:
        """The pending enrolment (``secret_enc, created, digits, period, algorithm``), or None."""
        with self.tx(write=False) as tx:
            rows = tx.run("SELECT secret_enc, created, digits, period, algorithm FROM totp_pending "
                          "WHERE username = ?", (username,))
        return rows[0] if rows else None

    def confirm_totp(self, username: str, pending_secret_enc: str, secret_enc: str, digits: int, period: int,
                     algorithm: str, last_step: int, drift: int, now: float,
                     effects: Effects = NO_EFFECTS) -> bool:
        """Atomically turn the pending secret into the user's TOTP factor (replacing an older one), with
        ``effects``.

        False when the pending enrolment changed or vanished meanwhile (a concurrent confirm won): nothing written.
        """
        with self.tx() as tx:
            if tx.change("DELETE FROM totp_pending WHERE username = ? AND secret_enc = ?",
                         (username, pending_secret_enc)) != 1:
                return False
            tx.run("DELETE FROM totp WHERE username = ?", (username,))
            tx.run("INSERT INTO totp (username, secret_enc, digits, period, algorithm, last_step, drift, created)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (username, secret_enc, digits, period, algorithm, last_step, drift, now))
            self._write_effects(tx, effects)
            return True

    def get_totp(self, username: str) -> dict[str, Any] | None:
        """The user's confirmed TOTP factor, or None."""
        with self.tx(write=False) as tx:
            rows = tx.run("SELECT secret_enc, digits, period, algorithm, last_step, drift, window_steps FROM totp "
                          "WHERE username = ?", (username,))
        return rows[0] if rows else None

    def advance_totp_step(self, username: str, new_step: int, drift: int) -> bool:
        """The replay ledger: compare-and-set ``last_step`` forward. True for exactly one caller per step."""
        with self.tx() as tx:
            return tx.change("UPDATE totp SET last_step = ?, drift = ? WHERE username = ? AND last_step < ?",
                             (new_step, drift, username, new_step)) == 1

    def delete_totp(self, username: str, effects: EffectsOf = None) -> bool:
        """Remove the TOTP factor and any pending enrolment; ``effects`` (a callable gets whether a factor was
        removed) in the same transaction."""
        with self.tx() as tx:
            tx.run("DELETE FROM totp_pending WHERE username = ?", (username,))
            removed = tx.change("DELETE FROM totp WHERE username = ?", (username,)) == 1
            self._write_effects(tx, effects, removed)
            return removed

    @staticmethod
    def _clear_failures(tx: Tx, keys: Sequence[str]) -> None:
        """Delete the counters of ``keys`` in one statement (one round trip on PostgreSQL, not one per key)."""
        if keys:
            tx.run(f"DELETE FROM failures WHERE counter_key IN ({', '.join('?' for _ in keys)})", tuple(keys))

    @staticmethod
    def _read_failures(tx: Tx, counter_keys: Sequence[str]) -> dict[str, tuple[int, float | None]]:
        if not counter_keys:
            return {}
        marks = ", ".join("?" for _ in counter_keys)
        rows = tx.run(f"SELECT counter_key, count, locked_until FROM failures WHERE counter_key IN ({marks})",
                      tuple(counter_keys))
        return {r["counter_key"]: (r["count"], r["locked_until"]) for r in rows}

    def totp_context(self, username: str, counter_keys: Sequence[str], network: str | None = None) -> dict[str, Any]:
        """One read for the TOTP hot path: ``{"user": exists, "totp": row or None, "failures": {key: (count,
        locked_until)}, "policy": the stored policy JSON or None, "notices": the mail settings JSON or None,
        "seen_network": what the user's sign-in history says of ``network``}``. The counters and the policy are
        read whether or not the user exists (unknown names have counters too, and get the policy's window).
        """
        with self.tx(write=False) as tx:
            # The user, the factor, the policy and the mail settings in one statement: the one-row driver gives a
            # row even for an unknown user, and a user without a factor gets NULL factor columns.
            row = tx.run(TOTP_CONTEXT_SQL, (POLICY_SETTING, network, NOTICES_SETTING, username))[0]
            failures = self._read_failures(tx, counter_keys)
        return _totp_context(row, failures)

    def accept_totp_step(self, username: str, new_step: int, drift: int, clear_keys: Sequence[str],
                         audit: dict[str, Any], network: NewNetwork | None = None) -> int | None:
        """One write for an accepted code: the ledger compare-and-set, then (only if it won) clearing the
        failure counters ``clear_keys`` (the caller passes those its read found, usually none), the audit row,
        and for a sign-in from a new network its record and mail. Returns the audit id, or None when another
        request won."""
        with self.tx() as tx:
            if tx.change("UPDATE totp SET last_step = ?, drift = ? WHERE username = ? AND last_step < ?",
                         (new_step, drift, username, new_step)) != 1:
                return None
            self._clear_failures(tx, clear_keys)
            self._record_network(tx, username, network, audit["ts"])
            return self._insert_audit(tx, audit)

    # ---- backup codes -----------------------------------------------------------------------------------
    def replace_backup_codes(self, username: str, hashes: Sequence[str],
                             lookup_tags: Sequence[str] | None = None, effects: Effects = NO_EFFECTS) -> None:
        """Drop every old code of the user and store the new hashes (with their lookup tags), with ``effects``."""
        tags = list(lookup_tags) if lookup_tags is not None else [None] * len(hashes)
        if len(tags) != len(hashes):
            raise ValueError("one lookup tag per code hash")
        with self.tx() as tx:
            tx.run("DELETE FROM backup_codes WHERE username = ?", (username,))
            for code_hash, tag in zip(hashes, tags, strict=True):
                tx.run("INSERT INTO backup_codes (username, code_hash, lookup_tag, used) VALUES (?, ?, ?, 0)",
                       (username, code_hash, tag))
            self._write_effects(tx, effects)

    def unused_backup_codes(self, username: str) -> list[dict[str, Any]]:
        """``{"id", "code_hash", "lookup_tag"}`` of the user's unused codes."""
        with self.tx(write=False) as tx:
            return tx.run("SELECT id, code_hash, lookup_tag FROM backup_codes WHERE username = ? AND used = 0 "
                          "ORDER BY id", (username,))

    def backup_code_context(self, username: str, lookup_tag: str, counter_keys: Sequence[str],
                            network: str | None = None) -> dict[str, Any]:
        """One read for a backup-code attempt: ``{"user": exists, "codes_left": n, "match": the unused code
        with this tag or None, "untagged": unused codes stored without a tag (before schema 3), "failures",
        "notices", "seen_network"}`` (the last two as :meth:`totp_context`).
        """
        with self.tx(write=False) as tx:
            users = tx.run(f"SELECT u.username, {SIGN_IN_COLUMNS} FROM users u WHERE u.username = ?",
                           (network, NOTICES_SETTING, username))
            rows = tx.run("SELECT id, code_hash, lookup_tag FROM backup_codes WHERE username = ? AND used = 0 "
                          "ORDER BY id", (username,)) if users else []
            failures = self._read_failures(tx, counter_keys)
        match = next((r for r in rows if r["lookup_tag"] == lookup_tag), None)
        user = users[0] if users else {}  # an unknown user signs in nowhere and is mailed nothing
        return {"user": bool(users), "codes_left": len(rows), "match": match,
                "untagged": [r for r in rows if r["lookup_tag"] is None], "failures": failures,
                "notices": user.get("notices"), "seen_network": user.get("seen_network")}

    def use_backup_code(self, code_id: int) -> bool:
        """Mark one code used; True only for the first caller."""
        with self.tx() as tx:
            return tx.change("UPDATE backup_codes SET used = 1 WHERE id = ? AND used = 0", (code_id,)) == 1

    def accept_backup_code(self, code_id: int, clear_keys: Sequence[str], audit: dict[str, Any],
                           mails: Sequence[dict[str, Any]] = (), network: NewNetwork | None = None) -> int | None:
        """One write for a right backup code: mark it used (only the first caller does), then clear the counters
        ``clear_keys``, write the audit row, the mails (codes running low) and, for a sign-in from a new network,
        its record and mail. Returns the audit id, or None when another request used the code first."""
        with self.tx() as tx:
            if tx.change("UPDATE backup_codes SET used = 1 WHERE id = ? AND used = 0", (code_id,)) != 1:
                return None
            self._clear_failures(tx, clear_keys)
            self._record_network(tx, audit["username"], network, audit["ts"])
            self._insert_mails(tx, mails)
            return self._insert_audit(tx, audit)

    def delete_backup_codes(self, username: str) -> None:
        """Remove all of the user's codes."""
        with self.tx() as tx:
            tx.run("DELETE FROM backup_codes WHERE username = ?", (username,))

    # ---- WebAuthn credentials ---------------------------------------------------------------------------
    def add_credential(self, username: str, credential_id: str, name: str, credential_data: str,
                       sign_count: int, appid: str | None, now: float, effects: Effects = NO_EFFECTS) -> None:
        """Store a registered credential, with ``effects``."""
        with self.tx() as tx:
            tx.run(f"INSERT INTO credentials ({CRED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (credential_id, username, name, credential_data, sign_count, appid, now, None))
            self._write_effects(tx, effects)

    def credentials_context(self, username: str, counter_keys: Sequence[str] = (),
                            state_id: str | None = None, network: str | None = None) -> dict[str, Any]:
        """One read for a WebAuthn ceremony: ``{"user": exists, "credentials": rows oldest first, "failures":
        {key: (count, locked_until)}, "challenge": the row of ``state_id`` or None, "notices", "seen_network"}``
        (counters read whether or not the user exists; the last two as :meth:`totp_context`). The challenge is
        only read here; :meth:`accept_assertion` takes it."""
        with self.tx(write=False) as tx:
            # The user and its keys in one statement: a user without keys gives one row of NULL key columns.
            rows = tx.run(f"SELECT {_JOINED_CRED_COLUMNS}, {SIGN_IN_COLUMNS} FROM users u LEFT JOIN credentials c "
                          "ON c.username = u.username WHERE u.username = ? ORDER BY c.created, c.credential_id",
                          (network, NOTICES_SETTING, username))
            failures = self._read_failures(tx, counter_keys)
            challenge = tx.run("SELECT username, kind, state_json, expires FROM challenges WHERE state_id = ?",
                               (state_id,)) if state_id is not None and rows else []
        first = rows[0] if rows else {}
        return {"user": bool(rows), "credentials": [r for r in rows if r["credential_id"] is not None],
                "failures": failures, "challenge": challenge[0] if challenge else None,
                "notices": first.get("notices"), "seen_network": first.get("seen_network")}

    def list_credentials(self, username: str) -> list[dict[str, Any]]:
        """The user's credentials, oldest first."""
        with self.tx(write=False) as tx:
            return tx.run(f"SELECT {CRED_COLUMNS} FROM credentials WHERE username = ? ORDER BY created, "
                          "credential_id", (username,))

    def advance_sign_count(self, credential_id: str, old: int, new: int, now: float) -> bool:
        """Compare-and-set the counter from ``old`` to ``new``; False when another request moved it."""
        with self.tx() as tx:
            return tx.change("UPDATE credentials SET sign_count = ?, last_used = ? "
                             "WHERE credential_id = ? AND sign_count = ?", (new, now, credential_id, old)) == 1

    def rename_credential(self, username: str, credential_id: str, name: str) -> bool:
        """Rename one of the user's credentials."""
        with self.tx() as tx:
            return tx.change("UPDATE credentials SET name = ? WHERE username = ? AND credential_id = ?",
                             (name, username, credential_id)) == 1

    def delete_credential(self, username: str, credential_id: str, effects: Effects = NO_EFFECTS) -> bool:
        """Remove one of the user's credentials, with ``effects``; False (nothing written) when the user has no
        such credential."""
        with self.tx() as tx:
            if tx.change("DELETE FROM credentials WHERE username = ? AND credential_id = ?",
                         (username, credential_id)) != 1:
                return False
            self._write_effects(tx, effects)
            return True

    def delete_credentials(self, username: str) -> int:
        """Remove all of the user's credentials."""
        with self.tx() as tx:
            return tx.change("DELETE FROM credentials WHERE username = ?", (username,))

    # ---- challenges -------------------------------------------------------------------------------------
    def put_challenge(self, state_id: str, username: str, kind: str, state_json: str, expires: float,
                      now: float, *, sweep: bool = True) -> None:
        """Store a ceremony state (and with ``sweep``, delete the expired ones in the same transaction)."""
        with self.tx() as tx:
            if sweep:
                tx.run("DELETE FROM challenges WHERE expires < ?", (now,))
            tx.run("INSERT INTO challenges (state_id, username, kind, state_json, expires) VALUES (?, ?, ?, ?, ?)",
                   (state_id, username, kind, state_json, expires))

    def take_challenge(self, state_id: str) -> dict[str, Any] | None:
        """Remove and return a ceremony state: whoever takes it first gets it, later callers get None."""
        with self.tx() as tx:
            rows = tx.run("DELETE FROM challenges WHERE state_id = ? RETURNING username, kind, state_json, expires",
                          (state_id,))
        return rows[0] if rows else None

    # ---- failure counters -------------------------------------------------------------------------------
    def get_failures(self, key: str) -> tuple[int, float | None]:
        """(consecutive failures, locked until) for a counter key."""
        with self.tx(write=False) as tx:
            rows = tx.run("SELECT count, locked_until FROM failures WHERE counter_key = ?", (key,))
        return (rows[0]["count"], rows[0]["locked_until"]) if rows else (0, None)

    def add_failure(self, key: str) -> int:
        """Count one more failure atomically; returns the new count."""
        with self.tx() as tx:
            rows = tx.run("INSERT INTO failures (counter_key, count) VALUES (?, 1) ON CONFLICT (counter_key) "
                          "DO UPDATE SET count = failures.count + 1 RETURNING count", (key,))
        return rows[0]["count"]

    def failures_for(self, keys: Sequence[str]) -> dict[str, tuple[int, float | None]]:
        """``{key: (count, locked_until)}`` for the keys that have a counter (one read)."""
        with self.tx(write=False) as tx:
            return self._read_failures(tx, keys)

    def add_failures(self, keys: Sequence[str]) -> dict[str, int]:
        """Count one more failure on each key in one transaction; returns the new counts."""
        counts = {}
        with self.tx() as tx:
            for key in keys:
                counts[key] = tx.run("INSERT INTO failures (counter_key, count) VALUES (?, 1) ON CONFLICT "
                                     "(counter_key) DO UPDATE SET count = failures.count + 1 RETURNING count",
                                     (key,))[0]["count"]
        return counts

    def record_success(self, clear_keys: Sequence[str], audit: dict[str, Any]) -> int:
        """Clear failure counters and append the audit row in one transaction; returns the audit id."""
        with self.tx() as tx:
            self._clear_failures(tx, clear_keys)
            return self._insert_audit(tx, audit)

    def accept_assertion(self, state_id: str, credential_id: str, old: int, new: int, now: float,
                         clear_keys: Sequence[str], audit: dict[str, Any],
                         network: NewNetwork | None = None) -> int | Literal["taken", "replay"]:
        """One write for a verified assertion: take its challenge (``"taken"`` when another request took it
        first: nothing else changes), then compare-and-set the sign counter (``"replay"`` when another
        request moved it: the challenge stays taken), then clear ``clear_keys``, write the audit row and, for a
        sign-in from a new network, its record and mail. Returns the audit id when the assertion counts."""
        with self.tx() as tx:
            if tx.change("DELETE FROM challenges WHERE state_id = ?", (state_id,)) != 1:
                return "taken"
            if tx.change("UPDATE credentials SET sign_count = ?, last_used = ? WHERE credential_id = ? "
                         "AND sign_count = ?", (new, now, credential_id, old)) != 1:
                return "replay"
            self._clear_failures(tx, clear_keys)
            self._record_network(tx, audit["username"], network, now)
            return self._insert_audit(tx, audit)

    def apply_locks(self, locks: dict[str, float], effects: Effects = NO_EFFECTS) -> None:
        """Set the locks counters earned (``{key: until}``) with their ``effects`` (the throttled and lockout
        audit rows, a mail to the locked user) in one transaction."""
        with self.tx() as tx:
            for key, until in locks.items():
                tx.run("UPDATE failures SET locked_until = ? WHERE counter_key = ?", (until, key))
            self._write_effects(tx, effects)

    def set_locked_until(self, key: str, until: float | None) -> None:
        """Set (or lift, with None) the lock of a counter."""
        with self.tx() as tx:
            tx.run("UPDATE failures SET locked_until = ? WHERE counter_key = ?", (until, key))

    def clear_failures(self, key: str) -> None:
        """Forget a counter (success, or an admin reset)."""
        with self.tx() as tx:
            tx.run("DELETE FROM failures WHERE counter_key = ?", (key,))

    # ---- remembered devices -----------------------------------------------------------------------------
    def add_device(self, token_hash: str, username: str, expires: float, now: float,
                   effects: Effects = NO_EFFECTS) -> None:
        """Remember a device token (only its hash is stored), with ``effects``."""
        with self.tx() as tx:
            tx.run("INSERT INTO devices (token_hash, username, expires, created) VALUES (?, ?, ?, ?)",
                   (token_hash, username, expires, now))
            self._write_effects(tx, effects)

    def rotate_device(self, old_hash: str, username: str, new_hash: str, now: float) -> bool:
        """Replace a valid, unexpired token of ``username`` by a new one with the same expiry."""
        with self.tx() as tx:
            rows = tx.run("DELETE FROM devices WHERE token_hash = ? AND username = ? RETURNING expires",
                          (old_hash, username))
            if not rows or rows[0]["expires"] <= now:
                return False
            tx.run("INSERT INTO devices (token_hash, username, expires, created) VALUES (?, ?, ?, ?)",
                   (new_hash, username, rows[0]["expires"], now))
            return True

    def delete_devices(self, username: str, effects: EffectsOf = None) -> int:
        """Revoke every remembered device of the user, with ``effects`` (a callable gets the count); returns how
        many."""
        with self.tx() as tx:
            count = tx.change("DELETE FROM devices WHERE username = ?", (username,))
            self._write_effects(tx, effects, count)
            return count

    def reset_user(self, username: str, clear_keys: Sequence[str], effects: Effects = NO_EFFECTS) -> None:
        """Remove every factor, pending enrolment, backup code and remembered device of the user and clear the
        counters ``clear_keys``, with ``effects``, all in one transaction."""
        with self.tx() as tx:
            for table in ("totp_pending", "totp", "backup_codes", "credentials", "devices"):
                tx.run(f"DELETE FROM {table} WHERE username = ?", (username,))
            self._clear_failures(tx, clear_keys)
            self._write_effects(tx, effects)

    def count_devices(self, username: str, now: float) -> int:
        """How many unexpired devices the user has."""
        with self.tx(write=False) as tx:
            return tx.run("SELECT COUNT(*) AS n FROM devices WHERE username = ? AND expires > ?",
                          (username, now))[0]["n"]

    # ---- settings ---------------------------------------------------------------------------------------
    def get_setting(self, name: str) -> str | None:
        """A stored setting (e.g. the policy as JSON)."""
        with self.tx(write=False) as tx:
            rows = tx.run("SELECT value FROM settings WHERE name = ?", (name,))
        return rows[0]["value"] if rows else None

    def set_setting(self, name: str, value: str) -> None:
        """Insert or replace a setting."""
        with self.tx() as tx:
            tx.run("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = ?",
                   (name, value, value))

    def replace_setting(self, name: str, expected: str | None, value: str, audit: dict[str, Any] | None,
                        mails: Sequence[dict[str, Any]] = ()) -> int | None:
        """Compare-and-set a setting from ``expected`` (None: not stored yet) to ``value``, with its audit row
        and ``mails`` (a policy's enforcement notices, batched) in the same transaction. Returns the audit id
        (0 without an audit row), or None when the stored value was not ``expected`` (another admin changed it
        meanwhile): nothing is written then."""
        with self.tx() as tx:
            if expected is None:
                changed = tx.change("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                                    (name, value))
            else:
                changed = tx.change("UPDATE settings SET value = ? WHERE name = ? AND value = ?",
                                    (value, name, expected))
            if changed != 1:
                return None
            self._insert_mails(tx, mails)
            return self._insert_audit(tx, audit) if audit is not None else 0

    # ---- bulk import --------------------------------------------------------------------------------------
    def import_totp_users(self, users: Sequence[tuple[str, str, str | None]], factors: Sequence[tuple[Any, ...]],
                          audit: Sequence[dict[str, Any]], now: float) -> None:
        """Create users (name, groups_json, mail address or None) with confirmed TOTP factors (name, sealed secret,
        digits, period, algorithm, drift, window or None) and their audit rows, all in one transaction: every row
        or none.

        Raises UserExists when a name is taken (by a user created meanwhile): nothing is written then.
        """
        cols = [c.strip() for c in AUDIT_COLUMNS.split(",")][1:]
        try:
            with self.tx() as tx:
                tx.run_many(f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, NULL, ?, NULL, ?, ?, NULL, '[]')",
                            [(name, groups, now, email) for name, groups, email in users])
                tx.run_many("INSERT INTO totp (username, secret_enc, digits, period, algorithm, last_step, drift, "
                            "window_steps, created) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)", [(*f, now) for f in factors])
                tx.run_many(f"INSERT INTO audit ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                            [[event.get(c) for c in cols] for event in audit])
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise UserExists(f"a user being imported was created meanwhile, nothing was imported ({exc})") \
                    from None
            raise

    # ---- audit ------------------------------------------------------------------------------------------
    def add_audit(self, event: dict[str, Any]) -> int:
        """Append an audit record; returns its id."""
        with self.tx() as tx:
            return self._insert_audit(tx, event)

    @staticmethod
    def _insert_audit(tx: Tx, event: dict[str, Any]) -> int:
        return tx.run(_INSERT_AUDIT, [event.get(c) for c in AUDIT_FIELDS])[0]["id"]

    @staticmethod
    def _insert_mails(tx: Tx, mails: Sequence[dict[str, Any]]) -> None:
        if len(mails) == 1:
            tx.run(INSERT_MAIL, (*(mails[0][c] for c in OUTBOX_FIELDS), mails[0]["username"]))
        elif mails:
            tx.run_many(INSERT_MAIL, [(*(m[c] for c in OUTBOX_FIELDS), m["username"]) for m in mails])

    def _write_effects(self, tx: Tx, effects: EffectsOf, outcome: Any = None) -> None:
        """Write an event's audit rows (each gets its ``id``) and mails inside its transaction."""
        if callable(effects):
            effects = effects(outcome)
        if effects is None:
            return
        self._insert_mails(tx, effects.mails)
        for event in effects.audit:
            event["id"] = self._insert_audit(tx, event)

    @staticmethod
    def _record_network(tx: Tx, username: str, network: NewNetwork | None, now: float) -> None:
        """Record a sign-in's new network; its mail only if this transaction is the one that recorded it."""
        if network is None:
            return
        if tx.change("INSERT INTO sign_in_networks (username, network, first_seen) VALUES (?, ?, ?) "
                     "ON CONFLICT (username, network) DO NOTHING", (username, network.network, now)) == 1 \
                and network.mail is not None:
            Store._insert_mails(tx, [network.mail])

    def query_audit(self, *, username: str | None = None, event: str | None = None, since: float | None = None,
                    until: float | None = None, after_id: int | None = None, limit: int = 100) -> list[dict]:
        """Audit records matching every given filter, oldest first (the newest ``limit`` of them)."""
        where, params = [], []
        for column, op, value in (("username", "=", username), ("event", "=", event), ("ts", ">=", since),
                                  ("ts", "<", until), ("id", ">", after_id)):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.tx(write=False) as tx:
            rows = tx.run(f"SELECT {AUDIT_COLUMNS} FROM audit {clause} ORDER BY id DESC LIMIT ?",
                          [*params, int(limit)])
        return list(reversed(rows))

    # ---- mail to users ------------------------------------------------------------------------------
    def users_for_notices(self) -> list[dict[str, Any]]:
        """Every user with what the policy asks of them and whether they have a factor: ``{"username",
        "groups", "excluded_until", "enrolled"}`` (for enforcement notices and enrolment reminders)."""
        with self.tx(write=False) as tx:
            rows = tx.run("SELECT u.username, u.groups_json, u.excluded_until, "
                          "(EXISTS (SELECT 1 FROM totp t WHERE t.username = u.username) OR EXISTS (SELECT 1 FROM "
                          "credentials c WHERE c.username = u.username)) AS enrolled FROM users u ORDER BY u.username")
        return [{"username": r["username"], "groups": json.loads(r["groups_json"]),
                 "excluded_until": r["excluded_until"], "enrolled": bool(r["enrolled"])} for r in rows]

    def mail_users(self, usernames: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{username: {"email", "mail_language", "mail_off"}}`` for those of ``usernames`` that exist."""
        if not usernames:
            return {}
        marks = ", ".join("?" for _ in usernames)
        with self.tx(write=False) as tx:
            rows = tx.run(f"SELECT username, email, mail_language, mail_off FROM users WHERE username IN ({marks})",
                          tuple(usernames))
        return {r.pop("username"): r for r in rows}

    skip_locked = ""  # PostgreSQL: " FOR UPDATE SKIP LOCKED"; SQLite's writer lock already excludes other claims

    def mail_due(self, now: float) -> bool:
        """Whether any mail is due for delivery (a read, before a sender takes the writer lock to claim)."""
        with self.tx(write=False) as tx:
            return bool(tx.run("SELECT id FROM outbox WHERE status = 'pending' AND next_attempt <= ? AND "
                               "(lease_until IS NULL OR lease_until < ?) LIMIT 1", (now, now)))

    def claim_mail(self, owner: str, now: float, lease_until: float, limit: int) -> list[dict[str, Any]]:
        """Lease up to ``limit`` due mails, oldest first, to ``owner`` until ``lease_until``: no other sender
        claims them meanwhile (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: the writer lock). A lease that
        ends (its sender died) makes them due again. Returns ``{"id", "created", "kind", "username", "params",
        "attempts"}`` rows."""
        with self.tx() as tx:
            # The pick is a MATERIALIZED CTE, run once: as an IN subquery PostgreSQL may rescan it for each row
            # (a nested loop), and a rescan skips the rows this UPDATE has just changed, so it found the next
            # ones: LIMIT 1 claimed two. The outer conditions repeat the inner ones: a row another claim changed
            # meanwhile is re-checked against them (PostgreSQL re-evaluates only the outer WHERE of a row it
            # waited for).
            rows = tx.run("WITH picked AS MATERIALIZED (SELECT id FROM outbox WHERE status = 'pending' AND "
                          "next_attempt <= ? AND (lease_until IS NULL OR lease_until < ?) "
                          f"ORDER BY id LIMIT ?{self.skip_locked}) "
                          "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id IN (SELECT id FROM picked) "
                          "AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?) "
                          "RETURNING id, created, kind, username, params, attempts",
                          (now, now, int(limit), owner, lease_until, now))
        return sorted(rows, key=lambda r: r["id"])

    def mail_sent(self, mail_id: int, owner: str, now: float, recipient: str) -> bool:
        """Record that the relay accepted a mail (the sender calls it before the next one). False when the
        lease was no longer ``owner``'s (it ran out: another sender may send it again)."""
        with self.tx() as tx:
            return tx.change("UPDATE outbox SET status = 'sent', sent = ?, recipient = ?, attempts = attempts + 1, "
                             "lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = ? AND "
                             "lease_owner = ?", (now, recipient, mail_id, owner)) == 1

    def mail_retry(self, mail_ids: Sequence[int], owner: str, next_attempt: float, error: str) -> int:
        """A try that failed for a reason that may pass (the relay down, a 4xx answer): count it, keep the mail
        pending until ``next_attempt`` and release the lease. Returns how many were still ``owner``'s."""
        if not mail_ids:
            return 0
        marks = ", ".join("?" for _ in mail_ids)
        with self.tx() as tx:
            return tx.change("UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ?, "
                             f"lease_owner = NULL, lease_until = NULL WHERE id IN ({marks}) AND lease_owner = ?",
                             (next_attempt, error[:500], *mail_ids, owner))

    def release_mail(self, mail_ids: Sequence[int], owner: str) -> int:
        """Give claimed mails back untried (their sender ran out of its lease's time): due again at once."""
        if not mail_ids:
            return 0
        marks = ", ".join("?" for _ in mail_ids)
        with self.tx() as tx:
            return tx.change(f"UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE id IN ({marks}) AND "
                             "lease_owner = ?", (*mail_ids, owner))

    def mail_closed(self, mail_id: int, owner: str, status: str, reason: str, recipient: str | None = None) -> bool:
        """End a mail without sending it: ``failed`` (the relay refused it for good, or it was too old to send)
        or ``dropped`` (switched off, or its user has no address). False when the lease was not ``owner``'s."""
        if status not in ("failed", "dropped"):
            raise ValueError(f"a mail is closed as failed or dropped, not {status!r}")
        with self.tx() as tx:
            return tx.change("UPDATE outbox SET status = ?, last_error = ?, recipient = ?, lease_owner = NULL, "
                             "lease_until = NULL WHERE id = ? AND lease_owner = ?",
                             (status, reason[:500], recipient, mail_id, owner)) == 1

    def list_outbox(self, *, status: str | None = None, username: str | None = None,
                    limit: int = 100) -> list[dict[str, Any]]:
        """Outbox rows, newest first (``OUTBOX_COLUMNS``)."""
        where, params = [], []
        for column, value in (("status", status), ("username", username)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.tx(write=False) as tx:
            return tx.run(f"SELECT {OUTBOX_COLUMNS} FROM outbox {clause} ORDER BY id DESC LIMIT ?",
                          [*params, int(limit)])

    def get_mail(self, mail_id: int) -> dict[str, Any] | None:
        """One outbox row, or None."""
        with self.tx(write=False) as tx:
            rows = tx.run(f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (int(mail_id),))
        return rows[0] if rows else None

    def outbox_counts(self) -> dict[str, int]:
        """How many mails are in each status."""
        with self.tx(write=False) as tx:
            rows = tx.run("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        return {status: 0 for status in OUTBOX_STATUSES} | {r["status"]: r["n"] for r in rows}

    def prune_outbox(self, before: float) -> int:
        """Delete mails that are done (sent, failed, dropped) and were created before ``before``."""
        with self.tx() as tx:
            return tx.change("DELETE FROM outbox WHERE status <> 'pending' AND created < ?", (before,))

    @abstractmethod
    def try_mailer_lock(self) -> MailerLock | None:
        """The deployment's one mail sender lock, if free (None when another process holds it). Released when
        its holder dies (SQLite: ``flock`` of ``<db>-mailer``; PostgreSQL: a session advisory lock)."""

    def iter_tables(self) -> Iterator[str]:
        """Names of the verifier's tables (for tests and docs)."""
        yield from ("users", "totp", "totp_pending", "backup_codes", "credentials", "challenges", "failures",
                    "devices", "settings", "audit", "gate_sessions", "outbox", "sign_in_networks", "schema_version")


def _totp_context(row: dict[str, Any], failures: dict[str, tuple[int, float | None]]) -> dict[str, Any]:
    """The TOTP read's row split into its parts (both dialects)."""
    user_exists = bool(row.pop("user_exists"))
    policy = row.pop("policy")
    notices = row.pop("notices")
    seen = row.pop("seen_network")
    factor = row if row.pop("factor_of") is not None else None
    return {"user": user_exists, "totp": factor, "failures": failures, "policy": policy, "notices": notices,
            "seen_network": seen}
