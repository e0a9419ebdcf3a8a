"""A tracker's login tested with the tracker2fa extension, as a tracker developer would write it: the code the
extension fills and the security key it answers with are accepted by the tracker (here the mock tracker with
its real verifier). Run: `pytest examples/mock_tracker` (see docs/developer-guide.md, "The test kit")."""

from __future__ import annotations

import pytest

from native_host.devtools.kit import Account, KitError


def log_in_as_alice(tab, tracker) -> None:
    """The tracker's own login form, then its second-factor page."""
    tab.goto(f"{tracker.url}/login")
    tab.log_in("alice", tracker.passwords["alice"])  # the mock's selectors; pass yours for another tracker
    tab.wait_for("body[data-page=second-factor]")


def test_the_code_the_extension_fills_is_accepted(tracker2fa_browser, tracker):
    tab = tracker2fa_browser.new_tab()
    log_in_as_alice(tab, tracker)
    code = tab.fill_code("#otp-code")  # clicks the inline control, unlocking the vault first
    assert code is not None and code.isdigit() and len(code) == 6
    tab.click("#otp-submit")
    tab.wait_for("body[data-page=dashboard]")
    assert "alice" in tab.text("#current-user")


def test_a_backup_code_the_extension_fills_is_accepted(tracker2fa_browser, tracker):
    tab = tracker2fa_browser.new_tab()
    log_in_as_alice(tab, tracker)
    tab.click("#use-backup-code")
    tab.wait_for("body[data-page=backup]")
    assert tab.fill_code("#backup-code", backup=True) in tracker.alice_backup_codes
    tab.click("#backup-submit")
    tab.wait_for("body[data-page=dashboard]")


def test_a_security_key_registers_and_then_signs_in(tracker2fa_browser, tracker):
    tab = tracker2fa_browser.new_tab()
    log_in_as_alice(tab, tracker)
    tab.fill_code("#otp-code")
    tab.click("#otp-submit")
    tab.wait_for("body[data-page=dashboard]")
    tab.goto(f"{tracker.url}/account")
    tab.fill("#key-name", "tracker2fa virtual key")
    tab.click("#register-key")  # WebAuthn create: the host's virtual key answers (it confirms by itself)
    tab.wait_for("[data-testid=security-key]", timeout=30)
    tab.click("#logout")
    tab.wait_for("body[data-page=login]")

    log_in_as_alice(tab, tracker)
    tab.click("#use-security-key")  # WebAuthn get, signed by the same key
    tab.wait_for("body[data-page=dashboard]", timeout=30)


def test_no_code_is_given_to_a_site_the_account_is_not_bound_to(tracker2fa_launch, tracker):
    browser = tracker2fa_launch(accounts=[Account(tracker.alice_uri, origins=["https://jira.example.com"])])
    tab = browser.new_tab()
    log_in_as_alice(tab, tracker)
    with pytest.raises(KitError, match="No account in your vault is bound to this site"):
        tab.fill_code()
    assert tab.value("#otp-code") == ""
