"""Binding an entry to an origin: what the browser's parser accepts, and then only what a site one logs in at
can be. A binding is exact, so a typo would silently never fill: it is refused with the origin meant."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from native_host.errors import InvalidOrigin
from native_host.origins import bindable_origin, normalize_origin

JIRA = "https://jira.example.com"


def meant(value: str) -> str | None:
    """The origin the refusal of ``value`` suggests (None when it suggests none)."""
    with pytest.raises(InvalidOrigin) as refused:
        bindable_origin(value)
    found = re.search(r"did you mean (\S+)\?", str(refused.value))
    return found.group(1) if found else None


@pytest.mark.parametrize(
    ("typo", "origin"),
    [
        ("https://jira.example,com", JIRA),  # a comma for a dot (the keys are neighbours)
        ("https://jira..example.com", JIRA),  # a dot twice
        ("https://.jira.example.com", JIRA),
        ("https://jira.example.com.", JIRA),  # the full stop of the sentence it was copied from
        ("https//jira.example.com", JIRA),  # the colon left out (it used to suggest "https://https")
        ("https:/jira.example.com", JIRA),
        ("https:jira.example.com", JIRA),
        ("https:///jira.example.com", JIRA),
        ("https;//jira.example.com", JIRA),
        ("https:\\\\jira.example.com", JIRA),
        ("htps://jira.example.com", JIRA),
        ("htttps://jira.example.com/login", JIRA),
        ("http//localhost:8080", "http://localhost:8080"),
        ("https://jira-.example.com:8443", "https://jira.example.com:8443"),
        ("jira.example.com", JIRA),
        ("localhost:8080", "http://localhost:8080"),
    ],
)
def test_a_typo_is_refused_with_the_origin_meant(typo, origin):
    assert meant(typo) == origin


@pytest.mark.parametrize("wildcard", ["https://*.example.com", "https://*", "https://jira.*.com", "http://*:8080"])
def test_a_wildcard_is_refused_because_a_binding_is_exact(wildcard):
    with pytest.raises(InvalidOrigin, match=r"'\*' is not a wildcard here: a binding matches one origin exactly"):
        bindable_origin(wildcard)


def test_a_wildcard_refusal_shows_an_origin_under_the_domain_as_an_example_not_as_the_meaning():
    with pytest.raises(InvalidOrigin, match=r"e\.g\. https://jira\.example\.com$"):
        bindable_origin("https://*.example.com")
    assert meant("https://*.example.com") is None


@pytest.mark.parametrize("other", ["https://exa$mple.com", "https://exa!mple.com", "https://ex'ample.com"])
def test_other_characters_no_host_name_holds_are_refused_without_a_guess(other):
    assert meant(other) is None


@pytest.mark.parametrize(
    ("spelling", "origin"),
    [
        ("https://Jira.Example.com/login?next=/", JIRA),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://straße.example", "https://xn--strae-oqa.example"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("http://127.1:8080", "http://127.0.0.1:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://a_b.intranet", "https://a_b.intranet"),
        ("https://jira", "https://jira"),
        ("https://" + "a" * 63 + ".example", "https://" + "a" * 63 + ".example"),
    ],
)
def test_an_origin_a_site_can_have_is_bound_as_the_browser_writes_it(spelling, origin):
    assert str(bindable_origin(spelling)) == origin == normalize_origin(spelling)


def test_a_label_longer_than_dns_allows_is_refused():
    with pytest.raises(InvalidOrigin, match="at most 63 characters"):
        bindable_origin("https://" + "a" * 64 + ".example")


# ---- properties ---------------------------------------------------------------------------------------------

label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


def ends_in_a_number(host: str) -> bool:
    """The URL Standard's test for a host it parses as IPv4: its last label is decimal, or 0x and hex digits."""
    last = host.split(".")[-1]
    return last.isdigit() or re.fullmatch(r"0x[0-9a-f]*", last) is not None


