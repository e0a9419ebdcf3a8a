// The one rule for which web origin a page context may be served for (codes, entries, and later
// security-key requests). Pure: no browser API. Written as a plain script so that the content scripts
// (classic scripts, listed in the manifest) and the service worker (an ES module, by a side-effect import)
// load the same code; it adds `pageOrigin` and `OPAQUE_ORIGIN_MESSAGE` to `globalThis.__tracker2fa`.
//
// An opaque origin ("null": a CSP `sandbox` document, an `<iframe sandbox>` without allow-same-origin,
// a `srcdoc` or `data:` frame) never matches a binding, whatever its URL says: its URL names a site whose
// codes it must not get, and its own scripts can read anything filled into it.
(() => {
  const ns = (globalThis.__tracker2fa ??= {});

  ns.OPAQUE_ORIGIN_MESSAGE =
    "This frame has no origin of its own (sandboxed); tracker2fa never fills codes here.";

  /** The serialised origin of an http(s) URL or origin string, or null. */
  function webOrigin(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.origin : null;
    } catch {
      return null;
    }
  }

  /**
   * Decide the origin for a page context from what is known about it:
   * - `browserOrigin`: the origin the browser reports (`sender.origin`); `undefined` when it gives none;
   * - `url`: the frame's URL (`sender.url`, or the top frame's `sender.tab.url`, or `location.href`);
   * - `documentOrigin`: the origin the document itself reports (`self.origin` in the content script).
   * Returns `{origin}` or `{refused: "opaque_origin" | "invalid_origin"}`.
   * An opaque origin from either side refuses. The browser's origin is used when given; a URL only when
   * the browser gives no origin at all, and then only when the document confirms that same origin.
   */
  ns.pageOrigin = ({ browserOrigin, url, documentOrigin } = {}) => {
    if (browserOrigin === "null" || documentOrigin === "null") return { refused: "opaque_origin" };
    if (browserOrigin !== undefined && browserOrigin !== null) {
      const origin = webOrigin(browserOrigin);
      if (origin === null || origin !== browserOrigin) return { refused: "invalid_origin" };
      // The document, when it says, must agree with the browser.
      if (documentOrigin !== undefined && documentOrigin !== origin) return { refused: "invalid_origin" };
      return { origin };
    }
    const fromUrl = webOrigin(url);
    if (fromUrl === null || typeof documentOrigin !== "string" || documentOrigin !== fromUrl) {
      return { refused: "invalid_origin" };
    }
    return { origin: fromUrl };
  };
})();
