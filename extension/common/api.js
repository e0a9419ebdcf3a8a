// The WebExtension namespace: Firefox's promise-based `browser`, else Chromium's `chrome`
// (whose MV3 APIs also return promises when no callback is given).
export const api = globalThis.browser ?? globalThis.chrome;

/** Send a message to the service worker and resolve with its reply (rejects on {error}). */
export async function callBackground(type, payload = {}) {
  const reply = await api.runtime.sendMessage({ type, ...payload });
  if (!reply) throw Object.assign(new Error("The extension's background did not answer; reload the extension."), { code: "no_background" });
  if (reply.error) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
  return reply.result;
}
