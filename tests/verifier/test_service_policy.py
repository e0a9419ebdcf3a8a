"""Policy, exclusions, IP allowlist, remember-device, resets and users through the Verifier."""

from __future__ import annotations

import pytest

from verifier.errors import BadRequest, InvalidPolicy, UserExists, UserNotFound

from .conftest import enrol_totp

IP = "198.51.100.7"


def test_the_default_policy_requires_everyone(verifier):
    verifier.create_user("alice")
    assert verifier.get_policy()["mode"] == "all"
    assert verifier.second_factor_required("alice", IP)


def test_group_enforcement_applies_to_members_only(verifier):
    verifier.create_user("alice", groups=["dev"])
    verifier.create_user("bob", groups=["ops"])
    verifier.set_policy("groups", ["dev"], [], 0, actor="pytest")
    assert verifier.second_factor_required("alice", IP) and not verifier.second_factor_required("bob", IP)


def test_all_except_groups_spares_members(verifier):
    verifier.create_user("alice", groups=["dev"])
    verifier.set_policy("all_except_groups", ["dev"], [], 0, actor="pytest")
    assert not verifier.second_factor_required("alice", IP)


def test_the_ip_allowlist_skips_the_second_factor(verifier):
    verifier.create_user("alice")
    verifier.set_policy("all", [], ["10.0.0.0/8", "fd00::/8"], 0, actor="pytest")
    assert not verifier.second_factor_required("alice", "10.2.3.4")
    assert not verifier.second_factor_required("alice", "fd00::1")
    assert verifier.second_factor_required("alice", IP)


def test_an_exclusion_lasts_until_its_date(verifier, clock):
    verifier.create_user("alice")
    verifier.exclude_user("alice", clock() + 3600, actor="pytest")
    assert not verifier.second_factor_required("alice", IP)
    clock.advance(3601)
    assert verifier.second_factor_required("alice", IP)


def test_an_invalid_policy_changes_nothing(verifier):
    before = verifier.get_policy()
    with pytest.raises(InvalidPolicy):
        verifier.set_policy("all", [], ["300.1.1.1/8"], 0, actor="pytest")
    assert verifier.get_policy() == before


def test_unknown_users_are_always_asked_for_a_second_factor(verifier):
    assert verifier.second_factor_required("ghost", IP)


def test_a_remembered_device_token_rotates_on_use(verifier):
    verifier.create_user("alice")
    verifier.set_policy("all", [], [], 30, actor="pytest")
    token = verifier.remember_device("alice", IP, "pytest")
    rotated = verifier.check_device("alice", token)
    assert rotated and rotated != token
    assert verifier.check_device("alice", token) is None
    assert verifier.check_device("alice", rotated)


def test_a_device_token_belongs_to_its_user(verifier):
    verifier.create_user("alice")
    verifier.create_user("bob")
    verifier.set_policy("all", [], [], 30, actor="pytest")
    token = verifier.remember_device("alice", IP, "pytest")
    assert verifier.check_device("bob", token) is None


def test_a_device_token_expires_after_the_remembered_days(verifier, clock):
    verifier.create_user("alice")
    verifier.set_policy("all", [], [], 2, actor="pytest")
    token = verifier.remember_device("alice", IP, "pytest")
    clock.advance(2 * 86400 + 1)
    assert verifier.check_device("alice", token) is None


def test_revoking_devices_kills_every_token(verifier):
    verifier.create_user("alice")
    verifier.set_policy("all", [], [], 30, actor="pytest")
    tokens = [verifier.remember_device("alice", IP, "pytest") for _ in range(3)]
    assert verifier.revoke_devices("alice") == 3
    assert all(verifier.check_device("alice", t) is None for t in tokens)


def test_remembering_is_refused_while_the_policy_turns_it_off(verifier):
    verifier.create_user("alice")
    with pytest.raises(BadRequest):
        verifier.remember_device("alice", IP, "pytest")


def test_reset_user_removes_every_factor(verifier, clock):
    enrol_totp(verifier, clock)
    verifier.generate_backup_codes("alice")
    verifier.reset_user("alice", actor="pytest")
    status = verifier.user_status("alice")
    assert (status["totp"], status["webauthn"], status["backup_codes_left"]) == (False, 0, 0)


def test_reset_group_resets_only_its_members(verifier, clock):
    enrol_totp(verifier, clock, "alice")  # group dev
    verifier.create_user("bob", groups=["ops"])
    verifier.generate_backup_codes("bob")
    assert verifier.reset_group("dev", actor="pytest") == ["alice"]
    assert not verifier.user_status("alice")["totp"] and verifier.user_status("bob")["backup_codes_left"] == 10


def test_duplicate_users_are_refused(verifier):
    verifier.create_user("alice")
    with pytest.raises(UserExists):
        verifier.create_user("alice")


@pytest.mark.parametrize("name", ["", "a b", "x" * 151, "tab\there", "nul\x00"])
def test_bad_usernames_are_refused(verifier, name):
    with pytest.raises(BadRequest):
        verifier.create_user(name)


def test_status_of_an_unknown_user_is_an_error(verifier):
    with pytest.raises(UserNotFound):
        verifier.user_status("ghost")


def test_passwords_are_checked(verifier):
    verifier.create_user("alice", "correct horse")
    assert verifier.check_password("alice", "correct horse")
    assert not verifier.check_password("alice", "wrong")
    assert not verifier.check_password("ghost", "correct horse")


def test_add_to_group_keeps_existing_groups(verifier):
    verifier.create_user("alice", groups=["dev"])
    assert verifier.add_to_group("alice", "ops")["groups"] == ["dev", "ops"]
