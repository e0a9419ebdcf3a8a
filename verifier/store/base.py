"""The one ``Store`` interface, written once in portable SQL over a small dialect layer.

Each public method is one transaction. Statements use ``?`` placeholders; the PostgreSQL dialect
rewrites them to ``%s``. Nothing here knows a rule: the service decides, the store remembers.

Longer than our ~400-line guide on purpose: one method per transaction, and the SQL for both databases
stays in one place (the dialects in sqlite.py and postgres.py only adapt it).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal

from ..errors import UserExists, VerifierConfigError
from .migrations import LATEST, MIGRATIONS

USER_COLUMNS = "username, password_hash, groups_json, excluded_until, created"
CRED_COLUMNS = "credential_id, username, name, credential_data, sign_count, appid, created, last_used"
_JOINED_CRED_COLUMNS = ", ".join(f"c.{c.strip()}" for c in CRED_COLUMNS.split(","))
AUDIT_COLUMNS = "id, ts, event, username, method, credential, ip, user_agent, result, actor, detail"
AUDIT_FIELDS = tuple(c.strip() for c in AUDIT_COLUMNS.split(",")[1:])  # every column but the id
POLICY_SETTING = "policy"  # the settings row that holds the policy as JSON (read with every TOTP check)
TOTP_CONTEXT_SQL = (
    "SELECT u.username IS NOT NULL AS user_exists, t.username AS factor_of, t.secret_enc, t.digits, t.period, "
    "t.algorithm, t.last_step, t.drift, t.window_steps, (SELECT s.value FROM settings s WHERE s.name = ?) AS policy "
    "FROM (SELECT 1) AS one LEFT JOIN users u ON u.username = ? LEFT JOIN totp t ON t.username = u.username")
_INSERT_AUDIT = (f"INSERT INTO audit ({', '.join(AUDIT_FIELDS)}) VALUES ({', '.join('?' for _ in AUDIT_FIELDS)}) "
                 "RETURNING id")


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
    def create_user(self, username: str, password_hash: str | None, groups: Sequence[str], now: float) -> None:
        """Insert a user; raises UserExists."""
        try:
            with self.tx() as tx:
                tx.run(f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                       (username, password_hash, json.dumps(sorted(set(groups))), None, now))
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

    def set_groups(self, username: str, groups: Sequence[str]) -> bool:
        """Replace the user's groups; False when there is no such user."""
        with self.tx() as tx:
            return tx.change("UPDATE users SET groups_json = ? WHERE username = ?",
                             (json.dumps(sorted(set(groups))), username)) == 1

    def set_password_hash(self, username: str, password_hash: str | None) -> bool:
        """Replace the user's password hash."""
        with self.tx() as tx:
            return tx.change("UPDATE users SET password_hash = ? WHERE username = ?",
                             (password_hash, username)) == 1

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
                     algorithm: str, last_step: int, drift: int, now: float) -> bool:
        """Atomically turn the pending secret into the user's TOTP factor (replacing an older one).

        False when the pending enrolment changed or vanished meanwhile (a concurrent confirm won).
        """
        with self.tx() as tx:
            if tx.change("DELETE FROM totp_pending WHERE username = ? AND secret_enc = ?",
                         (username, pending_secret_enc)) != 1:
                return False
            tx.run("DELETE FROM totp WHERE username = ?", (username,))
            tx.run("INSERT INTO totp (username, secret_enc, digits, period, algorithm, last_step, drift, created)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (username, secret_enc, digits, period, algorithm, last_step, drift, now))
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

    def delete_totp(self, username: str) -> bool:
        """Remove the TOTP factor and any pending enrolment."""
        with self.tx() as tx:
            tx.run("DELETE FROM totp_pending WHERE username = ?", (username,))
            return tx.change("DELETE FROM totp WHERE username = ?", (username,)) == 1

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

    def totp_context(self, username: str, counter_keys: Sequence[str]) -> dict[str, Any]:
        """One read for the TOTP hot path: ``{"user": exists, "totp": row or None, "failures": {key: (count,
        locked_until)}, "policy": the stored policy JSON or None}``. The counters and the policy are read
        whether or not the user exists (unknown names have counters too, and get the policy's window).
        """
        with self.tx(write=False) as tx:
            # The user, the factor and the policy in one statement: the one-row driver gives a row even for an
            # unknown user, and a user without a factor gets NULL factor columns.
            row = tx.run(TOTP_CONTEXT_SQL, (POLICY_SETTING, username))[0]
            failures = self._read_failures(tx, counter_keys)
        user_exists = bool(row.pop("user_exists"))
        policy = row.pop("policy")
        factor = row if row.pop("factor_of") is not None else None
        return {"user": user_exists, "totp": factor, "failures": failures, "policy": policy}

    def accept_totp_step(self, username: str, new_step: int, drift: int, clear_keys: Sequence[str],
                         audit: dict[str, Any]) -> int | None:
        """One write for an accepted code: the ledger compare-and-set, then (only if it won) clearing the
        failure counters ``clear_keys`` (the caller passes those its read found, usually none) and the audit
        row. Returns the audit id, or None when another request won."""
        with self.tx() as tx:
            if tx.change("UPDATE totp SET last_step = ?, drift = ? WHERE username = ? AND last_step < ?",
                         (new_step, drift, username, new_step)) != 1:
                return None
            self._clear_failures(tx, clear_keys)
            return self._insert_audit(tx, audit)

    # ---- backup codes -----------------------------------------------------------------------------------
    def replace_backup_codes(self, username: str, hashes: Sequence[str],
                             lookup_tags: Sequence[str] | None = None) -> None:
        """Drop every old code of the user and store the new hashes (with their lookup tags)."""
        tags = list(lookup_tags) if lookup_tags is not None else [None] * len(hashes)
        if len(tags) != len(hashes):
            raise ValueError("one lookup tag per code hash")
        with self.tx() as tx:
            tx.run("DELETE FROM backup_codes WHERE username = ?", (username,))
            for code_hash, tag in zip(hashes, tags, strict=True):
                tx.run("INSERT INTO backup_codes (username, code_hash, lookup_tag, used) VALUES (?, ?, ?, 0)",
                       (username, code_hash, tag))

    def unused_backup_codes(self, username: str) -> list[dict[str, Any]]:
        """``{"id", "code_hash", "lookup_tag"}`` of the user's unused codes."""
        with self.tx(write=False) as tx:
            return tx.run("SELECT id, code_hash, lookup_tag FROM backup_codes WHERE username = ? AND used = 0 "
                          "ORDER BY id", (username,))

    def backup_code_context(self, username: str, lookup_tag: str, counter_keys: Sequence[str]) -> dict[str, Any]:
        """One read for a backup-code attempt: ``{"user": exists, "codes_left": n, "match": the unused code
        with this tag or None, "untagged": unused codes stored without a tag (before schema 3), "failures"}``.
        """
        with self.tx(write=False) as tx:
            users = tx.run("SELECT username FROM users WHERE username = ?", (username,))
            rows = tx.run("SELECT id, code_hash, lookup_tag FROM backup_codes WHERE username = ? AND used = 0 "
                          "ORDER BY id", (username,)) if users else []
            failures = self._read_failures(tx, counter_keys)
        match = next((r for r in rows if r["lookup_tag"] == lookup_tag), None)
        return {"user": bool(users), "codes_left": len(rows), "match": match,
                "untagged": [r for r in rows if r["lookup_tag"] is None], "failures": failures}

    def use_backup_code(self, code_id: int) -> bool:
        """Mark one code used; True only for the first caller."""
        with self.tx() as tx:
            return tx.change("UPDATE backup_codes SET used = 1 WHERE id = ? AND used = 0", (code_id,)) == 1

    def delete_backup_codes(self, username: str) -> None:
        """Remove all of the user's codes."""
        with self.tx() as tx:
            tx.run("DELETE FROM backup_codes WHERE username = ?", (username,))

    # ---- WebAuthn credentials ---------------------------------------------------------------------------
    def add_credential(self, username: str, credential_id: str, name: str, credential_data: str,
                       sign_count: int, appid: str | None, now: float) -> None:
        """Store a registered credential."""
        with self.tx() as tx:
            tx.run(f"INSERT INTO credentials ({CRED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (credential_id, username, name, credential_data, sign_count, appid, now, None))

    def credentials_context(self, username: str, counter_keys: Sequence[str] = (),
                            state_id: str | None = None) -> dict[str, Any]:
        """One read for a WebAuthn ceremony: ``{"user": exists, "credentials": rows oldest first, "failures":
        {key: (count, locked_until)}, "challenge": the row of ``state_id`` or None}`` (counters read whether
        or not the user exists). The challenge is only read here; :meth:`accept_assertion` takes it."""
        with self.tx(write=False) as tx:
            # The user and its keys in one statement: a user without keys gives one row of NULL key columns.
            rows = tx.run(f"SELECT {_JOINED_CRED_COLUMNS} FROM users u LEFT JOIN credentials c ON c.username = "
                          "u.username WHERE u.username = ? ORDER BY c.created, c.credential_id", (username,))
            failures = self._read_failures(tx, counter_keys)
            challenge = tx.run("SELECT username, kind, state_json, expires FROM challenges WHERE state_id = ?",
                               (state_id,)) if state_id is not None and rows else []
        return {"user": bool(rows), "credentials": [r for r in rows if r["credential_id"] is not None],
                "failures": failures, "challenge": challenge[0] if challenge else None}

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

    def delete_credential(self, username: str, credential_id: str) -> bool:
        """Remove one of the user's credentials."""
        with self.tx() as tx:
            return tx.change("DELETE FROM credentials WHERE username = ? AND credential_id = ?",
                             (username, credential_id)) == 1

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
                         clear_keys: Sequence[str], audit: dict[str, Any]) -> int | Literal["taken", "replay"]:
        """One write for a verified assertion: take its challenge (``"taken"`` when another request took it
        first: nothing else changes), then compare-and-set the sign counter (``"replay"`` when another
        request moved it: the challenge stays taken), then clear ``clear_keys`` and write the audit row.
        Returns the audit id when the assertion counts."""
        with self.tx() as tx:
            if tx.change("DELETE FROM challenges WHERE state_id = ?", (state_id,)) != 1:
                return "taken"
            if tx.change("UPDATE credentials SET sign_count = ?, last_used = ? WHERE credential_id = ? "
                         "AND sign_count = ?", (new, now, credential_id, old)) != 1:
                return "replay"
            self._clear_failures(tx, clear_keys)
            return self._insert_audit(tx, audit)

    def set_locked_until(self, key: str, until: float | None) -> None:
        """Set (or lift, with None) the lock of a counter."""
        with self.tx() as tx:
            tx.run("UPDATE failures SET locked_until = ? WHERE counter_key = ?", (until, key))

    def clear_failures(self, key: str) -> None:
        """Forget a counter (success, or an admin reset)."""
        with self.tx() as tx:
            tx.run("DELETE FROM failures WHERE counter_key = ?", (key,))

    # ---- remembered devices -----------------------------------------------------------------------------
    def add_device(self, token_hash: str, username: str, expires: float, now: float) -> None:
        """Remember a device token (only its hash is stored)."""
        with self.tx() as tx:
            tx.run("INSERT INTO devices (token_hash, username, expires, created) VALUES (?, ?, ?, ?)",
                   (token_hash, username, expires, now))

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

    def delete_devices(self, username: str) -> int:
        """Revoke every remembered device of the user."""
        with self.tx() as tx:
            return tx.change("DELETE FROM devices WHERE username = ?", (username,))

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

    def replace_setting(self, name: str, expected: str | None, value: str, audit: dict[str, Any]) -> int | None:
        """Compare-and-set a setting from ``expected`` (None: not stored yet) to ``value``, with its audit row
        in the same transaction. Returns the audit id, or None when the stored value was not ``expected``
        (another admin changed it meanwhile): nothing is written then."""
        with self.tx() as tx:
            if expected is None:
                changed = tx.change("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                                    (name, value))
            else:
                changed = tx.change("UPDATE settings SET value = ? WHERE name = ? AND value = ?",
                                    (value, name, expected))
            if changed != 1:
                return None
            return self._insert_audit(tx, audit)

    # ---- bulk import --------------------------------------------------------------------------------------
    def import_totp_users(self, users: Sequence[tuple[str, str]], factors: Sequence[tuple[Any, ...]],
                          audit: Sequence[dict[str, Any]], now: float) -> None:
        """Create users (name, groups_json) with confirmed TOTP factors (name, sealed secret, digits, period,
        algorithm, drift, window or None) and their audit rows, all in one transaction: every row or none.

        Raises UserExists when a name is taken (by a user created meanwhile): nothing is written then.
        """
        cols = [c.strip() for c in AUDIT_COLUMNS.split(",")][1:]
        try:
            with self.tx() as tx:
                tx.run_many(f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, NULL, ?, NULL, ?)",
                            [(name, groups, now) for name, groups in users])
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

    def iter_tables(self) -> Iterator[str]:
        """Names of the verifier's tables (for tests and docs)."""
        yield from ("users", "totp", "totp_pending", "backup_codes", "credentials", "challenges", "failures",
                    "devices", "settings", "audit", "gate_sessions", "schema_version")
