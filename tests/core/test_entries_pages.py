"""``vault.entries`` pages: whatever the entries hold, every page fits in a reply and the pages cover the list."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.api import entries_page
from native_host.framing import MAX_ID_LENGTH, MAX_REPLY_BYTES, encode_message
from native_host.vault.entry import MAX_FIELD_LENGTH, Entry

SECRET = "JBSWY3DPEHPK3PXP"
CAP = MAX_FIELD_LENGTH["issuer"]
# Control characters, non-ASCII, astral and lone surrogates (which switch the writer to \u escapes) cost
# the most bytes per character; runs of one character reach the caps quickly.
costly = st.sampled_from(["a", "é", "€", "😀", "\x01", '"', "\ud800"]) | st.characters()
runs = st.builds(lambda c, n: c * n, costly, st.integers(0, CAP))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(issuer=runs, account=runs, count=st.integers(1, 1500), first=st.integers(0, 3))
def test_pages_fit_a_reply_and_cover_every_entry_in_order(issuer, account, count, first):
    entries = [
        Entry(secret=SECRET, issuer=issuer if i % 2 else issuer[:10], account=account, origins=[f"https://t{i}.ex"])
        for i in range(count)
    ]
    seen, offset = [e.id for e in entries[:first]], first
    while offset is not None:
        result = entries_page(entries, offset)
        assert result["entries"] or offset >= len(entries)
        reply = {"id": "\x01" * MAX_ID_LENGTH, "result": result}
        assert len(encode_message(reply)) <= MAX_REPLY_BYTES + 4  # raises FrameTooLarge beyond the cap
        seen += [e["id"] for e in result["entries"]]
        offset = result["next_offset"]
    assert seen == [e.id for e in entries]
