"""Web origins: parsing to the canonical ``scheme://host[:port]`` form the browser itself writes.

Two origins match when their canonical forms are equal (the vault indexes entries by that form), so an
entry bound to ``https://jira.example.com`` answers only that origin: same scheme, same host, same port.
No suffix or wildcard matching, ever.

Hosts are written as the WHATWG URL parser writes them, because the origin we are asked about comes from
the browser (``sender.origin``), already in that form: IDNA UTS-46 with non-transitional processing (so
``straße`` stays ``straße``, ``xn--strae-oqa``, and is never ``strasse``), ``CheckHyphens`` and the STD3
rules off, joiners and bidi checked; IPv4 hosts in any of the forms browsers accept (``127.1``,
``0x7f.0.0.1``) and IPv6 hosts in their shortest form. The ``idna`` package gives the UTS-46 mapping table
and the label checks; ``idna.encode`` itself is not used because it adds IDNA 2008's stricter rules
(it refuses ``a_b.example`` and ``☃.net``, which every browser opens).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes, urlsplit

from .errors import InvalidOrigin

_DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_ORIGIN_LENGTH = 2048
# WHATWG "forbidden domain code points": these never appear in a host a browser writes.
_FORBIDDEN_IN_DOMAIN = frozenset("\x00\t\n\r #/:<>?@[\\]^|%\x7f" + "".join(map(chr, range(0x20))))
_JOINERS = ("\u200c", "\u200d")


OPAQUE = "null"  # how a browser serializes an opaque origin (sandboxed frames, data: URLs)


class Origin:
    """A web origin, parsed once where it enters the host and carried inward as this value.

    ``str(origin)`` is the canonical ``scheme://host[:port]`` (see :func:`normalize_origin`), or ``"null"``
    for an opaque origin, which equals and matches nothing: not even another opaque origin.
    """

    __slots__ = ("serialized",)

    def __init__(self, serialized: str) -> None:
        self.serialized = serialized  # already canonical: build with Origin.parse

    @classmethod
    def parse(cls, value: object, *, allow_opaque: bool = False) -> Origin:
        """The origin of ``value`` (an origin or a full URL). Raises :class:`InvalidOrigin`, also for
        ``"null"`` unless ``allow_opaque`` (the security-key path refuses it with its own error)."""
        if isinstance(value, Origin):
            return value
        if value == OPAQUE and allow_opaque:
            return cls(OPAQUE)
        if not isinstance(value, str):
            raise InvalidOrigin(f"not an origin: {value!r}")
        return cls(normalize_origin(value))

    @property
    def opaque(self) -> bool:
        return self.serialized == OPAQUE

    def __str__(self) -> str:
        return self.serialized

    def __repr__(self) -> str:
        return f"Origin({self.serialized!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Origin) and not self.opaque and other.serialized == self.serialized

    def __hash__(self) -> int:
        return hash(self.serialized)


def normalize_origin(value: str) -> str:
    """Return the canonical origin of ``value`` (an origin or a full URL).

    Lower-cases the scheme, writes the host as a browser does (see the module docstring), drops a
    default port, path, query and fragment. Raises :class:`InvalidOrigin` for anything that is not an
    http(s) origin a browser would accept.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_ORIGIN_LENGTH:
        raise InvalidOrigin(f"not an origin: {value!r}")
    if any(ord(c) < 0x21 or c == "\x7f" for c in value):
        raise InvalidOrigin("an origin may not contain spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidOrigin(f"not an origin: {value!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidOrigin(_scheme_problem(value, scheme))
    if "@" in parts.netloc:
        raise InvalidOrigin("an origin may not carry user information")
    raw_host, port = _split_host_port(parts.netloc, value)
    host = canonical_host(raw_host)
    origin = f"{scheme}://{host}" if port is None or port == _DEFAULT_PORTS[scheme] else f"{scheme}://{host}:{port}"
    if len(origin) > MAX_ORIGIN_LENGTH:  # punycode can lengthen a host; a bound origin stays small
        raise InvalidOrigin(f"the origin is longer than {MAX_ORIGIN_LENGTH} characters once encoded")
    return origin


def _scheme_problem(value: str, scheme: str) -> str:
    """The message for a value without http(s); a bare host ("localhost:8080") gets the origin it meant, a
    misspelt scheme or separator ("https//jira…", "htps://jira…") the spelling it meant."""
    meant = _respelled_scheme(value)
    if meant:
        return f"{value!r} is not an origin: did you mean {meant}? (an origin is scheme://host[:port])"
    if "://" not in value and not _looks_like_a_scheme(value):
        host = value.lstrip("[").split("]")[0] if value.startswith("[") else value.split(":")[0].split("/")[0]
        local = host.lower() in ("localhost", "::1") or host.lower().endswith(".localhost") or host.startswith("127.")
        meant = _suggestion(("http://" if local else "https://") + value)
        if meant:
            return f"{value!r} has no scheme: did you mean {meant}? (an origin is scheme://host[:port])"
    return f"only http and https origins are supported, not {scheme or 'none'!r}"


# A scheme followed by a broken separator ("https//", "https:/", "https:", "https;//", "https:\\", "https:///").
_SCHEME_TYPO = r"^([a-z]{2,8})([:;]?)([/\\]*)(.*)$"  # compiled on first use (re's cache): not at the host's start


def _scheme_meant(value: str) -> tuple[str, str] | None:
    """(``http`` or ``https``, what follows) when ``value`` starts with a slip of the finger on one of them or on
    the ``://`` after it ("https//", "htps://", "https:/", "https:///"); None otherwise, also when both are
    spelt right."""
    match = re.match(_SCHEME_TYPO, value, re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    scheme, colon, slashes, rest = match.groups()
    if not colon and not slashes:
        return None  # "https.example.com", "httpbin.org": a host that starts with those letters
    import difflib  # only on this error path

    closest = difflib.get_close_matches(scheme.lower(), ("https", "http"), n=1, cutoff=0.7)
    if not closest or (scheme.lower() == closest[0] and colon == ":" and slashes == "//"):
        return None
    return closest[0], rest


def _looks_like_a_scheme(value: str) -> bool:
    return _scheme_meant(value) is not None


def _respelled_scheme(value: str) -> str | None:
    """``value`` with its scheme and separator respelt as ``http://`` or ``https://`` (see :func:`_scheme_meant`),
    when that gives an origin one can bind; None otherwise."""
    found = _scheme_meant(value)
    if found is None or not found[1]:
        return None
    return _suggestion(f"{found[0]}://{found[1]}")


def _suggestion(text: str) -> str | None:
    """The origin to suggest for ``text``: its canonical form if one can bind it, else the host it meant (one
    typo more), else None. A suggestion is always an origin :func:`bindable_origin` accepts."""
    try:
        candidate = normalize_origin(text)
    except InvalidOrigin:
        return None
    problem, meant = _unbindable(candidate)
    return candidate if problem is None else meant


def _split_host_port(netloc: str, value: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidOrigin(f"unclosed IPv6 address in {value!r}")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidOrigin(f"unexpected text after the IPv6 address in {value!r}")
        port_text = rest[1:]
    else:
        host, _, port_text = netloc.partition(":")
    if not host:
        meant = _respelled_scheme(value)
        raise InvalidOrigin(f"no host in {value!r}" + (f": did you mean {meant}?" if meant else ""))
    if not port_text:
        return host, None  # "https://host:" has no port, as in the URL standard
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise InvalidOrigin(f"invalid port {port_text!r} in {value!r}")
    return host, int(port_text)


def canonical_host(raw: str) -> str:
    """The host as the WHATWG URL host parser writes it for an http(s) URL; InvalidOrigin if it refuses it."""
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise InvalidOrigin(f"invalid IPv6 address {raw!r}")
        return f"[{_ipv6(raw[1:-1])}]"
    if "%" in raw:
        try:
            raw = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidOrigin(f"the host {raw!r} is not UTF-8 once percent-decoded") from None
    host = _domain_to_ascii(raw)
    if _ends_in_a_number(host):
        return _ipv4(host)
    return host


def _domain_to_ascii(domain: str) -> str:
    """UTS-46 ToASCII with the URL standard's options (non-transitional, no STD3 rules, no hyphen checks)."""
    if domain.isascii():
        # Nothing to map. Like Chromium (unlike the letter of the standard), the "xn--" labels of an ASCII
        # host are not decoded to be checked: the origin we compare with is the browser's, which keeps them.
        result = domain.lower()
    else:
        import idna  # only for non-ASCII hosts: not needed on the host's cold-start path

        try:  # non-transitional: idna's default (recent releases have no other mode and warn if asked)
            mapped = idna.uts46_remap(domain, std3_rules=False)
        except (idna.IDNAError, ValueError) as exc:
            raise InvalidOrigin(f"invalid host name {domain!r} ({exc})") from None
        labels = mapped.split(".")  # the mapping has turned "。", "．" and "｡" into "."
        unicode_labels = [_checked_label(label) for label in labels]
        if any(_has_rtl(label) for label in unicode_labels):  # a bidi domain name: every label checked
            for label in filter(None, unicode_labels):  # empty labels (a trailing dot) have no direction
                try:
                    idna.check_bidi(label, check_ltr=True)
                except idna.IDNAError as exc:
                    raise InvalidOrigin(f"invalid host name {domain!r} ({exc})") from None
        result = ".".join(
            label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii") for label in labels
        )
    if not result or any(c in _FORBIDDEN_IN_DOMAIN for c in result):
        raise InvalidOrigin(f"invalid host name {domain!r}")
    return result


def _checked_label(label: str) -> str:
    """The Unicode form of one mapped label, after UTS-46's validity criteria; InvalidOrigin if it fails them."""
    import unicodedata

    import idna

    unicode_label = label
    if label.startswith("xn--"):
        try:
            unicode_label = label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            raise InvalidOrigin(f"invalid punycode label {label!r}") from None
        if not unicode_label or unicode_label.isascii():
            raise InvalidOrigin(f"invalid punycode label {label!r}")
        try:  # a decoded label must already be in mapped form
            valid = idna.uts46_remap(unicode_label, std3_rules=False) == unicode_label
        except (idna.IDNAError, ValueError):
            valid = False
        if not valid or "." in unicode_label:
            raise InvalidOrigin(f"punycode label {label!r} decodes to characters a host may not hold")
    if unicode_label.isascii():
        return unicode_label
    if not unicodedata.is_normalized("NFC", unicode_label):
        raise InvalidOrigin(f"host label {unicode_label!r} is not in NFC")
    if unicodedata.category(unicode_label[0]).startswith("M"):
        raise InvalidOrigin(f"host label {unicode_label!r} begins with a combining mark")
    for position, char in enumerate(unicode_label):
        if char in _JOINERS and not idna.valid_contextj(unicode_label, position):
            raise InvalidOrigin(f"host label {unicode_label!r} has a joiner (ZWJ/ZWNJ) where none may be")
    return unicode_label


def _has_rtl(label: str) -> bool:
    import unicodedata

    return any(unicodedata.bidirectional(c) in ("R", "AL", "AN") for c in label)


def _ends_in_a_number(host: str) -> bool:
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    return (last != "" and last.isdigit()) or _ipv4_number(last) is not None


def _ipv4_number(text: str) -> int | None:
    """One part of an IPv4 address in the forms the URL standard accepts (decimal, 0x hex, 0 octal)."""
    if not text:
        return None
    radix = 10
    if text[:2].lower() == "0x":
        text, radix = text[2:], 16
    elif len(text) > 1 and text[0] == "0":
        text, radix = text[1:], 8
    if not text:
        return 0
    digits = "0123456789abcdef"[:radix]
    if not all(c in digits for c in text.lower()):
        return None
    return int(text, radix)


def _ipv4(host: str) -> str:
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    numbers = [_ipv4_number(label) for label in labels]
    if len(labels) > 4 or any(n is None for n in numbers):
        raise InvalidOrigin(f"invalid IPv4 address {host!r}")
    values: list[int] = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise InvalidOrigin(f"invalid IPv4 address {host!r}")
    address = values[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(values[:-1]))
    return ".".join(str(address >> shift & 0xFF) for shift in (24, 16, 8, 0))


def _ipv6(text: str) -> str:
    """An IPv6 address (no zone: browsers refuse them) in the URL standard's shortest form."""
    import ipaddress

    if "%" in text:
        raise InvalidOrigin(f"an IPv6 address in a URL may not carry a zone: {text!r}")
    try:
        packed = ipaddress.IPv6Address(text).packed
    except ValueError:
        raise InvalidOrigin(f"invalid IPv6 address {text!r}") from None
    pieces = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    best_start, best_length, index = -1, 1, 0
    while index < 8:  # the first longest run of two or more zero pieces is written "::"
        if pieces[index] == 0:
            end = index
            while end < 8 and pieces[end] == 0:
                end += 1
            if end - index > best_length:
                best_start, best_length = index, end - index
            index = end
        else:
            index += 1
    hexes = [f"{p:x}" for p in pieces]
    if best_start < 0:
        return ":".join(hexes)
    return ":".join(hexes[:best_start]) + "::" + ":".join(hexes[best_start + best_length :])


# ---- origins a user binds an entry to ------------------------------------------------------------------------

_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")  # letters, digits, hyphen (and the "_" intranets use)


def bindable_origin(value: object) -> Origin:
    """The origin of ``value`` for binding an entry to it: parsed as the browser parses it (:meth:`Origin.parse`),
    then held to what a site one logs in at can be, since a binding is exact and one that no page can have
    is a typing mistake that would silently never fill: a host of letters, digits, hyphens and dots (after
    IDNA), no empty label (``jira..example.com``), no trailing dot, no wildcard (``*.example.com``: bindings
    never match by pattern), labels of at most 63 characters. IP addresses are kept as the browser writes them.

    Raises :class:`InvalidOrigin` saying what is wrong and, where one respelling is the evident intent, the
    origin meant ("did you mean https://jira.example.com?").
    """
    origin = Origin.parse(value)
    problem, meant = _unbindable(origin.serialized)
    if problem is None:
        return origin
    shown = value.serialized if isinstance(value, Origin) else value
    hint = f"; did you mean {meant}?" if meant else ""
    raise InvalidOrigin(f"{shown!r} cannot be bound: {problem}{hint}")


def _unbindable(origin: str) -> tuple[str | None, str | None]:
    """(what is wrong with a canonical origin as a binding, the origin meant) or (None, None)."""
    scheme, _, netloc = origin.partition("://")
    if netloc.startswith("["):
        return None, None  # IPv6: canonical already
    host, colon, port = netloc.rpartition(":") if netloc.count(":") == 1 else (netloc, "", "")
    suffix = f"{colon}{port}"
    if _ends_in_a_number(host):
        return None, None  # IPv4, written as the browser writes it
    if "*" in host:
        rest = host.rsplit("*", 1)[1].lstrip(".")
        example = f"{scheme}://jira.{rest}{suffix}" if rest and "*" not in rest else f"{scheme}://jira.example.com"
        return (f"'*' is not a wildcard here: a binding matches one origin exactly (scheme, host and port). Bind "
                f"each site you log in at by its own origin, e.g. {example}", None)
    problem = None
    labels = host.split(".")
    if host.endswith("."):
        problem = "the trailing dot makes another origin than the site's own (pages are not opened with it)"
    elif "" in labels:
        problem = "a host name has no empty labels (two dots in a row, or a dot at the start)"
    elif any(c not in _LDH and c != "." for c in host):
        bad = next(c for c in host if c not in _LDH and c != ".")
        problem = f"a host name holds letters, digits, hyphens and dots only, not {bad!r}"
    elif any(len(label) > 63 for label in labels) or len(host) > 253:
        return "a host name has labels of at most 63 characters and at most 253 in all", None
    elif any(label.startswith("-") or label.endswith("-") for label in labels):
        problem = "a label of a host name neither starts nor ends with a hyphen"
    if problem is None:
        return None, None
    return problem, _meant_host(scheme, host, suffix)


def _meant_host(scheme: str, host: str, suffix: str) -> str | None:
    """The origin a mistyped host most likely meant: commas and semicolons for dots, runs of dots as one, no
    dot or hyphen at a label's ends. None when that does not give a bindable origin."""
    fixed = re.sub(r"[,;]", ".", host)
    fixed = re.sub(r"\.{2,}", ".", fixed).strip(".")
    fixed = ".".join(label.strip("-") for label in fixed.split("."))
    if not fixed or fixed == host:
        return None
    try:
        candidate = normalize_origin(f"{scheme}://{fixed}{suffix}")
    except InvalidOrigin:
        return None
    return candidate if _unbindable(candidate)[0] is None else None
