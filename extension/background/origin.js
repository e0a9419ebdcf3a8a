// The page origin, taken only from what the browser says about the sender, never from message content.

/**
 * The web origin of a content-script sender, or null.
 * `sender.origin` (Chromium) is the frame's own origin; Firefox gives `sender.url` (the frame's URL).
 * `sender.tab.url` is the top frame's URL, so it is used only for the top frame: a cross-origin iframe
 * must never be answered with the embedding page's origin.
 */
export function senderOrigin(sender) {
  let candidate = null;
  if (typeof sender?.origin === "string" && sender.origin !== "null") candidate = sender.origin;
  else if (typeof sender?.url === "string") candidate = sender.url;
  else if (sender?.frameId === 0 && typeof sender?.tab?.url === "string") candidate = sender.tab.url;
  if (!candidate) return null;
  try {
    const url = new URL(candidate);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    return url.origin;
  } catch {
    return null;
  }
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
