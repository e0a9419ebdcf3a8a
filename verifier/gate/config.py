"""The gate's configuration: one TOML file, checked whole at start, every error naming its line.

Syntax errors come from :mod:`tomllib` (which names the line); everything else — an unknown key (a typo
in a security configuration must not pass silently), a wrong type, a bad duration, a regular expression
that does not compile, a portal outside its domain — is reported as ``FILE:LINE: key: what is wrong``,
the line found by :mod:`.toml_lines`. The reference of every key is docs/gate.md; manifests/gate/ holds
a complete example.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from ..core.sessions import Timeouts
from ..errors import VerifierConfigError
from .addresses import IPNetwork, TrustedProxies
from .cookies import COOKIE_NAME_RE
from .rules import AccessControl, DomainPattern, Policy, Rule
from .toml_lines import LineIndex, Path
from .urls import DEFAULT_PORTS, HOSTNAME_RE, BadUrl, is_local_name, parse_authority, under_domain

T = TypeVar("T")
_REQUIRED: Any = object()
DURATION_RE = re.compile(r"(?:(\d{1,9})([smhd]))+")
_DURATION_PART = re.compile(r"(\d{1,9})([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
METHOD_RE = re.compile(r"[A-Z]{1,20}")
MAX_RULES = 1000

TOP_KEYS = ("server", "database", "session", "domains", "authentication", "ldap", "access_control")


class GateConfigError(VerifierConfigError):
    """The gate's configuration is wrong; ``line`` (1-based) is where, when known."""

    code = "gate_config_error"

    def __init__(self, message: str, *, line: int | None = None, source: str = "gate.toml") -> None:
        self.line = line
        self.source = source
        self.reason = message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class DomainConfig:
    """A cookie domain: its hosts share one login, and its portal is where they log in."""

    domain: str  # the cookie's Domain
    portal: str  # the portal's origin, e.g. https://auth.example.com
    portal_host: str  # the Host header the proxy sends for the portal (with a non-default port)
    rp_id: str  # WebAuthn relying party of the portal's security keys
    rp_name: str


@dataclass(frozen=True)
class LdapConfig:
    """The directory behind the first factor (bind as the user, groups from a filter)."""

    url: str
    user_dn: str  # template with {username}, escaped as a DN value
    groups_base: str
    groups_filter: str  # template with {username} and/or {dn}, escaped as filter values (RFC 4515)
    username_attribute: str  # the entry's name for the user (the login name used is the entry's, not the typed)
    group_name_attribute: str
    name_attribute: str
    mail_attribute: str
    start_tls: bool
    ca_file: str | None
    timeout: float


@dataclass(frozen=True, eq=False)
class GateConfig:
    """Everything ``gate serve`` runs on; ``text`` is the file as checked (workers parse the same text)."""

    source: str
    text: str
    host: str
    port: int  # the portal (and the forward-auth paths through ASGI)
    authz_port: int  # the forward-auth check's own listener (verifier/gate/authz_server.py)
    trusted: TrustedProxies
    database_url: str | None
    cookie_name: str
    device_cookie_name: str
    timeouts: Timeouts
    domains: tuple[DomainConfig, ...]
    backend: str  # "local" or "ldap"
    ldap: LdapConfig | None
    access: AccessControl
    _domain_cache: dict[str, DomainConfig | None] = field(default_factory=dict, repr=False)

    def domain_of(self, host: str) -> DomainConfig | None:
        """The cookie domain a host belongs to (the longest configured domain it is under)."""
        found = self._domain_cache.get(host, False)
        if found is not False:
            return found  # type: ignore[return-value]
        best = None
        for d in self.domains:
            if under_domain(host, d.domain) and (best is None or len(d.domain) > len(best.domain)):
                best = d
        if len(self._domain_cache) < 4096:
            self._domain_cache[host] = best
        return best

    def portal_for(self, host_header: str) -> DomainConfig | None:
        """The domain whose portal is served under this ``Host`` header, if any."""
        try:
            host, port = parse_authority(host_header.strip())
        except BadUrl:
            return None
        for d in self.domains:
            shown = None if port == DEFAULT_PORTS[d.portal.split("://", 1)[0]] else port
            if host + (f":{shown}" if shown else "") == d.portal_host:
                return d
        return None


