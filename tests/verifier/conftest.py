"""Fixtures for the verifier suite: every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL: one database per test session (random name, dropped afterwards) on 127.0.0.1, and a fresh
schema per test selected through the connection's search_path.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BASE = "postgresql://postgres@127.0.0.1:5432"


class Clock:
    """A settable clock handed to the Verifier (the rules take time as an input)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _pg_admin():
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc})")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway database for this test session."""
    name = f"t2fa_test_{secrets.token_hex(6)}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_BASE}/{name}"
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_pg_schema_url(pg_database: str) -> tuple[str, str]:
    """A fresh schema in the session database: (url with search_path, schema name)."""
    import psycopg

    schema = f"s_{secrets.token_hex(6)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{pg_database}?options=-csearch_path%3D{schema}", schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'verifier.db'}"
        return
    import psycopg

    db = request.getfixturevalue("pg_database")
    url, schema = new_pg_schema_url(db)
    yield url
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def server_key() -> bytes:
    return secrets.token_bytes(32)


def fast_settings(server_key: bytes, **overrides):
    """Real rules with a cheaper scrypt cost, so the suite stays fast."""
    from verifier.core.backup import HashParams
    from verifier.service import VerifierSettings

    base = dict(rp_id="localhost", rp_name="Test", origins=("http://localhost:8000",), server_key=server_key,
                backup_hash=HashParams(n=2**10), password_hash=HashParams(n=2**10),
                appid="https://localhost:8000/u2f-appid.json")
    base.update(overrides)
    return VerifierSettings(**base)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_url):
    from verifier.store import open_store

    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def verifier(store, server_key, clock):
    from verifier.service import Verifier

    return Verifier(store, fast_settings(server_key), clock=clock)


@pytest.fixture
def db(store_url, server_key, monkeypatch) -> str:
    """A database a verifier has created (admin commands never create one), the key in the environment."""
    import base64

    from verifier.store import open_store

    monkeypatch.setenv("TRACKER2FA_VERIFIER_KEY", base64.b64encode(server_key).decode())
    open_store(store_url).close()
    return store_url


def admin(db: str, *args: str, capsys) -> tuple[int, str, str]:
    """``tracker2fa verifier admin --db DB ARGS`` in process: exit code, stdout, stderr."""
    from native_host.cli import main

    code = main(["verifier", "admin", "--db", db, *args])
    out, err = capsys.readouterr()
    return code, out, err


def enrol_totp(verifier, clock: Clock, username: str = "alice") -> bytes:
    """Create ``username`` with TOTP enrolled (confirmed one step back); returns the raw secret."""
    import base64

    from verifier.core import totp

    if verifier.store.get_user(username) is None:
        verifier.create_user(username, "pw", groups=("dev",))
    enrolment = verifier.totp_enroll_begin(username)
    secret = base64.b32decode(enrolment["secret"] + "=" * (-len(enrolment["secret"]) % 8))
    result = verifier.totp_enroll_confirm(username, totp.totp(secret, clock() - 30), "10.0.0.1", "pytest")
    assert result.ok
    return secret
