"""Admin policy files: ``manifests/`` never drifts, every file parses and has the shape its browser documents,
and ``tracker2fa policy`` refuses settings the managed schema does not describe."""

from __future__ import annotations

import json
import plistlib
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema_rs
import pytest

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID, HOST_NAME
from native_host.cli import main as cli_main
from native_host.deploy.examples import EXAMPLE_SETTINGS, example_files
from native_host.deploy.managed_schema import load_schema
from native_host.deploy.regfile import parse

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
GP = "{http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions}"

# Shapes from Chrome's policy list (ExtensionSettings, NativeMessaging*) and Firefox's policy templates.
CHROME_POLICY_SHAPE = {
    "type": "object",
    "properties": {
        "ExtensionSettings": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "installation_mode": {
                        "enum": ["allowed", "blocked", "removed", "force_installed", "normal_installed"]
                    },
                    "update_url": {"type": "string", "pattern": "^https?://"},
                },
                "required": ["installation_mode", "update_url"],
                "additionalProperties": False,
            },
        },
        "NativeMessagingAllowlist": {"type": "array", "items": {"type": "string"}},
        "3rdparty": {
            "type": "object",
            "properties": {"extensions": {"type": "object", "additionalProperties": {"type": "object"}}},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
FIREFOX_POLICY_SHAPE = {
    "type": "object",
    "properties": {
        "policies": {
            "type": "object",
            "properties": {
                "ExtensionSettings": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "installation_mode": {
                                "enum": ["allowed", "blocked", "force_installed", "normal_installed"]
                            },
                            "install_url": {"type": "string", "pattern": "^(https?|file)://"},
                        },
                        "required": ["installation_mode", "install_url"],
                        "additionalProperties": False,
                    },
                },
                "3rdparty": {
                    "type": "object",
                    "properties": {"Extensions": {"type": "object", "additionalProperties": {"type": "object"}}},
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        }
    },
    "required": ["policies"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def generated() -> dict[str, str | bytes]:
    return example_files(load_schema())


def test_the_manifests_folder_is_exactly_what_the_code_generates(generated):
    # gate/ is the server side's (verifier/gate/proxy_configs.py, checked by tests/gate/test_manifests.py).
    on_disk = {str(p.relative_to(MANIFESTS)) for p in MANIFESTS.rglob("*") if p.is_file()
               and p.relative_to(MANIFESTS).parts[0] != "gate"}
    assert on_disk == set(generated), "regenerate with: python -m native_host.deploy.examples manifests"
    for name, content in generated.items():
        data = content if isinstance(content, bytes) else content.encode()
        assert (MANIFESTS / name).read_bytes() == data, f"{name} drifted; regenerate it"


@pytest.mark.parametrize("browser", ["chrome", "chromium", "edge"])
def test_linux_managed_json_has_chromes_policy_shape_and_the_settings(generated, browser):
    data = json.loads(generated[f"policies/linux/{browser}/tracker2fa.json"])
    jsonschema_rs.validate(CHROME_POLICY_SHAPE, data)
    assert data["NativeMessagingAllowlist"] == [HOST_NAME]
    assert data["3rdparty"]["extensions"][DEV_EXTENSION_ID] == EXAMPLE_SETTINGS


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_firefox_policies_json_has_firefoxs_shape_and_the_settings(generated, os_name):
    data = json.loads(generated[f"policies/{os_name}/firefox/policies.json"])
    jsonschema_rs.validate(FIREFOX_POLICY_SHAPE, data)
    assert data["policies"]["3rdparty"]["Extensions"][GECKO_EXTENSION_ID] == EXAMPLE_SETTINGS


@pytest.mark.parametrize(
    ("browser", "key"),
    [("chrome", "Google\\Chrome"), ("chromium", "Chromium"), ("edge", "Microsoft\\Edge")],
)
def test_windows_reg_parses_and_holds_the_policies_where_the_browser_reads_them(generated, browser, key):
    keys = {k.path: k.values for k in parse(generated[f"policies/windows/{browser}/tracker2fa.reg"])}
    base = f"SOFTWARE\\Policies\\{key}"
    settings = json.loads(keys[base]["ExtensionSettings"])
    assert settings[DEV_EXTENSION_ID]["installation_mode"] == "force_installed"
    assert keys[f"{base}\\NativeMessagingAllowlist"] == {"1": HOST_NAME}
    policy = keys[f"{base}\\3rdparty\\extensions\\{DEV_EXTENSION_ID}\\policy"]
    assert policy["autoFill"] == 1 and policy["autoSubmit"] == 0 and policy["autoLockSeconds"] == 600
    assert json.loads(policy["siteRules"]) == EXAMPLE_SETTINGS["siteRules"]
    assert keys[f"{base}\\3rdparty\\extensions\\{DEV_EXTENSION_ID}\\policy\\trackerOrigins"] == {
        "1": "https://jira.example.com"
    }


@pytest.mark.parametrize("browser", ["chrome", "chromium", "edge"])
def test_admx_is_well_formed_and_every_reference_resolves_in_the_adml(generated, browser):
    admx = ET.fromstring(generated[f"policies/windows/{browser}/tracker2fa_{browser}.admx"])
    adml = ET.fromstring(generated[f"policies/windows/{browser}/en-US/tracker2fa_{browser}.adml"])
    strings = {s.get("id") for s in adml.iter(f"{GP}string")}
    presentations = {p.get("id") for p in adml.iter(f"{GP}presentation")}
    policies = list(admx.iter(f"{GP}policy"))
    assert {p.get("name") for p in policies} == set(load_schema()["properties"])
    for policy in policies:
        assert policy.get("displayName")[len("$(string.") : -1] in strings
        assert policy.get("explainText")[len("$(string.") : -1] in strings
        assert f"3rdparty\\extensions\\{DEV_EXTENSION_ID}\\policy" in policy.get("key")
        if policy.find(f"{GP}elements") is not None:
            assert policy.get("name") in presentations
    # A list's values are named 1, 2, … (what Chrome reads), which takes an empty valuePrefix.
    lists = list(admx.iter(f"{GP}list"))
    string_lists = [k for k, v in load_schema()["properties"].items() if v.get("items", {}).get("type") == "string"]
    assert sorted(e.get("id") for e in lists) == sorted(string_lists)
    for element in lists:
        assert element.get("valuePrefix") == ""
        assert element.get("key").endswith(f"\\policy\\{element.get('id')}")


@pytest.mark.parametrize(
    ("browser", "domain"),
    [("chrome", "com.google.Chrome"), ("chromium", "org.chromium.Chromium"), ("edge", "com.microsoft.Edge")],
)
def test_mobileconfig_loads_with_the_browser_domain_and_the_separate_extension_domain(generated, browser, domain):
    profile = plistlib.loads(generated[f"policies/macos/{browser}/tracker2fa-{browser}.mobileconfig"])
    assert profile["PayloadType"] == "Configuration"
    payloads = {p["PayloadType"]: p for p in profile["PayloadContent"]}
    assert set(payloads) == {domain, f"{domain}.extensions.{DEV_EXTENSION_ID}"}
    assert payloads[domain]["NativeMessagingAllowlist"] == [HOST_NAME]
    assert "3rdparty" not in payloads[domain]  # ignored there on macOS: the settings have their own domain
    ext = payloads[f"{domain}.extensions.{DEV_EXTENSION_ID}"]
    assert {k: v for k, v in ext.items() if not k.startswith("Payload")} == EXAMPLE_SETTINGS
    uuids = [profile["PayloadUUID"], *(p["PayloadUUID"] for p in profile["PayloadContent"])]
    assert len(set(uuids)) == len(uuids)


def test_firefox_mobileconfig_enables_enterprise_policies(generated):
    profile = plistlib.loads(generated["policies/macos/firefox/tracker2fa-firefox.mobileconfig"])
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "org.mozilla.firefox"
    assert payload["EnterprisePoliciesEnabled"] is True
    assert payload["3rdparty"]["Extensions"][GECKO_EXTENSION_ID] == EXAMPLE_SETTINGS


def test_policy_command_writes_the_files_for_one_os_and_browser(tmp_path, capsys):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"autoFill": False, "trackerOrigins": ["https://jira.corp.test"]}))
    out = tmp_path / "out"
    code = cli_main(
        [
            "policy",
            "--os",
            "linux",
            "--browser",
            "edge",
            "--extension-id",
            "a" * 32,
            "--settings",
            str(settings),
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    written = json.loads(capsys.readouterr().out)["files"]
    assert [w["destination"] for w in written] == ["/etc/opt/edge/policies/managed/tracker2fa.json"]
    data = json.loads((out / "edge/tracker2fa.json").read_text())
    assert (
        data["ExtensionSettings"]["a" * 32]["update_url"] == "https://edge.microsoft.com/extensionwebstorebase/v1/crx"
    )
    assert data["3rdparty"]["extensions"]["a" * 32] == {"autoFill": False, "trackerOrigins": ["https://jira.corp.test"]}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"autoFil": True}, "unknown setting 'autoFil'"),
        ({"autoLockSeconds": "600"}, "settings.autoLockSeconds must be an integer, not str"),
        ({"autoFill": 1}, "settings.autoFill must be a boolean, not int"),
        ({"siteRules": [{"fieldSelector": "#x", "colour": "red"}]}, "settings.siteRules[0]: unknown setting 'colour'"),
        ([], "settings must be an object, not list"),
    ],
)
def test_policy_command_refuses_settings_outside_the_schema_and_writes_nothing(tmp_path, capsys, settings, message):
    file = tmp_path / "settings.json"
    file.write_text(json.dumps(settings))
    out = tmp_path / "out"
    code = cli_main(
        [
            "policy",
            "--os",
            "windows",
            "--browser",
            "chrome",
            "--extension-id",
            "a" * 32,
            "--settings",
            str(file),
            "--out",
            str(out),
        ]
    )
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--browser", "chrome", "--extension-id", "not-an-id"], "not a Chromium extension id"),
        (["--browser", "firefox", "--extension-id", "a" * 32], "not a Firefox add-on id"),
        (["--browser", "firefox", "--extension-id", GECKO_EXTENSION_ID], "firefox needs --update-url"),
        (["--browser", "chromium", "--extension-id", "a" * 32], "chromium needs --update-url"),
        (["--browser", "chrome", "--extension-id", "a" * 32, "--update-url", "javascript:x"], "http(s)://"),
    ],
)
def test_policy_command_refuses_a_bad_id_or_url(tmp_path, capsys, args, message):
    code = cli_main(["policy", "--os", "linux", *args, "--out", str(tmp_path / "out")])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_policy_command_reports_an_output_folder_it_cannot_write(tmp_path, capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    code = cli_main(
        ["policy", "--os", "linux", "--browser", "chrome", "--extension-id", "a" * 32, "--out", str(blocked)]
    )
    assert code == 1
    assert "could not write the policy files" in capsys.readouterr().err


def test_the_admin_guide_lists_every_managed_setting():
    guide = (REPO / "docs" / "admin-guide.md").read_text()
    missing = [name for name in load_schema()["properties"] if f"| `{name}` |" not in guide]
    assert missing == [], "add these settings to the table in docs/admin-guide.md"
