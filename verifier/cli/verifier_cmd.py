"""``tracker2fa verifier``: run the verifier's HTTP API, and administer its database.

    tracker2fa verifier serve [--db URL] [--host H] [--port N] [--workers N] [--admin-token-stdin]
                              [--service-token-stdin] [--allowed-host NAME]... [--rp-id ID] [--origin O]...
                              [MAIL OPTIONS]
    tracker2fa verifier mailer [--db URL] MAIL OPTIONS
        MAIL OPTIONS: --smtp-host H [--smtp-port N] [--smtp-security starttls|tls|none] [--smtp-user U
                      [--smtp-password-stdin]] [--smtp-cafile FILE] --mail-from ADDRESS [--mail-from-name NAME]
                      [--mail-poll S]
    tracker2fa verifier admin [--db URL] init
    tracker2fa verifier admin [--db URL] create-user NAME [--group G]... [--password-stdin] [--email ADDRESS]
    tracker2fa verifier admin [--db URL] set-email NAME ADDRESS|none
    tracker2fa verifier admin [--db URL] set-notifications [--on|--off] [--disable KIND]... [--enable KIND]...
                              [--language en|de] [--timezone TZ] [--reminder-days N] [--account-url URL]
                              [--contact TEXT]
    tracker2fa verifier admin [--db URL] show-notifications | outbox [--status S] [--user NAME] [--limit N] [--json]
    tracker2fa verifier admin [--db URL] add-to-group NAME GROUP
    tracker2fa verifier admin [--db URL] set-policy [--mode MODE [--group G]... [--allow CIDR]...] [--remember-days N]
                              [--totp-digits N] [--totp-period S] [--totp-algorithm ALG] [--totp-window N]
                              [--issuer NAME] [--enrol-deadline YYYY-MM-DD|none]
    tracker2fa verifier admin [--db URL] exclude NAME --until YYYY-MM-DD|none
    tracker2fa verifier admin [--db URL] reset-user NAME | reset-group GROUP | unlock NAME [--ip IP]
    tracker2fa verifier admin [--db URL] audit [--user NAME] [--event E] [--limit N] [--json]
    tracker2fa verifier admin [--db URL] show-policy | list-users | status NAME
    tracker2fa verifier admin [--db URL] sessions NAME | revoke-sessions NAME [--sid SID]
    tracker2fa verifier admin [--db URL] import FILE [--format pskc|csv|jsonl] [--password-stdin] [--skip-invalid]
                              [--map-serial]

Admin commands open the database directly (like the server does) and never create one, except ``init``,
which exists for that (an admin may import users before any server ran): a missing database (or its key) is
an error naming it, ``init`` and the mock's database (see ``databases.py``). ``--db`` is accepted before or
after the action's name. Secrets at rest use the server key from $TRACKER2FA_VERIFIER_KEY, or for SQLite the
``<db>.key`` file created beside the database.

Registered by the ``verifier`` entry point of the ``tracker2fa.commands`` group; ``tracker2fa mock`` is its
sibling in ``mock_cmd.py``. This module is loaded to build ``tracker2fa --help``, so its handlers import what
only they use: the verifier itself (the extra's packages), and platformdirs, ipaddress and socket (together
about 12 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

from ..errors import BadRequest
from . import reporting_errors
from .databases import DatabaseMissing, admin_command, default_verifier_db_url, existing_database

DEFAULT_PORT = 8400
ADMIN_TOKEN_ENV = "TRACKER2FA_ADMIN_TOKEN"
SERVICE_TOKEN_ENV = "TRACKER2FA_SERVICE_TOKEN"
SMTP_PASSWORD_ENV = "TRACKER2FA_SMTP_PASSWORD"
SMTP_HOST_ENV = "TRACKER2FA_SMTP_HOST"
SMTP_USER_ENV = "TRACKER2FA_SMTP_USER"
MAIL_FROM_ENV = "TRACKER2FA_MAIL_FROM"
NOTICE_KINDS = ("key_added", "key_removed", "backup_codes_regenerated", "account_locked", "devices_revoked",
                "user_reset", "new_device", "new_network", "policy_enforced", "enrol_reminder", "backup_codes_low")


def default_db_url() -> str:
    """SQLite in the tracker2fa data directory (platformdirs); the store creates a missing directory 0700."""
    return default_verifier_db_url()


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``verifier`` sub-command with ``serve`` and ``admin``."""
    parser = subparsers.add_parser("verifier", help="run or administer the server-side verifier",
                                   description="The server-side verifier: TOTP, backup codes, WebAuthn, policy "
                                   "and audit over HTTP. See docs/verifier.md and docs/api.md.")
    sub = parser.add_subparsers(dest="verifier_command", metavar="ACTION", required=True)
    db_help = "database: sqlite:///PATH or postgresql://USER@HOST/DB (default: verifier.db in the data directory)"

    serve = sub.add_parser("serve", help="serve the HTTP API (uvicorn)")
    serve.add_argument("--db", metavar="URL", help=db_help)
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"TCP port (default {DEFAULT_PORT}; 0 = a free one, printed)")
    serve.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                       help="worker processes on the port (default: the number of cores, here %(default)s)")
    serve.add_argument("--admin-token-stdin", action="store_true",
                       help=f"read the admin bearer token from stdin (else ${ADMIN_TOKEN_ENV}; "
                       "without one the admin endpoints are off)")
    serve.add_argument("--service-token-stdin", action="store_true",
                       help=f"read the tracker's bearer token from stdin, after the admin token if both (else "
                       f"${SERVICE_TOKEN_ENV}; else SQLite keeps a generated one in <db>.service-token, mode 0600)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="a Host header value to serve besides the listen address and localhost (repeatable; "
                       "'*' serves any, which lets DNS rebinding in)")
    serve.add_argument("--rp-id", default="localhost", help="WebAuthn relying-party id (default localhost)")
    serve.add_argument("--rp-name", default="tracker2fa", help="relying-party name shown by authenticators")
    serve.add_argument("--origin", action="append", default=[],
                       help="an allowed login-page origin (repeatable; default http://localhost)")
    serve.add_argument("--appid", help="legacy U2F app id URL, for keys registered with the old U2F API")
    add_mail_options(serve, required=False)
    serve.set_defaults(handler=reporting_errors(run_serve))

    mailer = sub.add_parser("mailer", help="deliver the outbox to an SMTP relay (a process of its own)",
                            description="The mail sender alone, until SIGTERM or Ctrl-C. One sender per deployment "
                            "sends (a lock in the database); others wait as standbys and take over when it dies. "
                            "`verifier serve` with --smtp-host runs the same sender in its own process instead.")
    mailer.add_argument("--db", metavar="URL", help=db_help)
    add_mail_options(mailer, required=True)
    mailer.set_defaults(handler=reporting_errors(run_mailer))

    admin = sub.add_parser("admin", help="administer users, groups and policy")
    admin.add_argument("--db", metavar="URL", help=db_help)
    actions = admin.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)
    actions.add_parser("init", help="create the database (and its key file beside a SQLite one) before any "
                       "server ran, e.g. to import users first; an existing one is left as it is")
    p = actions.add_parser("create-user", help="create a user")
    p.add_argument("username")
    p.add_argument("--group", action="append", default=[], help="group membership (repeatable)")
    p.add_argument("--password-stdin", action="store_true", help="read a login password from stdin")
    p.add_argument("--email", metavar="ADDRESS", help="where the user's notices go")
    p = actions.add_parser("set-email", help="set (or with 'none', remove) the address of a user's notices")
    p.add_argument("username")
    p.add_argument("email", metavar="ADDRESS|none")
    p = actions.add_parser("set-notifications", help="mail to users: on or off, which notices, language, links",
                           description="Each option changes one setting and keeps the others. Nothing is mailed "
                           "until --on. Notices: " + ", ".join(NOTICE_KINDS) + ".")
    onoff = p.add_mutually_exclusive_group()
    onoff.add_argument("--on", dest="enabled", action="store_const", const=True, help="mail users")
    onoff.add_argument("--off", dest="enabled", action="store_const", const=False, help="mail nobody")
    p.add_argument("--disable", action="append", default=[], metavar="KIND", help="stop one notice (repeatable)")
    p.add_argument("--enable", action="append", default=[], metavar="KIND", help="send one notice again (repeatable)")
    p.add_argument("--language", choices=("en", "de"), help="the language of users who chose none")
    p.add_argument("--timezone", metavar="TZ", help="the time zone of times in mails (IANA, e.g. Europe/Berlin)")
    p.add_argument("--reminder-days", type=int, metavar="N",
                   help="send the enrolment reminder N days before the policy's deadline (0: none)")
    p.add_argument("--account-url", metavar="URL", help="where users manage their second factors (named in mails)")
    p.add_argument("--contact", metavar="TEXT", help="whom users tell when it was not them (named in mails)")
    actions.add_parser("show-notifications", help="print the mail settings as JSON")
    p = actions.add_parser("outbox", help="print the mails of the outbox, newest first")
    p.add_argument("--status", choices=("pending", "sent", "failed", "dropped"))
    p.add_argument("--user")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p = actions.add_parser("add-to-group", help="add a user to a group")
    p.add_argument("username")
    p.add_argument("group")
    p = actions.add_parser("set-policy", help="set who must use a second factor, and the TOTP settings",
                           description="Each option changes one setting and keeps the others; --mode replaces "
                           "the mode, its groups and the allowlist together. The TOTP settings apply to new "
                           "enrolments (existing factors keep theirs); the window to every verification.")
    p.add_argument("--mode", choices=("none", "all", "groups", "all_except_groups"))
    p.add_argument("--group", action="append", default=[], help="group for the groups modes (repeatable)")
    p.add_argument("--allow", action="append", default=[], metavar="CIDR",
                   help="network that skips the second factor, IPv4 or IPv6 (repeatable)")
    p.add_argument("--remember-days", type=int, metavar="N", help="remember a device for N days (0 = never)")
    p.add_argument("--totp-digits", type=int, metavar="N", help="digits of new enrolments' codes (6-8)")
    p.add_argument("--totp-period", type=int, metavar="S", help="seconds per code of new enrolments (15-300)")
    p.add_argument("--totp-algorithm", metavar="ALG", help="HMAC of new enrolments: SHA1, SHA256 or SHA512")
    p.add_argument("--totp-window", type=int, metavar="N",
                   help="steps accepted either side of now, for every verification (0-10; default 1)")
    p.add_argument("--issuer", metavar="NAME",
                   help="issuer label authenticator apps show for new enrolments ('' = the relying party's name)")
    p.add_argument("--enrol-deadline", metavar="DATE",
                   help="YYYY-MM-DD (UTC midnight) or an ISO date-time by which users asked must have a second "
                   "factor (told in mails; 'none' removes it)")
    actions.add_parser("show-policy", help="print the policy as JSON")
    p = actions.add_parser("exclude", help="skip a user's second factor until a date")
    p.add_argument("username")
    p.add_argument("--until", required=True, help="YYYY-MM-DD or an ISO date-time (UTC if no zone), or 'none'")
    p = actions.add_parser("reset-user", help="remove all of a user's factors, backup codes and devices")
    p.add_argument("username")
    p = actions.add_parser("unlock", help="lift a user's lockout (and a client IP's with --ip)")
    p.add_argument("username")
    p.add_argument("--ip", help="also lift this client IP's lockout")
    p = actions.add_parser("reset-group", help="reset every member of a group")
    p.add_argument("group")
    actions.add_parser("list-users", help="list usernames")
    p = actions.add_parser("status", help="print a user's status as JSON")
    p.add_argument("username")
    p = actions.add_parser("sessions", help="list a user's forward-auth gate sessions as JSON")
    p.add_argument("username")
    p = actions.add_parser("revoke-sessions", help="end a user's gate sessions (all, or one with --sid)")
    p.add_argument("username")
    p.add_argument("--sid", help="only the session with this public id (from `sessions`)")
    p = actions.add_parser("audit", help="print audit events, oldest first")
    p.add_argument("--user")
    p.add_argument("--event")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p = actions.add_parser("import", help="create users with TOTP factors from a seed file (PSKC, CSV, JSON lines)",
                           description="All or nothing unless --skip-invalid; every rejected row is reported. "
                           "See docs/verifier.md (Seed import).")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("pskc", "csv", "jsonl"),
                   help="the file's format (default: from its extension, else its first character)")
    p.add_argument("--password-stdin", action="store_true", help="read an encrypted PSKC file's password from stdin")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid rows, report the others")
    p.add_argument("--map-serial", action="store_true",
                   help="PSKC: name each user by the token's serial number instead of the key's UserId")
    for action in actions.choices.values():
        # `admin import FILE --db URL` as well as `admin --db URL import FILE`: SUPPRESS keeps an action that
        # was not given --db from overwriting the value given before its name (argparse copies sub-defaults).
        action.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=db_help)
    admin.set_defaults(handler=reporting_errors(run_admin))


