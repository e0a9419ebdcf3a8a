"""Parse and build ``otpauth://`` Key URIs.

Conventions (also in ``docs/import-formats.md``):

* ``otpauth://totp/...`` and ``otpauth://hotp/...``; ``otpauth://steam/...`` is accepted too (Aegis and
  others write it). A ``totp`` URI with ``encoder=steam`` is a Steam entry. So is a ``totp`` URI whose
  issuer is exactly "Steam" (case-insensitive) *and* has ``digits=5`` — the issuer alone is not enough,
  because Steam accounts may legitimately hold ordinary 6-digit TOTP secrets.
* Label ``issuer:account`` (URL-decoded; the first ``:`` splits). When the ``issuer`` parameter and the
  label prefix disagree, the parameter wins (it is the newer field; Google and Aegis do the same).
* Secrets are Base32, tolerated in lower case, with spaces, hyphens and missing or present padding.
* We write Steam entries as ``otpauth://totp/...&encoder=steam&digits=5`` so apps that do not know
  Steam still get a usable TOTP URI.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..errors import InvalidSecret, InvalidUri
from .entry import ALGORITHMS, Entry

MAX_URI_LENGTH = 8192
MAX_COUNTER = 2**63 - 1  # HOTP counters are 8-byte big-endian; stay within a signed int64 like the apps


def _split_label(label: str) -> tuple[str, str]:
    """``issuer:account`` → (issuer, account); without a colon the whole label is the account."""
    issuer, sep, account = label.partition(":")
    if not sep:
        return "", label.strip()
    return issuer.strip(), account.strip()


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidUri(f"the {name} parameter must be a whole number, not {raw[:20]!r}") from None


def parse_otpauth_uri(uri: str) -> Entry:
    """Return the :class:`Entry` described by an ``otpauth://`` URI.

    Raises :class:`InvalidUri` for a malformed URI or an unsupported parameter (naming what is wrong) and
    :class:`InvalidSecret` for a missing, empty or non-Base32 secret.
    """
    if not isinstance(uri, str):
        raise InvalidUri("the URI must be text")
    uri = uri.strip()
    if not uri:
        raise InvalidUri("the URI is empty")
    if len(uri) > MAX_URI_LENGTH:
        raise InvalidUri(f"the URI is longer than {MAX_URI_LENGTH} characters")
    if any(ord(c) < 0x20 for c in uri):
        raise InvalidUri("the URI contains control characters")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise InvalidUri(f"the URI cannot be parsed ({exc})") from None
    if parts.scheme.lower() != "otpauth":
        shown = parts.scheme or "none"
        raise InvalidUri(f"not an otpauth:// URI (scheme {shown!r})")
    kind = parts.netloc.lower()
    if kind not in ("totp", "hotp", "steam"):
        raise InvalidUri(f"unknown OTP type {parts.netloc!r}; expected totp or hotp")
    # parse_qsl decodes %XX and '+'; keep_blank_values so "secret=" reports "empty", not "missing".
    params: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(key.lower(), value)
    label = unquote(parts.path.lstrip("/"))
    param_issuer = params.get("issuer", "").strip()
    if param_issuer and label.startswith(param_issuer + ":"):
        # The issuer may itself contain a colon; the parameter tells us where the prefix ends.
        label_issuer, account = param_issuer, label[len(param_issuer) + 1 :].strip()
    else:
        label_issuer, account = _split_label(label)
    issuer = param_issuer or label_issuer
    if "secret" not in params:
        raise InvalidSecret("the URI has no secret parameter")
    algorithm = params.get("algorithm", "SHA1").strip().upper().replace("-", "") or "SHA1"
    if algorithm not in ALGORITHMS:
        raise InvalidUri(f"unsupported algorithm {params['algorithm']!r}; use SHA1, SHA256 or SHA512")
    digits = _int_param(params, "digits", 6)
    period = _int_param(params, "period", 30)
    counter = _int_param(params, "counter", 0)
    encoder = params.get("encoder", "").strip().lower()
    if kind == "totp" and (encoder == "steam" or (issuer.lower() == "steam" and digits == 5)):
        kind = "steam"
    if kind == "hotp" and "counter" not in params:
        raise InvalidUri("an hotp URI needs a counter parameter")
    if kind != "steam" and not 6 <= digits <= 8:
        raise InvalidUri(f"digits must be 6, 7 or 8, not {digits}")
    if kind != "hotp" and not 1 <= period <= 86400:  # some apps write a meaningless period on hotp URIs
        raise InvalidUri(f"period must be between 1 and 86400 seconds, not {period}")
    if not 0 <= counter <= MAX_COUNTER:
        raise InvalidUri("counter must be between 0 and 2^63 - 1")
    return Entry(
        secret=params["secret"],
        kind=kind,  # type: ignore[arg-type]
        issuer=issuer,
        account=account,
        algorithm=algorithm,
        digits=digits,
        period=period if kind != "hotp" else 30,
        counter=counter if kind == "hotp" else 0,
    )


def entry_to_otpauth_uri(entry: Entry) -> str:
    """Build the canonical ``otpauth://`` URI for ``entry`` (what :func:`parse_otpauth_uri` reads back)."""
    label = quote(entry.account, safe="@")
    if entry.issuer:
        label = f"{quote(entry.issuer, safe='@')}:{label}"
    elif ":" in entry.account:
        label = f":{label}"  # an empty issuer prefix keeps the account's own colon out of the split
    query = [f"secret={entry.secret}"]
    if entry.issuer:
        query.append(f"issuer={quote(entry.issuer, safe='@')}")
    if entry.kind == "steam":
        query += ["digits=5", "period=30", "encoder=steam"]
        return f"otpauth://totp/{label}?{'&'.join(query)}"
    query += [f"algorithm={entry.algorithm}", f"digits={entry.digits}"]
    if entry.kind == "hotp":
        query.append(f"counter={entry.counter}")
    else:
        query.append(f"period={entry.period}")
    return f"otpauth://{entry.kind}/{label}?{'&'.join(query)}"


def parse_uri_list(text: str) -> list[Entry]:
    """Parse one ``otpauth://`` URI per line; blank lines and ``#`` comments are ignored.

    All or nothing: the first bad line raises (its line number in the message) and nothing is returned.
    """
    entries: list[Entry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        try:
            entries.append(parse_otpauth_uri(line))
        except (InvalidUri, InvalidSecret) as exc:
            raise type(exc)(f"line {number}: {exc.message}") from None
    return entries
