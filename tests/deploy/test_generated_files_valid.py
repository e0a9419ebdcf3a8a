"""Every generated file is valid for its consumer.

Configuration profiles follow Apple's rules (developer.apple.com/documentation/devicemanagement, TopLevel and
CommonPayloadKeys): the top level has PayloadContent (array), PayloadIdentifier, PayloadType "Configuration",
PayloadUUID (strings) and PayloadVersion 1 (integer); each payload has PayloadIdentifier, PayloadType,
PayloadUUID and PayloadVersion 1; every PayloadUUID is unique, and so is every PayloadIdentifier in a profile.
Checked for all of ``manifests/`` and for ``tracker2fa policy`` output (fixed cases and generated ones).

Control characters (CR, LF, NUL, tab…) are refused in ids and URLs for every format, before anything is written.
"""

from __future__ import annotations

import plistlib
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID
from native_host.cli import main as cli_main
from native_host.deploy.managed_schema import load_schema
from native_host.deploy.manifest import DeployError
from native_host.deploy.policy import POLICY_BROWSERS, PolicyRequest, policy_files

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
SCHEMA = load_schema()
OSES = ("linux", "macos", "windows")

TOP_LEVEL_REQUIRED = {
    "PayloadContent": list,
    "PayloadIdentifier": str,
    "PayloadType": str,
    "PayloadUUID": str,
    "PayloadVersion": int,
}
TOP_LEVEL_OPTIONAL = {
    "PayloadDescription": str,
    "PayloadDisplayName": str,
    "PayloadOrganization": str,
    "PayloadRemovalDisallowed": bool,
    "PayloadScope": str,
    "PayloadExpirationDate": object,
}
PAYLOAD_REQUIRED = {"PayloadIdentifier": str, "PayloadType": str, "PayloadUUID": str, "PayloadVersion": int}
PAYLOAD_OPTIONAL = {"PayloadDescription": str, "PayloadDisplayName": str, "PayloadOrganization": str}


def _typed(value: object, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)  # plist <true/> is not an <integer>
    return isinstance(value, kind)


def apple_problems(data: bytes) -> tuple[list[str], list[str]]:
    """(problems with Apple's rules, every PayloadUUID) for one .mobileconfig."""
    problems: list[str] = []
    profile = plistlib.loads(data)
    if not isinstance(profile, dict):
        return ["the profile is not a dictionary"], []

    def check(where: str, item: dict, required: dict, optional: dict) -> None:
        for key, kind in required.items():
            if key not in item:
                problems.append(f"{where}: {key} is missing")
            elif not _typed(item[key], kind):
                problems.append(f"{where}: {key} is not a {kind.__name__}")
        for key in item:
            if key.startswith("Payload") and key not in required and key not in optional:
                problems.append(f"{where}: {key} is not a key Apple documents")
            elif key in optional and optional[key] is not object and not _typed(item[key], optional[key]):
                problems.append(f"{where}: {key} is not a {optional[key].__name__}")
        if item.get("PayloadVersion") != 1:
            problems.append(f"{where}: PayloadVersion is not 1")
        try:
            uuid.UUID(str(item.get("PayloadUUID")))
        except ValueError:
            problems.append(f"{where}: PayloadUUID {item.get('PayloadUUID')!r} is not a UUID")

    check("profile", profile, TOP_LEVEL_REQUIRED, TOP_LEVEL_OPTIONAL)
    if profile.get("PayloadType") != "Configuration":
        problems.append("profile: PayloadType is not 'Configuration'")
    if profile.get("PayloadScope", "System") not in ("System", "User"):
        problems.append("profile: PayloadScope is neither System nor User")
    payloads = profile.get("PayloadContent") if isinstance(profile.get("PayloadContent"), list) else []
    if not payloads:
        problems.append("profile: PayloadContent is empty")
    for index, payload in enumerate(payloads):
        if not isinstance(payload, dict):
            problems.append(f"payload {index}: not a dictionary")
            continue
        check(f"payload {index}", payload, PAYLOAD_REQUIRED, PAYLOAD_OPTIONAL)
    uuids = [profile.get("PayloadUUID"), *(p.get("PayloadUUID") for p in payloads if isinstance(p, dict))]
    identifiers = [
        profile.get("PayloadIdentifier"),
        *(p.get("PayloadIdentifier") for p in payloads if isinstance(p, dict)),
    ]
    if len({str(u).upper() for u in uuids}) != len(uuids):
        problems.append(f"a PayloadUUID repeats: {uuids}")
    if len(set(identifiers)) != len(identifiers):
        problems.append(f"a PayloadIdentifier repeats: {identifiers}")
    return problems, [str(u).upper() for u in uuids]


