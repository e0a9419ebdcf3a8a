"""The security-key bridge against hostile pages, in headless Chromium with the real host and its virtual key:
another site that frames or opens the tracker and races the bridge's hand-over, a page that covers, restyles
or clicks through what it thinks is our prompt, a page that starts a request while its user types, and a
page looking for any trace of us. Each test names the attack; docs/security-keys.md has the threat model."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from fido2.webauthn import AttestationObject

from .conftest import Chromium, PageServer, host_pids_for_home, kill_pid
from .fido_support import (
    CONSENT,
    b64url_decode,
    consent_state,
    consent_text,
    consent_window,
    enable_security_keys,
    start_chromium_with_virtual_key,
    verify_u2f_registration,
    verify_u2f_signature,
)
from .test_i18n import catalog

pytestmark = pytest.mark.browser
TRACKER = "/pages/fido_legacy.html"
# @simplewebauthn/server (npm, in .tools from scripts/test.sh): a relying party we did not write.
SIMPLEWEBAUTHN = Path(__file__).with_name("simplewebauthn_verify.mjs")
SIMPLEWEBAUTHN_PACKAGE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "@simplewebauthn" / "server"
SETTLED = "Promise.race([pending, new Promise((r) => setTimeout(() => r('no answer'), 20000))])"


def _browser(playwright: Any, tmp_path_factory: Any, pages: PageServer, name: str, **kwargs: Any) -> Iterator[Chromium]:
    b = start_chromium_with_virtual_key(playwright, tmp_path_factory.mktemp(name), **kwargs)
    enable_security_keys(b, pages.origin("localhost"))
    yield b
    b.context.close()
    for pid in host_pids_for_home(b.home):
        kill_pid(pid)


@pytest.fixture(scope="module")
def auto_browser(playwright_instance: Any, tmp_path_factory: Any, pages: PageServer) -> Iterator[Chromium]:
    """The virtual key confirms by itself (TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM): a request that reaches the
    host is answered without anyone confirming, so a channel taken by another site would be answered."""
    yield from _browser(playwright_instance, tmp_path_factory, pages, "fido-auto", auto_confirm=True)


@pytest.fixture(scope="module")
def browser(playwright_instance: Any, tmp_path_factory: Any, pages: PageServer) -> Iterator[Chromium]:
    """The virtual key without auto-confirm: every request waits in the consent window."""
    yield from _browser(playwright_instance, tmp_path_factory, pages, "fido-asking")


@pytest.fixture(autouse=True)
def each_test_leaves_no_page_open(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed test must not leave a request pending in a shared browser (the next test would meet its
    consent window, or be refused as a second request of its tab)."""
    yield
    for name in ("auto_browser", "browser"):
        if name in request.fixturenames:
            for page in request.getfixturevalue(name).context.pages:
                page.close()


def no_consent_window(browser: Chromium) -> bool:
    return not any(CONSENT in p.url for p in browser.context.pages)


def requests_seen(browser: Chromium) -> int:
    """How many page requests reached the service worker (runtime ports from the bridge's content script)."""
    return int(browser.background("globalThis.tracker2fa.fido.started"))


PUBLIC_KEY = ("{rp: {name: 'Tracker', id: 'localhost'}, user: {id: new Uint8Array(8), name: 'a', displayName: 'A'},"
              " challenge: new Uint8Array(32), pubKeyCredParams: [{type: 'public-key', alg: -7}]}")
OUTCOME = ".then((c) => `created ${c.id}`, (e) => `${e.name}: ${e.message}`)"
CREATE = f"() => navigator.credentials.create({{publicKey: {PUBLIC_KEY}}}){OUTCOME}"  # resolves with the outcome
START = f"() => {{ window.pending = navigator.credentials.create({{publicKey: {PUBLIC_KEY}}}){OUTCOME}; }}"


# ---- the channel: no other window can take it ----


