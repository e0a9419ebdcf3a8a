// The isolated-world half of the security-key bridge (see content/fido_page.js for the MAIN-world half).
// It takes the private MessagePort the MAIN-world script posts at document_start (once; the event is
// stopped before any page listener sees it), parses every message with common/fido_channel.js (anything
// else is dropped without an answer), and runs each request through the service worker on its own
// runtime port: the service worker decides the origin from the browser's view of this frame, lists the
// keys, and talks to the host. The user confirms in the prompt (content/fido_prompt.js) before the host is
// asked; closing the port (abort, navigation) cancels the host's request.
(() => {
  const ns = (globalThis.__tracker2fa ??= {});
  if (ns.fidoBridgeStarted) return;
  ns.fidoBridgeStarted = true;
  const C = globalThis.__tracker2faFidoChannel;
  const ext = globalThis.browser ?? globalThis.chrome;
  if (!C || document.readyState !== "loading") return; // the MAIN-world half gives up too (injected late)

  let pagePort = null;
  let active = null; // the one request in progress in this frame (browsers allow one at a time as well)

  function onWindowMessage(event) {
    const data = event.data;
    if (pagePort !== null || !data || data.tracker2fa !== "fido-bridge" || event.ports?.length !== 1) return;
    event.stopImmediatePropagation();
    removeEventListener("message", onWindowMessage, true);
    pagePort = event.ports[0];
    pagePort.onmessage = (e) => receive(e.data);
  }
  addEventListener("message", onWindowMessage, true);

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
      this.kind = msg.type;
      this.prompt = null;
      this.finished = false;
      this.port = ext.runtime.connect({ name: "tracker2fa-fido" });
      this.port.onMessage.addListener((m) => this.fromWorker(m));
      this.port.onDisconnect.addListener(() =>
        this.finish({ type: "error", name: "NotAllowedError", message: "The extension stopped answering.", u2fErrorCode: 1 }));
      const { type: _type, id: _id, ...request } = msg;
      this.port.postMessage({ type: "begin", documentOrigin: self.origin, kind: this.kind, request });
    }

    fromWorker(m) {
      if (this.finished || !m || typeof m !== "object") return;
      switch (m.type) {
        case "ready":
          this.prompt = ns.showFidoPrompt(
            { origin: m.origin, kind: this.kind, keys: m.keys, rpId: m.rpId, allowBrowser: this.kind.startsWith("webauthn.") },
            {
              onConfirm: () => this.port.postMessage({ type: "run" }),
              onBrowser: () => this.finish({ type: "fallback" }),
              onCancel: () =>
                this.finish({ type: "error", name: "NotAllowedError", message: "The request was cancelled in tracker2fa's prompt.", u2fErrorCode: 1 }),
            },
          );
          break;
        case "event":
          this.hostEvent(m);
          break;
        case "fallback":
          this.finish({ type: "fallback" });
          break;
        case "result":
          this.finish({ type: "result", result: m.result });
          break;
        case "error": {
          const error = { type: "error", name: m.name, message: String(m.message ?? "") };
          if (Number.isInteger(m.u2fErrorCode)) error.u2fErrorCode = m.u2fErrorCode;
          this.finish(error);
          break;
        }
        default:
          break;
      }
    }

    hostEvent(m) {
      if (!this.prompt) return;
      // The prompt's lines are in the UI language (ns.t, set by content/fido_prompt.js); the error messages
      // handed to the page above stay English, like the browser's own DOMException messages.
      const name = typeof m.deviceName === "string" && m.deviceName ? m.deviceName : null;
      const say = (plain, named) => (name ? ns.t(named, name) : ns.t(plain));
      if (m.event === "fido.touch") this.prompt.set("touch", say("prompt_touch", "prompt_touch_named"));
      else if (m.event === "fido.selected") this.prompt.set("selected", say("prompt_using", "prompt_using_named"));
      else if (m.event === "fido.key_removed") this.prompt.set("removed", say("prompt_removed", "prompt_removed_named"));
      else if (m.event === "fido.pin_needed" && typeof m.pinUrl === "string") this.prompt.showPin(m.pinUrl);
    }

    abort() {
      // The page already rejected with its AbortSignal's reason; the host's request is cancelled.
      this.finished = true;
      active = null;
      this.prompt?.close();
      try {
        this.port.postMessage({ type: "cancel" });
        this.port.disconnect();
      } catch {
        // the service worker is gone already
      }
    }

    finish(msg) {
      if (this.finished) return;
      this.finished = true;
      active = null;
      this.prompt?.close();
      try {
        this.port.disconnect();
      } catch {
        // already closed
      }
      reply({ ...msg, id: this.id });
    }
  }
})();
