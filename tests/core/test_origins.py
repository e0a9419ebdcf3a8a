"""Origins: the canonical form the browser writes, and how the product matches a page against an entry.

The product matches by canonical form: ``UnlockedVault`` stores each bound origin as ``normalize_origin``
writes it and looks the requesting origin up the same way (``entries_for_origin``, ``code``). The matching
tests below go through that vault, so a broken canonical form or a broken lookup fails them both ways:
the positive cases fail if nothing matches, the negative ones if too much does.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from native_host.errors import InvalidOrigin, OriginNotAllowed
from native_host.origins import normalize_origin

PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


# --- the canonical form --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("HTTPS://Jira.Example.com:443/login?x=1#top", "https://jira.example.com"),
        ("http://jira.example.com:80", "http://jira.example.com"),
        ("https://jira.example.com:8443/", "https://jira.example.com:8443"),
        ("https://straße.example", "https://xn--strae-oqa.example"),
        ("https://ΣΟΦΊΑ.example", "https://xn--kxae4bpq.example"),
        ("https://ςοφία.example", "https://xn--kxae4blv.example"),
        ("https://example。com", "https://example.com"),
        ("https://ｅｘａｍｐｌｅ.com", "https://example.com"),
        ("https://XN--STRAE-OQA.example", "https://xn--strae-oqa.example"),
        ("https://jira.example.com.", "https://jira.example.com."),
        ("https://a_b.example", "https://a_b.example"),
        ("https://☃.net", "https://xn--n3h.net"),
        ("https://عربي.example.", "https://xn--ngbrx4e.example."),
        ("http://127.1:8080", "http://127.0.0.1:8080"),
        ("http://0x7f.0.0.1", "http://127.0.0.1"),
        ("http://[0:0:0:0:0:0:0:1]:8080", "http://[::1]:8080"),
        ("http://[::ffff:1.2.3.4]", "http://[::ffff:102:304]"),
        ("http://[2001:DB8:0:0:1:0:0:1]", "http://[2001:db8::1:0:0:1]"),
    ],
)
def test_an_origin_is_written_as_the_browser_writes_it(spelling, canonical):
    assert normalize_origin(spelling) == canonical


def test_sharp_s_stays_sharp_s_and_never_becomes_ss():
    assert normalize_origin("https://straße.example") == "https://xn--strae-oqa.example"
    assert normalize_origin("https://strasse.example") == "https://strasse.example"


def test_final_sigma_stays_final_sigma():
    assert normalize_origin("https://ς.example") == "https://xn--3xa.example"
    assert normalize_origin("https://σ.example") == "https://xn--4xa.example"


def test_a_joiner_is_kept_where_its_script_needs_it_and_refused_elsewhere():
    assert normalize_origin("https://क्\u200dष.example") == "https://xn--11b2ezcw70k.example"
    with pytest.raises(InvalidOrigin, match="joiner"):
        normalize_origin("https://a\u200db.example")


@pytest.mark.parametrize(
    "bad",
    [
        "", "jira.example.com", "ftp://x", "javascript:alert(1)", "https://", "https://u:p@x", "https://a b",
        "https://exa<mple.com", "https://1.2.3.256", "https://foo.09", "https://[fe80::1%25eth0]",
        "https://[::1", "https://example.com:65536", "https://exa%ffmple.com", "https://1عربي.example",
        "https://xn--a.bücher.example", "null",
    ],
)
def test_invalid_origins_are_rejected(bad):
    with pytest.raises(InvalidOrigin):
        normalize_origin(bad)


# Where Chromium's URL parser is laxer than the URL standard we refuse: an origin with these in it is never
# what a browser reports as ``sender.origin``, and a binding that would need them is a typing mistake.
STRICTER_THAN_CHROMIUM = [
    "https://exa mple.com",  # Chromium: https://exa%20mple.com
    "https://example.com\\path",  # Chromium reads the backslash as a slash
    "https://exa\tmple.com",  # Chromium drops the tab
]


@pytest.mark.parametrize("lax", STRICTER_THAN_CHROMIUM)
def test_spellings_only_chromium_forgives_are_rejected(lax):
    with pytest.raises(InvalidOrigin):
        normalize_origin(lax)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_an_origin_in_canonical_form_or_invalid_origin(text):
    for candidate in (text, f"https://{text}", f"http://{text}:8080/x"):
        try:
            canonical = normalize_origin(candidate)
        except InvalidOrigin:
            continue
        assert normalize_origin(canonical) == canonical  # canonical form is a fixed point
        assert canonical.isascii()


# --- matching, as the vault does it ----------------------------------------------------------------------

JIRA = "https://jira.example.com"
LOCAL = "http://127.0.0.1:8080"
IDN = "https://straße.example"
# One entry bound to two origins: a match against the list joined into one string would find parts of both.
TWO = "two origins"
TWO_ORIGINS = ["https://wiki.example.com", "http://localhost:8090"]


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry

    unlocked = VaultFile(tmp_path_factory.mktemp("origins") / "vault.json").create(PASSWORD, kdf_cost="minimum")
    ids = {bound: unlocked.add(Entry(secret=SECRET, issuer=bound, origins=[bound])).id for bound in (JIRA, LOCAL, IDN)}
    ids[TWO] = unlocked.add(Entry(secret=SECRET, issuer=TWO, origins=TWO_ORIGINS)).id
    yield unlocked, ids
    unlocked.lock()


@pytest.mark.parametrize(
    ("bound", "requesting"),
    [
        (JIRA, "HTTPS://Jira.Example.COM:443/login?next=%2F#x"),
        (JIRA, "https://jira.example.com/"),
        (LOCAL, "http://127.0.0.1:8080/secure/Dashboard.jspa"),
        (LOCAL, "http://127.1:8080"),
        (IDN, "https://xn--strae-oqa.example"),
        (IDN, "https://Straße.example/login"),
        (TWO, "https://wiki.example.com/login"),
        (TWO, "http://localhost:8090/"),
    ],
)
def test_an_entry_answers_its_own_origin_in_any_spelling(vault, bound, requesting):
    unlocked, ids = vault
    assert [e.id for e in unlocked.entries_for_origin(requesting)] == [ids[bound]]
    code, _ = unlocked.code(ids[bound], requesting)
    assert code.isdigit()


@pytest.mark.parametrize(
    ("bound", "requesting"),
    [
        (JIRA, "https://jira.example.com.evil.test"),  # suffix
        (JIRA, "https://evil.jira.example.com"),  # subdomain
        (JIRA, "https://example.com"),  # parent domain
        (JIRA, "http://jira.example.com"),  # scheme
        (JIRA, "https://jira.example.com:8443"),  # port
        (JIRA, "https://jira.example.com."),  # a different origin to the browser
        (LOCAL, "http://127.0.0.1:8081"),  # port
        (LOCAL, "http://localhost:8080"),  # IP vs localhost
        (LOCAL, "https://127.0.0.1:8080"),  # scheme
        (IDN, "https://strasse.example"),  # what IDNA 2003 made of it: another site
        # Parts of a bound origin's text (a substring match would take them):
        (LOCAL, "http://127.0.0.1:808"),  # prefix: port cut short
        (LOCAL, "http://127.0.0.1"),  # prefix: no port
        (LOCAL, "http://127.0.0.1:80"),  # prefix once the default port is dropped
        (JIRA, "https://jira.example.co"),  # prefix: host cut short
        (JIRA, "https://jira.example.comm"),  # the bound origin with a suffix
        (JIRA, "https://ira.example.com"),  # a suffix of the bound host
        (TWO, "https://wiki.example.co"),  # prefix of the first of two bound origins
        (TWO, "http://localhost:809"),  # prefix of the second
        (TWO, "http://localhost"),  # the second without its port
        (TWO, "https://wiki.example.com:8090"),  # the first's host with the second's port
    ],
)
def test_an_entry_never_answers_another_origin(vault, bound, requesting):
    unlocked, ids = vault
    assert unlocked.entries_for_origin(requesting) == []
    with pytest.raises(OriginNotAllowed):
        unlocked.code(ids[bound], requesting)


label_chars = st.sampled_from("abcxyz09-ßςσΣÅåüÜéиДـعربي한국語क्ष\u200c\u200d。．") | st.characters(
    codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(label_chars, min_size=1, max_size=12), min_size=1, max_size=3))
def test_where_idna_2008_accepts_a_host_we_write_what_idna_encode_writes(labels):
    import idna

    host = ".".join(labels)
    try:
        reference = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return  # IDNA 2008 is stricter than browsers (symbols, "_", hyphens): nothing to compare with
    last = reference.rstrip(".").rsplit(".", 1)[-1]
    if last.isdigit() or last.lower().startswith("0x"):
        return  # browsers read a host ending in a number as an IPv4 address (tested above)
    try:
        ours = normalize_origin(f"https://{host}")
    except InvalidOrigin as exc:
        raise AssertionError(f"{host!r}: idna.encode gives {reference!r}, we refuse it ({exc})") from None
    assert ours == f"https://{reference}"


labels_of_note = st.sampled_from(
    ["", "عربي", "שלום", "١٢٣", "a1", "ß", "ς", "क्\u200dष", "xn--strae-oqa", "xn--a", "0x7f"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(labels_of_note | st.text(label_chars, max_size=8), min_size=1, max_size=4))
def test_any_host_of_label_characters_is_canonical_or_invalid_origin(labels):
    try:
        canonical = normalize_origin("https://" + ".".join(labels))
    except InvalidOrigin:
        return
    assert normalize_origin(canonical) == canonical and canonical.isascii()
