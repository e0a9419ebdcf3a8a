"""Translations: every message the extension uses exists in English and German, and nothing else does.

The extension's strings come from extension/_locales/<lang>/messages.json through chrome.i18n. Used keys are
found by scanning the sources: string literals in JS that look like message keys, data-i18n and
data-i18n-attr in HTML, __MSG_key__ in manifest.json, and the two key families built at run time
(err_<code> for every code in common/messages.js, rule_<field> for the options page's rule fields).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

EXT = Path(__file__).resolve().parents[2] / "extension"
LOCALES = ("en", "de")
KEY_LITERAL = re.compile(r"""["'`]((?:inline|popup|options|lock|rule|err|set|cmd|ext|prompt)_[A-Za-z0-9_]+)["'`]""")
HTML_KEY = re.compile(r"""data-i18n="([^"]+)\"""")
HTML_ATTR_KEYS = re.compile(r"""data-i18n-attr="([^"]+)\"""")
PLACEHOLDER = re.compile(r"\$([A-Za-z0-9_]+)\$")


def catalog(lang: str) -> dict[str, dict]:
    return json.loads((EXT / "_locales" / lang / "messages.json").read_text(encoding="utf-8"))


def error_codes() -> dict[str, str]:
    """{code: English text} from common/messages.js, run under Node as the Node tests do."""
    script = (
        "globalThis.__tracker2fa = {};"
        f"await import({json.dumps((EXT / 'common' / 'origin_policy.js').as_uri())});"
        f"const m = await import({json.dumps((EXT / 'common' / 'messages.js').as_uri())});"
        "const out = {}; for (const c of m.KNOWN_CODES) out[c] = m.userMessage(c);"
        "console.log(JSON.stringify(out));"
    )
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in EXT.rglob("*.js"):
        if "vendor" in path.parts:
            continue
        keys |= set(KEY_LITERAL.findall(path.read_text(encoding="utf-8")))
    for path in EXT.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        keys |= set(HTML_KEY.findall(text))
        for spec in HTML_ATTR_KEYS.findall(text):
            keys |= {pair.split(":")[1].strip() for pair in spec.split(";") if ":" in pair}
    keys |= set(re.findall(r"__MSG_([A-Za-z0-9_]+)__", (EXT / "manifest.json").read_text()))
    keys |= {f"err_{code}" for code in error_codes()}
    options = (EXT / "options" / "options.js").read_text()
    fields = re.search(r"const FIELDS = \[([^\]]+)\]", options)
    assert fields, "options.js: FIELDS not found"
    keys |= {f"rule_{f}" for f in re.findall(r'"(\w+)"', fields.group(1))}
    return keys


def test_the_manifest_names_english_as_the_default_locale() -> None:
    manifest = json.loads((EXT / "manifest.json").read_text())
    assert manifest["default_locale"] == "en"
    assert (EXT / "_locales" / "en" / "messages.json").is_file()


@pytest.mark.parametrize("lang", LOCALES)
def test_every_used_message_exists_in_the_locale(lang: str) -> None:
    missing = sorted(used_keys() - catalog(lang).keys())
    assert not missing, f"keys used by the extension but missing in _locales/{lang}: {missing}"


@pytest.mark.parametrize("lang", LOCALES)
def test_the_locale_has_no_message_nothing_uses(lang: str) -> None:
    unused = sorted(catalog(lang).keys() - used_keys())
    assert not unused, f"keys in _locales/{lang} that nothing uses: {unused}"


def test_german_has_exactly_the_english_keys() -> None:
    en, de = catalog("en"), catalog("de")
    assert sorted(en.keys() - de.keys()) == [], "missing in German"
    assert sorted(de.keys() - en.keys()) == [], "only in German"


@pytest.mark.parametrize("lang", LOCALES)
def test_every_placeholder_is_defined_and_matches_english(lang: str) -> None:
    en = catalog("en")
    for key, entry in catalog(lang).items():
        assert entry["message"].strip(), f"{lang}/{key} is empty"
        used = {p.lower() for p in PLACEHOLDER.findall(entry["message"])}
        defined = set(entry.get("placeholders", {}))
        assert used == defined, f"{lang}/{key}: placeholders used {used}, defined {defined}"
        assert defined == set(en[key].get("placeholders", {})), f"{lang}/{key}: not the English placeholders"


def test_english_error_messages_are_the_fallback_text_of_messages_js() -> None:
    en = catalog("en")
    for code, text in error_codes().items():
        assert en[f"err_{code}"]["message"] == text, f"err_{code} differs from common/messages.js"


@pytest.mark.browser
def test_a_german_browser_shows_the_popup_in_german(playwright_instance: Any, tmp_path: Path) -> None:
    from native_host.devtools import browsers

    home, profile = tmp_path / "home", tmp_path / "profile"
    home.mkdir()
    profile.mkdir()
    env = {**browsers.profile_env(home, vault=tmp_path / "vault.json"), "LANGUAGE": "de", "LANG": "de_DE.UTF-8"}
    # No host registered: the popup must explain that, in German.
    context = browsers.launch_chromium(playwright_instance, profile, env, extra_args=("--lang=de",))
    try:
        browsers.chromium_service_worker(context)
        popup = context.new_page()
        popup.goto(browsers.chromium_extension_url("popup/popup.html"))
        popup.wait_for_selector("body[data-ready=true]")
        de = catalog("de")
        assert popup.evaluate("document.documentElement.lang") == "de"
        assert popup.locator("#host-status").text_content() == de["popup_host_not_connected"]["message"]
        assert popup.locator("#problem").text_content() == de["err_host_not_installed"]["message"]
    finally:
        context.close()


@pytest.mark.browser
def test_a_german_browser_shows_the_security_key_consent_window_and_pin_form_in_german(
    playwright_instance: Any, tmp_path: Path, pages: Any
) -> None:
    import hashlib

    from native_host.devtools import browsers
    from native_host.fido.softkey.store import KeyStore

    from .conftest import Chromium, host_pids_for_home, kill_pid
    from .fido_support import consent_state, consent_text, consent_window, enable_security_keys, virtual_key_env

    home, profile = tmp_path / "home", tmp_path / "profile"
    home.mkdir()
    profile.mkdir()
    store = KeyStore()  # a virtual key with a PIN: the consent window asks for it, so the PIN form shows too
    store.pin_hash = hashlib.sha256(b"4711-pin").digest()[:16]
    store.save(tmp_path / "vkey.json")
    env = {
        **virtual_key_env(home, tmp_path / "vkey.json", tmp_path / "vault.json"),
        "LANGUAGE": "de",
        "LANG": "de_DE.UTF-8",
    }
    browsers.register_host("chromium", env, user_data_dir=profile)
    context = browsers.launch_chromium(playwright_instance, profile, env, extra_args=("--lang=de",))
    browser = Chromium(context=context, home=home, user_data_dir=profile, vault=tmp_path / "vault.json")
    de = {key: entry["message"] for key, entry in catalog("de").items()}
    try:
        enable_security_keys(browser, pages.origin("localhost"))
        page = browser.open(pages.url("/pages/fido_legacy.html", host="localhost"))
        page.evaluate(
            """() => { const publicKey = {rp: {name: "Test", id: "localhost"},
                 user: {id: new Uint8Array(8), name: "a", displayName: "A"}, challenge: new Uint8Array(32),
                 authenticatorSelection: {userVerification: "required"},
                 pubKeyCredParams: [{type: "public-key", alg: -7}]};
               navigator.credentials.create({publicKey}).catch(() => {}); }"""
        )
        consent = consent_window(browser)
        consent_state(consent, "armed")
        shown = consent_text(consent)
        for key in ("prompt_label", "prompt_create", "prompt_register_button", "prompt_use_browser", "prompt_cancel"):
            assert de[key] in shown, f"{key}: {de[key]!r} not in {shown!r}"
        assert consent.evaluate("document.documentElement.lang") == "de"
        consent.locator("#confirm").click()
        consent_state(consent, "pin")
        assert de["prompt_enter_pin"] in consent_text(consent)
        assert consent.locator("#pin-decline").text_content() == de["prompt_pin_none"]
        consent.locator("#pin").fill("0000")
        consent.locator("#pin-submit").click()
        consent_state(consent, "pin")  # asked again
        assert de["prompt_wrong_pin_tries"].replace("$P1$", "7") in consent_text(consent)
    finally:
        context.close()
        for pid in host_pids_for_home(home):
            kill_pid(pid)
