// The MAIN-world half of the security-key bridge, injected at document_start on the trackers the user or
// admin chose (background/fido_scripts.js registers it there only). It replaces navigator.credentials.create
// / get for `publicKey` requests and provides window.u2f (FIDO U2F JS API 1.1, plus the 1.0 call forms),
// and talks to the isolated content script (content/fido_bridge.js) over a private MessagePort. It trusts
// nothing it receives: every reply is parsed by common/fido_reply.js and matched to a request this script
// made. It never chooses an origin: the service worker takes it from the browser.
//
// The hand-over of the port never touches window messaging: this script dispatches a synchronous DOM event
// on its own document carrying the port, and the isolated script (registered for the same document, also
// at document_start, before any page script) takes it in its listener. A DOM event can only be dispatched
// by script running in this document; another window (a cross-site parent, opener or frame) can only
// postMessage to it, and no part of the bridge listens to window messages. Whichever of the two scripts
// runs first, the hand-over completes before the page's first script (docs/security-keys.md).
(() => {
  const J = globalThis.__tracker2faWebAuthnJSON;
  const R = globalThis.__tracker2faFidoReply;
  const O = globalThis.__tracker2faFidoObjects;
  // The helpers were loaded just before this file, in this world: take them and leave the page nothing.
  delete globalThis.__tracker2faWebAuthnJSON;
  delete globalThis.__tracker2faFidoReply;
  delete globalThis.__tracker2faFidoObjects;
  // Injected into a document that is already running (e.g. at install): the channel could not be set up
  // before the page's own scripts, so the page keeps the browser's WebAuthn.
  if (!J || !R || document.readyState !== "loading") return;

  // Taken now, before any page script can replace them: the page never sees our port or our messages.
  const stringify = JSON.stringify;
  const postToPort = MessagePort.prototype.postMessage;
  const channel = new MessageChannel();
  const port = channel.port1;
  const send = (msg) => postToPort.call(port, stringify(msg));
  const pending = new Map(); // request id -> {result, error, fallback}

  port.onmessage = (event) => {
    let msg;
    try {
      msg = R.parseBridgeReply(event.data);
    } catch {
      return; // not one of the shapes the bridge sends: ignored
    }
    const request = pending.get(msg.id);
    if (!request) return;
    pending.delete(msg.id);
    if (msg.type === "result") request.result(msg.result);
    else if (msg.type === "fallback") request.fallback();
    else request.error(msg);
  };

  // The hand-over (names shared with content/fido_bridge.js). The isolated script cancels the event to say
  // it took the port; if it has not run yet, it announces itself with LISTENING and the port is offered again.
  const HANDOVER = "tracker2fa:fido-port";
  const LISTENING = "tracker2fa:fido-listening";
  let handedOver = false;
  const offer = () => {
    if (handedOver) return;
    handedOver = !document.dispatchEvent(new MessageEvent(HANDOVER, { ports: [channel.port2], cancelable: true }));
    if (handedOver) document.removeEventListener(LISTENING, offer, true);
  };
  document.addEventListener(LISTENING, offer, true);
  offer();

  function newId() {
    return J.toB64url(crypto.getRandomValues(new Uint8Array(18)));
  }

  function domError(name, message) {
    return name === "TypeError" ? new TypeError(message) : new DOMException(message, name);
  }

  function abortReason(signal) {
    return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
  }

  // ---- WebAuthn ----

  const container = navigator.credentials;
  const proto = globalThis.CredentialsContainer?.prototype;
  const browserCreate = proto?.create;
  const browserGet = proto?.get;
  // Mediations the browser handles itself (passkey autofill, silent): passed through, as KeePassXC-Browser does.
  const BROWSER_MEDIATION = new Set(["conditional", "silent", "immediate"]);

  function viaHost(kind, options, fallback) {
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      let json;
      try {
        json = kind === "create" ? J.creationOptionsToJSON(options.publicKey) : J.requestOptionsToJSON(options.publicKey);
      } catch (err) {
        reject(new TypeError(err.message));
        return;
      }
      const id = newId();
      const onAbort = () => {
        if (!pending.delete(id)) return;
        send({ type: "abort", id });
        reject(abortReason(signal));
      };
      const done = () => signal?.removeEventListener("abort", onAbort);
      pending.set(id, {
        result(result) {
          done();
          try {
            resolve(O.credentialFromJSON(result, kind));
          } catch (err) {
            reject(new DOMException(`The security key's answer was malformed (${err.message}).`, "NotAllowedError"));
          }
        },
        error(msg) {
          done();
          reject(domError(msg.name, msg.message));
        },
        fallback() {
          done();
          fallback().then(resolve, reject);
        },
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      send({ type: `webauthn.${kind}`, id, options: json });
    });
  }

  function wantsHost(options) {
    return options !== null && typeof options === "object" && options.publicKey != null &&
      !BROWSER_MEDIATION.has(options.mediation);
  }

  if (container && browserCreate && browserGet && O) {
    const create = function create(options) {
      if (!wantsHost(options)) return browserCreate.call(this, options);
      return viaHost("create", options, () => browserCreate.call(container, options));
    };
    const get = function get(options) {
      if (!wantsHost(options)) return browserGet.call(this, options);
      return viaHost("get", options, () => browserGet.call(container, options));
    };
    Object.defineProperty(container, "create", { value: create, writable: true, configurable: true });
    Object.defineProperty(container, "get", { value: get, writable: true, configurable: true });
  }

  // ---- window.u2f (FIDO U2F JavaScript API 1.1; the 1.0 forms are converted) ----

  const ErrorCodes = Object.freeze({ OK: 0, OTHER_ERROR: 1, BAD_REQUEST: 2, CONFIGURATION_UNSUPPORTED: 3, DEVICE_INELIGIBLE: 4, TIMEOUT: 5 });

  function u2fCall(message, callback) {
    const answer = (value) => {
      if (typeof callback === "function") setTimeout(() => callback(value), 0);
    };
    const id = newId();
    pending.set(id, {
      result(result) {
        const strings = Object.fromEntries(Object.entries(result).filter(([, v]) => typeof v === "string"));
        answer(strings);
      },
      error(msg) {
        answer({ errorCode: msg.u2fErrorCode ?? ErrorCodes.OTHER_ERROR, errorMessage: msg.message });
      },
      fallback() {
        answer({ errorCode: ErrorCodes.OTHER_ERROR, errorMessage: "No security key is available through tracker2fa." });
      },
    });
    try {
      send({ ...message, id });
    } catch (err) {
      pending.delete(id);
      answer({ errorCode: ErrorCodes.BAD_REQUEST, errorMessage: String(err?.message ?? err) });
    }
  }

  // A registered key as the host takes it; a 1.0 SignRequest also keeps its own challenge.
  const keyList = (list, withChallenge = false) =>
    (Array.isArray(list) ? list : []).map((k) => {
      const out = { version: String(k?.version ?? "U2F_V2"), keyHandle: String(k?.keyHandle ?? "") };
      if (k?.appId !== undefined) out.appId = String(k.appId);
      if (withChallenge && k?.challenge !== undefined) out.challenge = String(k.challenge);
      return out;
    });
  const seconds = (value) => (typeof value === "number" && value > 0 ? Math.min(value, 600) : undefined);

  function register(appId, registerRequests, registeredKeys, callback, timeoutSeconds) {
    if (Array.isArray(appId)) {
      // 1.0: register(registerRequests, signRequests, callback, timeout), appId inside each request
      [appId, registerRequests, registeredKeys, callback, timeoutSeconds] =
        [appId[0]?.appId, appId, registerRequests, registeredKeys, callback];
    }
    const requests = (Array.isArray(registerRequests) ? registerRequests : []).map((r) => ({
      version: String(r?.version ?? "U2F_V2"),
      challenge: String(r?.challenge ?? ""),
    }));
    const message = { type: "u2f.register", registerRequests: requests, registeredKeys: keyList(registeredKeys) };
    if (typeof appId === "string") message.appId = appId;
    const timeout = seconds(timeoutSeconds);
    if (timeout !== undefined) message.timeoutSeconds = timeout;
    u2fCall(message, callback);
  }

  function sign(appId, challenge, registeredKeys, callback, timeoutSeconds) {
    let message;
    if (Array.isArray(appId)) {
      // 1.0: sign(signRequests, callback, timeout), each request {version, challenge, keyHandle, appId}: a
      // server issues one challenge per registered key, so each keeps its own (the host answers with the
      // clientData of the request whose key answered).
      const requests = appId;
      [callback, timeoutSeconds] = [challenge, registeredKeys];
      message = { type: "u2f.sign", registeredKeys: keyList(requests, true) };
      if (typeof requests[0]?.appId === "string") message.appId = requests[0].appId;
    } else {
      message = { type: "u2f.sign", challenge: String(challenge ?? ""), registeredKeys: keyList(registeredKeys) };
      if (typeof appId === "string") message.appId = appId;
    }
    const timeout = seconds(timeoutSeconds);
    if (timeout !== undefined) message.timeoutSeconds = timeout;
    u2fCall(message, callback);
  }

  // A page bringing its own u2f-api.js ("use strict"; `var u2f = u2f || {}; u2f.sign = …`) keeps this
  // object, and its assignments to register/sign are ignored instead of throwing.
  const u2f = {};
  const keep = (value) => ({ get: () => value, set: () => {}, enumerable: true, configurable: false });
  Object.defineProperties(u2f, {
    register: keep(register),
    sign: keep(sign),
    ErrorCodes: keep(ErrorCodes),
    getApiVersion: keep((callback) => typeof callback === "function" && setTimeout(() => callback({ js_api_version: 1.1 }), 0)),
  });
  Object.defineProperty(window, "u2f", { value: u2f, writable: true, configurable: true, enumerable: false });
})();
