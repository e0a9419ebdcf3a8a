"""Access rules, without I/O: which level a request needs, in the spirit of Authelia's ``access_control``.

Rules are tried in order and the first that matches decides; when none does, the default policy does. A
rule matches when every condition it states holds: the host is one of its ``domain`` patterns (``x.org``
exactly, ``*.x.org`` any name under it), the normalised path and query match one of its ``resources``
regular expressions (``re.search``, so anchor them), the method is one of its ``methods``, the client is in
one of its ``networks``, and the user is one of its ``subject`` entries (``user:NAME`` or ``group:NAME``).

A rule with a subject cannot be decided for someone not logged in yet: such a request matches it, and is
sent to log in whatever its policy (as Authelia does), so ``deny`` for a group never tells a stranger that
the page exists, and a member is let in after login. ``bypass`` with a subject is refused by the
configuration check for that reason.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from ..core.sessions import Level
from .addresses import IPAddress, IPNetwork
from .urls import HOSTNAME_RE


class Policy(StrEnum):
    """What a matching rule asks of a request."""

    BYPASS = "bypass"  # let it through, no login, no identity headers
    ONE_FACTOR = "one_factor"  # a session that passed the first factor
    TWO_FACTOR = "two_factor"  # a session that passed both
    DENY = "deny"  # never


class Verdict(Enum):
    """The forward-auth answer."""

    BYPASS = "bypass"  # 200 without identity
    ALLOW = "allow"  # 200 with the identity headers
    LOGIN = "login"  # 401 / 302 to the portal
    DENY = "deny"  # 403


@dataclass(frozen=True)
class DomainPattern:
    """``example.com`` (that host) or ``*.example.com`` (any name under it, not the apex)."""

    text: str

    def __post_init__(self) -> None:
        name = self.text[2:] if self.text.startswith("*.") else self.text
        if HOSTNAME_RE.fullmatch(name) is None:
            raise ValueError(f"{self.text!r} is not a host name or *.domain pattern")

    def matches(self, host: str) -> bool:
        if self.text.startswith("*."):
            return host.endswith(self.text[1:])
        return host == self.text


@dataclass(frozen=True)
class Subject:
    """Who is asking: nobody yet (``username`` None), or a logged-in user with their groups."""

    username: str | None = None
    groups: frozenset[str] = frozenset()

    @property
    def anonymous(self) -> bool:
        return self.username is None


ANONYMOUS = Subject()


@dataclass(frozen=True)
class Request:
    """What the rules look at."""

    host: str
    resource: str  # normalised path + raw query (urls.Target.resource)
    method: str
    client: IPAddress | None


@dataclass(frozen=True)
class Rule:
    """One access rule; ``line`` is where the configuration file wrote it (for logs and errors)."""

    policy: Policy
    domains: tuple[DomainPattern, ...]
    resources: tuple[re.Pattern[str], ...] = ()
    methods: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    line: int | None = field(default=None, compare=False)

    @property
    def has_subject(self) -> bool:
        return bool(self.users or self.groups)

    @functools.cached_property
    def _hosts(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """The domain patterns as exact names and ``.suffixes``, for one set lookup and one endswith."""
        exact = frozenset(d.text for d in self.domains if not d.text.startswith("*."))
        return exact, tuple(d.text[1:] for d in self.domains if d.text.startswith("*."))

    def matches(self, subject: Subject, request: Request) -> bool:
        """Every stated condition holds (a subject condition always holds for an anonymous request)."""
        exact, suffixes = self._hosts
        if request.host not in exact and not request.host.endswith(suffixes):
            return False
        if self.resources and not any(p.search(request.resource) for p in self.resources):
            return False
        if self.methods and request.method not in self.methods:
            return False
        if self.networks and (request.client is None or not any(
                request.client in net for net in self.networks if net.version == request.client.version)):
            return False
        if self.has_subject and not subject.anonymous:
            return subject.username in self.users or not self.groups.isdisjoint(subject.groups)
        return True


@dataclass(frozen=True)
class AccessControl:
    """The ordered rules and the policy when none matches."""

    rules: tuple[Rule, ...]
    default_policy: Policy = Policy.DENY

    def required(self, subject: Subject, request: Request) -> tuple[Policy, Rule | None]:
        """The policy of the first matching rule (and the rule), else the default policy."""
        for rule in self.rules:
            if rule.matches(subject, request):
                return rule.policy, rule
        return self.default_policy, None

    def verdict(self, subject: Subject, level: int, request: Request) -> tuple[Verdict, Rule | None]:
        """The forward-auth answer for a subject whose session reached ``level`` (0: no session)."""
        policy, rule = self.required(subject, request)
        return decide(policy, rule is not None and rule.has_subject, subject, level), rule


def decide(policy: Policy, rule_has_subject: bool, subject: Subject, level: int) -> Verdict:
    """A policy applied to a session's level."""
    if policy is Policy.BYPASS:
        return Verdict.BYPASS
    if policy is Policy.DENY:
        # A stranger matched a rule about some users: it cannot be decided before login.
        return Verdict.LOGIN if subject.anonymous and rule_has_subject else Verdict.DENY
    needed = Level.ONE_FACTOR if policy is Policy.ONE_FACTOR else Level.TWO_FACTORS
    return Verdict.ALLOW if not subject.anonymous and level >= needed else Verdict.LOGIN
