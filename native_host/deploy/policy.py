"""Ready-to-deploy admin policy files: force-install the extension, allow the host, push managed settings.

One :class:`PolicyRequest` (OS, browser, extension id, update or install URL, settings) gives a list of
:class:`PolicyFile` (name, content, where it goes). Shapes follow the browsers' policy references
(``reference/browsers.md``):

* Chrome, Chromium, Edge: ``ExtensionSettings`` (force-installed, with ``update_url``),
  ``NativeMessagingAllowlist`` with the host name (so a ``NativeMessagingBlocklist: ["*"]`` elsewhere does not
  block it), and the extension's settings as managed storage — Linux JSON ``3rdparty.extensions.<id>``,
  Windows ``…\\3rdparty\\extensions\\<id>\\policy`` (``.reg``, plus ADMX/ADML templates of the settings),
  macOS a ``.mobileconfig`` with the browser's domain and the separate ``<domain>.extensions.<id>`` domain;
* Firefox: ``policies.json`` with ``ExtensionSettings`` (``install_url``) and ``3rdparty.Extensions.<id>``;
  on macOS also a ``.mobileconfig`` for ``org.mozilla.firefox``.
"""

from __future__ import annotations

import json
import plistlib
import uuid
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .. import HOST_NAME
from ..config import is_chromium_extension_id, is_firefox_extension_id
from .manifest import DeployError
from .regfile import RegKey, render

POLICY_BROWSERS = ("chrome", "chromium", "edge", "firefox")
STORE_UPDATE_URLS = {
    "chrome": "https://clients2.google.com/service/update2/crx",
    "edge": "https://edge.microsoft.com/extensionwebstorebase/v1/crx",
}


@dataclass(frozen=True)
class Vendor:
    """Where one Chromium-family browser reads policies on each OS."""

    display: str
    linux_dir: str
    windows_key: str
    macos_domain: str


VENDORS = {
    "chrome": Vendor(
        "Google Chrome", "/etc/opt/chrome/policies/managed", "SOFTWARE\\Policies\\Google\\Chrome", "com.google.Chrome"
    ),
    "chromium": Vendor(
        "Chromium", "/etc/chromium/policies/managed", "SOFTWARE\\Policies\\Chromium", "org.chromium.Chromium"
    ),
    "edge": Vendor(
        "Microsoft Edge", "/etc/opt/edge/policies/managed", "SOFTWARE\\Policies\\Microsoft\\Edge", "com.microsoft.Edge"
    ),
}
FIREFOX_DOMAIN = "org.mozilla.firefox"
FIREFOX_POLICY_PLACES = {
    "linux": "/etc/firefox/policies/policies.json (or <firefox install>/distribution/policies.json)",
    "macos": "Firefox.app/Contents/Resources/distribution/policies.json",
    "windows": "C:\\Program Files\\Mozilla Firefox\\distribution\\policies.json",
}


@dataclass
class PolicyRequest:
    os: str
    browser: str
    extension_id: str
    update_url: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class PolicyFile:
    name: str  # relative path inside the output folder
    content: str | bytes
    destination: str  # where an admin puts it (or how they deliver it)


def check_request(req: PolicyRequest) -> str:
    """Validate the request; return the update/install URL to use. Raises DeployError."""
    if req.os not in ("linux", "macos", "windows"):
        raise DeployError(f"unknown OS {req.os!r}; choose linux, macos or windows")
    if req.browser not in POLICY_BROWSERS:
        raise DeployError(f"no policy files for {req.browser!r}; choose one of {', '.join(POLICY_BROWSERS)}")
    if req.browser == "firefox":
        if not is_firefox_extension_id(req.extension_id):
            raise DeployError(f"{req.extension_id!r} is not a Firefox add-on id (name@domain or {{GUID}})")
    elif not is_chromium_extension_id(req.extension_id):
        raise DeployError(f"{req.extension_id!r} is not a Chromium extension id (32 letters a–p)")
    url = req.update_url or STORE_UPDATE_URLS.get(req.browser)
    if url is None:
        what = "the signed .xpi's install URL" if req.browser == "firefox" else "the update manifest URL"
        raise DeployError(f"{req.browser} needs --update-url ({what})")
    if (
        not url.startswith(("https://", "http://", "file://"))
        or not url.isascii()
        or any(c in url for c in " \"'<>")
        or has_control_characters(url)
    ):
        raise DeployError(f"the update URL must be an ASCII http(s):// or file:// URL, not {url!r}")
    refuse_control_characters(req.settings, "settings")
    return url


