"""Users' mail addresses: checked by email-validator (RFC 5321/5322 syntax, IDNA domains), never by a regex of ours.

Only plain ``local@domain`` is accepted: no display name, no quoted local part, no address literal, no
non-ASCII local part (the sender speaks plain SMTP, without SMTPUTF8), no control or space characters, at most
254 characters. So whatever reaches a mail header is one address and nothing else: a CR, LF, comma, angle
bracket or quote is refused here, before it is stored, and again before it is sent (an address from another
source, e.g. a directory, passes the same check).
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS = 254  # RFC 5321's path limit less the angle brackets


def _validated(value: object):
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a mail address must be text such as alice@example.com")
    if len(value) > MAX_ADDRESS:
        raise ValueError(f"a mail address has at most {MAX_ADDRESS} characters")
    try:
        return validate_email(value, check_deliverability=False, allow_smtputf8=False, allow_quoted_local=False,
                              allow_domain_literal=False, allow_display_name=False, allow_empty_local=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a mail address: {exc}") from None


def check_address(value: object) -> str:
    """The address as stored (domain lower-cased, an international domain in Unicode); raises ValueError."""
    return _validated(value).normalized


def smtp_address(value: object) -> str:
    """The address as SMTP carries it (an international domain as IDNA A-labels); raises ValueError."""
    return _validated(value).ascii_email
