"""No command of ours ends in a traceback (issue 21, item 2): every sub-command declared in the
``tracker2fa.commands`` entry points is run, as a user would run it, into its common failures — missing files,
bad URLs, unreachable ports, wrong passwords, bad options, a port in use, no display for ``try``, nothing
listening for ``try`` — and each ends in one line that says what happened, with the documented exit code.

The table is keyed by command name and the commands are read from the installed entry points, so a new
command fails ``test_every_command_has_its_common_failures_in_the_table`` until its failures are added here.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from native_host.cli.entry_points import command_points

PASSWORD = "correct horse battery staple"
URI = "otpauth://totp/Jira:ann?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Jira"


@dataclass(frozen=True)
class Case:
    """One common failure: the arguments after ``tracker2fa``, what the user sees (a substring of stderr), the
    exit code (docs/cli.md), and what is set up first (a vault, a taken port, a page...)."""

    argv: tuple[str, ...]
    says: str
    exit: int = 1
    stdin: str = ""
    setup: tuple[str, ...] = ()  # names of the World's set-ups to run first
    env: dict[str, str] = field(default_factory=dict)
    browser: bool = False  # starts a real browser


# {TAKEN} is a port something listens on; {FREE} one nothing listens on; {PAGE} a page that answers; {TMP} the
# test's folder; {VAULT} a vault with one entry (password PASSWORD).
FAILURES: dict[str, list[Case]] = {
    "vault": [
        Case(("vault", "list", "--password-stdin"), "no vault at", exit=4, stdin=PASSWORD + "\n"),
        Case(("vault", "--vault", "{TMP}/no/such/dir/v.json", "init", "--password-stdin"), "", exit=2),
        Case(("vault", "list", "--password-stdin"), "does not open", exit=3, stdin="wrong password\n",
             setup=("vault",)),
        Case(("vault", "list"), "--password-stdin", exit=2, setup=("vault",)),
        Case(("vault", "import", "{TMP}/missing-export.json", "--password-stdin"), "missing-export.json", exit=7,
             stdin=PASSWORD + "\n", setup=("vault",)),
        Case(("vault", "add", URI, "--origin", "https//jira.example.com", "--password-stdin"),
             "did you mean https://jira.example.com?", stdin=PASSWORD + "\n", setup=("vault",)),
        Case(("vault", "add", "--secret", "JBSWY3DP", "--password-stdin"), "too short", stdin=PASSWORD + "\n",
             setup=("vault",)),
        Case(("vault", "add", "otpauth://totp/x?secret=", "--password-stdin"), "secret", stdin=PASSWORD + "\n",
             setup=("vault",)),
        Case(("vault", "code", "Nobody", "--password-stdin"), "Nobody", exit=6, stdin=PASSWORD + "\n",
             setup=("vault",)),
        Case(("vault", "list", "--bogus"), "unrecognized arguments: --bogus", exit=2),
        Case(("vault", "list", "--password-stdin"), "vault", exit=5, stdin=PASSWORD + "\n", setup=("corrupt",)),
    ],
    "install": [
        Case(("install", "--browser", "chromium", "--host-path", "relative/host"), "absolute"),
        Case(("install", "--browser", "netscape"), "unknown browser 'netscape'; supported: chromium"),
        Case(("install", "--os", "windows", "--browser", "chrome"), "--dry-run"),
        Case(("install", "--user-data-dir"), "expected one argument", exit=2),
    ],
    "uninstall": [
        Case(("uninstall", "--browser", "netscape"), "unknown browser 'netscape'; supported: chromium"),
        Case(("uninstall", "--os", "plan9"), "invalid choice", exit=2),
    ],
    "doctor": [
        Case(("doctor", "--browser-pid", "notanumber"), "invalid int value", exit=2),
        Case(("doctor", "--browser", "chromium", "--no-probe"), "PROBLEM: chromium: the host is not registered",
             exit=1),
    ],
    "policy": [
        Case(("policy", "--os", "linux", "--browser", "chrome", "--out", "{TMP}/p"), "--extension-id", exit=2),
        Case(("policy", "--os", "linux", "--browser", "chrome", "--extension-id", "a" * 32, "--out", "{TMP}/p",
              "--settings", "{TMP}/missing-settings.json"), "missing-settings.json"),
        Case(("policy", "--os", "linux", "--browser", "chrome", "--extension-id", "a" * 32, "--out", "{TMP}/p",
              "--update-url", "ftp://example.com/updates.xml"), "ftp://example.com/updates.xml"),
    ],
    "pack": [
        Case(("pack", "--key", "{TMP}/missing.pem", "--base-url", "https://example.com/ext/", "--out", "{TMP}/o"),
             "--new-key"),
        Case(("pack", "--key", "{TMP}/k.pem", "--new-key", "--base-url", "not a url", "--out", "{TMP}/o"),
             "not a url"),
    ],
    "try": [
        Case(("try", "file:///etc/passwd", "--headless"), "not an http(s) URL"),
        Case(("try", "http://localhost:{FREE}/login", "--headless", "--seconds", "0"),
             "nothing answers at http://localhost:{FREE}"),
        Case(("try", "http://localhost:99999/login", "--headless"), "not a valid URL"),
        Case(("try", "{PAGE}", "--login", "alice", "--headless"), "--login wants USER:PASSWORD"),
        # No display: not a failure any more; it runs headless by itself and says so (a real browser starts).
        Case(("try", "{PAGE}", "--seconds", "0"), "no display", exit=0, env={"DISPLAY": "", "WAYLAND_DISPLAY": ""},
             browser=True),
        Case(("try", "{PAGE}", "--seconds", "0"), "cannot open a window on DISPLAY=':77': pass --headless",
             env={"DISPLAY": ":77"}, browser=True),
    ],
    "verifier": [
        Case(("verifier", "serve", "--port", "{TAKEN}", "--db", "sqlite:///{TMP}/v.db"),
             "cannot listen on 127.0.0.1:{TAKEN}: Address already in use"),
        Case(("verifier", "serve", "--port", "0", "--host", "203.0.113.7", "--db", "sqlite:///{TMP}/v.db"),
             "cannot listen on 203.0.113.7"),
        Case(("verifier", "serve", "--port", "0", "--db", "mysql://db/verifier"), "unsupported database URL"),
        Case(("verifier", "serve", "--port", "0", "--db", "sqlite:///{TMP}/v.db"), "admin token must be",
             env={"TRACKER2FA_ADMIN_TOKEN": "short"}),
        Case(("verifier", "admin", "--db", "sqlite:///{TMP}/none.db", "list-users"), "no verifier database"),
        Case(("verifier", "admin", "import", "{TMP}/missing.csv", "--db", "sqlite:///{TMP}/v.db"), "missing.csv",
             setup=("verifier_db",)),
        Case(("verifier", "admin", "--db", "sqlite:///{TMP}/v.db", "exclude", "ghost", "--until", "soon"),
             "--until wants", setup=("verifier_db",)),
        Case(("verifier", "admin", "list-users", "--bogus"), "unrecognized arguments: --bogus", exit=2),
    ],
    "gate": [
        Case(("gate", "check-config", "{TMP}/missing.toml"), "cannot read the gate configuration"),
        Case(("gate", "check-config", "{TMP}/bad.toml"), "not valid TOML", setup=("bad_toml",)),
        Case(("gate", "serve", "--config", "{TMP}/missing.toml"), "cannot read the gate configuration"),
        Case(("gate", "serve", "--config", "{TMP}/gate.toml", "--port", "{TAKEN}", "--workers", "1"),
             "cannot listen on 127.0.0.1:{TAKEN} for the portal: Address already in use", setup=("gate_toml",)),
        Case(("gate", "serve", "--config", "{TMP}/gate.toml", "--port", "{FREE}", "--authz-port", "{TAKEN}"),
             "cannot listen on 127.0.0.1:{TAKEN} for forward auth", setup=("gate_toml",)),
        Case(("gate", "serve", "--bogus"), "the following arguments are required: --config", exit=2),
    ],
    "mock": [
        Case(("mock", "--port", "{TAKEN}", "--db", "sqlite:///{TMP}/m.db"),
             "cannot listen on 127.0.0.1:{TAKEN}: Address already in use"),
        Case(("mock", "--port", "70000"), "--port must be 0-65535"),
        Case(("mock", "--port", "0", "--demo-user", "nopassword"), "NAME:PASSWORD"),
        Case(("mock", "--port", "0", "--db", "redis://x"), "unsupported database URL"),
    ],
}


class World:
    """What a case needs around it: a HOME of its own, a port in use, a port nobody uses, a page."""

    def __init__(self, tmp: Path, page: str, taken: int, free: int) -> None:
        self.tmp, self.page, self.taken, self.free = tmp, page, taken, free
        self.home = tmp / "home"
        self.home.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER2FA_", "XDG_"))}
        self.env.update(HOME=str(self.home), TRACKER2FA_VAULT=str(tmp / "vault.json"))

    def fill(self, text: str) -> str:
        return (text.replace("{TMP}", str(self.tmp)).replace("{PAGE}", self.page)
                .replace("{TAKEN}", str(self.taken)).replace("{FREE}", str(self.free)))

    def setup(self, name: str) -> None:
        run = SETUPS[name]
        run(self)


def _vault(world: World) -> None:
    done = _tracker2fa(world, ("vault", "init", "--password-stdin", "--kdf-cost", "minimum"), PASSWORD + "\n")
    assert done.returncode == 0, done.stderr


def _corrupt(world: World) -> None:
    (world.tmp / "vault.json").write_text('{"format": "tracker2fa-vault", "version": 1, "kdf"')


def _verifier_db(world: World) -> None:
    done = _tracker2fa(world, ("verifier", "admin", "--db", f"sqlite:///{world.tmp}/v.db", "init"), "")
    assert done.returncode == 0, done.stderr


def _bad_toml(world: World) -> None:
    (world.tmp / "bad.toml").write_text("x = [\n")


def _gate_toml(world: World) -> None:
    """The smallest gate configuration (docs/gate.md), its database in the case's folder."""
    (world.tmp / "gate.toml").write_text(
        f'[server]\nhost = "127.0.0.1"\nport = 9\nauthz_port = 0\n\n[database]\nurl = "sqlite:///{world.tmp}/g.db"\n\n'
        '[[domains]]\ndomain = "example.com"\nportal = "https://auth.example.com"\n\n'
        '[authentication]\nbackend = "local"\n\n[access_control]\ndefault_policy = "deny"\n')


