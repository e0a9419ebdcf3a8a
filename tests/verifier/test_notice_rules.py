"""The pure rules of mail to users (verifier/core/notices.py): who may switch what off, networks, when a lock or a
reminder is mailed, the back-off, the settings' validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.core import notices
from verifier.core.notices import INFORMATIONAL, KINDS, SECURITY, NoticeSettings, UserPrefs
from verifier.core.policy import Policy
from verifier.core.ratelimit import RateLimitRules

ON = NoticeSettings.validated(enabled=True)


def test_mail_is_off_until_an_admin_turns_it_on():
    assert not NoticeSettings().sends("key_added")
    assert notices.withheld("key_added", NoticeSettings(), UserPrefs()) == "mail is switched off by the administrator"


@pytest.mark.parametrize("kind", KINDS)
def test_the_admin_can_switch_off_any_notice(kind):
    settings = NoticeSettings.validated(enabled=True, off=[kind])
    assert not settings.sends(kind)
    assert "administrator" in notices.withheld(kind, settings, UserPrefs())


@pytest.mark.parametrize("kind", SECURITY)
def test_a_user_can_never_switch_off_a_security_notice(kind):
    with pytest.raises(ValueError, match="security notice"):
        notices.check_kinds([kind], informational_only=True)
    # and a stored choice that names one (written by hand, or by a newer version) is ignored, never obeyed
    assert kind not in UserPrefs.of_row(None, json.dumps([kind])).off
    assert notices.withheld(kind, ON, UserPrefs(off=frozenset({kind}))) is None


@pytest.mark.parametrize("kind", INFORMATIONAL)
def test_a_user_can_switch_off_an_informational_notice(kind):
    prefs = UserPrefs.of_row("de", json.dumps([kind]))
    assert prefs.off == {kind} and prefs.language == "de"
    assert notices.withheld(kind, ON, prefs) == f"{kind} is switched off by the user"


@given(st.one_of(st.none(), st.text(max_size=50)), st.one_of(st.none(), st.text(max_size=200)))
def test_a_users_stored_choices_never_stop_mail_whatever_the_columns_hold(language, off_json):
    prefs = UserPrefs.of_row(language, off_json)
    assert prefs.language in (None, *notices.LANGUAGES) and prefs.off <= set(INFORMATIONAL)


@pytest.mark.parametrize(("ip", "network"), [
    ("192.0.2.77", "192.0.0.0/16"),
    ("::ffff:192.0.2.77", "192.0.0.0/16"),  # a dual-stack socket's form of the same client
    ("2001:db8:1234:5678::9", "2001:db8:1234::/48"),
    ("2001:DB8:1234:ffff::1", "2001:db8:1234::/48"),
    ("fe80::1%eth0", "fe80::/48"),
    ("not an address", None),
    ("", None),
])
def test_a_client_network_is_the_addresss_16_or_48(ip, network):
    assert notices.network_of(ip) == network


def test_a_lock_mails_the_first_back_off_of_a_streak_and_the_hundredth_failure_only():
    rules = RateLimitRules()  # 5 free failures: the 5th starts the first back-off
    mailed = [count for count in range(1, 130) if notices.lock_mail_due(count, rules)]
    assert mailed == [5, 100]


def test_the_reminder_is_due_in_the_days_before_the_deadline_and_not_after_it():
    deadline = 1_800_000_000.0
    assert not notices.reminder_due(deadline, 7, deadline - 8 * 86400)
    assert notices.reminder_due(deadline, 7, deadline - 7 * 86400)
    assert notices.reminder_due(deadline, 7, deadline - 1)
    assert not notices.reminder_due(deadline, 7, deadline)
    assert not notices.reminder_due(deadline, 0, deadline - 1)
    assert not notices.reminder_due(None, 7, deadline)


def test_the_retry_delay_doubles_up_to_its_cap():
    assert [notices.retry_delay(n, 60, 3600) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert notices.retry_delay(10_000, 60, 3600) == 3600


def test_enforcement_mails_only_the_users_a_policy_change_newly_asks():
    users = [{"username": "dev", "groups": ["dev"], "excluded_until": None, "enrolled": True},
             {"username": "ops", "groups": ["ops"], "excluded_until": None, "enrolled": False},
             {"username": "away", "groups": ["ops"], "excluded_until": 2e9, "enrolled": False}]
    before, after = Policy.validated("groups", ["dev"]), Policy.validated("all")
    assert [u["username"] for u in notices.newly_required(before, after, users, 1.8e9)] == ["ops"]
    assert notices.newly_required(after, after, users, 1.8e9) == []
    assert [u["username"] for u in notices.required_without_factor(after, users, 1.8e9)] == ["ops"]


def test_settings_refuse_a_bad_field_naming_it():
    for bad, field in (({"language": "fr"}, "language"), ({"timezone": "Mars/Olympus"}, "time zone"),
                       ({"reminder_days": 91}, "reminder_days"), ({"account_url": "javascript:alert(1)"},
                                                                  "account_url"),
                       ({"off": ["no_such"]}, "unknown notice"), ({"contact": "a\nb"}, "contact"),
                       ({"enabled": "yes"}, "enabled")):
        with pytest.raises(ValueError, match=field):
            NoticeSettings.validated(**bad)


@given(st.booleans(), st.sets(st.sampled_from(KINDS)), st.sampled_from(notices.LANGUAGES),
       st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]), st.integers(0, 90),
       st.sampled_from(["", "https://jira.example.com/account"]), st.text(st.characters(categories=["L", "N"]),
                                                                           max_size=50))
def test_settings_survive_their_json_form(enabled, off, language, timezone, days, url, contact):
    settings = NoticeSettings.validated(enabled, off, language, timezone, days, url, contact)
    assert notices.notice_settings_of(json.dumps(settings.to_dict())) == settings


def test_an_outbox_row_keeps_only_what_the_mail_shows():
    row = notices.outbox_row("new_device", "alice", 1.8e9, ip="192.0.2.1", user_agent=None, days=7)
    assert json.loads(row["params"]) == {"time": 1.8e9, "ip": "192.0.2.1", "days": 7}
    with pytest.raises(ValueError):
        notices.outbox_row("no_such_notice", "alice", 1.8e9)
