"""Mail notices to users (pure rules): which events mail the user, what the admin and the user may switch
off, when a sign-in counts as one from a new network, when a lock or a reminder is mailed, and the sender's
back-off. No I/O: the service writes outbox rows, the sender delivers them (verifier/mail/).

Security notices tell a user that their account changed or is under attack; a user can never switch them
off, only the admin can (per kind, or all mail). Informational notices (enforcement, the enrolment reminder,
backup codes running low) the user may switch off too. See docs/verifier.md, "Mail to users".
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .ratelimit import MAX_ALLOWED_FAILURES, RateLimitRules

SECURITY = ("key_added", "key_removed", "backup_codes_regenerated", "account_locked", "devices_revoked",
            "user_reset", "new_device", "new_network")
INFORMATIONAL = ("policy_enforced", "enrol_reminder", "backup_codes_low")
KINDS = SECURITY + INFORMATIONAL
LANGUAGES = ("en", "de")  # the extension's languages
LOW_BACKUP_CODES = 2  # a use of a backup code that leaves this many or fewer is mailed
MAX_REMINDER_DAYS = 90
MAX_URL = 300
MAX_CONTACT = 200
# A sign-in is from a new network when its address lies outside every network of the user's earlier sign-ins.
# Networks this wide, so that a dynamic address from the same provider (which changes within its pool) is not
# news, while a sign-in from another provider or country usually is.
IPV4_NETWORK = 16
IPV6_NETWORK = 48
# What the read of a sign-in says about the client's network (a scalar subquery beside the user's factor).
SEEN_NO_HISTORY = None  # the user has no recorded network: record this one, mail nothing (the first sign-in)
SEEN_OTHER = 1  # the user has networks, not this one: record it and mail ``new_network``
SEEN_THIS = 2  # a known network: nothing to write


def _printable(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or not all(c.isprintable() for c in value):
        raise ValueError(f"{name} must be at most {limit} printable characters, got {str(value)[:40]!r}")
    return value.strip()


def check_language(value: Any) -> str:
    """One of the mail languages; raises ValueError."""
    if value not in LANGUAGES:
        raise ValueError(f"the mail language must be one of {', '.join(LANGUAGES)}, got {str(value)[:20]!r}")
    return value


def check_kinds(kinds: Iterable[Any], *, informational_only: bool = False) -> frozenset[str]:
    """Notice kinds as a set; raises ValueError for an unknown one, and with ``informational_only`` for a
    security notice (what a user may switch off)."""
    result = set()
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown notice {str(kind)[:40]!r}: one of {', '.join(KINDS)}")
        if informational_only and kind in SECURITY:
            raise ValueError(f"{kind} is a security notice: only an administrator can switch it off "
                             f"(a user may switch off {', '.join(INFORMATIONAL)})")
        result.add(kind)
    return frozenset(result)


def _url(value: Any) -> str:
    text = _printable("account_url", value, MAX_URL)
    if text and (not text.startswith(("https://", "http://")) or any(c.isspace() for c in text)):
        raise ValueError(f"account_url must be an http(s) URL without spaces, got {text[:40]!r}")
    return text


@dataclass(frozen=True)
class NoticeSettings:
    """The admin's choices for mail to users, stored in the database (every node and worker reads the same).

    ``enabled`` is off until an admin turns mail on: nothing is written to the outbox before that.
    """

    enabled: bool = False
    off: frozenset[str] = frozenset()  # kinds the admin switched off
    language: str = "en"  # for users who chose none
    timezone: str = "UTC"  # times in mails are shown in it
    reminder_days: int = 7  # the enrolment reminder goes this many days before the deadline (0: none)
    account_url: str = ""  # where users see and remove their factors: named in every mail
    contact: str = ""  # whom to tell when it was not them (e.g. "the IT help desk, +49 …")

    @classmethod
    def validated(cls, enabled: Any = False, off: Iterable[Any] = (), language: Any = "en",
                  timezone: Any = "UTC", reminder_days: Any = 7, account_url: Any = "",
                  contact: Any = "") -> NoticeSettings:
        """Checked settings; raises ValueError naming the bad field."""
        if not isinstance(enabled, bool):
            raise ValueError("enabled must be true or false")
        if isinstance(reminder_days, bool) or not isinstance(reminder_days, int) or \
                not 0 <= reminder_days <= MAX_REMINDER_DAYS:
            raise ValueError(f"reminder_days must be a whole number from 0 to {MAX_REMINDER_DAYS}, "
                             f"got {str(reminder_days)[:20]!r}")
        return cls(enabled, check_kinds(off), check_language(language), check_timezone(timezone), reminder_days,
                   _url(account_url), _printable("contact", contact, MAX_CONTACT))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the store keeps and the admin API shows)."""
        return {"enabled": self.enabled, "off": sorted(self.off), "language": self.language,
                "timezone": self.timezone, "reminder_days": self.reminder_days, "account_url": self.account_url,
                "contact": self.contact}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NoticeSettings:
        """Inverse of :meth:`to_dict` (validated again; a field it lacks takes its default)."""
        return cls.validated(**{name: data[name] for name in cls().to_dict() if name in data})

    def sends(self, kind: str) -> bool:
        """Whether the admin lets notices of ``kind`` be written at all."""
        return self.enabled and kind not in self.off


