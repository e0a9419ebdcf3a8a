"""The LDAP first factor against a real slapd (Debian's), started by the tests on a throwaway directory on a
loopback port: right and wrong passwords, a user in and out of the required group, names that must be
escaped, the directory's name for the user, an empty password, the directory down."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from verifier.gate.app import create_gate_app
from verifier.gate.config import load_config
from verifier.gate.ldap import DirectoryUnavailable, LdapClient

from .support import Browser, asgi_sender, free_port, stop, wait_for_port

SUFFIX = "dc=example,dc=org"
SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
# A permissive directory, as many are: unauthenticated binds (a DN, no password) and anonymous reads.
allow bind_anon_dn
database mdb
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw {rootpw}
directory {dir}/data
maxsize 10485760
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by * read
"""


def person(uid_rdn: str, uid: str, password: str, mail: str) -> str:
    return (f"dn: uid={uid_rdn},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid} Example\n"
            f"sn: Example\ndisplayName: {uid.title()} Example\nmail: {mail}\nuserPassword: {password}\n\n")


LDIF = (
    f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n"
    f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n"
    f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n"
    + person("alice", "alice", "alice-ldap-pw", "alice@example.org")
    + person("bob", "bob", "bob-ldap-pw", "bob@example.org")
    + person("o\\,neill", "o,neill", "oneill-ldap-pw", "oneill@example.org")
    + person("x*", "x*", "star-ldap-pw", "star@example.org")
    + person("xavier", "xavier", "xavier-ldap-pw", "xavier@example.org")
    + f"dn: cn=trackers,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: trackers\n"
      f"member: uid=alice,ou=people,{SUFFIX}\nmember: uid=o\\,neill,ou=people,{SUFFIX}\n\n"
    + f"dn: cn=admins,ou=groups,{SUFFIX}\nobjectClass: posixGroup\ncn: admins\ngidNumber: 500\nmemberUid: xavier\n"
)


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for tool in ("slapd", "slapadd"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.skip(f"{tool} is not installed (scripts/test.sh installs slapd)")
    root = tmp_path_factory.mktemp("slapd")
    (root / "data").mkdir()
    conf = root / "slapd.conf"
    conf.write_text(SLAPD_CONF.format(dir=root, suffix=SUFFIX, rootpw=secrets.token_urlsafe(12)))
    (root / "base.ldif").write_text(LDIF)
    subprocess.run(["/usr/sbin/slapadd", "-f", str(conf), "-l", str(root / "base.ldif")], check=True,
                   capture_output=True)
    port = free_port()
    log = root / "slapd.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["/usr/sbin/slapd", "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for_port(port, proc, "slapd", log)
        yield f"ldap://127.0.0.1:{port}"
    finally:
        stop(proc)


def gate_config(url: str, groups_filter: str = "(&(objectClass=groupOfNames)(member={dn}))") -> str:
    return f"""\
[[domains]]
domain = "one.localhost"
portal = "http://auth.one.localhost:8000"
[authentication]
backend = "ldap"
[ldap]
url = "{url}"
user_dn = "uid={{username}},ou=people,{SUFFIX}"
groups_base = "ou=groups,{SUFFIX}"
groups_filter = "{groups_filter}"
timeout = "5s"
[access_control]
default_policy = "deny"
[[access_control.rules]]
domain = "app.one.localhost"
subject = ["group:trackers"]
policy = "two_factor"
"""


@dataclass
class Gate:
    app: object
    store: object

    @property
    def verifier(self):
        return self.app.context.verifiers["one.localhost"]  # type: ignore[attr-defined]

    def log_in(self, username: str, password: str) -> tuple[Browser, object]:
        browser = Browser(send=asgi_sender(self.app))
        reply = browser.post("http://auth.one.localhost:8000/login",
                             {"username": username, "password": password, "rd": "http://app.one.localhost:8000/"},
                             follow=False)
        return browser, reply

    def check(self, browser: Browser) -> tuple[int, dict[str, str]]:
        headers = {"Host": "gate", "X-Original-URL": "http://app.one.localhost:8000/",
                   "X-Forwarded-For": browser.source, "Cookie": browser.cookie_header("app.one.localhost")}
        status, got, _ = browser.send("GET", "http://gate/api/authz/auth-request", headers, None, "127.0.0.1")
        return status, {k.lower(): v for k, v in got if k.lower().startswith("remote-")}


def make_gate(tmp_path: Path, config: str) -> Gate:
    from verifier.core.backup import HashParams
    from verifier.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'gate.db'}")
    app = create_gate_app(load_config(config), store, server_key=secrets.token_bytes(32),
                          password_hash=HashParams(n=2**10))
    gate = Gate(app, store)
    gate.verifier.set_policy("none")  # the password is enough here: these tests are about the first factor
    return gate


