"""Versioned schema migrations, shared by SQLite and PostgreSQL.

Each entry is (version, statements). ``{pk}`` is the dialect's auto-increment primary key. Never edit a
released migration: append a new version.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE users (
            username TEXT PRIMARY KEY,
            password_hash TEXT,
            groups_json TEXT NOT NULL DEFAULT '[]',
            excluded_until DOUBLE PRECISION,
            created DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE totp (
            username TEXT PRIMARY KEY REFERENCES users(username) ON DELETE CASCADE,
            secret_enc TEXT NOT NULL,
            digits INTEGER NOT NULL,
            period INTEGER NOT NULL,
            algorithm TEXT NOT NULL,
            last_step BIGINT NOT NULL,
            drift INTEGER NOT NULL DEFAULT 0,
            created DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE totp_pending (
            username TEXT PRIMARY KEY REFERENCES users(username) ON DELETE CASCADE,
            secret_enc TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE backup_codes (
            id {pk},
            username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
            code_hash TEXT NOT NULL,
            used INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX backup_codes_user ON backup_codes(username)",
        """CREATE TABLE credentials (
            credential_id TEXT PRIMARY KEY,
            username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
            name TEXT NOT NULL,
            credential_data TEXT NOT NULL,
            sign_count BIGINT NOT NULL DEFAULT 0,
            appid TEXT,
            created DOUBLE PRECISION NOT NULL,
            last_used DOUBLE PRECISION)""",
        "CREATE INDEX credentials_user ON credentials(username)",
        """CREATE TABLE challenges (
            state_id TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            kind TEXT NOT NULL,
            state_json TEXT NOT NULL,
            expires DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE failures (
            counter_key TEXT PRIMARY KEY,
            count INTEGER NOT NULL DEFAULT 0,
            locked_until DOUBLE PRECISION)""",
        """CREATE TABLE devices (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
            expires DOUBLE PRECISION NOT NULL,
            created DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX devices_user ON devices(username)",
        """CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL)""",
        """CREATE TABLE audit (
            id {pk},
            ts DOUBLE PRECISION NOT NULL,
            event TEXT NOT NULL,
            username TEXT,
            method TEXT,
            credential TEXT,
            ip TEXT,
            user_agent TEXT,
            result TEXT,
            actor TEXT,
            detail TEXT)""",
        "CREATE INDEX audit_user_ts ON audit(username, ts)",
        "CREATE INDEX audit_ts ON audit(ts)",
    ]),
    (2, [
        # The sweeps of expired challenges (at most every 10 s per process) and device tokens: index range scans.
        "CREATE INDEX challenges_expires ON challenges(expires)",
        "CREATE INDEX devices_expires ON devices(expires)",
    ]),
    (3, [
        # A keyed lookup tag per backup code, so an attempt checks one scrypt hash instead of every code.
        # Codes stored before this version keep a NULL tag (their plaintext is gone, so no tag can be
        # computed): they still verify, hash by hash, until the user generates a new set.
        "ALTER TABLE backup_codes ADD COLUMN lookup_tag TEXT",
    ]),
    (4, [
        # The TOTP settings an admin chooses (issue 23). An imported factor may narrow the policy's accepted
        # window for itself (NULL: the policy's window). Window is a keyword in SQL, hence the name.
        "ALTER TABLE totp ADD COLUMN window_steps INTEGER",
        # A pending enrolment keeps the parameters its URI was shown with, so a policy change between the
        # QR code and the first code cannot make them disagree. NULL (pending before this version): the
        # verifier's configured defaults, what such an enrolment was shown with.
        "ALTER TABLE totp_pending ADD COLUMN digits INTEGER",
        "ALTER TABLE totp_pending ADD COLUMN period INTEGER",
        "ALTER TABLE totp_pending ADD COLUMN algorithm TEXT",
    ]),
    (5, [
        # Sessions of the forward-auth gate (verifier/gate/), shared by every gate node on the database.
        # Only a hash of the cookie's token is stored; ``sid`` is the public id admins see and revoke by.
        # ``expires`` is when the row is certainly dead (the sooner of the absolute and the idle end, as of
        # the last touch): what the sweep deletes by. ``pending`` holds the portal's WebAuthn state id.
        """CREATE TABLE gate_sessions (
            token_hash TEXT PRIMARY KEY,
            sid TEXT NOT NULL UNIQUE,
            username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
            domain TEXT NOT NULL,
            level INTEGER NOT NULL,
            method TEXT NOT NULL,
            display_name TEXT,
            email TEXT,
            ip TEXT,
            user_agent TEXT,
            created DOUBLE PRECISION NOT NULL,
            last_seen DOUBLE PRECISION NOT NULL,
            expires DOUBLE PRECISION NOT NULL,
            pending TEXT)""",
        "CREATE INDEX gate_sessions_user ON gate_sessions(username)",
        "CREATE INDEX gate_sessions_expires ON gate_sessions(expires)",
    ]),
    (6, [
        # Mail to users (issue 22). A user's address (NULL: none known), the language of their mails (NULL:
        # the deployment's) and the informational notices they switched off (a JSON list of kinds).
        "ALTER TABLE users ADD COLUMN email TEXT",
        "ALTER TABLE users ADD COLUMN mail_language TEXT",
        "ALTER TABLE users ADD COLUMN mail_off TEXT NOT NULL DEFAULT '[]'",
        # The durable outbox: a row is written in the transaction of the event that causes it and holds what the
        # mail tells (params, JSON; never a secret), not the mail itself: the sender resolves the recipient and
        # renders it when it delivers. A sender claims due rows with a lease (lease_owner, lease_until); a
        # crashed sender's rows become due again when the lease ends.
        """CREATE TABLE outbox (
            id {pk},
            created DOUBLE PRECISION NOT NULL,
            kind TEXT NOT NULL,
            username TEXT NOT NULL,
            params TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt DOUBLE PRECISION NOT NULL,
            lease_owner TEXT,
            lease_until DOUBLE PRECISION,
            sent DOUBLE PRECISION,
            recipient TEXT,
            last_error TEXT)""",
        "CREATE INDEX outbox_due ON outbox(status, next_attempt)",
        "CREATE INDEX outbox_user ON outbox(username, id)",
        # The client networks each user has signed in from (IPv4 /16, IPv6 /48): a sign-in from a network not
        # among them, by a user who has some, is mailed as a sign-in from a new device.
        """CREATE TABLE sign_in_networks (
            username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
            network TEXT NOT NULL,
            first_seen DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (username, network))""",
    ]),
]

LATEST = MIGRATIONS[-1][0]
