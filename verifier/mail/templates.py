"""Notices rendered as mails: plain text and HTML, English and German, built with the standard library's
``email`` package (``EmailMessage`` with the SMTP policy: headers encoded and folded by it, never by string
concatenation).

What goes in: the notice's kind and params (the time, the client's address and browser, a key's name, a count;
``verifier.core.notices.outbox_row`` keeps secrets out by construction), the user's name, and the admin's
settings (time zone, account URL, contact). Everything a user or an attacker chose (a name, a key's name, a user
agent) is shown as a value: control characters dropped, length capped, links defanged (``http[:]//``) so that a
mail client turns no attacker's text into a link, and HTML-escaped in the HTML part. Headers carry nothing a user
chose except the recipient's address, which ``verifier.core.addresses`` checked to be one plain address.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

from ..core.notices import INFORMATIONAL, NoticeSettings
from .texts import DATE_FORMAT, MONTHS, TEXTS, WEEKDAYS

MAX_SHOWN = 120
_LINKISH = re.compile(r"(?i)(://|www\.)")


@dataclass(frozen=True)
class Rendered:
    """A notice's words: subject, plain text, HTML."""

    subject: str
    text: str
    html: str


def shown(value: Any, limit: int = MAX_SHOWN, *, defang: bool = True) -> str:
    """A value someone else chose, made safe to show in a mail: printable, one line, capped, and (unless the admin
    set it: the account URL, the contact) no live link."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return _LINKISH.sub(lambda m: "[:]//" if m.group(1) == "://" else "www[.]", text) if defang else text


def when(timestamp: float, language: str, timezone: str) -> str:
    """``Tuesday, 1 December 2026, 14:03 (CET)`` in the admin's time zone, in the mail's language."""
    moment = dt.datetime.fromtimestamp(float(timestamp), zoneinfo.ZoneInfo(timezone))
    date = DATE_FORMAT[language].format(weekday=WEEKDAYS[language][moment.weekday()], day=moment.day,
                                        month=MONTHS[language][moment.month - 1], year=moment.year)
    return f"{date}, {moment:%H:%M} ({moment.tzname() or timezone})"


def _lead_key(kind: str, params: dict[str, Any]) -> str:
    """Which variant of the lead a notice takes."""
    if kind in ("key_added", "key_removed", "devices_revoked") and params.get("by_admin"):
        return "lead_admin"
    if kind == "backup_codes_low" and params.get("left") == 0:
        return "lead_none"
    if kind == "account_locked" and params.get("attack"):
        return "lead_attack"
    if kind == "policy_enforced" and not params.get("enrolled"):
        return "lead_deadline" if params.get("deadline") else "lead_enrol"
    return "lead"


def render(kind: str, params: dict[str, Any], username: str, language: str, settings: NoticeSettings,
           site: str) -> Rendered:
    """The notice in ``language``; raises KeyError for a kind or language without words (never sent then)."""
    words = TEXTS[language]
    tz = settings.timezone

    def fill(template: str, escape: bool) -> str:
        safe = html.escape if escape else (lambda text: text)
        name = shown(params.get("name") or "", 64)
        factor_key = "factor_security_key" if params.get("factor") == "security_key" else \
            ("factor_totp_removed" if kind == "key_removed" else "factor_totp")
        factor = words[factor_key].format(name=name)
        url = shown(settings.account_url, 300, defang=False)
        values = {
            "username": shown(username, 150), "name": name, "factor": factor, "factor_cap": factor[:1].upper() +
            factor[1:], "method": words.get(f"method_{params.get('method')}", words["method_totp"]),
            "count": int(params.get("count", 0)), "left": int(params.get("left", 0)),
            "failures": int(params.get("failures", 0)), "minutes": max(1, round(params.get("locked_for", 60) / 60)),
            "days": int(params.get("days", 0)), "site": shown(site, 100, defang=False),
            "deadline": when(params["deadline"], language, tz) if params.get("deadline") else "",
            "contact": shown(settings.contact, 200, defang=False) if settings.contact else words["contact_default"],
            "account": words["account_at"].format(url=url) if url else words["account"],
        }
        return template.format_map({k: safe(str(v)) for k, v in values.items()})

    lead_key = _lead_key(kind, params)
    subject = words[f"{kind}.subject"]  # fixed words: nothing anyone chose goes into a header
    facts = [(words["when"], when(params["time"], language, tz))]
    if params.get("ip"):
        facts.append((words["address"], shown(params["ip"], 45)))
    if params.get("user_agent"):
        facts.append((words["browser"], shown(params["user_agent"])))
    if params.get("by_admin") or kind == "user_reset":
        facts.append((words["by_admin"], words["an_admin"]))
    footer = words["footer_info" if kind in INFORMATIONAL else "footer_security"]

    def body(escape: bool) -> tuple[str, str, str, str]:
        return (fill(words["greeting"], escape), fill(words[f"{kind}.{lead_key}"], escape),
                fill(words[f"{kind}.advice"], escape), fill(footer, escape))

    greeting, lead, advice, foot = body(False)
    text = "\n".join([greeting, "", lead, "", *(f"{label}: {value}" for label, value in facts), "",
                      f"{words['if_not_you']}: {advice}", "", "-- ", foot, ""])
    greeting, lead, advice, foot = body(True)
    rows = "".join(f"<tr><th align=\"left\" style=\"padding-right:1em\">{html.escape(label)}</th>"
                   f"<td>{html.escape(value)}</td></tr>" for label, value in facts)
    page = (f"<!DOCTYPE html><html lang=\"{language}\"><head><meta charset=\"utf-8\"><title>{html.escape(subject)}"
            f"</title></head><body style=\"font-family:sans-serif;max-width:40em\"><p>{greeting}</p><p>{lead}</p>"
            f"<table>{rows}</table><p><strong>{html.escape(words['if_not_you'])}:</strong> {advice}</p>"
            f"<hr><p style=\"color:#555;font-size:smaller\">{foot}</p></body></html>")
    return Rendered(subject, text, page)


def message(rendered: Rendered, *, sender: Address, recipient: str, message_id: str, language: str,
            date: dt.datetime | None = None) -> EmailMessage:
    """The mail as the relay receives it: ``multipart/alternative`` (text, then HTML), every header set through
    the email package. ``recipient`` must be an address ``verifier.core.addresses.smtp_address`` returned."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = Address(addr_spec=recipient)  # no display name: nothing a user chose goes into a header
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    msg["Content-Language"] = language  # after the content: setting it clears Content-* headers
    return msg