def test_a_cross_site_parent_frame_never_gets_the_trackers_channel(auto_browser: Chromium, pages: PageServer) -> None:
    attacker = auto_browser.open(pages.url("/pages/fido_attacker.html", host="127.0.0.1"))
    tracker = pages.url(TRACKER, host="localhost")
    before = requests_seen(auto_browser)
    for attempt in range(6):  # each load of the tracker's frame, attacked from before it starts until after
        posts = attacker.evaluate(
            """(url) => { const frame = document.getElementById("tracker");
                 frame.src = url + "?attempt=" + Math.random();
                 return attackFor(() => frame.contentWindow, 1200); }""",
            tracker,
        )
        assert posts > 50 * (attempt + 1), "the attacker did not get to post during the load"
    attacker.wait_for_timeout(1500)  # the virtual key answers in milliseconds: long enough for any answer
    assert attacker.evaluate("window.answers") == []
    assert requests_seen(auto_browser) == before  # none of its requests reached the extension
    # The tracker's own request in that frame still works.
    frame = next(f for f in attacker.frames if f.url.startswith(tracker))
    assert frame.evaluate(CREATE).startswith("created ")
    assert requests_seen(auto_browser) == before + 1
    attacker.close()


def test_a_cross_site_opener_never_gets_the_opened_windows_channel(auto_browser: Chromium, pages: PageServer) -> None:
    attacker = auto_browser.open(pages.url("/pages/fido_attacker.html", host="127.0.0.1"))
    tracker = pages.url(TRACKER, host="localhost")
    before = requests_seen(auto_browser)
    opened = []
    for _ in range(12):
        with auto_browser.context.expect_page() as popup:
            attacker.evaluate(
                """(url) => { window.opened = window.open(url + "?opened=" + Math.random());
                     return attackFor(() => window.opened, 1500); }""",
                tracker,
            )
        opened.append(popup.value)
    attacker.wait_for_timeout(1500)
    assert attacker.evaluate("window.answers") == []
    assert requests_seen(auto_browser) == before
    assert opened[-1].evaluate(CREATE).startswith("created ")  # the opened tracker's own request works
    for page in [*opened, attacker]:
        page.close()


# ---- consent the page cannot see, cover, click or type into ----


def test_a_click_on_the_pages_decoy_never_confirms(browser: Chromium, pages: PageServer) -> None:
    page = browser.open(pages.url("/pages/fido_hostile_ui.html", host="localhost"))
    page.evaluate("startRequest()")
    page.wait_for_timeout(500)
    # Aim at whatever the request added to the page (an in-page prompt, made invisible), else the decoy:
    # a grid of clicks and double-clicks over it, for longer than any arming delay.
    box = page.evaluate("window.target") or page.locator("#decoy").bounding_box()
    assert box is not None
    for row in range(4):
        for column in range(6):
            x, y = box["x"] + box["width"] * (column + 0.5) / 6, box["y"] + box["height"] * (row + 0.5) / 4
            page.mouse.click(x, y)
            page.mouse.dblclick(x, y)
            page.wait_for_timeout(40)
    assert page.evaluate("window.settled") is None, "the page's clicks acted on the request"
    assert page.evaluate("decoyClicks") >= 24 * 3  # every click landed on the page's decoy: nothing of ours was over it
    consent = consent_window(browser)
    assert consent.evaluate("document.body.dataset.state") in ("asking", "armed")
    consent.locator("#cancel").click()
    assert page.evaluate(SETTLED).startswith("NotAllowedError")
    page.close()


def test_typing_in_the_page_while_a_request_starts_never_confirms(browser: Chromium, pages: PageServer) -> None:
    page = browser.open(pages.url("/pages/fido_hostile_ui.html", host="localhost"))
    page.locator("#comment").click()
    page.keyboard.type("hello")  # the page starts its request at the fifth key
    for _ in range(20):  # the user goes on typing spaces and Enters for a second
        page.keyboard.press(" ")
        page.keyboard.press("Enter")
        page.wait_for_timeout(50)
    assert page.evaluate("window.pending !== undefined") and page.evaluate("window.settled") is None
    # Keys that reach the consent window because the focus moved there as it opened: neither those typed
    # before it armed nor those after (no button has the focus until the user moves it there) confirm.
    consent = consent_window(browser)
    for key in (" ", "Enter", " ", "Enter"):
        consent.keyboard.press(key)
    page.wait_for_timeout(300)
    assert page.evaluate("window.settled") is None, "keys typed into the window as it opened confirmed the request"
    consent_state(consent, "armed")
    for key in (" ", "Enter", " ", "Enter"):
        consent.keyboard.press(key)
    page.wait_for_timeout(300)
    assert page.evaluate("window.settled") is None, "Space or Enter confirmed without the user moving the focus"
    assert consent.evaluate("document.body.dataset.state") == "armed"
    # The user's own deliberate keys: Tab to the button, then Enter.
    consent.keyboard.press("Tab")
    assert consent.evaluate("document.activeElement.id") == "confirm"
    consent.keyboard.press("Enter")
    assert page.evaluate(SETTLED).startswith("created ")
    page.close()