def has_control_characters(text: str) -> bool:
    """True for text holding a C0 control character (CR, LF, NUL, tab…) or DEL."""
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def refuse_control_characters(value: Any, where: str) -> None:
    """Raise DeployError naming the first string (key or value) in ``value`` that holds a control character.

    Every format escapes them differently (JSON, plist XML, .reg, ADMX) and some cannot hold them at all; a
    line break in an id, URL or setting is never meant, so it is refused for every format alike.
    """
    if isinstance(value, str):
        if has_control_characters(value):
            raise DeployError(f"{where} holds a control character (a line break?): {value!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_control_characters(key, f"{where}: the key {key!r}")
            refuse_control_characters(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_control_characters(item, f"{where}[{index}]")


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def chromium_browser_policies(req: PolicyRequest, url: str) -> dict[str, Any]:
    """The browser-level policies (not the extension's settings) for a Chromium-family browser."""
    return {
        "ExtensionSettings": {req.extension_id: {"installation_mode": "force_installed", "update_url": url}},
        "NativeMessagingAllowlist": [HOST_NAME],
    }


def firefox_policies(req: PolicyRequest, url: str) -> dict[str, Any]:
    return {
        "ExtensionSettings": {req.extension_id: {"installation_mode": "force_installed", "install_url": url}},
        "3rdparty": {"Extensions": {req.extension_id: req.settings}},
    }


# -- Windows registry values for the extension's settings


def settings_reg_values(settings: dict[str, Any], base: str, hive: str = "HKLM") -> list[RegKey]:
    """The settings as Chrome reads them from the registry: DWORDs, strings, lists as numbered sub-keys.

    Lists of strings become a sub-key whose values are named 1, 2, …; objects and lists of objects are stored
    as JSON text, which Chrome parses against the extension's schema.
    """
    main = RegKey(hive, base)
    subkeys = []
    for name, value in settings.items():
        if isinstance(value, bool):
            main.values[name] = int(value)
        elif isinstance(value, int):
            if not 0 <= value <= 0xFFFFFFFF:
                raise DeployError(f"setting {name!r} = {value} does not fit a registry DWORD")
            main.values[name] = value
        elif isinstance(value, str):
            main.values[name] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            subkeys.append(RegKey(hive, f"{base}\\{name}", {str(i): v for i, v in enumerate(value, 1)}))
        else:
            main.values[name] = json.dumps(value, separators=(",", ":"))
    return [main, *subkeys]


def windows_chromium_reg(req: PolicyRequest, url: str, vendor: Vendor) -> str:
    policies = chromium_browser_policies(req, url)
    keys = [
        RegKey("HKLM", vendor.windows_key, {"ExtensionSettings": json.dumps(policies["ExtensionSettings"])}),
        RegKey("HKLM", f"{vendor.windows_key}\\NativeMessagingAllowlist", {"1": HOST_NAME}),
    ]
    if req.settings:
        base = f"{vendor.windows_key}\\3rdparty\\extensions\\{req.extension_id}\\policy"
        keys.extend(settings_reg_values(req.settings, base))
    return render(keys)


# -- ADMX / ADML templates for the extension's settings (Group Policy editor)

_GP_ATTRS = (
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'revision="1.0" schemaVersion="1.0" xmlns="http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"'
)


def _admx_policy(name: str, prop: dict[str, Any], key: str) -> tuple[str, str | None]:
    """One <policy> element and its presentation (None when it needs no input field)."""
    head = (
        f'    <policy name="{name}" class="Machine" displayName="$(string.{name})" '
        f'explainText="$(string.{name}_Explain)" key={quoteattr(key)}'
    )
    tail = '      <parentCategory ref="tracker2fa" />\n      <supportedOn ref="SUPPORTED_ANY" />\n'
    kind = prop.get("type")
    if kind == "boolean":
        return (
            f'{head} valueName="{name}">\n{tail}'
            '      <enabledValue><decimal value="1" /></enabledValue>\n'
            '      <disabledValue><decimal value="0" /></disabledValue>\n    </policy>',
            None,
        )
    if kind == "integer":
        element = f'<decimal id="{name}" valueName="{name}" minValue="0" maxValue="4294967295" />'
        presentation = f'<decimalTextBox refId="{name}">{escape(prop.get("title", name))}</decimalTextBox>'
    elif kind == "array" and prop.get("items", {}).get("type") == "string":
        element = f'<list id="{name}" key={quoteattr(key + chr(92) + name)} valuePrefix="" />'  # values 1, 2, …
        presentation = f'<listBox refId="{name}">{escape(prop.get("title", name))}</listBox>'
    else:  # strings, and objects or lists of objects as JSON text
        element = f'<text id="{name}" valueName="{name}" maxLength="32767" />'
        label = prop.get("title", name) + ("" if kind == "string" else " (JSON)")
        presentation = f'<textBox refId="{name}"><label>{escape(label)}</label></textBox>'
    return (
        f"{head}>\n{tail}      <elements>\n        {element}\n      </elements>\n    </policy>",
        f'      <presentation id="{name}">\n        {presentation}\n      </presentation>',
    )


def admx_templates(schema: dict[str, Any], extension_id: str, vendor: Vendor, prefix: str) -> tuple[str, str]:
    """(ADMX, en-US ADML) defining one policy per managed setting of the extension, for ``vendor``."""
    key = f"{vendor.windows_key}\\3rdparty\\extensions\\{extension_id}\\policy"
    policies, presentations, strings = [], [], []
    for name, prop in schema.get("properties", {}).items():
        policy, presentation = _admx_policy(name, prop, key)
        policies.append(policy)
        if presentation:
            presentations.append(presentation)
        strings.append(f'      <string id="{name}">{escape(prop.get("title", name))}</string>')
        strings.append(f'      <string id="{name}_Explain">{escape(prop.get("description", ""))}</string>')
    admx = f"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by `tracker2fa policy` from extension/managed_schema.json: tracker2fa settings for {vendor.display}. -->
<policyDefinitions {_GP_ATTRS}>
  <policyNamespaces>
    <target prefix="{prefix}" namespace="Tracker2fa.Policies.{prefix}" />
  </policyNamespaces>
  <resources minRequiredRevision="1.0" />
  <supportedOn>
    <definitions>
      <definition name="SUPPORTED_ANY" displayName="$(string.SUPPORTED_ANY)" />
    </definitions>
  </supportedOn>
  <categories>
    <category name="tracker2fa" displayName="$(string.tracker2fa)" />
  </categories>
  <policies>
{chr(10).join(policies)}
  </policies>
</policyDefinitions>
"""
    adml = f"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by `tracker2fa policy` from extension/managed_schema.json. -->
<policyDefinitionResources {_GP_ATTRS}>
  <displayName>tracker2fa for {escape(vendor.display)}</displayName>
  <description>Settings of the tracker2fa extension ({extension_id}) in {escape(vendor.display)}.</description>
  <resources>
    <stringTable>
      <string id="tracker2fa">tracker2fa ({escape(vendor.display)})</string>
      <string id="SUPPORTED_ANY">{escape(vendor.display)} with the tracker2fa extension</string>
{chr(10).join(strings)}
    </stringTable>
    <presentationTable>
{chr(10).join(presentations)}
    </presentationTable>
  </resources>
</policyDefinitionResources>
"""
    return admx, adml


# -- macOS configuration profiles


def _uuid(*parts: str) -> str:
    """A UUID stable across runs (no drift in manifests/) that differs whenever any part differs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "tracker2fa:" + "\x1f".join(parts))).upper()


def _payload(profile: str, domain: str, content: dict[str, Any], display: str) -> dict[str, Any]:
    """One payload of the profile ``profile``: its identifier extends the profile's, as Apple suggests, and its
    UUID derives from that identifier and the content (so a payload's UUID is never its profile's)."""
    identifier = f"{_profile_identifier(profile)}.{domain}"
    body = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return {
        "PayloadType": domain,
        "PayloadIdentifier": identifier,
        "PayloadUUID": _uuid("payload", identifier, body),
        "PayloadVersion": 1,
        "PayloadDisplayName": display,
        **content,
    }


def _profile_identifier(name: str) -> str:
    return f"dev.tracker2fa.policy.{name}"


def mobileconfig(payloads: list[dict[str, Any]], name: str) -> bytes:
    """A configuration profile (XML plist) holding ``payloads`` (made by :func:`_payload` for ``name``).

    Apple's rules: every PayloadUUID in the profile is unique, every PayloadIdentifier too; the top level has
    PayloadContent, PayloadIdentifier, PayloadType "Configuration", PayloadUUID and PayloadVersion 1.
    """
    identifier = _profile_identifier(name)
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadScope": "System",
        "PayloadIdentifier": identifier,
        "PayloadUUID": _uuid("profile", identifier, *(p["PayloadUUID"] for p in payloads)),
        "PayloadDisplayName": f"tracker2fa ({name})",
        "PayloadDescription": "Installs the tracker2fa extension, allows its native host and sets its settings.",
        "PayloadContent": payloads,
    }
    uuids = [profile["PayloadUUID"], *(p["PayloadUUID"] for p in payloads)]
    identifiers = [identifier, *(p["PayloadIdentifier"] for p in payloads)]
    if len(set(uuids)) != len(uuids) or len(set(identifiers)) != len(identifiers):  # pragma: no cover - by design
        raise DeployError(f"the {name} profile would repeat a PayloadUUID or PayloadIdentifier")
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


# -- the files for one request


def policy_files(req: PolicyRequest, schema: dict[str, Any]) -> list[PolicyFile]:
    """Every file an admin needs for ``req`` (validated: raises DeployError)."""
    from .managed_schema import validate_settings

    url = check_request(req)
    validate_settings(req.settings, schema)
    if req.browser == "firefox":
        return _firefox_files(req, url)
    vendor = VENDORS[req.browser]
    policies = chromium_browser_policies(req, url)
    if req.os == "linux":
        data = {**policies, "3rdparty": {"extensions": {req.extension_id: req.settings}}}
        return [PolicyFile(f"{req.browser}/tracker2fa.json", _json(data), f"{vendor.linux_dir}/tracker2fa.json")]
    if req.os == "windows":
        prefix = f"tracker2fa_{req.browser}"
        admx, adml = admx_templates(schema, req.extension_id, vendor, prefix)
        return [
            PolicyFile(
                f"{req.browser}/tracker2fa.reg",
                windows_chromium_reg(req, url, vendor),
                f"import with `reg import tracker2fa.reg` (writes HKLM\\{vendor.windows_key}), or set by GPO",
            ),
            PolicyFile(f"{req.browser}/{prefix}.admx", admx, "C:\\Windows\\PolicyDefinitions\\ (or the central store)"),
            PolicyFile(f"{req.browser}/en-US/{prefix}.adml", adml, "C:\\Windows\\PolicyDefinitions\\en-US\\"),
        ]
    payloads = [
        _payload(req.browser, vendor.macos_domain, policies, f"{vendor.display}: tracker2fa extension and native host"),
        _payload(
            req.browser, f"{vendor.macos_domain}.extensions.{req.extension_id}", req.settings, "tracker2fa settings"
        ),
    ]
    return [
        PolicyFile(
            f"{req.browser}/tracker2fa-{req.browser}.mobileconfig",
            mobileconfig(payloads, req.browser),
            "deliver through your MDM (or System Settings → Profiles for a test machine)",
        )
    ]


def _firefox_files(req: PolicyRequest, url: str) -> list[PolicyFile]:
    policies = firefox_policies(req, url)
    files = [PolicyFile("firefox/policies.json", _json({"policies": policies}), FIREFOX_POLICY_PLACES[req.os])]
    # No Firefox .reg: Firefox reads registry DWORDs as numbers, not as the booleans the settings are, while
    # policies.json keeps their types (and is what Mozilla documents for every OS).
    if req.os == "macos":
        payload = _payload(
            "firefox", FIREFOX_DOMAIN, {"EnterprisePoliciesEnabled": True, **policies}, "Firefox: tracker2fa"
        )
        files.append(
            PolicyFile(
                "firefox/tracker2fa-firefox.mobileconfig",
                mobileconfig([payload], "firefox"),
                "deliver through your MDM",
            )
        )
    return files