def policy_profiles(extension_id: str, settings_: dict, browsers=POLICY_BROWSERS) -> dict[str, bytes]:
    found = {}
    for browser in browsers:
        firefox = browser == "firefox"
        request = PolicyRequest(
            "macos",
            browser,
            GECKO_EXTENSION_ID if firefox else extension_id,
            "https://updates.example.com/t.xpi" if firefox else "https://updates.example.com/updates.xml",
            settings_,
        )
        for policy in policy_files(request, SCHEMA):
            if policy.name.endswith(".mobileconfig"):
                assert isinstance(policy.content, bytes)
                found[f"{browser}: {policy.name}"] = policy.content
    return found


def test_every_mobileconfig_in_manifests_follows_apples_rules_and_no_uuid_repeats():
    files = sorted(MANIFESTS.rglob("*.mobileconfig"))
    assert len(files) == 4
    seen: dict[str, str] = {}
    for path in files:
        problems, uuids = apple_problems(path.read_bytes())
        assert problems == [], f"{path}: {problems}"
        for value in uuids:
            assert value not in seen, f"{path} repeats {value} from {seen.get(value)}"
            seen[value] = str(path)


def test_every_mobileconfig_from_policy_follows_apples_rules():
    for name, data in policy_profiles(DEV_EXTENSION_ID, {"autoFill": True, "trackerOrigins": ["https://j.example"]}).items():
        problems, _ = apple_problems(data)
        assert problems == [], f"{name}: {problems}"


def test_the_firefox_profile_and_its_payload_have_different_uuids():
    (data,) = policy_profiles(GECKO_EXTENSION_ID, {}, browsers=("firefox",)).values()
    profile = plistlib.loads(data)
    (payload,) = profile["PayloadContent"]
    assert profile["PayloadUUID"] != payload["PayloadUUID"]
    assert profile["PayloadIdentifier"] != payload["PayloadIdentifier"]


def chromium_family_uuids(extension_id: str, settings_: dict) -> dict[str, list[str]]:
    profiles = policy_profiles(extension_id, settings_, browsers=("chrome", "chromium", "edge"))
    return {name: apple_problems(data)[1] for name, data in profiles.items()}


def test_profiles_for_different_extensions_share_no_uuid():
    a = chromium_family_uuids("a" * 32, {"autoFill": True})
    b = chromium_family_uuids("b" * 32, {"autoFill": True})
    assert not {u for v in a.values() for u in v} & {u for v in b.values() for u in v}


def test_new_settings_give_the_profile_and_the_settings_payload_new_uuids():
    # The browser payload is unchanged and keeps its UUID: a profile replacement updates it in place (Apple).
    before = chromium_family_uuids("a" * 32, {"autoFill": True})
    after = chromium_family_uuids("a" * 32, {"autoFill": False})
    for name, (profile, browser_payload, settings_payload) in before.items():
        assert after[name][0] != profile
        assert after[name][1] == browser_payload
        assert after[name][2] != settings_payload


@settings(max_examples=40, deadline=None)
@given(
    extension_id=st.text(alphabet="abcdefghijklmnop", min_size=32, max_size=32),
    auto_lock=st.integers(min_value=0, max_value=604800),
    origins=st.lists(st.sampled_from(["https://a.example", "https://b.example:8443", "http://localhost:8080"])),
)
def test_any_valid_request_gives_profiles_that_follow_apples_rules(extension_id, auto_lock, origins):
    for name, data in policy_profiles(extension_id, {"autoLockSeconds": auto_lock, "trackerOrigins": origins}).items():
        problems, _ = apple_problems(data)
        assert problems == [], f"{name}: {problems}"


# -- control characters


CONTROL = ["\n", "\r", "\r\n", "\x00", "\t", "\x1b", "\x7f"]


