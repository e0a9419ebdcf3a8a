"""The baseline the verifier is compared with: FastAPI + one pyotp verify + one SQLite UPDATE.

It has a replay check (the UPDATE only succeeds when the step is newer than the last accepted one) and
nothing else: no rate limit, no policy, no audit, no encryption at rest. Serve with
``uvicorn --app-dir bench minimal_totp_app:app`` and ``MINIMAL_DB=path`` (SQLite) or
``MINIMAL_DB=postgresql://...`` (one autocommit connection per thread, the same single UPDATE).

Two routes, so that a ratio measures what the verifier's rules cost and not how its route is written:

- ``/verify`` as FastAPI's tutorial writes it: a sync route returning a dict (FastAPI runs the route, then
  the reply's validation, in its thread pool);
- ``/verify-fast`` written the way the verifier's hot routes are: ``async``, the database called on the
  event loop for SQLite and with one thread-pool hop for PostgreSQL, the reply bytes written directly.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pyotp
from fastapi import FastAPI, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

DB = os.environ.get("MINIMAL_DB", "minimal.db")
app = FastAPI()
_local = threading.local()


def db():
    conn = getattr(_local, "conn", None)
    if conn is None and DB.startswith("postgresql://"):
        import psycopg

        conn = _local.conn = _PgConnection(psycopg.connect(DB, autocommit=True))
    if conn is None:
        conn = sqlite3.connect(DB, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        _local.conn = conn
    return conn


class _PgConnection:
    """sqlite3's ``execute`` over psycopg (``?`` placeholders), enough for this app's two statements."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params: tuple = ()):
        return self.conn.execute(sql.replace("?", "%s"), params)


def create_users(path: str, users: list[tuple[str, str]]) -> None:
    """Create the table and the users (name, base32 secret)."""
    if path.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(path, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, secret TEXT, last_step BIGINT)")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO users VALUES (%s, %s, -1)", users)
        return
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, secret TEXT, last_step INTEGER)")
    conn.executemany("INSERT OR REPLACE INTO users VALUES (?, ?, -1)", users)
    conn.commit()
    conn.close()


class Check(BaseModel):
    username: str
    code: str


@app.post("/verify")
def verify(check: Check) -> dict[str, bool]:
    return {"ok": check_code(check)}


@app.post("/verify-fast")
async def verify_fast(check: Check) -> Response:
    ok = check_code(check) if not DB.startswith("postgresql://") else await run_in_threadpool(check_code, check)
    return Response(b'{"ok":true}' if ok else b'{"ok":false}', media_type="application/json")


def check_code(check: Check) -> bool:
    row = db().execute("SELECT secret FROM users WHERE name = ?", (check.username,)).fetchone()
    if row is None:
        return False
    totp = pyotp.TOTP(row[0])
    now = time.time()
    for offset in (-1, 0, 1):
        if totp.verify(check.code, for_time=now + offset * 30, valid_window=0):
            step = int((now + offset * 30) // 30)
            cur = db().execute("UPDATE users SET last_step = ? WHERE name = ? AND last_step < ?",
                               (step, check.username, step))
            return cur.rowcount == 1
    return False
