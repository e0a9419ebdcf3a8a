"""The extension's pure modules (origin from the sender, the host connection, settings merging, messages)
run under Node: unit and property tests, no browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .node_harness import Node, node_running

HARNESS = Path(__file__).with_name("js_harness.mjs")


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    yield from node_running(HARNESS)


# ---- the page origin comes only from the browser's view of the sender ----


def test_sender_origin_prefers_the_frames_own_origin(node: Node) -> None:
    sender = {"origin": "https://jira.example.com", "url": "https://jira.example.com/x", "frameId": 3,
              "tab": {"url": "https://evil.test/"}}
    assert node("senderOrigin", sender) == "https://jira.example.com"


def test_cross_origin_iframe_never_gets_the_top_pages_origin(node: Node) -> None:
    sender = {"url": "https://evil.test/frame.html", "frameId": 7, "tab": {"url": "https://jira.example.com/"}}
    assert node("senderOrigin", sender, "https://evil.test") == "https://evil.test"


def test_tab_url_is_used_only_for_the_top_frame(node: Node) -> None:
    top = {"frameId": 0, "tab": {"url": "https://jira.example.com/a?b"}}
    assert node("senderOrigin", top, "https://jira.example.com") == "https://jira.example.com"
    assert node("senderOrigin", {**top, "frameId": 2}, "https://jira.example.com") is None


@pytest.mark.parametrize(
    "sender",
    [
        {"origin": "null", "frameId": 0},
        {"url": "data:text/html,<input>", "frameId": 0},
        {"url": "file:///etc/passwd", "frameId": 0},
        {"url": "chrome-extension://abc/popup.html", "frameId": 0},
        {},
    ],
)
def test_senders_without_a_web_origin_get_none(node: Node, sender: dict[str, Any]) -> None:
    assert node("senderOrigin", sender) is None


# ---- opaque origins never match a binding (common/origin_policy.js) ----

BOUND_URL = "https://jira.example.com/secure/Dashboard.jspa"


@pytest.mark.parametrize(
    "sender",
    [
        # A CSP-sandboxed top document: Chromium reports origin "null" and the bound site's URL.
        {"origin": "null", "url": BOUND_URL, "frameId": 0, "tab": {"url": BOUND_URL}},
        # <iframe sandbox src="/same-origin-page"> inside a bound page.
        {"origin": "null", "url": BOUND_URL, "frameId": 4, "tab": {"url": BOUND_URL}},
        # srcdoc and data: frames.
        {"origin": "null", "url": "about:srcdoc", "frameId": 5, "tab": {"url": BOUND_URL}},
        {"origin": "null", "url": "data:text/html,<input autocomplete=one-time-code>", "frameId": 6,
         "tab": {"url": BOUND_URL}},
    ],
)
def test_opaque_browser_origin_is_refused_whatever_the_url(node: Node, sender: dict[str, Any]) -> None:
    assert node("senderOriginDecision", sender) == {"refused": "opaque_origin"}
    assert node("senderOriginDecision", sender, "https://jira.example.com") == {"refused": "opaque_origin"}


def test_document_reporting_an_opaque_origin_is_refused_even_when_the_browser_names_one(node: Node) -> None:
    sender = {"origin": "https://jira.example.com", "url": BOUND_URL, "frameId": 0}
    assert node("senderOriginDecision", sender, "null") == {"refused": "opaque_origin"}


def test_url_without_a_browser_origin_is_refused_unless_the_document_confirms_it(node: Node) -> None:
    sender = {"url": BOUND_URL, "frameId": 0, "tab": {"url": BOUND_URL}}
    assert node("senderOriginDecision", sender) == {"refused": "invalid_origin"}
    assert node("senderOriginDecision", sender, "https://evil.test") == {"refused": "invalid_origin"}
    assert node("senderOriginDecision", sender, "null") == {"refused": "opaque_origin"}
    assert node("senderOriginDecision", sender, "https://jira.example.com") == {"origin": "https://jira.example.com"}


def test_browser_and_document_disagreeing_is_refused(node: Node) -> None:
    sender = {"origin": "https://jira.example.com", "url": BOUND_URL, "frameId": 0}
    assert node("senderOriginDecision", sender, "https://evil.test") == {"refused": "invalid_origin"}


@pytest.mark.parametrize("browser_origin", ["https://jira.example.com/", "javascript:alert(1)", "file://", "", 7])
def test_browser_origin_that_is_not_a_serialised_web_origin_is_refused(node: Node, browser_origin: Any) -> None:
    assert node("pageOrigin", {"browserOrigin": browser_origin, "url": BOUND_URL}) == {"refused": "invalid_origin"}


def test_content_script_decision_refuses_an_opaque_document_on_a_bound_url(node: Node) -> None:
    # In the content script there is no browser origin: the URL and self.origin.
    assert node("pageOrigin", {"url": BOUND_URL, "documentOrigin": "null"}) == {"refused": "opaque_origin"}
    assert node("pageOrigin", {"url": BOUND_URL, "documentOrigin": "https://jira.example.com"}) == {
        "origin": "https://jira.example.com"
    }


def test_opaque_origin_refusal_has_a_message_that_says_why(node: Node) -> None:
    message = node("userMessage", "opaque_origin", None)
    assert message == node("opaqueOriginMessage")
    assert "no origin of its own" in message and "never fills" in message


origin_values = st.one_of(
    st.none(),
    st.just("null"),
    st.sampled_from(["https://jira.example.com", "http://127.0.0.1:8080", "https://evil.test", "about:srcdoc"]),
    st.text(max_size=40),
)
url_values = st.one_of(
    st.none(),
    st.sampled_from([BOUND_URL, "about:srcdoc", "data:text/html,x", "https://evil.test/a", "blob:null/1"]),
    st.text(max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(browser_origin=origin_values, url=url_values, document_origin=origin_values)
def test_origin_decision_never_serves_an_opaque_or_unconfirmed_origin(
    node: Node, browser_origin: str | None, url: str | None, document_origin: str | None
) -> None:
    facts = {k: v for k, v in
             {"browserOrigin": browser_origin, "url": url, "documentOrigin": document_origin}.items() if v is not None}
    decision = node("pageOrigin", facts)
    if "null" in (browser_origin, document_origin):
        assert decision == {"refused": "opaque_origin"}
    elif "origin" in decision:
        origin = decision["origin"]
        assert origin.startswith(("http://", "https://"))
        if browser_origin is not None:
            assert origin == browser_origin
        else:  # from the URL: only when the document confirmed exactly that origin
            assert origin == document_origin
        assert document_origin in (None, origin)
    else:
        assert decision["refused"] in ("opaque_origin", "invalid_origin")


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)
urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    hosts,
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    st.from_regex(r"(/[a-zA-Z0-9._~-]{0,10}){0,3}(\?[a-z=&]{0,10})?", fullmatch=True),
)


@settings(max_examples=150, deadline=None)
@given(url=urls)
def test_sender_origin_is_scheme_host_port_of_the_frame_url_when_the_document_confirms_it(
    node: Node, url: str
) -> None:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    port = "" if parts.port in (None, default) else f":{parts.port}"
    expected = f"{parts.scheme}://{parts.hostname}{port}"
    assert node("senderOrigin", {"url": url, "frameId": 1}, expected) == expected
    assert node("senderOrigin", {"url": url, "frameId": 1}, "null") is None


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
def test_url_origin_never_returns_a_non_web_origin(node: Node, text: str) -> None:
    result = node("urlOrigin", text)
    assert result is None or result.startswith(("http://", "https://"))


# ---- the host connection ----


def test_replies_are_matched_to_requests_by_id(node: Node) -> None:
    assert node("scenario", "repliesMatchedById") == {"a": "a", "b": "b", "ids": [1, 2], "ports": 1}


def test_host_error_reply_rejects_with_its_code(node: Node) -> None:
    assert node("scenario", "errorReplyBecomesHostError") == {"rejected": True, "code": "vault_locked"}


def test_request_without_reply_times_out_and_is_cancelled(node: Node) -> None:
    result = node("scenario", "timeoutSendsCancel")
    assert result["rejected"] and result["code"] == "timeout"
    assert result["cancelTarget"] == result["first"]


def test_read_only_request_is_retried_on_a_new_port_when_the_host_dies(node: Node) -> None:
    assert node("scenario", "hostDeathRetriesReadOnlyOnNewPort") == {"result": {"ok": 1}, "ports": 2, "connections": 2}


def test_a_key_listing_is_retried_when_the_host_was_killed_while_it_was_written(node: Node) -> None:
    result = node("scenario", "hostKilledMidWriteRetriesKeyListingOnNewPort")
    assert result == {"result": {"keys": []}, "ports": 2, "method": "fido.devices"}


def test_mutation_is_never_sent_twice_when_the_host_dies(node: Node) -> None:
    assert node("scenario", "hostDeathDoesNotRepeatMutations") == {"rejected": True, "code": "host_exited", "ports": 1}


def test_missing_host_is_reported_as_not_installed_with_the_fix(node: Node) -> None:
    result = node("scenario", "notInstalledIsNotRetried")
    assert result["code"] == "host_not_installed" and result["ports"] == 1
    assert "tracker2fa install" in result["message"]


def test_next_request_after_the_host_died_opens_a_new_port(node: Node) -> None:
    assert node("scenario", "nextRequestAfterDeathReconnects") == {"version": "x", "ports": 2, "connected": True}


def test_host_events_reach_listeners(node: Node) -> None:
    assert node("scenario", "eventsReachListeners") == {"seen": ["vault.locked"]}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Specified native messaging host not found.", "host_not_installed"),
        ("No such native application dev.tracker2fa.host", "host_not_installed"),
        ("Access to the specified native messaging host is forbidden.", "host_forbidden"),
        ("Native host has exited.", "host_exited"),
        ("Error when communicating with the native messaging host.", "host_protocol_error"),
        (None, "host_exited"),
    ],
)
def test_browser_disconnect_messages_are_classified(node: Node, message: str | None, code: str) -> None:
    assert node("disconnectCode", message) == code


def test_every_error_code_the_host_can_send_has_a_user_message(node: Node) -> None:
    from native_host import errors

    def codes_under(cls: type) -> set[str]:
        found = {cls.code}
        for sub in cls.__subclasses__():
            found |= codes_under(sub)
        return found

    # What the host answers the extension with: vault and request errors, cancellation, its own failures.
    host_codes = codes_under(errors.VaultError) | codes_under(errors.BadRequest) | {"cancelled", "internal_error"}
    if hasattr(errors, "VerifierError"):  # server-side errors never travel through the host
        host_codes -= codes_under(errors.VerifierError)
    missing = host_codes - set(node("knownCodes"))
    assert not missing, f"error codes without a user message in extension/common/messages.js: {missing}"


# ---- settings: managed (admin) values win ----


def test_managed_auto_submit_overrides_the_user_and_is_locked(node: Node) -> None:
    merged = node("mergeSettings", {"autoSubmit": True}, {"autoSubmit": False})
    assert merged["autoSubmit"] is False and merged["locked"]["autoSubmit"] is True


def test_managed_auto_fill_adds_tracker_origins(node: Node) -> None:
    merged = node("mergeSettings", {"autoFillOrigins": ["https://mine.test"]},
                  {"autoFill": True, "trackerOrigins": ["https://jira.corp.test/login", "not an origin"]})
    assert merged["autoFillOrigins"] == ["https://jira.corp.test", "https://mine.test"]


def test_managed_auto_fill_off_disables_user_auto_fill(node: Node) -> None:
    merged = node("mergeSettings", {"autoFillOrigins": ["https://mine.test"]}, {"autoFill": False})
    assert merged["autoFillOrigins"] == []


def test_admin_site_rules_come_before_user_rules_and_invalid_ones_are_dropped(node: Node) -> None:
    merged = node(
        "mergeSettings",
        {"siteRules": [{"name": "mine", "fieldSelector": "#mine"}, {"name": "broken"}]},
        {"siteRules": [{"name": "corp", "urlPattern": "^https://jira", "fieldSelector": "#otp"}]},
    )
    assert [(r["name"], r["source"]) for r in merged["siteRules"]] == [("corp", "admin"), ("mine", "user")]


settings_values = st.dictionaries(
    st.sampled_from(["autoSubmit", "autoFill", "autoFillOrigins", "trackerOrigins", "siteRules", "autoLockSeconds",
                     "allowExport"]),
    st.one_of(st.booleans(), st.integers(-5, 10**6), st.text(max_size=20),
              st.lists(st.one_of(st.text(max_size=30), st.just("https://a.test")), max_size=3)),
)


@settings(max_examples=100, deadline=None)
@given(user=settings_values, managed=settings_values)
def test_merge_never_fails_and_managed_booleans_always_win(node: Node, user: dict, managed: dict) -> None:
    merged = node("mergeSettings", user, managed)
    if isinstance(managed.get("autoSubmit"), bool):
        assert merged["autoSubmit"] is managed["autoSubmit"]
    if managed.get("autoFill") is False:
        assert merged["autoFillOrigins"] == []
    assert all(o.startswith(("http://", "https://")) for o in merged["autoFillOrigins"])
    assert isinstance(merged["allowExport"], bool)


# ---- tracker origins typed in the options page: the host's rule for bindings ----


@pytest.mark.parametrize(
    ("line", "meant"),
    [
        ("https://jira.example,com", "https://jira.example.com"),
        ("https://jira..example.com", "https://jira.example.com"),
        ("https://jira.example.com.", "https://jira.example.com"),
        ("https://-jira.example.com:8443", "https://jira.example.com:8443"),
        ("https://*.example.com", None),
    ],
)
def test_an_origin_with_a_typo_is_refused_with_the_origin_meant(node: Node, line: str, meant: str | None) -> None:
    got = node("siteOrigin", line)
    assert "origin" not in got and got["problem"][1] == line
    assert got.get("meant") == meant


@pytest.mark.parametrize("line", ["https://jira.example.com", "http://localhost:8080", "https://192.168.1.4:8443",
                                  "https://[::1]:9000", "https://jira_dev.example.com"])
def test_a_sites_origin_is_taken_as_the_browser_writes_it(node: Node, line: str) -> None:
    assert node("siteOrigin", line) == {"origin": line}


@settings(max_examples=300, deadline=None)
@given(host=st.text(alphabet="abz09-_.,;*", min_size=1, max_size=12), port=st.sampled_from(["", ":8080"]))
def test_the_options_page_and_the_host_agree_on_which_origins_are_sites(node: Node, host: str, port: str) -> None:
    # The extension's rule (common/site_origin.js) and the host's (native_host/origins.bindable_origin)
    # accept the same lines, and where both suggest an origin it is the same one.
    from native_host.errors import InvalidOrigin
    from native_host.origins import bindable_origin

    line = f"https://{host}{port}"
    try:
        host_origin, host_problem = bindable_origin(line).serialized, None
    except InvalidOrigin as exc:
        host_origin, host_problem = None, str(exc)
    got = node("siteOrigin", line)
    assert got.get("origin") == host_origin, (line, got, host_problem)
    if got.get("meant") and host_problem and "did you mean" in host_problem:
        assert host_problem.endswith(f"did you mean {got['meant']}?"), (got, host_problem)