def test_nothing_of_ours_is_in_the_page_while_a_request_is_pending(browser: Chromium, pages: PageServer) -> None:
    page = browser.open(pages.url(TRACKER, host="localhost"))
    before = page.evaluate("document.documentElement.outerHTML")
    seen = requests_seen(browser)
    page.evaluate(START)
    for _ in range(100):  # the request reached the extension, which asks the user now
        if requests_seen(browser) > seen:
            break
        page.wait_for_timeout(50)
    page.wait_for_timeout(800)  # time for anything of ours to appear, had we put it in the page
    assert page.evaluate("document.documentElement.outerHTML") == before
    for text in ("virtual", "tracker2fa", "security key", "Touch"):
        assert page.evaluate("(t) => window.find(t, false, false, true)", text) is False, text
    ours = page.evaluate(
        """() => [...document.querySelectorAll("*")].filter((e) => e.shadowRoot ||
             [...e.attributes].some((a) => /tracker2fa/i.test(a.name + a.value))).map((e) => e.tagName)"""
    )
    assert ours == []
    consent = consent_window(browser)  # meanwhile the user was asked, out of the page's reach
    consent_state(consent, "armed")
    assert "virtual key" in consent_text(consent)
    assert page.evaluate("window.find('virtual', false, false, true)") is False
    consent.locator("#cancel").click()
    assert page.evaluate(SETTLED).startswith("NotAllowedError")
    page.close()


def test_a_page_cannot_detect_the_extension_by_its_files(browser: Chromium, pages: PageServer) -> None:
    from native_host.devtools.browsers import chromium_extension_url

    page = browser.open(pages.url(TRACKER, host="localhost"))
    probes = [chromium_extension_url(path) for path in ("consent/consent.html", "prompt/pin.html", "manifest.json")]
    loaded = page.evaluate(
        """async (urls) => Promise.all(urls.map((u) => fetch(u).then(() => "loaded", () => "refused")))""", probes
    )
    assert loaded == ["refused"] * len(probes)
    page.close()


def test_a_frame_of_another_site_is_named_in_the_consent_window_and_the_client_data(
    browser: Chromium, pages: PageServer
) -> None:
    attacker = browser.open(pages.url("/pages/fido_attacker.html", host="127.0.0.1"))
    tracker = pages.url(TRACKER, host="localhost")
    attacker.evaluate("(url) => new Promise((r) => { const f = document.getElementById('tracker'); f.onload = r; "
                      "f.src = url; })", tracker)
    frame = next(f for f in attacker.frames if f.url.startswith(tracker))
    frame.evaluate(f"""() => {{ window.pending = navigator.credentials.create({{publicKey: {PUBLIC_KEY}}})
        .then((c) => new TextDecoder().decode(c.response.clientDataJSON)); }}""")
    consent = consent_window(browser)
    consent_state(consent, "armed")
    top = pages.origin("127.0.0.1")
    framed = catalog("en")["prompt_in_frame"]["message"].replace("$P1$", top.split("//")[1])
    assert framed in consent_text(consent)
    consent.locator("#confirm").click()
    client_data = json.loads(frame.evaluate(SETTLED))
    assert (client_data["crossOrigin"], client_data["topOrigin"]) == (True, top)
    assert client_data["origin"] == pages.origin("localhost")
    attacker.close()


def test_a_second_request_in_the_same_tab_is_refused_while_one_waits(browser: Chromium, pages: PageServer) -> None:
    pages.extra["/fido-two.html"] = f'<iframe id="f" src="{TRACKER}"></iframe>'
    page = browser.open(pages.url("/fido-two.html", host="localhost"))
    frame = page.frame_locator("#f").owner.element_handle().content_frame()
    frame.wait_for_function("typeof window.u2f === 'object'")
    page.evaluate(START)
    consent = consent_window(browser)
    consent_state(consent, "asking")
    assert frame.evaluate(CREATE) == "NotAllowedError: Another security-key request is pending in this tab."
    assert len([p for p in browser.context.pages if CONSENT in p.url]) == 1
    consent.locator("#cancel").click()
    page.close()