@pytest.mark.parametrize("os_name", OSES)
@pytest.mark.parametrize("browser", POLICY_BROWSERS)
@pytest.mark.parametrize("char", CONTROL, ids=repr)
def test_a_control_character_in_the_update_url_is_refused_for_every_format(os_name, browser, char):
    ext = GECKO_EXTENSION_ID if browser == "firefox" else DEV_EXTENSION_ID
    request = PolicyRequest(os_name, browser, ext, f"https://updates.example.com/{char}x.xml", {})
    with pytest.raises(DeployError, match="the update URL must be"):
        policy_files(request, SCHEMA)


@pytest.mark.parametrize("os_name", OSES)
@pytest.mark.parametrize("browser", POLICY_BROWSERS)
@pytest.mark.parametrize("char", CONTROL, ids=repr)
def test_a_control_character_in_the_extension_id_is_refused_for_every_format(os_name, browser, char):
    ext = (GECKO_EXTENSION_ID if browser == "firefox" else DEV_EXTENSION_ID) + char
    request = PolicyRequest(os_name, browser, ext, "https://updates.example.com/u.xml", {})
    with pytest.raises(DeployError, match="is not a"):
        policy_files(request, SCHEMA)


@pytest.mark.parametrize("os_name", OSES)
@pytest.mark.parametrize("browser", POLICY_BROWSERS)
def test_a_control_character_in_a_setting_is_refused_for_every_format(os_name, browser):
    ext = GECKO_EXTENSION_ID if browser == "firefox" else DEV_EXTENSION_ID
    settings_ = {"trackerOrigins": ["https://jira.example.com\r\nX-Injected: 1"]}
    request = PolicyRequest(os_name, browser, ext, "https://updates.example.com/u.xml", settings_)
    with pytest.raises(DeployError, match=r"settings\.trackerOrigins\[0\] holds a control character"):
        policy_files(request, SCHEMA)


URL_TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="\"'<> "))


@settings(max_examples=60, deadline=None)
@given(
    prefix=URL_TEXT,
    char=st.sampled_from([chr(c) for c in [*range(0x20), 0x7F]]),
    suffix=URL_TEXT,
    os_name=st.sampled_from(OSES),
    browser=st.sampled_from(POLICY_BROWSERS),
)
def test_any_url_with_a_control_character_anywhere_is_refused(prefix, char, suffix, os_name, browser):
    ext = GECKO_EXTENSION_ID if browser == "firefox" else DEV_EXTENSION_ID
    request = PolicyRequest(os_name, browser, ext, f"https://{prefix}{char}{suffix}", {})
    with pytest.raises(DeployError):
        policy_files(request, SCHEMA)


def test_policy_cli_refuses_a_line_break_in_the_url_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli_main(
        ["policy", "--os", "macos", "--browser", "chrome", "--extension-id", DEV_EXTENSION_ID,
         "--update-url", "https://updates.example.com/u.xml\n", "--out", str(out)]
    )
    assert code == 1
    assert "the update URL must be" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("ext_id", [DEV_EXTENSION_ID + "\n", GECKO_EXTENSION_ID + "\n", "\n" + DEV_EXTENSION_ID])
def test_install_refuses_an_extension_id_with_a_line_break(home, ext_id, capsys):
    code = cli_main(["install", "--browser", "chromium", "--dry-run", "--extension-id", ext_id])
    assert code == 1
    assert "is neither a Chromium extension id" in capsys.readouterr().err


@pytest.mark.parametrize("char", CONTROL, ids=repr)
def test_pack_refuses_a_base_url_with_a_control_character(tmp_path, char):
    from native_host.deploy.pack import pack

    with pytest.raises(DeployError, match="--base-url must be an http"):
        pack(REPO / "extension", tmp_path / "key.pem", tmp_path / "out", f"https://x.example/{char}", new_key=True)
    assert not (tmp_path / "out").exists()


def test_the_host_config_refuses_an_id_with_a_trailing_newline():
    from native_host.config import is_chromium_extension_id, is_firefox_extension_id

    assert not is_chromium_extension_id(DEV_EXTENSION_ID + "\n")
    assert not is_firefox_extension_id(GECKO_EXTENSION_ID + "\n")
