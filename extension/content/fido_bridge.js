// The isolated-world half of the security-key bridge (see content/fido_page.js for the MAIN-world half).
// It takes the private MessagePort the MAIN-world script hands over at document_start in a synchronous DOM
// event on this document (once; nothing else is ever accepted as the channel, and the bridge has no window
// `message` listener at all: another window's postMessage cannot reach it). Every message on the port is
// parsed with common/fido_channel.js (anything else is dropped without an answer), and each request runs
// through the service worker on its own runtime port: the service worker decides the origin from the
// browser's view of this frame, asks the user in the extension's own consent window, and talks to the host.
// Nothing of ours is ever put in the page's DOM: the page sees only a pending promise, as with the browser's
// own dialog. Closing the runtime port (abort, navigation) cancels the request.
(() => {
  const ns = (globalThis.__tracker2fa ??= {});
  if (ns.fidoBridgeStarted) return;
  ns.fidoBridgeStarted = true;
  const C = globalThis.__tracker2faFidoChannel;
  const ext = globalThis.browser ?? globalThis.chrome;
  if (!C || document.readyState !== "loading") return; // the MAIN-world half gives up too (injected late)

  const HANDOVER = "tracker2fa:fido-port"; // names shared with content/fido_page.js
  const LISTENING = "tracker2fa:fido-listening";
  let pagePort = null;
  let active = null; // the one request in progress in this frame (browsers allow one at a time as well)

  function takePort(event) {
    if (pagePort !== null || !(event instanceof MessageEvent) || event.ports?.length !== 1) return;
    event.preventDefault(); // tells the MAIN-world script the port was taken
    event.stopImmediatePropagation();
    document.removeEventListener(HANDOVER, takePort, true);
    pagePort = event.ports[0];
    pagePort.onmessage = (e) => receive(e.data);
  }
  document.addEventListener(HANDOVER, takePort, true);
  // If the MAIN-world script ran first, its offer found no listener: this asks it to offer the port again.
  document.dispatchEvent(new Event(LISTENING));

  // Whether this frame may use WebAuthn under its Permissions Policy (the parent's `allow` attribute), as
  // this isolated world reads it from the browser (the page cannot change what it sees here); null where the
  // browser does not say (Firefox).
  function framePolicyAllows(kind) {
    const feature = { "webauthn.create": "publickey-credentials-create", "webauthn.get": "publickey-credentials-get" }[kind];
    const policy = document.featurePolicy;
    if (!feature || typeof policy?.allowsFeature !== "function" || !policy.features?.().includes(feature)) return null;
    return policy.allowsFeature(feature);
  }

  function reply(msg) {
    pagePort.postMessage(JSON.stringify(msg));
  }

  function receive(text) {
    let msg;
    try {
      msg = C.parsePageMessage(text);
    } catch {
      return; // malformed: no answer, nothing sent anywhere
    }
    if (msg.type === "abort") {
      if (active?.id === msg.id) active.abort();
      return;
    }
    if (active) {
      reply({ type: "error", id: msg.id, name: "NotAllowedError", message: "Another security-key request is already pending." });
      return;
    }
    active = new Ceremony(msg);
  }

  class Ceremony {
    constructor(msg) {
      this.id = msg.id;
      this.finished = false;
      this.port = ext.runtime.connect({ name: "tracker2fa-fido" });
      this.port.onMessage.addListener((m) => this.fromWorker(m));
      this.port.onDisconnect.addListener(() =>
        this.finish({ type: "error", name: "NotAllowedError", message: "The extension stopped answering.", u2fErrorCode: 1 }));
      const { type: kind, id: _id, ...request } = msg;
      this.port.postMessage({ type: "begin", documentOrigin: self.origin, kind, request, framePolicyAllows: framePolicyAllows(kind) });
    }

    fromWorker(m) {
      if (this.finished || !m || typeof m !== "object") return;
      if (m.type === "fallback") this.finish({ type: "fallback" });
      else if (m.type === "result") this.finish({ type: "result", result: m.result });
      else if (m.type === "error") {
        const error = { type: "error", name: m.name, message: String(m.message ?? "") };
        if (Number.isInteger(m.u2fErrorCode)) error.u2fErrorCode = m.u2fErrorCode;
        this.finish(error);
      }
    }

    abort() {
      // The page already rejected with its AbortSignal's reason; the service worker cancels the host's
      // request and closes the consent window when the port closes.
      this.finished = true;
      active = null;
      try {
        this.port.disconnect();
      } catch {
        // the service worker is gone already
      }
    }

    finish(msg) {
      if (this.finished) return;
      this.finished = true;
      active = null;
      try {
        this.port.disconnect();
      } catch {
        // already closed
      }
      reply({ ...msg, id: this.id });
    }
  }
})();