# ---- privacy: attestation ----


def _created(page: Any, attestation: str | None) -> dict[str, Any]:
    """Register with ``attestation`` conveyance (None: the member left out); the credential's toJSON()."""
    page.evaluate(
        f"""(attestation) => {{ const publicKey = {PUBLIC_KEY};
           if (attestation) publicKey.attestation = attestation;
           window.pending = navigator.credentials.create({{publicKey}}).then((c) => c.toJSON(), (e) => e.name); }}""",
        attestation,
    )
    return dict(page.evaluate(SETTLED))


def _attestation(created: dict[str, Any]) -> AttestationObject:
    return AttestationObject(b64url_decode(created["response"]["attestationObject"]))


@pytest.mark.parametrize("attestation", [None, "none"])
def test_attestation_none_gives_format_none_and_a_zero_aaguid(auto_browser: Chromium, pages: PageServer,
                                                              attestation: str | None) -> None:
    page = auto_browser.open(pages.url(TRACKER, host="localhost"))
    created = _attestation(_created(page, attestation))
    assert (created.fmt, created.att_stmt) == ("none", {})
    assert bytes(created.auth_data.credential_data.aaguid) == bytes(16)
    page.close()


@pytest.mark.parametrize("allowed", [True, False])
def test_direct_attestation_is_asked_in_the_consent_window(browser: Chromium, pages: PageServer, allowed: bool) -> None:
    page = browser.open(pages.url(TRACKER, host="localhost"))
    page.evaluate("""() => { const publicKey = {rp: {name: "T", id: "localhost"}, challenge: new Uint8Array(32),
        user: {id: new Uint8Array(8), name: "a", displayName: "A"}, attestation: "direct",
        pubKeyCredParams: [{type: "public-key", alg: -7}]};
      window.pending = navigator.credentials.create({publicKey}).then((c) => c.toJSON(), (e) => e.name); }""")
    consent = consent_window(browser)
    consent_state(consent, "armed")
    assert consent.locator("#attestation").is_visible()
    assert consent.locator("#allow-attestation").is_checked() is False  # not given unless the user says so
    if allowed:
        consent.locator("#allow-attestation").check()
    consent.locator("#confirm").click()
    created = _attestation(page.evaluate(SETTLED))
    if allowed:
        assert created.fmt == "packed" and "x5c" in created.att_stmt
        assert bytes(created.auth_data.credential_data.aaguid) != bytes(16)
    else:
        assert (created.fmt, bytes(created.auth_data.credential_data.aaguid)) == ("none", bytes(16))
    page.close()


# ---- independent relying parties ----


class MadeThroughTheExtension(NamedTuple):
    """A registration and an assertion with it, as a page's script sees them (JSON), and their challenges."""

    origin: str
    registration: dict[str, Any]
    registration_challenge: bytes
    assertion: dict[str, Any]
    assertion_challenge: bytes


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def register_and_sign(browser: Chromium, pages: PageServer) -> MadeThroughTheExtension:
    page = browser.open(pages.url(TRACKER, host="localhost"))
    registration_challenge = secrets.token_bytes(32)
    registration = page.evaluate(
        """(challenge) => navigator.credentials.create({publicKey: {rp: {name: "T", id: "localhost"},
             user: {id: new Uint8Array([1, 2, 3]), name: "alice", displayName: "Alice"},
             challenge: Uint8Array.from(challenge), pubKeyCredParams: [{type: "public-key", alg: -7}]}})
           .then((c) => JSON.parse(JSON.stringify(c)))""",
        list(registration_challenge),
    )
    assertion_challenge = secrets.token_bytes(32)
    assertion = page.evaluate(
        """([challenge, id]) => navigator.credentials.get({publicKey: {rpId: "localhost",
             challenge: Uint8Array.from(challenge), allowCredentials: [{type: "public-key", id: Uint8Array.from(id)}]}})
           .then((c) => c.toJSON())""",
        [list(assertion_challenge), list(b64url_decode(registration["rawId"]))],
    )
    page.close()
    return MadeThroughTheExtension(pages.origin("localhost"), registration, registration_challenge, assertion,
                                   assertion_challenge)


