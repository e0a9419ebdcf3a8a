"""Who must present a second factor (enforcement mode, groups, exclusions, an IP allowlist), and the TOTP
settings the admin chooses for new enrolments (digits, period, algorithm, accepted window, issuer)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .totp import ALGORITHMS, TotpParams

MODES = ("none", "all", "groups", "all_except_groups")
MAX_REMEMBER_DAYS = 365
# The admin's choices for new enrolments. The period is narrower than TotpParams' 10-300 s (which imported
# seeds may use): authenticator apps show 15 s and longer comfortably.
TOTP_DIGITS = (6, 8)
TOTP_PERIOD = (15, 300)
TOTP_WINDOW = (0, 10)  # steps accepted either side of the verifier's clock, for every verification
MAX_ISSUER = 100
TOTP_FIELDS = ("totp_digits", "totp_period", "totp_algorithm", "totp_window", "issuer")
MAX_TIME = 253402300799  # 9999-12-31, as exclusions


def _deadline(value: Any) -> float | None:
    """The enrolment deadline: a unix time, or None (0 also means none: what an admin sends to remove one)."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIME:
        raise ValueError(f"enrol_deadline must be a unix time (0 or null: none), got {str(value)[:20]!r}")
    return float(value)


def _whole(name: str, value: Any, low: int, high: int, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}{unit}, got {repr(value)[:20]}")
    return value


def _algorithm(value: Any) -> str:
    name = value.strip().upper().replace("-", "") if isinstance(value, str) else None
    if name not in ALGORITHMS:
        raise ValueError(f"totp_algorithm must be one of {', '.join(ALGORITHMS)}, got {str(value)[:20]!r}")
    return name


def _issuer(value: Any) -> str:
    """The issuer label authenticator apps show; "" means the relying party's name."""
    if not isinstance(value, str) or len(value.strip()) > MAX_ISSUER or \
            any(not c.isprintable() or c == ":" for c in value):
        raise ValueError(f"issuer must be at most {MAX_ISSUER} printable characters without ':' (the otpauth "
                         f"label puts one between issuer and account), got {str(value)[:40]!r}")
    return value.strip()


@dataclass(frozen=True)
class Policy:
    """The enforcement policy and the TOTP settings; ``validated`` builds one from untrusted input."""

    mode: str = "all"
    groups: tuple[str, ...] = ()
    ip_allowlist: tuple[str, ...] = ()
    remember_days: int = 0
    totp_digits: int = 6
    totp_period: int = 30
    totp_algorithm: str = "SHA1"
    totp_window: int = 1
    issuer: str = ""  # "" = the relying party's name
    # When users the policy asks must have a second factor: told in the enforcement mail and reminded of before
    # it. The verifier asks as the mode says, before and after it (see docs/verifier.md, "Mail to users").
    enrol_deadline: float | None = None
    _networks: tuple = field(default=(), repr=False, compare=False)

    @classmethod
    def validated(cls, mode: str, groups: Iterable[str] = (), ip_allowlist: Iterable[str] = (),
                  remember_days: int = 0, *, totp_digits: int = 6, totp_period: int = 30,
                  totp_algorithm: str = "SHA1", totp_window: int = 1, issuer: str = "",
                  enrol_deadline: float | None = None) -> Policy:
        """A checked policy; raises ValueError naming the bad field (and for a number, its range)."""
        if mode not in MODES:
            raise ValueError(f"policy mode must be one of {', '.join(MODES)}, got {mode!r}")
        group_list = tuple(sorted({str(g).strip() for g in groups if str(g).strip()}))
        if mode in ("groups", "all_except_groups") and not group_list:
            raise ValueError(f"policy mode {mode!r} needs at least one group")
        networks = []
        for text in ip_allowlist:
            try:
                networks.append(ipaddress.ip_network(str(text).strip(), strict=False))
            except ValueError:
                raise ValueError(f"not an IPv4 or IPv6 network: {text!r}") from None
        if isinstance(remember_days, bool) or not isinstance(remember_days, int) or \
                not 0 <= remember_days <= MAX_REMEMBER_DAYS:
            raise ValueError(f"remember_days must be an integer from 0 to {MAX_REMEMBER_DAYS}")
        return cls(mode, group_list, tuple(str(n) for n in networks), remember_days,
                   _whole("totp_digits", totp_digits, *TOTP_DIGITS),
                   _whole("totp_period", totp_period, *TOTP_PERIOD, " seconds"),
                   _algorithm(totp_algorithm),
                   _whole("totp_window", totp_window, *TOTP_WINDOW, " steps"),
                   _issuer(issuer), _deadline(enrol_deadline), tuple(networks))

    def to_dict(self) -> dict:
        """JSON-ready form (what get_policy returns and the store keeps)."""
        return {"mode": self.mode, "groups": list(self.groups), "ip_allowlist": list(self.ip_allowlist),
                "remember_days": self.remember_days, "totp_digits": self.totp_digits,
                "totp_period": self.totp_period, "totp_algorithm": self.totp_algorithm,
                "totp_window": self.totp_window, "issuer": self.issuer, "enrol_deadline": self.enrol_deadline}

    @classmethod
    def from_dict(cls, data: dict, defaults: Policy | None = None) -> Policy:
        """Inverse of :meth:`to_dict` (validated again); a missing TOTP field comes from ``defaults`` (a
        policy stored before the TOTP settings existed keeps the verifier's configured ones)."""
        base = defaults or cls()
        return cls.validated(data.get("mode", "all"), data.get("groups", ()), data.get("ip_allowlist", ()),
                             int(data.get("remember_days", 0)), enrol_deadline=data.get("enrol_deadline"),
                             **{name: data.get(name, getattr(base, name)) for name in TOTP_FIELDS})

    def totp_params(self) -> TotpParams:
        """How new enrolments build their codes, and the window every verification accepts."""
        return TotpParams(self.totp_digits, self.totp_period, self.totp_algorithm, self.totp_window)

    def changes_from(self, old: Policy) -> str:
        """``name: old → new`` for every field that differs (the audit row of a policy change)."""
        def shown(value: Any, name: str = "") -> str:
            if name == "enrol_deadline" and value is not None:
                return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            if isinstance(value, list):
                return ", ".join(value) or "-"
            return repr(value) if isinstance(value, str) else str(value)

        before, after = old.to_dict(), self.to_dict()
        return "; ".join(f"{name}: {shown(before[name], name)} → {shown(after[name], name)}"
                         for name in after if before[name] != after[name]) or "no change"

    def ip_allowed(self, ip: str) -> bool:
        """True when ``ip`` lies in the allowlist (an unparsable IP never does)."""
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return False
        # An IPv4-mapped IPv6 peer (::ffff:10.0.0.1) matches IPv4 networks too.
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        networks = self._networks or tuple(ipaddress.ip_network(n) for n in self.ip_allowlist)
        return any(address in net or (mapped is not None and mapped in net) for net in networks)

    def requires(self, groups: Iterable[str], excluded_until: float | None, ip: str, now: float) -> bool:
        """Whether a user in ``groups`` must present a second factor from ``ip`` at ``now``."""
        if excluded_until is not None and excluded_until > now:
            return False
        if self.ip_allowed(ip):
            return False
        member = bool(set(groups) & set(self.groups))
        return {"none": False, "all": True, "groups": member, "all_except_groups": not member}[self.mode]
