"""Start the mock tracker: open the store, seed the demo users, start the local mail sink and its sender, print
how to log in and where the mails are, run uvicorn."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import platformdirs
import uvicorn

from ..cli.databases import admin_command, default_mock_db_url
from ..errors import VerifierError
from ..mail.sender import Sender, start_thread
from ..mail.sink import Sink, SinkUnavailable
from ..service import Verifier
from ..settings import MailSettings
from ..store import open_store
from .app import create_mock_app
from .config import mock_settings
from .demo import SeededUser, seed
from .visit import BehindGate

MAIL_FROM = "jibra@example.com"
MAILDIR_NAME = "mock-mail"


def default_db_url() -> str:
    """``mock-verifier.db`` in the tracker2fa data directory; the store creates a missing directory 0700."""
    return default_mock_db_url()


def bind_loopback(port: int) -> socket.socket:
    """Bind 127.0.0.1:port before anything else, so port 0 resolves to a real port for the origin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise VerifierError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; choose another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class MockMail:
    """The mock's mail: the local sink, the sender delivering the outbox to it, and what to tell the developer."""

    note: str
    settings: MailSettings | None = None
    sink: Sink | None = None
    stop: object = None

    def close(self) -> None:
        if self.stop is not None:
            self.stop.set()  # type: ignore[attr-defined]
        if self.sink is not None:
            self.sink.stop()


def maildir_for(db_url: str) -> Path:
    """Where the mock keeps its mails: beside a SQLite database, else in the tracker2fa data directory."""
    if db_url.startswith("sqlite:///"):
        return Path(db_url[len("sqlite:///"):]).resolve().with_name(MAILDIR_NAME)
    return platformdirs.user_data_path("tracker2fa") / MAILDIR_NAME


def start_mail(verifier: Verifier, db_url: str, url: str) -> MockMail:
    """Turn mail on (first start only: an admin's later choice stands), start the sink and the sender."""
    if verifier.store.get_setting("notices") is None:
        verifier.update_notice_settings(actor="mock", enabled=True, account_url=f"{url}/account",
                                        contact="the Jibra admins (this is a mock tracker)")
    maildir = maildir_for(db_url)
    try:
        sink = Sink(maildir).start()
    except SinkUnavailable as exc:
        return MockMail(f"mail: no local sink ({exc}); notices wait in the outbox at {url}/admin#outbox")
    settings = MailSettings(host=sink.host, port=sink.port, security="none", from_address=MAIL_FROM,
                            from_name="Jibra", poll_seconds=1.0)
    _thread, stop = start_thread(Sender(verifier.store, settings, after_pass=verifier.queue_due_reminders))
    note = (f"mail: notices go to a local SMTP sink on {sink.host}:{sink.port} and are kept in the Maildir {maildir} "
            f"(read them with any mail program, e.g. `mutt -f {maildir}`, or at {url}/admin#outbox)")
    return MockMail(note, settings, sink, stop)


def describe(url: str, db_url: str, users: list[SeededUser], out: TextIO, policy_mode: str = "all",
             mail_note: str = "") -> None:
    """Print the URL and the demo credentials (demo data only; real secrets are never printed)."""
    print(f"Jibra mock tracker: {url}/  (use localhost: security keys refuse IP addresses)", file=out)
    print(f"verifier database: {db_url}", file=out)
    print(f"admin page: {url}/admin (user admin)", file=out)
    print(f"admin CLI on this database: {admin_command(db_url)}", file=out)
    print("demo users (username / password):", file=out)
    for u in users:
        note = "" if u.created else " (already existed; left unchanged)"
        print(f"  {u.username} / {u.password}  groups: {', '.join(u.groups) or '-'}{note}", file=out)
        if u.totp_uri:
            print(f"    TOTP enrolled now; add to your authenticator: {u.totp_uri}", file=out)
            print(f"    backup codes: {' '.join(u.backup_codes)}", file=out)
    if policy_mode == "all":
        print("users without a factor enrol TOTP at their first login (policy: required for everyone).", file=out)
    else:
        print(f"policy mode: {policy_mode} (change it on the admin page)", file=out)
    if mail_note:
        print(mail_note, file=out)
    out.flush()


def serve(*, db_url: str | None, port: int, extra_users: list[tuple[str, str]], out: TextIO = sys.stdout,
          behind_gate: BehindGate | None = None, allowed_hosts: tuple[str, ...] = ()) -> None:
    """Run the mock tracker until interrupted (``behind_gate``: as an upstream of the tracker2fa gate)."""
    db_url = db_url or default_db_url()
    sock = bind_loopback(port)
    port = sock.getsockname()[1]
    url = f"http://localhost:{port}"
    verifier = Verifier(open_store(db_url), mock_settings(port))
    users = seed(verifier, extra_users)
    mail = start_mail(verifier, db_url, url)
    # The mock calls the verifier in process, so it needs no service token; the verifier's JSON API is not
    # mounted (run `tracker2fa verifier serve --db` on the same database for it, with its own token).
    app = create_mock_app(verifier, behind_gate=behind_gate, allowed_hosts=("localhost", *allowed_hosts))
    app.state.mail_settings = mail.settings
    app.state.mail_note = mail.note
    describe(url, db_url, users, out, policy_mode=verifier.get_policy().mode, mail_note=mail.note)
    if behind_gate is not None:
        proxies = ", ".join(str(n) for n in behind_gate.proxies)
        print(f"behind the gate: signed in by Remote-User from {proxies}; hosts served: "
              f"{', '.join(('localhost', *allowed_hosts))}; log out: {behind_gate.logout_url or '-'}", file=out)
        out.flush()
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="off", proxy_headers=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        mail.close()

