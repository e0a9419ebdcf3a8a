"""Our canonical origins against headless Chromium's own ``new URL(x).origin``, host by host.

The origin a page asks for comes from the browser (``sender.origin``); a binding written any other way
never matches it. Each row is compared with what Chromium computes in the same run; a row Chromium
refuses must be refused by us with ``InvalidOrigin``.
"""

from __future__ import annotations

import pytest

from native_host.devtools.browsers import CHROMIUM_ARGS, CHROMIUM_PATH
from native_host.errors import InvalidOrigin
from native_host.origins import normalize_origin

from .test_origins import STRICTER_THAN_CHROMIUM

pytestmark = pytest.mark.browser

TABLE = [
    # ß and ς: UTS-46 non-transitional keeps them (IDNA 2003 made them "ss" and "σ")
    "https://straße.example", "https://STRASSE.example", "https://ẞ.example", "https://ß.example",
    "https://ςοφία.example", "https://ΣΟΦΊΑ.example", "https://ς.example",
    # ZWJ / ZWNJ: kept after a virama, refused between Latin letters or at a label's end
    "https://क्\u200dष.example", "https://क्\u200cष.example", "https://a\u200db.example",
    "https://a\u200cb.example", "https://ab\u200d.example",
    # fullwidth and ideographic dots, fullwidth letters, characters UTS-46 maps or ignores
    "https://example。com", "https://example．com", "https://example｡com", "https://ｅｘａｍｐｌｅ.com",
    "https://ｘｎ－－ｓｔｒａｅ－ｏｑａ.example", "https://ex\u00adample.com", "https://ﬃ.example", "https://℡.example",
    "https://Ⅻ.example", "https://İ.example",
    # case, trailing dots, empty labels
    "https://Jira.Example.COM", "http://LOCALHOST", "https://jira.example.com.", "https://jira.example.com..",
    "https://a..b",
    # punycode in and out, and labels only Chromium's ASCII path lets through
    "https://bücher.example", "https://xn--bcher-kva.example", "https://XN--STRAE-OQA.example",
    "https://xn--strae-oqa.bücher.example", "https://xn--a.bücher.example", "https://xn--a.example",
    "https://☃.net", "https://💩.la", "https://a_b.example", "https://-foo.example", "https://ab--cd.example",
    # bidi
    "https://عربي.example", "https://عربي1.example", "https://1عربي.example", "https://١٢٣.example",
    "https://عربي.example.", "https://abc.عربي.", "https://.عربي",
    # percent-encoding in the host
    "https://exa%41mple.com", "https://exa%2Emple.com", "https://exa%ffmple.com", "https://example.com%2F",
    "https://exa<mple.com", "https://exa^mple.com", "https://exa|mple.com",
    # IPv4 in every form browsers read, and numbers that are not addresses
    "https://127.0.0.1", "https://127.1", "https://0x7f.0.0.1", "https://0177.0.0.1", "https://2130706433",
    "https://1.2.3.4.", "https://0x.0x.0x.0x", "https://1.2.3.256", "https://1.2.3.4.5", "https://999999999999",
    "https://foo.09", "https://foo.0x", "https://foo.1.2.3.4", "https://0..0",
    # IPv6
    "https://[::1]", "https://[0:0:0:0:0:0:0:1]:8443", "https://[::ffff:1.2.3.4]", "https://[2001:DB8::1]",
    "https://[2001:db8:0:0:1:0:0:1]", "https://[fe80::1%25eth0]", "https://[::1",
    # ports
    "https://example.com:443", "http://example.com:80", "http://example.com:8080", "https://example.com:0443",
    "https://example.com:", "https://example.com:65536", "http://localhost:8080",
]


def _ours(value: str) -> str | None:
    try:
        return normalize_origin(value)
    except InvalidOrigin:
        return None


@pytest.fixture(scope="module")
def chromium_origins(playwright_instance):
    """``new URL(x).origin`` in headless Chromium for every row (None where Chromium throws)."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_ARGS)
    )
    try:
        page = browser.new_page()
        rows = [*TABLE, *STRICTER_THAN_CHROMIUM]
        results = page.evaluate(
            "rows => rows.map(x => { try { return new URL(x).origin } catch (e) { return null } })", rows
        )
    finally:
        browser.close()
    return dict(zip(rows, results, strict=True))


def test_the_table_covers_enough_hosts_both_accepted_and_refused(chromium_origins):
    accepted = [row for row in TABLE if chromium_origins[row] is not None]
    refused = [row for row in TABLE if chromium_origins[row] is None]
    assert len(TABLE) >= 30 and len(accepted) >= 30 and len(refused) >= 10


@pytest.mark.parametrize("row", TABLE)
def test_our_origin_is_chromiums_origin(chromium_origins, row):
    assert _ours(row) == chromium_origins[row]


@pytest.mark.parametrize("row", STRICTER_THAN_CHROMIUM)
def test_the_spellings_we_are_stricter_about_are_ones_chromium_accepts(chromium_origins, row):
    # Keeps the list honest: if Chromium starts refusing one, it belongs in TABLE instead.
    assert chromium_origins[row] is not None and _ours(row) is None