hosts = st.lists(label, min_size=1, max_size=4).map(".".join).filter(lambda h: not ends_in_a_number(h))
origins = st.builds(lambda scheme, host, port: f"{scheme}://{host}{port}", st.sampled_from(["http", "https"]), hosts,
                    st.sampled_from(["", ":8080", ":8443"]))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_refused_or_bound_to_a_canonical_origin_of_a_plain_host(text):
    for candidate in (text, f"https://{text}", f"http://{text}:8080/x"):
        try:
            origin = str(bindable_origin(candidate))
        except InvalidOrigin:
            continue
        assert normalize_origin(origin) == origin  # what the browser would report for that site
        host = origin.split("://", 1)[1].rsplit(":", 1)[0] if not origin.endswith("]") else ""
        if host and not host.startswith("["):
            assert all(label and set(label) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")
                       for label in host.split(".")), origin


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_every_origin_a_refusal_suggests_is_itself_bindable(text):
    for candidate in (text, f"https://{text}", f"https//{text}"):
        try:
            bindable_origin(candidate)
        except InvalidOrigin as refused:
            suggestion = re.search(r"did you mean (\S+)\?", str(refused))
            if suggestion:
                assert str(bindable_origin(suggestion.group(1))) == suggestion.group(1)


TYPOS = {
    "a comma for a dot": lambda o: o.replace(".", ",", 1),
    "a dot twice": lambda o: o.replace(".", "..", 1),
    "a trailing dot": lambda o: o.split("://")[0] + "://" + o.split("://")[1].split(":")[0] + "." + (
        ":" + o.rsplit(":", 1)[1] if o.count(":") == 2 else ""),
    "no colon": lambda o: o.replace("://", "//", 1),
    "one slash": lambda o: o.replace("://", ":/", 1),
    "three slashes": lambda o: o.replace("://", ":///", 1),
    "a semicolon for the colon": lambda o: o.replace("://", ";//", 1),
}


@settings(max_examples=200, deadline=None)
@given(origins, st.sampled_from(sorted(TYPOS)))
def test_one_typo_in_an_origin_is_refused_and_the_origin_is_suggested(origin, typo):
    if typo in ("a comma for a dot", "a dot twice"):
        assume("." in origin.split("://")[1])
    assert meant(TYPOS[typo](origin)) == normalize_origin(origin)


# ---- where bindings are made: the command line and the host's vault.add / vault.bind / vault.update ----------

PASSWORD = "correct horse battery staple"
URI = "otpauth://totp/Jira:ann?secret=KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU&issuer=Jira"


@pytest.fixture
def vault_cli(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TRACKER2FA_VAULT": str(tmp_path / "vault.json")}

    def run(*args: str, stdin: str = PASSWORD + "\n") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "native_host", "vault", *args], input=stdin,
                              capture_output=True, text=True, env=env, timeout=120)

    assert run("init", "--password-stdin", "--kdf-cost", "minimum").returncode == 0
    return run


def test_vault_add_refuses_a_typo_before_the_password_with_the_origin_meant(vault_cli):
    done = vault_cli("add", URI, "--origin", "https://jira.example,com", "--password-stdin", stdin="")
    assert done.returncode == 1
    assert done.stderr.strip() == ("tracker2fa: error: 'https://jira.example,com' cannot be bound: a host name holds "
                                   "letters, digits, hyphens and dots only, not ','; did you mean "
                                   "https://jira.example.com?")
    assert "Traceback" not in done.stderr
    listed = vault_cli("list", "--json", "--password-stdin")
    assert '"entries": []' in listed.stdout


def test_vault_bind_refuses_a_wildcard_and_unbind_still_removes_an_old_binding(vault_cli, tmp_path):
    from native_host.vault import VaultFile

    assert vault_cli("add", URI, "--password-stdin").returncode == 0
    done = vault_cli("bind", "Jira", "https://*.example.com", "--password-stdin")
    assert done.returncode == 1 and "is not a wildcard here" in done.stderr
    # A binding made before these rules (or by hand) can still be removed.
    vault = VaultFile(tmp_path / "vault.json").unlock(PASSWORD)
    entry = next(iter(vault.entries()))
    vault.update(entry.id, origins=["https://jira.example.com."])
    vault.lock()
    done = vault_cli("bind", "Jira", "https://jira.example.com.", "--unbind", "--password-stdin")
    assert done.returncode == 0, done.stderr
    assert '"origins": []' in vault_cli("list", "--json", "--password-stdin").stdout