def check_timezone(value: Any) -> str:
    """An IANA time zone name (``Europe/Berlin``) the system knows; raises ValueError."""
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ValueError("timezone must be an IANA name such as UTC or Europe/Berlin")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value[:64]!r}: use an IANA name such as UTC or Europe/Berlin") from None
    return value


@functools.lru_cache(maxsize=16)
def notice_settings_of(raw: str | None) -> NoticeSettings:
    """The stored settings text (None: never set, mail off), parsed once per distinct text: the sign-in hot
    path reads the text with the user's factor, as it reads the policy."""
    return NoticeSettings.from_dict(json.loads(raw)) if raw else NoticeSettings()


@dataclass(frozen=True)
class UserPrefs:
    """What a user chose for their own mail."""

    language: str | None = None  # None: the deployment's
    off: frozenset[str] = field(default_factory=frozenset)  # informational kinds switched off

    @classmethod
    def of_row(cls, language: str | None, off_json: str | None) -> UserPrefs:
        """From the users row's ``mail_language`` and ``mail_off`` columns (tolerant: a value this version does
        not know is ignored, so a newer verifier's row never stops mail)."""
        try:
            kinds = json.loads(off_json or "[]")
        except ValueError:
            kinds = []
        off = frozenset(k for k in kinds if k in INFORMATIONAL) if isinstance(kinds, list) else frozenset()
        return cls(language if language in LANGUAGES else None, off)


def withheld(kind: str, settings: NoticeSettings, prefs: UserPrefs) -> str | None:
    """Why a notice of ``kind`` is not to be sent (the admin switched mail or this kind off, or the user switched
    off an informational kind), or None when it is to be sent."""
    if not settings.enabled:
        return "mail is switched off by the administrator"
    if kind in settings.off:
        return f"{kind} is switched off by the administrator"
    if kind in INFORMATIONAL and kind in prefs.off:
        return f"{kind} is switched off by the user"
    return None


def language_for(prefs: UserPrefs, settings: NoticeSettings) -> str:
    """The user's language, else the deployment's."""
    return prefs.language or settings.language


@functools.lru_cache(maxsize=8192)  # addresses repeat (NAT, retries), as for the rate limiter's keys
def network_of(ip: str) -> str | None:
    """The client network of an address (IPv4 /16, IPv6 /48; an IPv4-mapped IPv6 address as its IPv4 one), or
    None for anything that is not an address (never recorded, never mailed)."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0].strip()) if isinstance(ip, str) else None
    except ValueError:
        return None
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_NETWORK if address.version == 4 else IPV6_NETWORK
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def lock_mail_due(count: int, rules: RateLimitRules) -> bool:
    """A user's counter that entered a back-off after ``count`` consecutive failures is mailed at the first
    back-off of a streak and when it reaches the 100 failures NIST allows (an attack?), not at each doubling
    in between (which would be a dozen mails in the first hours of an attack)."""
    return count == max(rules.free_failures, 1) or count == MAX_ALLOWED_FAILURES


def reminder_due(deadline: float | None, days_before: int, now: float) -> bool:
    """Whether the enrolment reminder for ``deadline`` is due at ``now`` (``days_before`` days ahead of it)."""
    return deadline is not None and days_before > 0 and deadline - days_before * 86400 <= now < deadline


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next try of a mail the relay did not take: ``base`` doubling per attempt, at most
    ``cap``."""
    return min(cap, base * math.pow(2, max(0, min(attempts, 60) - 1)))


def outbox_row(kind: str, username: str, now: float, **params: Any) -> dict[str, Any]:
    """An outbox row for the store: the kind, the user, and what the mail tells (JSON). Callers pass only what a
    template shows: the time, the client's address and browser, a key's name, a count — never a secret."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice {kind!r}")
    body = {"time": now, **{k: v for k, v in params.items() if v is not None}}
    return {"created": now, "kind": kind, "username": username, "params": json.dumps(body, sort_keys=True),
            "next_attempt": now}


def newly_required(before: Any, after: Any, users: Sequence[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The users a policy change newly asks for a second factor (``before.requires`` false, ``after.requires``
    true, without an address: the allowlist depends on where a user signs in from)."""
    return [u for u in users if after.requires(u["groups"], u["excluded_until"], "", now)
            and not before.requires(u["groups"], u["excluded_until"], "", now)]


def required_without_factor(policy: Any, users: Sequence[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The users the policy asks for a second factor who have none yet (whom an enrolment reminder is for)."""
    return [u for u in users if not u["enrolled"] and policy.requires(u["groups"], u["excluded_until"], "", now)]
