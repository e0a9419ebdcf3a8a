// The page origin, taken from what the browser says about the sender. The document's own report of its
// origin (`documentOrigin`, from the content script) can only refuse or confirm, never choose.
import "../common/origin_policy.js";

const { pageOrigin } = globalThis.__tracker2fa;

/**
 * The origin decision for a content-script sender: `{origin}` or `{refused: code}` (see
 * common/origin_policy.js). `sender.origin` (Chromium, recent Firefox) is the frame's own origin and
 * "null" when it is opaque. Without it, the frame's `sender.url` is used, and `sender.tab.url` (the top
 * frame's URL) only for the top frame: a cross-origin iframe must never be answered with the embedding
 * page's origin. A URL is trusted only when the content script confirms the same, non-opaque origin.
 */
export function senderOriginDecision(sender, documentOrigin) {
  const browserOrigin = sender?.origin;
  let url = null;
  if (typeof sender?.url === "string") url = sender.url;
  else if (sender?.frameId === 0 && typeof sender?.tab?.url === "string") url = sender.tab.url;
  return pageOrigin({ browserOrigin, url, documentOrigin });
}

/** The web origin of a content-script sender, or null when it is refused (opaque, unconfirmed, not web). */
export function senderOrigin(sender, documentOrigin) {
  return senderOriginDecision(sender, documentOrigin).origin ?? null;
}

/** The origin of a tab's URL (for the popup's "this site"), or null for non-web pages. */
export function urlOrigin(href) {
  try {
    const url = new URL(href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.origin : null;
  } catch {
    return null;
  }
}