def dotted(path: Path) -> str:
    """A key path as people read it: ``access_control.rules#3.policy`` (rules counted from 1)."""
    out = ""
    for part in path:
        out += f"#{part + 1}" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class _Reader:
    """Typed access to the parsed document; every failure names the key's line."""

    def __init__(self, data: dict[str, Any], index: LineIndex, source: str) -> None:
        self.data = data
        self.index = index
        self.source = source

    def fail(self, path: Path, message: str) -> NoReturn:
        raise GateConfigError(f"{dotted(path)}: {message}", line=self.index.line(path), source=self.source)

    def table(self, path: Path, value: Any, known: Iterable[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, "must be a table")
        allowed = tuple(known)
        for key in value:
            if key not in allowed:
                self.fail((*path, key), f"unknown key (known here: {', '.join(allowed)})")
        return value

    def get(self, table: dict[str, Any], path: Path, key: str, kind: type[T] | tuple[type, ...], what: str,
            default: Any = _REQUIRED) -> Any:
        if key not in table:
            if default is _REQUIRED:
                self.fail(path, f"missing {key!r} ({what})")
            return default
        value = table[key]
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else ()):
            self.fail((*path, key), f"must be {what}")
        if not isinstance(value, kind):
            self.fail((*path, key), f"must be {what}")
        return value

    def strings(self, table: dict[str, Any], path: Path, key: str, what: str, *, single: bool = False,
                default: Any = ()) -> list[str]:
        value = table.get(key, default)
        if single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            self.fail((*path, key), f"must be a list of strings ({what})")
        return list(value)

    def each(self, path: Path, values: list[str], check: Callable[[str], T]) -> list[T]:
        out = []
        for value in values:
            try:
                out.append(check(value))
            except (ValueError, re.error) as exc:
                self.fail(path, f"{value!r}: {exc}")
        return out


def parse_duration(value: int | str) -> float:
    """Seconds from a positive integer or text like ``90s``, ``30m``, ``12h``, ``7d``, ``1h30m``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 30m, 12h, 7d")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return float(value)
    text = value.strip().lower()
    if DURATION_RE.fullmatch(text) is None:
        raise ValueError(f"{value!r} is not a duration (write it like 90s, 30m, 12h, 7d or 1h30m)")
    seconds = sum(int(n) * _UNIT[u] for n, u in _DURATION_PART.findall(text))
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return float(seconds)


def load_config(text: str, source: str = "gate.toml") -> GateConfig:
    """Parse and check a configuration; raises GateConfigError naming the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        found = re.search(r"line (\d+)", str(exc))
        raise GateConfigError(f"not valid TOML: {exc}", line=line or (int(found.group(1)) if found else None),
                              source=source) from None
    r = _Reader(data, LineIndex.of(text), source)
    r.table((), data, TOP_KEYS)
    server = r.table(("server",), data.get("server", {}), ("host", "port", "authz_port", "trusted_proxies"))
    host = r.get(server, ("server",), "host", str, "a listen address", "127.0.0.1")
    port = r.get(server, ("server",), "port", int, "a TCP port", 9091)
    authz_port = r.get(server, ("server",), "authz_port", int, "a TCP port", 9092)
    for key, value in (("port", port), ("authz_port", authz_port)):
        if not 0 <= value <= 65535:
            r.fail(("server", key), "must be 0-65535")
    if authz_port == port and port:
        r.fail(("server", "authz_port"), "must differ from port (the portal's)")
    proxies = r.strings(server, ("server",), "trusted_proxies", "addresses or networks",
                        default=["127.0.0.1", "::1"])
    networks: list[IPNetwork] = r.each(("server", "trusted_proxies"), proxies,
                                       lambda v: ipaddress.ip_network(v, strict=False))
    database = r.table(("database",), data.get("database", {}), ("url",))
    database_url = r.get(database, ("database",), "url", str, "sqlite:///PATH or postgresql://...", None)
    if database_url is not None and not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        r.fail(("database", "url"), "must be sqlite:///PATH or postgresql://USER@HOST/DB")
    cookie_name, device_cookie_name, timeouts = _session(r, data)
    domains = _domains(r, data)
    backend, ldap = _authentication(r, data)
    access = _access_control(r, data)
    return GateConfig(source, text, host, port, authz_port, TrustedProxies(networks), database_url, cookie_name,
                      device_cookie_name, timeouts, domains, backend, ldap, access)


def _session(r: _Reader, data: dict[str, Any]) -> tuple[str, str, Timeouts]:
    path: Path = ("session",)
    session = r.table(path, data.get("session", {}),
                      ("cookie_name", "device_cookie_name", "idle_timeout", "absolute_timeout"))
    names = []
    for key, default in (("cookie_name", "tracker2fa_session"), ("device_cookie_name", "tracker2fa_device")):
        name = r.get(session, path, key, str, "a cookie name", default)
        if COOKIE_NAME_RE.fullmatch(name) is None:
            r.fail((*path, key), "must be 1-64 letters, digits or !#$%&'*+-.^_`|~")
        names.append(name)
    if names[0] == names[1]:
        r.fail((*path, "device_cookie_name"), "must differ from cookie_name")
    seconds = []
    for key, default in (("idle_timeout", "1h"), ("absolute_timeout", "12h")):
        value = r.get(session, path, key, (int, str), "a duration like 30m, 12h or 7d", default)
        try:
            seconds.append(parse_duration(value))
        except ValueError as exc:
            r.fail((*path, key), str(exc))
    if seconds[0] > seconds[1]:
        r.fail((*path, "idle_timeout"), "must not be longer than absolute_timeout")
    return names[0], names[1], Timeouts(idle=seconds[0], absolute=seconds[1])


