"""Notices as mails (verifier/mail/templates.py, verifier/core/addresses.py): every kind in English and German, in
text and HTML, with the time, the address and what to do; and nothing anyone chose (a name, a key's name, a
browser, an address) can add a header, a recipient or a live link."""

from __future__ import annotations

import email
import email.policy
from email.headerregistry import Address

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from verifier.core.addresses import check_address, smtp_address
from verifier.core.notices import INFORMATIONAL, KINDS, NoticeSettings
from verifier.mail.templates import message, render, shown

SETTINGS = NoticeSettings.validated(enabled=True, timezone="Europe/Berlin", account_url="https://jira.example.com/acc",
                                    contact="the IT desk (+49 30 1234)")
PARAMS = {"time": 1_800_000_000.0, "ip": "203.0.113.5", "user_agent": "Mozilla/5.0 (X11; Linux) Firefox/140.0",
          "name": "Blue key", "factor": "security_key", "count": 10, "left": 2, "failures": 5, "locked_for": 60,
          "days": 7, "method": "totp", "deadline": 1_800_600_000.0, "enrolled": False}
HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "Content-Language", "MIME-Version",
           "Content-Type"}
SENDER = Address(display_name="Acme Jira", addr_spec="noreply@example.com")
INJECTIONS = ["a\r\nBcc: evil@example.net", "a\nSubject: pwned", "x\r\n\r\n<html>", "=?utf-8?q?evil?=", "a, b@evil.net",
              "<evil@example.net>", '"quoted"@example.com', "alice@example.com\r\nCc: evil@example.net",
              "alice@example.com, evil@example.net", "alice@example.com>\r\nX: y", "al ice@example.com",
              "alice@exa mple.com", "alice@[127.0.0.1]", "Alice <alice@example.com>", "alice\x00@example.com",
              "alice@example.com\u2028Bcc: e@x.net", "ä@example.com", "alice@localhost", "@example.com",
              "alice@", "a" * 250 + "@example.com"]


def parse(msg) -> email.message.EmailMessage:
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_notice_renders_in_both_languages_with_its_time_address_and_advice(kind, language):
    rendered = render(kind, PARAMS, "alice", language, SETTINGS, "Acme Jira")
    when = {"en": "Friday, 15 January 2027, 09:00 (CET)", "de": "Freitag, 15. Januar 2027, 09:00 (CET)"}[language]
    for part in (rendered.text, rendered.html):
        assert when in part and "203.0.113.5" in part
        assert "the IT desk (+49 30 1234)" in part  # whom to tell
        assert ("What to do" if language == "en" else "Was zu tun ist") in part
    assert "https://jira.example.com/acc" in rendered.text or kind in ("user_reset", "devices_revoked",
                                                                       "account_locked", "policy_enforced",
                                                                       "enrol_reminder", "key_removed")
    footer = {("en", True): "You can switch off notices like this one", ("de", True): "können Sie in Ihren "
              "Kontoeinstellungen abbestellen", ("en", False): "Security notices cannot be switched off",
              ("de", False): "Sicherheitshinweise lassen sich nicht abbestellen"}[language, kind in INFORMATIONAL]
    assert footer in rendered.text and footer in rendered.html


def test_the_words_differ_between_the_languages():
    en, de = (render("key_added", PARAMS, "alice", lang, SETTINGS, "Acme Jira") for lang in ("en", "de"))
    assert en.subject == "A sign-in method was added to your account"
    assert de.subject == "Ein Anmeldeverfahren wurde Ihrem Konto hinzugefügt"
    assert "Der Sicherheitsschlüssel „Blue key“" in de.text and "The security key “Blue key”" in en.text


def test_a_german_subject_is_encoded_in_the_header_and_reads_back():
    msg = message(render("key_added", PARAMS, "alice", "de", SETTINGS, "Acme Jira"), sender=SENDER,
                  recipient="alice@example.com", message_id="<1.1@example.com>", language="de")
    raw = msg.as_bytes()
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]  # RFC 2047, never raw UTF-8 in a header
    assert parse(msg)["Subject"] == "Ein Anmeldeverfahren wurde Ihrem Konto hinzugefügt"