@pytest.fixture
def gate(slapd: str, tmp_path: Path) -> Iterator[Gate]:
    g = make_gate(tmp_path, gate_config(slapd))
    yield g
    g.store.close()  # type: ignore[attr-defined]


def test_the_right_directory_password_logs_a_group_member_in_with_their_groups_and_mail(gate: Gate) -> None:
    browser, reply = gate.log_in("alice", "alice-ldap-pw")
    assert reply.status == 303  # type: ignore[attr-defined]
    status, headers = gate.check(browser)
    assert status == 200
    assert headers == {"remote-user": "alice", "remote-groups": "trackers", "remote-name": "Alice Example",
                       "remote-email": "alice@example.org"}
    assert gate.verifier.user_status("alice").groups == ["trackers"]  # copied for the verifier's policy
    assert gate.verifier.mail_prefs("alice").email == "alice@example.org"  # where the verifier's notices go


def test_a_wrong_directory_password_is_refused_and_counted(gate: Gate) -> None:
    browser, reply = gate.log_in("alice", "not-her-password")
    assert reply.status == 401 and "Wrong username or password" in reply.text  # type: ignore[attr-defined]
    assert gate.check(browser)[0] == 401
    failures = [e for e in gate.verifier.audit(username="alice", event="verify") if e.result == "invalid"]
    assert [(e.method, e.detail) for e in failures] == [("password", "ldap")]


def test_a_user_outside_the_required_group_is_denied_after_login(gate: Gate) -> None:
    browser, reply = gate.log_in("bob", "bob-ldap-pw")
    assert reply.status == 303  # type: ignore[attr-defined]
    assert gate.check(browser)[0] == 403


def test_a_name_typed_in_other_case_logs_in_as_the_directorys_user(gate: Gate) -> None:
    browser, _ = gate.log_in("ALICE", "alice-ldap-pw")
    assert gate.check(browser)[1]["remote-user"] == "alice"
    assert "ALICE" not in gate.verifier.list_users()  # no second user without alice's factors


def test_a_name_with_dn_special_characters_binds_to_its_own_entry(gate: Gate) -> None:
    browser, reply = gate.log_in("o,neill", "oneill-ldap-pw")
    assert reply.status == 303  # type: ignore[attr-defined]
    assert gate.check(browser) == (200, {"remote-user": "o,neill", "remote-groups": "trackers",
                                         "remote-name": "O,Neill Example", "remote-email": "oneill@example.org"})


def test_a_wildcard_in_a_name_matches_no_one_elses_groups(slapd: str, tmp_path: Path) -> None:
    either = "(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=posixGroup)(memberUid={username})))"
    gate = make_gate(tmp_path, gate_config(slapd, either))
    _browser, reply = gate.log_in("x*", "star-ldap-pw")
    assert reply.status == 303  # type: ignore[attr-defined]
    assert gate.verifier.user_status("x*").groups == []  # not xavier's "admins"
    gate.log_in("xavier", "xavier-ldap-pw")
    assert gate.verifier.user_status("xavier").groups == ["admins"]


def test_an_empty_password_never_binds_even_where_the_directory_would_allow_it(slapd: str) -> None:
    from verifier.gate.config import LdapConfig

    client = LdapClient(LdapConfig(slapd, f"uid={{username}},ou=people,{SUFFIX}", f"ou=groups,{SUFFIX}",
                                   "(member={dn})", "uid", "cn", "displayName", "mail", False, None, 5))
    assert client.authenticate("alice", "") is None
    assert client.authenticate("alice", "alice-ldap-pw") is not None


def test_a_directory_that_cannot_be_reached_is_said_so_and_counts_nothing(tmp_path: Path) -> None:
    gate = make_gate(tmp_path, gate_config(f"ldap://127.0.0.1:{free_port()}"))
    _browser, reply = gate.log_in("alice", "alice-ldap-pw")
    assert reply.status == 503 and "cannot be reached" in reply.text  # type: ignore[attr-defined]
    assert gate.verifier.audit(username="alice", event="verify") == []
    with pytest.raises(DirectoryUnavailable):
        LdapClient(load_config(gate_config(f"ldap://127.0.0.1:{free_port()}")).ldap).authenticate(  # type: ignore
            "alice", "x")
