"""Who must present a second factor: enforcement mode, groups, exclusions and an IP allowlist."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

MODES = ("none", "all", "groups", "all_except_groups")
MAX_REMEMBER_DAYS = 365


@dataclass(frozen=True)
class Policy:
    """The enforcement policy; ``validated`` builds one from untrusted input."""

    mode: str = "all"
    groups: tuple[str, ...] = ()
    ip_allowlist: tuple[str, ...] = ()
    remember_days: int = 0
    _networks: tuple = field(default=(), repr=False, compare=False)

    @classmethod
    def validated(cls, mode: str, groups: Iterable[str] = (), ip_allowlist: Iterable[str] = (),
                  remember_days: int = 0) -> Policy:
        """A checked policy; raises ValueError naming the bad field."""
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
        return cls(mode, group_list, tuple(str(n) for n in networks), remember_days, tuple(networks))

    def to_dict(self) -> dict:
        """JSON-ready form (what get_policy returns and the store keeps)."""
        return {"mode": self.mode, "groups": list(self.groups), "ip_allowlist": list(self.ip_allowlist),
                "remember_days": self.remember_days}

    @classmethod
    def from_dict(cls, data: dict) -> Policy:
        """Inverse of :meth:`to_dict` (validated again)."""
        return cls.validated(data.get("mode", "all"), data.get("groups", ()), data.get("ip_allowlist", ()),
                             int(data.get("remember_days", 0)))

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
