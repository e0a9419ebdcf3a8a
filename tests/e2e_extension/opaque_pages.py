"""Pages for the opaque-origin tests (Chromium and Firefox): documents on a bound origin, or framed by a page
on it, that have no origin of their own. Each holds a code field and a page script (the attacker) that
records every value the field ever holds in ``data-seen`` on the root element."""

from __future__ import annotations

import html
from urllib.parse import quote

from .conftest import PageServer

# The attacker's script: whatever lands in the field, it reads.
SPY = (
    "<script>const c = document.getElementById('c'); const seen = [];"
    "const note = () => { if (c.value && !seen.includes(c.value)) seen.push(c.value);"
    " document.documentElement.dataset.seen = seen.join(','); };"
    "c.addEventListener('input', note); c.addEventListener('change', note); setInterval(note, 50);"
    # Auto-submit (on under an admin policy) must not navigate the frame away from what the test reads.
    "document.forms[0].addEventListener('submit', (e) => e.preventDefault());</script>"
)
FIELD_DOC = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>code</title></head><body>"
    "<form><label for=c>Code</label> <input id=c type=text autocomplete=one-time-code inputmode=numeric></form>"
    f"{SPY}</body></html>"
)
CSP_SANDBOX = {"Content-Security-Policy": "sandbox allow-scripts allow-forms"}

OPAQUE_FRAMES = ("sandboxed", "srcdoc", "data")  # the ids of the opaque frames on the framing pages
NORMAL_FRAME = "normal"


OPAQUE_FRAME_TAGS = {
    "sandboxed": "<iframe id=sandboxed sandbox='allow-scripts allow-forms' src='/opaque/field'",
    "srcdoc": f"<iframe id=srcdoc sandbox='allow-scripts allow-forms' srcdoc='{html.escape(FIELD_DOC, quote=True)}'",
    "data": f"<iframe id=data src='data:text/html,{quote(FIELD_DOC)}'",
}


def install(pages: PageServer) -> dict[str, str]:
    """Register the pages on ``pages``; returns {"csp_top": url, <frame id>: url of a bound page framing a
    normal same-origin frame (the positive control) and that one opaque frame}."""
    pages.extra["/opaque/field"] = FIELD_DOC
    pages.extra["/opaque/csp-sandbox"] = FIELD_DOC
    pages.headers["/opaque/csp-sandbox"] = CSP_SANDBOX
    urls = {"csp_top": pages.url("/opaque/csp-sandbox")}
    for frame_id, tag in OPAQUE_FRAME_TAGS.items():
        path = f"/opaque/framing-{frame_id}"
        pages.extra[path] = (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>framing</title></head><body>"
            f"<iframe id={NORMAL_FRAME} src='/opaque/field' width=400 height=120></iframe>"
            f"{tag} width=400 height=120></iframe></body></html>"
        )
        urls[frame_id] = pages.url(path)
    return urls