def _domains(r: _Reader, data: dict[str, Any]) -> tuple[DomainConfig, ...]:
    entries = data.get("domains")
    if not isinstance(entries, list) or not entries:
        r.fail(("domains",), "at least one [[domains]] table is needed (domain = ..., portal = ...)")
    out: list[DomainConfig] = []
    for i, entry in enumerate(entries):
        path: Path = ("domains", i)
        entry = r.table(path, entry, ("domain", "portal", "webauthn_rp_id", "name"))
        domain = r.get(entry, path, "domain", str, "the parent domain the session cookie is scoped to").lower()
        if HOSTNAME_RE.fullmatch(domain) is None:
            r.fail((*path, "domain"), "must be a DNS name (letters, digits, hyphens, dots), e.g. example.com")
        portal_text = r.get(entry, path, "portal", str, "the portal's URL, e.g. https://auth.example.com")
        match = re.fullmatch(r"(https?)://([^/?#]+)/?", portal_text.strip())
        if match is None:
            r.fail((*path, "portal"), "must be an http(s) URL with no path, e.g. https://auth.example.com")
        scheme = match.group(1)
        try:
            host, port = parse_authority(match.group(2))
        except BadUrl as exc:
            r.fail((*path, "portal"), str(exc))
        if not under_domain(host, domain):
            r.fail((*path, "portal"), f"the portal's host {host} must be {domain} or under it (the session cookie "
                   "is set there)")
        if scheme == "http" and not is_local_name(host):
            r.fail((*path, "portal"), "must be https (plain http only on localhost names, for developers)")
        if port == DEFAULT_PORTS[scheme]:
            port = None
        portal_host = host + (f":{port}" if port else "")
        rp_id = r.get(entry, path, "webauthn_rp_id", str, "a domain", domain).lower()
        if not under_domain(host, rp_id):
            r.fail((*path, "webauthn_rp_id"), f"must be the portal's host {host} or a domain it is under")
        name = r.get(entry, path, "name", str, "a name shown by security keys", "tracker2fa gate")
        if any(d.domain == domain for d in out):
            r.fail((*path, "domain"), f"{domain} is configured twice")
        if any(d.portal_host == portal_host for d in out):
            r.fail((*path, "portal"), f"{portal_host} is the portal of another domain already")
        out.append(DomainConfig(domain, f"{scheme}://{portal_host}", portal_host, rp_id, name))
    return tuple(out)


LDAP_KEYS = ("url", "user_dn", "groups_base", "groups_filter", "username_attribute", "group_name_attribute",
             "name_attribute", "mail_attribute", "start_tls", "ca_file", "timeout")
ATTRIBUTE_DEFAULTS = (("username_attribute", "uid"), ("group_name_attribute", "cn"), ("name_attribute", "displayName"),
                      ("mail_attribute", "mail"))


