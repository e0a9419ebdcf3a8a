"""Where the verifier's and the mock's databases live, and the check that admin commands never create one.

``tracker2fa verifier admin`` without ``--db`` used to create an empty ``verifier.db`` (and a new key) and
list no users, while the mock tracker keeps its users in ``mock-verifier.db``. Only ``verifier serve``,
``mock`` and ``verifier admin init`` create a database; any other admin command names the one that is missing,
how to create it and where the mock's is.

Standard library and platformdirs only: ``tracker2fa --help`` loads this module.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from ..errors import VerifierConfigError

VERIFIER_DB_FILE = "verifier.db"
MOCK_DB_FILE = "mock-verifier.db"
KEY_ENV = "TRACKER2FA_VERIFIER_KEY"  # as in verifier/settings.py, which this module must not import (FastAPI-free)
SQLITE = "sqlite:///"


class DatabaseMissing(VerifierConfigError):
    """No verifier database (or no verifier tables) where an admin command looked: ``admin init`` creates it."""

    code = "database_missing"


def _data_dir() -> Path:
    import platformdirs

    return platformdirs.user_data_path("tracker2fa")


def default_verifier_db_url() -> str:
    """``verifier serve`` and ``verifier admin`` without ``--db``: SQLite in the tracker2fa data directory."""
    return f"{SQLITE}{_data_dir() / VERIFIER_DB_FILE}"


def default_mock_db_url() -> str:
    """``tracker2fa mock`` without ``--db``: its own SQLite file beside the verifier's."""
    return f"{SQLITE}{_data_dir() / MOCK_DB_FILE}"


def admin_command(db_url: str, action: str = "list-users") -> str:
    """The exact ``tracker2fa verifier admin`` command line for the database at ``db_url``."""
    return f"tracker2fa verifier admin --db {shlex.quote(db_url)} {action}"


def _mock_hint() -> str:
    mock = default_mock_db_url()
    path = Path(mock[len(SQLITE):])
    state = "it exists" if path.is_file() else "created by the first `tracker2fa mock`"
    return f"The mock tracker's database is {path} ({state}): {admin_command(mock)}"


def _create_hint(url: str) -> str:
    return (f"A verifier database is created by `{admin_command(url, 'init')}` (then import or create users) "
            "or by the first `tracker2fa verifier serve --db URL`")


def existing_database(db: str | None) -> str:
    """The URL of the database an admin command may open: it must exist already, with its key.

    Raises VerifierConfigError naming the missing database (or key) and where the mock's database is;
    nothing is created.
    """
    url = db or default_verifier_db_url()
    if url.startswith(SQLITE):
        _check_sqlite(Path(url[len(SQLITE):]), defaulted=db is None)
    elif url.startswith(("postgresql://", "postgres://")):
        _check_postgres(url)
    return url  # any other URL: open_store names what it supports


def _check_sqlite(path: Path, *, defaulted: bool) -> None:
    if not path.is_file():
        which = " (the default without --db)" if defaulted else ""
        raise DatabaseMissing(
            f"no verifier database at {path.absolute()}{which}; admin commands other than init never create one. "
            f"{_mock_hint()}. {_create_hint(f'{SQLITE}{path.absolute()}')}."
        )
    key = Path(f"{path}.key")
    if not os.environ.get(KEY_ENV) and not key.is_file():
        # A new key would make every secret already in the database unreadable.
        raise VerifierConfigError(
            f"the database {path.absolute()} has no key file {key.name} beside it and ${KEY_ENV} is not set: "
            f"set ${KEY_ENV} to the key the verifier serving this database uses; nothing was changed"
        )


def _check_postgres(url: str) -> None:
    import psycopg  # the verifier extra's driver, only for a PostgreSQL URL

    where = url.split("@")[-1]  # never the password
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            found = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    except psycopg.Error as exc:
        raise VerifierConfigError(f"cannot open the database {where}: {str(exc).strip().splitlines()[0]}") from None
    if not found or not found[0]:
        raise DatabaseMissing(
            f"the database {where} holds no verifier tables; admin commands other than init never create them. "
            f"{_create_hint('URL')}. {_mock_hint()}."
        )