SETUPS: dict[str, Callable[[World], None]] = {"vault": _vault, "corrupt": _corrupt, "verifier_db": _verifier_db,
                                              "bad_toml": _bad_toml, "gate_toml": _gate_toml}


def _tracker2fa(world: World, argv: tuple[str, ...], stdin: str, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    full_env = {**world.env, **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v != ""}  # "" in a case's env: unset it
    return subprocess.run([sys.executable, "-m", "native_host", *argv], input=stdin, capture_output=True,
                          text=True, env=full_env, timeout=180, cwd=world.tmp)


@pytest.fixture(scope="module")
def page() -> Iterator[str]:
    """A page that answers (for `try` cases that need something listening)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>t</title><input autocomplete=one-time-code>")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/login"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CASES = [
    pytest.param(command, case, id=f"{command}-{index}-{' '.join(case.argv[1:3])[:40]}",
                 marks=[pytest.mark.browser] if case.browser else [])
    for command, cases in FAILURES.items() for index, case in enumerate(cases)
]


def test_every_command_has_its_common_failures_in_the_table() -> None:
    declared = {point.name for point in command_points()}
    assert declared - set(FAILURES) == set(), "add the new command's common failures to FAILURES"
    assert set(FAILURES) - declared == set(), "a command in the table is no longer declared"


@pytest.mark.parametrize(("command", "case"), CASES)
def test_a_common_failure_ends_in_one_line_without_a_traceback(command, case, tmp_path, page, taken_port) -> None:
    world = World(tmp_path, page, taken_port, _free_port())
    for name in case.setup:
        world.setup(name)
    argv = tuple(world.fill(a) for a in case.argv)
    done = _tracker2fa(world, argv, case.stdin, case.env)
    assert "Traceback" not in done.stderr, done.stderr
    assert "unexpected" not in done.stderr, done.stderr  # the CLI core's last resort: a bug, not a message
    assert done.returncode == case.exit, (done.returncode, done.stdout, done.stderr)
    said = done.stderr + (done.stdout if case.exit in (0, 1) and command == "doctor" else "")
    assert world.fill(case.says) in said, said
    if "nothing was created" in done.stderr:  # and indeed: no database, key or token file
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith((".db", ".key", ".service-token"))]
    if case.exit not in (0, 2):  # argparse prints its usage first; ours is one line naming the problem
        errors = [line for line in done.stderr.splitlines() if line.startswith("tracker2fa: error:")]
        assert len(errors) == 1 or command == "doctor", done.stderr


def test_an_error_no_part_handled_is_one_line_naming_it_a_bug_and_the_debug_switch_shows_the_traceback(
        tmp_path, monkeypatch, capsys) -> None:
    from native_host import cli
    from native_host.cli.entry_points import CommandPoint

    (tmp_path / "buggy_part_cmd.py").write_text(
        "def register(subparsers):\n"
        "    subparsers.add_parser('buggy').set_defaults(handler=run)\n\n"
        "def run(args):\n"
        "    return {}['no such key']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "command_entry_points", lambda: [CommandPoint("buggy", "buggy_part_cmd:register")])
    assert cli.main(["buggy"]) == 1
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "Traceback" not in said
    assert said.startswith("tracker2fa: error: unexpected KeyError at buggy_part_cmd.py:5: 'no such key'")
    assert "TRACKER2FA_DEBUG=1" in said
    monkeypatch.setenv("TRACKER2FA_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["buggy"])