def test_py_webauthn_verifies_a_registration_and_an_assertion_made_through_the_extension(
    auto_browser: Chromium, pages: PageServer
) -> None:
    from webauthn import verify_authentication_response, verify_registration_response

    made = register_and_sign(auto_browser, pages)
    verified = verify_registration_response(credential=made.registration,
                                            expected_challenge=made.registration_challenge,
                                            expected_rp_id="localhost", expected_origin=made.origin)
    checked = verify_authentication_response(credential=made.assertion, expected_challenge=made.assertion_challenge,
                                             expected_rp_id="localhost", expected_origin=made.origin,
                                             credential_public_key=verified.credential_public_key,
                                             credential_current_sign_count=verified.sign_count)
    assert checked.new_sign_count > verified.sign_count


def test_simplewebauthn_verifies_a_registration_and_an_assertion_made_through_the_extension(
    auto_browser: Chromium, pages: PageServer
) -> None:
    assert SIMPLEWEBAUTHN_PACKAGE.is_dir(), "@simplewebauthn/server is missing: run scripts/test.sh (it installs it)"
    made = register_and_sign(auto_browser, pages)
    given = {"origin": made.origin, "rpID": "localhost", "registration": made.registration,
             "registrationChallenge": b64url(made.registration_challenge), "assertion": made.assertion,
             "assertionChallenge": b64url(made.assertion_challenge)}
    done = subprocess.run(["node", str(SIMPLEWEBAUTHN)], input=json.dumps(given), capture_output=True, text=True,
                          timeout=60, check=True)
    got = json.loads(done.stdout)
    assert got.get("error") is None, got
    assert (got["registered"], got["fmt"], got["credentialId"]) == (True, "none", made.registration["id"])
    assert got["authenticated"] is True and got["newCounter"] > got["counter"]


SHAPE = """(value) => { const shape = (v) => Array.isArray(v) ? ["array", ...new Set(v.map(shape).map(JSON.stringify))]
  : v === null ? "null" : typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape(v[k])]))
  : typeof v; return shape(value); }"""
# Facts about a credential object as a page can observe them.
FACTS = """(c) => { let clone; try { structuredClone(c); clone = "cloned"; } catch (e) { clone = e.name; }
  const r = c.response, proto = Object.getPrototypeOf(c);
  return {ownKeys: Reflect.ownKeys(c).length, responseOwnKeys: Reflect.ownKeys(r).length, clone,
    instance: c instanceof PublicKeyCredential, tag: Object.prototype.toString.call(c),
    responseTag: Object.prototype.toString.call(r), sameRawId: c.rawId === c.rawId,
    rawIdOnPrototype: !!Object.getOwnPropertyDescriptor(PublicKeyCredential.prototype, "rawId").get,
    protoIsInterface: proto === PublicKeyCredential.prototype,
    json: JSON.stringify(c) === JSON.stringify(c.toJSON()),
    transports: r.getTransports ? r.getTransports() : null,
    publicKey: r.getPublicKey ? r.getPublicKey() instanceof ArrayBuffer : null,
    algorithm: r.getPublicKeyAlgorithm ? r.getPublicKeyAlgorithm() : null,
    authenticatorData: r.getAuthenticatorData ? r.getAuthenticatorData() instanceof ArrayBuffer : null}; }"""


def test_the_credentials_json_and_object_match_chromiums_own(browser: Chromium, pages: PageServer) -> None:
    from .test_fido_bridge_chromium import BrowserAuthenticator

    page = browser.open(pages.url(TRACKER, host="localhost"))
    authenticator = BrowserAuthenticator(page)
    results = {}
    for who in ("ours", "chromium"):
        page.evaluate(f"""() => {{ window.pending = navigator.credentials.create({{publicKey: {PUBLIC_KEY}}})
            .then((c) => {{ window.created = c; return c.id; }}); }}""")
        consent = consent_window(browser)
        consent_state(consent, "armed")
        consent.locator("#confirm" if who == "ours" else "#browser").click()
        created_id = page.evaluate(SETTLED)
        create = (page.evaluate(f"({SHAPE})(created.toJSON())"), page.evaluate(f"({FACTS})(created)"))
        page.evaluate("""(id) => { window.pending = navigator.credentials.get({publicKey: {rpId: "localhost",
            challenge: new Uint8Array(32), allowCredentials: [{type: "public-key",
            id: Uint8Array.from(atob(id.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))}]}})
            .then((c) => { window.got = c; return c.id; }); }""", created_id)
        consent = consent_window(browser)
        consent_state(consent, "armed")
        consent.locator("#confirm" if who == "ours" else "#browser").click()
        assert page.evaluate(SETTLED) == created_id
        get = (page.evaluate(f"({SHAPE})(got.toJSON())"), page.evaluate(f"({FACTS})(got)"))
        results[who] = (create, get)
    assert authenticator.credential_ids()  # Chromium's own really made the second credential
    assert results["ours"] == results["chromium"]
    page.close()