def _authentication(r: _Reader, data: dict[str, Any]) -> tuple[str, LdapConfig | None]:
    auth = r.table(("authentication",), data.get("authentication", {}), ("backend",))
    backend = r.get(auth, ("authentication",), "backend", str, '"local" or "ldap"', "local")
    if backend not in ("local", "ldap"):
        r.fail(("authentication", "backend"), 'must be "local" (the verifier\'s users) or "ldap"')
    if "ldap" not in data:
        if backend == "ldap":
            r.fail(("authentication", "backend"), "is ldap, but there is no [ldap] table")
        return backend, None
    path: Path = ("ldap",)
    ldap = r.table(path, data["ldap"], LDAP_KEYS)
    url = r.get(ldap, path, "url", str, "ldap://HOST[:PORT] or ldaps://HOST[:PORT]")
    if re.fullmatch(r"ldaps?://[^/?#@\s]+/?", url) is None:
        r.fail((*path, "url"), "must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]")
    user_dn = r.get(ldap, path, "user_dn", str, "a DN template with {username}")
    if "{username}" not in user_dn or _placeholders(user_dn) - {"username"}:
        r.fail((*path, "user_dn"), "must contain {username} and no other {placeholder}, e.g. "
               "uid={username},ou=people,dc=example,dc=com")
    groups_base = r.get(ldap, path, "groups_base", str, "the DN groups are searched under")
    groups_filter = r.get(ldap, path, "groups_filter", str, "a filter with {dn} or {username}",
                          "(&(objectClass=groupOfNames)(member={dn}))")
    if not _placeholders(groups_filter) & {"dn", "username"} or _placeholders(groups_filter) - {"dn", "username"}:
        r.fail((*path, "groups_filter"), "must use {dn} or {username} (and no other {placeholder})")
    if not _balanced(groups_filter):
        r.fail((*path, "groups_filter"), "is not an LDAP filter: its parentheses do not balance")
    attributes = []
    for key, default in ATTRIBUTE_DEFAULTS:
        value = r.get(ldap, path, key, str, "an attribute name", default)
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,63}", value) is None:
            r.fail((*path, key), "must be an attribute name (letters, digits, hyphens)")
        attributes.append(value)
    start_tls = r.get(ldap, path, "start_tls", bool, "true or false", False)
    ca_file = r.get(ldap, path, "ca_file", str, "a path to PEM CA certificates", None)
    try:
        timeout = parse_duration(r.get(ldap, path, "timeout", (int, str), "a duration like 5s", "5s"))
    except ValueError as exc:
        r.fail((*path, "timeout"), str(exc))
    return backend, LdapConfig(url.rstrip("/"), user_dn, groups_base, groups_filter, *attributes, start_tls, ca_file,
                               timeout)


def _placeholders(template: str) -> set[str]:
    return set(re.findall(r"\{([^{}]*)\}", template))


def _balanced(text: str) -> bool:
    depth = 0
    for c in text:
        depth += 1 if c == "(" else -1 if c == ")" else 0
        if depth < 0:
            return False
    return depth == 0 and text.startswith("(")


RULE_KEYS = ("domain", "resources", "methods", "networks", "subject", "policy")


def _access_control(r: _Reader, data: dict[str, Any]) -> AccessControl:
    path: Path = ("access_control",)
    acl = r.table(path, data.get("access_control", {}), ("default_policy", "rules"))
    default = _policy(r, acl, path, "default_policy", Policy.DENY.value)
    entries = acl.get("rules", [])
    if not isinstance(entries, list):
        r.fail((*path, "rules"), "must be an array of tables ([[access_control.rules]])")
    if len(entries) > MAX_RULES:
        r.fail((*path, "rules"), f"at most {MAX_RULES} rules")
    return AccessControl(tuple(_rule(r, (*path, "rules", i), e) for i, e in enumerate(entries)), default)


def _policy(r: _Reader, table: dict[str, Any], path: Path, key: str, default: Any = _REQUIRED) -> Policy:
    value = r.get(table, path, key, str, "bypass, one_factor, two_factor or deny", default)
    try:
        return Policy(value)
    except ValueError:
        r.fail((*path, key), f"unknown policy {value!r} (bypass, one_factor, two_factor or deny)")


def _rule(r: _Reader, path: Path, entry: Any) -> Rule:
    entry = r.table(path, entry, RULE_KEYS)
    policy = _policy(r, entry, path, "policy")
    if "domain" not in entry:
        r.fail(path, "missing 'domain' (the hosts this rule is about, e.g. \"jira.example.com\" or "
               "\"*.example.com\")")
    domains = r.each((*path, "domain"), [d.lower() for d in r.strings(entry, path, "domain", "host names",
                                                                        single=True)], DomainPattern)
    if not domains:
        r.fail((*path, "domain"), "must name at least one host")
    resources = r.each((*path, "resources"), r.strings(entry, path, "resources", "regular expressions"), re.compile)
    methods = r.each((*path, "methods"), r.strings(entry, path, "methods", "HTTP methods"), _method)
    networks = r.each((*path, "networks"), r.strings(entry, path, "networks", "addresses or networks"),
                      lambda v: ipaddress.ip_network(v, strict=False))
    users, groups = set(), set()
    for value in r.strings(entry, path, "subject", '"user:NAME" or "group:NAME"', single=True):
        kind, _, name = value.partition(":")
        if kind not in ("user", "group") or not name or any(c.isspace() for c in name):
            r.fail((*path, "subject"), f"{value!r}: write user:NAME or group:NAME")
        (users if kind == "user" else groups).add(name)
    if policy is Policy.BYPASS and (users or groups):
        r.fail((*path, "subject"), "a bypass rule cannot have a subject: nobody is logged in to compare")
    return Rule(policy, tuple(domains), tuple(resources), frozenset(methods), tuple(networks), frozenset(users),
                frozenset(groups), line=r.index.line(path))


def _method(value: str) -> str:
    if METHOD_RE.fullmatch(value) is None:
        raise ValueError("an HTTP method in capitals, e.g. GET")
    return value