def add_mail_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The relay options ``serve`` (optional: without --smtp-host it runs no sender) and ``mailer`` share."""
    group = parser.add_argument_group("mail to users" + ("" if required else " (a sender in this process)"))
    group.add_argument("--smtp-host", metavar="HOST", default=os.environ.get(SMTP_HOST_ENV),
                       help=f"the SMTP relay (else ${SMTP_HOST_ENV})" + ("" if required else
                       "; without one, mail waits in the outbox for a sender elsewhere"))
    group.add_argument("--smtp-port", type=int, metavar="N", help="default: 587 starttls, 465 tls, 25 none")
    group.add_argument("--smtp-security", choices=("starttls", "tls", "none"), default="starttls",
                       help="STARTTLS (default), implicit TLS, or none (plain SMTP, for a relay on this machine)")
    group.add_argument("--smtp-user", metavar="USER", default=os.environ.get(SMTP_USER_ENV),
                       help=f"log in to the relay as USER (else ${SMTP_USER_ENV}); the password from "
                       f"--smtp-password-stdin or ${SMTP_PASSWORD_ENV}")
    group.add_argument("--smtp-password-stdin", action="store_true",
                       help="read the relay password from stdin (after the admin and service tokens when those are "
                       "read from stdin too)")
    group.add_argument("--smtp-cafile", metavar="FILE", help="trust the relay's certificate from FILE (PEM)")
    group.add_argument("--mail-from", metavar="ADDRESS", default=os.environ.get(MAIL_FROM_ENV),
                       help=f"the From address of notices (else ${MAIL_FROM_ENV})")
    group.add_argument("--mail-from-name", metavar="NAME", default="tracker2fa",
                       help="the From name, also the site named in every mail (default tracker2fa)")
    group.add_argument("--mail-poll", type=float, default=5.0, metavar="S",
                       help="seconds between looks at the outbox (default 5)")
    group.add_argument("--mail-retry", type=float, nargs=2, default=(60.0, 3600.0), metavar=("FIRST", "MOST"),
                       help="seconds before the first retry of a mail the relay did not take, doubling up to MOST "
                       "(default 60 3600)")
    group.add_argument("--mail-lease", type=float, default=300.0, metavar="S",
                       help="seconds a claimed mail is its sender's (at least ten SMTP timeouts; default 300): a "
                       "sender that dies leaves its mails to another after this")
    group.add_argument("--smtp-timeout", type=float, default=30.0, metavar="S",
                       help="seconds the relay has to answer each SMTP command (default 30)")


def mail_settings(args: argparse.Namespace):
    """The relay settings of the command line (None without --smtp-host); raises VerifierConfigError."""
    from ..settings import MailSettings  # dataclasses only; no server package

    if not args.smtp_host:
        if args.smtp_password_stdin:
            raise BadRequest("--smtp-password-stdin goes with --smtp-host")
        return None
    password = _read_secret_line("SMTP password") if args.smtp_password_stdin else os.environ.get(SMTP_PASSWORD_ENV)
    return MailSettings(host=args.smtp_host, port=args.smtp_port, security=args.smtp_security,
                        username=args.smtp_user or None, password=password if args.smtp_user else None,
                        from_address=args.mail_from or "", from_name=args.mail_from_name, cafile=args.smtp_cafile,
                        poll_seconds=args.mail_poll, retry_base=args.mail_retry[0], retry_max=args.mail_retry[1],
                        lease_seconds=args.mail_lease, timeout=args.smtp_timeout).validated()


def describe_mail(mail) -> str:
    if mail is None:
        return "mail sender off here (no --smtp-host: mail waits in the outbox for a sender elsewhere)"
    login = f", as {mail.username}" if mail.username else ""
    return f"mail sender on (relay {mail.host}:{mail.relay_port}, {mail.security}{login}, from {mail.from_address})"


def start_sender(db_url: str, mail):
    """A sender thread with a store of its own; between passes it writes the enrolment reminders when due."""
    from ..mail.sender import Sender, start_thread
    from ..service.notices import reminder_writer
    from ..store import open_store

    store = open_store(db_url)
    thread, stop = start_thread(Sender(store, mail, after_pass=reminder_writer(store)))
    return thread, stop, store


def _open(db: str | None, *, must_exist: bool = False, **settings):
    # Lazily: the service needs the extra's packages; a missing one is reported by the CLI core with the extra
    # (before the database is looked for, so a bare install names the extra).
    from ..service import Verifier, VerifierSettings
    from ..store import open_store

    url = existing_database(db) if must_exist else db or default_db_url()
    return Verifier(open_store(url), VerifierSettings(**settings))


def _read_secret_line(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise BadRequest(f"no {what} on stdin")
    return value


def parse_until(text: str) -> float | None:
    """``none`` → None; a date or ISO date-time (UTC unless a zone is given) → unix time."""
    if text.strip().lower() == "none":
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(f"--until wants YYYY-MM-DD, an ISO date-time or 'none', got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def run_serve(args: argparse.Namespace) -> int:
    """Serve the API with ``--workers`` processes on one port until interrupted.

    Everything shared is settled here, once, before any worker starts: the service token (a generated one is
    written to its file by this process, never raced by the workers), the server key file and the schema
    migrations. Workers then only open the store (see ``worker_app``).
    """
    import uvicorn  # the extra's packages, imported only to serve

    from ..settings import check_token, resolve_service_token, service_token_path
    from ..store import check_url
    from .worker_app import CONFIG_ENV, WorkerConfig

    if args.workers < 1:
        raise BadRequest(f"--workers wants at least 1, got {args.workers}")
    # The port first: a server that cannot listen must not have created a database, key or token file.
    port = free_port(args.host, args.port)
    admin_token = _read_secret_line("admin token") if args.admin_token_stdin else os.environ.get(ADMIN_TOKEN_ENV)
    if admin_token is not None and admin_token.strip():
        admin_token = check_token(admin_token.strip(), "admin token")
    else:
        admin_token = None
    service_from_stdin = _read_secret_line("service token") if args.service_token_stdin else None
    mail = mail_settings(args)
    origins = tuple(args.origin) or ("http://localhost",)
    db_url = check_url(args.db or default_db_url())  # before the token rules, which depend on the kind of store
    # Without a token file to create (PostgreSQL), a missing token is refused before any migration runs.
    early = service_token_path(db_url) is None
    if early:
        service_token, token_file = resolve_service_token(service_from_stdin, db_url)
    verifier = _open(db_url, rp_id=args.rp_id, rp_name=args.rp_name, origins=origins, appid=args.appid)
    db_url = verifier.store.url
    if not early:
        service_token, token_file = resolve_service_token(service_from_stdin, db_url)
    verifier.store.close()  # migrated and keyed; each worker opens its own connections
    allowed = allowed_hosts(args.host, args.allowed_host)
    # Spawned workers inherit the environment (a restarted one too): the tokens travel as the variables an
    # operator may set anyway, readable only by this user.
    os.environ[CONFIG_ENV] = WorkerConfig(db_url, args.rp_id, args.rp_name, origins, args.appid, allowed).to_env()
    os.environ[SERVICE_TOKEN_ENV] = service_token
    if admin_token:
        os.environ[ADMIN_TOKEN_ENV] = admin_token
    else:
        os.environ.pop(ADMIN_TOKEN_ENV, None)
    where = f"in {token_file}" if token_file else ("from stdin" if service_from_stdin else f"from ${SERVICE_TOKEN_ENV}")
    print(f"tracker2fa verifier on http://{_netloc(args.host)}:{port} with {args.workers} worker(s) "
          f"(database {db_url.split('@')[-1]}; admin API {'on' if admin_token else 'off'}; "
          f"service token {where}; hosts served: {', '.join(allowed)}; {describe_mail(mail)})", file=sys.stderr)
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host} over plain HTTP: bearer tokens and codes cross the network "
              "in clear unless a TLS-terminating proxy is in front and this port is reachable only from it",
              file=sys.stderr)
    # The mail sender runs here, in the manager process (not in a worker: the workers serve requests, and a
    # thread per worker would mean N standbys per node). It sends while it holds the deployment's sender lock.
    sender = start_sender(db_url, mail) if mail else None
    # uvicorn's process manager: one listening socket, N workers, a dead worker replaced, SIGTERM/SIGINT
    # passed on so each worker finishes its in-flight requests and closes its store.
    try:
        uvicorn.run("verifier.cli.worker_app:create_worker_app", factory=True, workers=args.workers, host=args.host,
                    port=port, log_level="warning", ws="websockets-sansio", lifespan="on",
                    http="httptools", loop="uvloop", timeout_graceful_shutdown=10)
    finally:
        if sender is not None:
            thread, stop, store = sender
            stop.set()
            thread.join(timeout=30)  # a send in progress finishes and is recorded
            store.close()
    return 0


def run_mailer(args: argparse.Namespace) -> int:
    """Deliver the outbox until SIGTERM or SIGINT (as a standby while another process holds the sender lock)."""
    import logging
    import signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    mail = mail_settings(args)
    if mail is None:
        raise BadRequest(f"the mailer needs a relay: --smtp-host HOST (or ${SMTP_HOST_ENV})")
    db_url = existing_database(args.db)
    thread, stop, store = start_sender(db_url, mail)
    print(f"tracker2fa verifier mailer (database {db_url.split('@')[-1]}; {describe_mail(mail)})", file=sys.stderr,
          flush=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while thread.is_alive():
            thread.join(timeout=1)
    finally:
        stop.set()
        thread.join(timeout=30)
        store.close()
    return 0


def free_port(host: str, port: int) -> int:
    """``port`` (a free one for 0) once a listening socket could be bound to ``host:port``; else a one-line
    error naming them. The socket is closed again: uvicorn binds its own (with the same SO_REUSEADDR)."""
    import socket

    if not 0 <= port <= 65535:
        raise BadRequest(f"--port must be 0-65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise BadRequest(f"cannot listen on {host!r}: not an address of this machine ({exc})") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise BadRequest(f"cannot listen on {_netloc(host)}:{port}: {exc.strerror}; choose another --port "
                             "(nothing was created)") from None
        return int(sock.getsockname()[1])


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(listen: str, extra: list[str]) -> tuple[str, ...]:
    """Host header values to serve: the listen address's names, localhost, and ``--allowed-host`` values.

    A wildcard listen address (0.0.0.0, ::) adds this machine's host name and fully qualified name.
    """
    import ipaddress
    import socket

    names = ["localhost", "127.0.0.1", "[::1]"]
    try:
        ip = ipaddress.ip_address(listen)
    except ValueError:
        names.append(listen.lower())
    else:
        if ip.is_unspecified:
            names += [socket.gethostname().lower(), socket.getfqdn().lower()]
        else:
            names.append(_netloc(str(ip)))
    for value in extra:
        value = value.strip().lower()
        if not value or (value.startswith("*") and value != "*" and not value.startswith("*.")) or "*" in value[1:]:
            raise BadRequest(f"--allowed-host wants a host name, '*.example.com' or '*', got {value!r}")
        names.append(value)
    return tuple(dict.fromkeys(names))


def run_admin(args: argparse.Namespace) -> int:
    """Run one admin command against an existing database (never a new one; ``init`` creates it)."""
    if args.admin_command == "init":
        return run_init(args.db)
    v = _open(args.db, must_exist=True)
    actor = f"cli:{os.environ.get('USER', 'admin')}"
    cmd = args.admin_command
    if cmd == "import":
        return run_import(args, v, actor)
    if cmd == "create-user":
        password = _read_secret_line("password") if args.password_stdin else None
        out = v.create_user(args.username, password, args.group, actor=actor, email=args.email)
    elif cmd == "set-email":
        out = v.set_email(args.username, None if args.email.strip().lower() == "none" else args.email, actor=actor)
    elif cmd == "set-notifications":
        out = v.update_notice_settings(actor=actor, **notice_changes(args, v.notice_settings())).to_dict()
    elif cmd == "show-notifications":
        out = {**v.notice_settings().to_dict(), "outbox": v.outbox_counts()}
    elif cmd == "outbox":
        return print_outbox(v, args)
    elif cmd == "add-to-group":
        out = v.add_to_group(args.username, args.group, actor=actor)
    elif cmd == "set-policy":
        out = v.update_policy(actor=actor, **policy_changes(args))
    elif cmd == "show-policy":
        out = v.get_policy()
    elif cmd == "exclude":
        out = v.exclude_user(args.username, parse_until(args.until), actor=actor)
    elif cmd == "reset-user":
        v.reset_user(args.username, actor=actor)
        out = v.user_status(args.username)
    elif cmd == "unlock":
        v.unlock(args.username, args.ip, actor=actor)
        out = v.user_status(args.username)
    elif cmd == "reset-group":
        out = {"reset": v.reset_group(args.group, actor=actor)}
    elif cmd == "list-users":
        out = {"users": v.list_users()}
    elif cmd == "status":
        out = v.user_status(args.username)
    elif cmd == "sessions":
        out = {"sessions": v.list_sessions(args.username)}
    elif cmd == "revoke-sessions":
        out = {"revoked": v.revoke_sessions(args.username, args.sid, actor=actor)}
    else:  # audit
        events = v.audit(username=args.user, event=args.event, limit=args.limit)
        for e in events:
            if args.json:
                print(json.dumps(e.to_dict()))
            else:
                when = dt.datetime.fromtimestamp(e["ts"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
                print(f"{when}  {e['event']:<22} {e['username'] or '-':<16} {e['method'] or '-':<8} "
                      f"{e['result'] or '-':<12} {e['ip'] or '-':<16} {e['detail'] or ''}")
        return 0
    print(json.dumps(out, indent=2, default=lambda result: result.to_dict()))  # the service's typed results
    return 0


def run_init(db: str | None) -> int:
    """``admin init``: create the database and its key, or say that it exists (an existing database is checked
    as any admin command checks it: without its key it is refused, since a new key would orphan its secrets)."""
    url = db or default_db_url()
    try:
        existing_database(url)
    except DatabaseMissing:
        verifier = _open(url)
        verifier.store.close()
        print(f"created the verifier database {url.split('@')[-1]}; next: "
              f"{admin_command(url, 'import FILE')} or {admin_command(url, 'create-user NAME')}")
        return 0
    _open(url).store.close()  # applies pending migrations, as serve would
    print(f"the verifier database {url.split('@')[-1]} exists already; nothing to do")
    return 0


def policy_changes(args: argparse.Namespace) -> dict:
    """The policy fields ``set-policy`` was asked to change (the others are kept); raises BadRequest."""
    changes: dict = {}
    if args.mode is not None:
        changes.update(mode=args.mode, groups=args.group, ip_allowlist=args.allow)
    elif args.group or args.allow:
        raise BadRequest("--group and --allow go with --mode (which they replace together)")
    for name in ("remember_days", "totp_digits", "totp_period", "totp_algorithm", "totp_window", "issuer"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.enrol_deadline is not None:
        changes["enrol_deadline"] = parse_until(args.enrol_deadline) or 0  # 0: remove the deadline
    if not changes:
        raise BadRequest("set-policy: nothing to change (see tracker2fa verifier admin set-policy --help)")
    return changes


def notice_changes(args: argparse.Namespace, current) -> dict:
    """The mail settings ``set-notifications`` was asked to change; raises BadRequest when none."""
    names = ("enabled", "language", "timezone", "reminder_days", "account_url", "contact")
    changes: dict = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.disable or args.enable:
        unknown = sorted(set(args.disable + args.enable) - set(NOTICE_KINDS))
        if unknown:
            raise BadRequest(f"unknown notice(s) {', '.join(unknown)}: one of {', '.join(NOTICE_KINDS)}")
        changes["off"] = sorted((set(current.off) | set(args.disable)) - set(args.enable))
    if not changes:
        raise BadRequest("set-notifications: nothing to change (see `tracker2fa verifier admin set-notifications "
                         "--help`)")
    return changes


def print_outbox(v, args: argparse.Namespace) -> int:
    """``admin outbox``: the mails, newest first, as a table or JSON lines (what each tells; never a secret)."""
    for m in v.outbox(status=args.status, username=args.user, limit=args.limit):
        if args.json:
            print(json.dumps(m.to_dict()))
        else:
            when = dt.datetime.fromtimestamp(m.created, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            print(f"{m.id:>6}  {when}  {m.kind:<25} {m.username:<16} {m.status:<8} tries {m.attempts:<3} "
                  f"{m.recipient or '-':<28} {m.last_error or ''}")
    return 0


def run_import(args: argparse.Namespace, verifier, actor: str) -> int:
    """``admin import``: print the report as JSON; exit 1 (nothing imported) when a row was refused without
    ``--skip-invalid`` or the file cannot be read."""
    from ..seeds import SeedFileError, import_seeds, read_input

    password = _read_secret_line("password") if args.password_stdin else None
    data = read_input(args.file)
    try:
        report = import_seeds(verifier.store, data, name=args.file, fmt=args.format, password=password,
                              map_serial=args.map_serial, skip_invalid=args.skip_invalid,
                              server_key=verifier.settings.server_key, actor=actor)
    except SeedFileError as exc:
        print(f"tracker2fa: error: {args.file}: {exc.message}; nothing was imported", file=sys.stderr)
        return 1
    for row in report.rejected:
        print(f"{args.file}: {row.where}: {row.reason}", file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=2))
    if report.rejected and not args.skip_invalid:
        print(f"tracker2fa: error: {len(report.rejected)} row(s) refused; nothing was imported "
              "(fix them, or pass --skip-invalid to import the others)", file=sys.stderr)
        return 1
    return 0