# ---- the legacy U2F API 1.0 with several keys ----


def test_u2f_1_0_sign_answers_with_the_challenge_of_the_key_that_signed(auto_browser: Chromium,
                                                                         pages: PageServer) -> None:
    page = auto_browser.open(pages.url(TRACKER, host="localhost"))
    app_id = pages.origin("localhost")
    # The 1.0 call forms that Google's u2f-api.js passed on: register(registerRequests, signRequests, cb).
    registered = page.evaluate(
        """(appId) => new Promise((resolve) => u2f.register([{version: "U2F_V2", challenge: "cmVnaXN0ZXI", appId}], [],
             resolve))""",
        app_id,
    )
    handle, public_key = verify_u2f_registration(app_id, registered)
    ours = base64.urlsafe_b64encode(handle).rstrip(b"=").decode()
    other_key = base64.urlsafe_b64encode(hashlib.sha256(b"another key's handle").digest() * 2).rstrip(b"=").decode()
    signed = page.evaluate(
        """([appId, other, ours]) => new Promise((resolve) => u2f.sign([
             {version: "U2F_V2", challenge: "Y2hhbGxlbmdlLWZvci1rZXktQQ", keyHandle: other, appId},
             {version: "U2F_V2", challenge: "Y2hhbGxlbmdlLWZvci1rZXktQg", keyHandle: ours, appId}], resolve))""",
        [app_id, other_key, ours],
    )
    assert signed.get("keyHandle") == ours, signed
    client_data = verify_u2f_signature(app_id, public_key, signed)
    assert client_data["challenge"] == "Y2hhbGxlbmdlLWZvci1rZXktQg"
    page.close()


# ---- the virtual key that confirms by itself ----


def test_the_virtual_key_confirms_by_itself_only_when_switched_on(auto_browser: Chromium, browser: Chromium,
                                                                   pages: PageServer) -> None:
    page = auto_browser.open(pages.url(TRACKER, host="localhost"))
    assert page.evaluate(CREATE).startswith("created ")
    assert no_consent_window(auto_browser)
    assert auto_browser.background("globalThis.tracker2fa.status()")["autoConfirmed"] > 0
    popup = auto_browser.popup()
    assert popup.locator("#auto-confirm").is_visible()  # the user is told it is on
    popup.close()
    page.close()
    # Without the switch the same request waits in the consent window.
    page = browser.open(pages.url(TRACKER, host="localhost"))
    page.evaluate(START)
    consent = consent_window(browser)
    consent.locator("#cancel").click()
    assert page.evaluate(SETTLED).startswith("NotAllowedError")
    page.close()


def test_a_frame_the_page_did_not_delegate_webauthn_to_is_refused_as_by_the_browser(
    browser: Chromium, pages: PageServer
) -> None:
    # Permissions Policy: without allow="publickey-credentials-create" a cross-origin frame may not register;
    # the extension leaves such a request to the browser, which refuses it as it would without us.
    pages.extra["/fido-undelegated.html"] = f'<iframe id="f" src="{pages.url(TRACKER, host="localhost")}"></iframe>'
    page = browser.open(pages.url("/fido-undelegated.html", host="127.0.0.1"))
    frame = page.frame_locator("#f").owner.element_handle().content_frame()
    frame.wait_for_function("typeof window.u2f === 'object'")
    seen = requests_seen(browser)
    frame.evaluate(START)
    assert frame.evaluate(SETTLED).startswith("NotAllowedError")
    assert requests_seen(browser) == seen + 1 and no_consent_window(browser)
    page.close()