def test_the_mail_is_text_then_html_with_every_header_set_by_the_email_package():
    msg = parse(message(render("new_network", PARAMS, "alice", "en", SETTINGS, "Acme Jira"), sender=SENDER,
                        recipient="alice@example.com", message_id="<7.1@example.com>", language="en"))
    assert set(msg.keys()) == HEADERS
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Message-ID"] == "<7.1@example.com>"
    assert str(msg["From"]) == "Acme Jira <noreply@example.com>"


def test_html_escapes_what_someone_else_chose():
    rendered = render("key_added", {**PARAMS, "name": "<img src=x onerror=alert(1)>",
                                    "user_agent": "<script>alert(1)</script>"}, "<b>al</b>", "en", SETTINGS, "Acme")
    assert "<img src=x" not in rendered.html and "<script>" not in rendered.html and "<b>al</b>" not in rendered.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html


def test_a_link_someone_else_chose_is_defanged_and_the_admins_own_is_kept():
    rendered = render("new_network", {**PARAMS, "user_agent": "Visit https://evil.example/reset now, www.evil.example"},
                      "alice", "en", SETTINGS, "Acme Jira")
    assert "https[:]//evil.example/reset" in rendered.text and "www[.]evil.example" in rendered.text
    assert "https://evil" not in rendered.text and "https://evil" not in rendered.html
    rendered = render("key_added", PARAMS, "alice", "en", SETTINGS, "Acme Jira")
    assert "https://jira.example.com/acc" in rendered.text


@settings(max_examples=300, deadline=None)
@given(username=st.text(max_size=200), key_name=st.text(max_size=100), agent=st.text(max_size=400),
       kind=st.sampled_from(KINDS), language=st.sampled_from(["en", "de"]))
@example(username="a\r\nBcc: evil@example.net", key_name="k\r\nX-Evil: 1", agent="u\nTo: evil@example.net",
         kind="key_added", language="en")
def test_nothing_a_user_or_attacker_chose_reaches_a_header(username, key_name, agent, kind, language):
    rendered = render(kind, {**PARAMS, "name": key_name, "user_agent": agent}, username, language, SETTINGS, "Acme")
    msg = parse(message(rendered, sender=SENDER, recipient="alice@example.com", message_id="<9.1@example.com>",
                        language=language))
    assert set(msg.keys()) == HEADERS
    assert [a.addr_spec for a in msg["To"].addresses] == ["alice@example.com"]
    assert msg["Subject"] == rendered.subject and "\n" not in rendered.subject
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == rendered.text
    for value in (shown(username), shown(key_name), shown(agent)):
        assert value.isprintable() and "://" not in value


@pytest.mark.parametrize("text", INJECTIONS)
def test_an_address_that_is_not_one_plain_address_is_refused(text):
    with pytest.raises(ValueError):
        check_address(text)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=80), st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=30), st.text(max_size=30)),
                 st.sampled_from(INJECTIONS), st.emails()))
def test_an_address_is_refused_or_is_exactly_one_recipient_of_the_mail(text):
    try:
        address = smtp_address(text)
    except ValueError:
        return
    assert address.isascii() and address.isprintable() and not any(c in address for c in ' ,;<>()[]"\\\r\n')
    msg = parse(message(render("user_reset", PARAMS, "alice", "en", SETTINGS, "Acme"), sender=SENDER,
                        recipient=address, message_id="<9.2@example.com>", language="en"))
    assert [a.addr_spec for a in msg["To"].addresses] == [address] and set(msg.keys()) == HEADERS


def test_an_international_domain_is_stored_as_written_and_sent_as_idna():
    assert check_address("Anna@Bücher.example") == "Anna@bücher.example"
    assert smtp_address("Anna@Bücher.example") == "Anna@xn--bcher-kva.example"
