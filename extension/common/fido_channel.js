// The narrow channel between the MAIN-world bridge (content/fido_page.js) and the isolated content script
// (content/fido_bridge.js): every message is a JSON string on a private MessagePort, and each side parses
// what it receives, refusing anything that is not exactly one of the shapes below: the content script with
// this file, the page side with common/fido_reply.js. (Two files because a browser injects a file once per
// frame even when two registrations, one per world, list it.) Pure; a plain script (isolated world, Node
// tests) that sets `globalThis.__tracker2faFidoChannel`.
//
// page → content:  {type: "webauthn.create" | "webauthn.get", id, options}            (options: WebAuthn JSON)
//                  {type: "u2f.register", id, appId?, registerRequests, registeredKeys, timeoutSeconds?}
//                  {type: "u2f.sign", id, appId?, challenge?, registeredKeys, timeoutSeconds?}
//                                    (a registered key may carry its own challenge: the 1.0 SignRequest)
//                  {type: "abort", id}
// content → page:  {type: "result", id, result}  {type: "error", id, name, message, u2fErrorCode?}
//                  {type: "fallback", id}     (use the browser's own WebAuthn)
(() => {
  const MAX_CHARS = 256 * 1024;
  const ID = /^[A-Za-z0-9_-]{16,64}$/;
  const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;

  class ChannelError extends Error {}

  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

  function check(condition, what) {
    if (!condition) throw new ChannelError(what);
  }

  function onlyKeys(msg, allowed) {
    for (const key of Object.keys(msg)) check(allowed.includes(key), `unexpected field ${key}`);
  }

  const b64url = (v, max = 4096) => typeof v === "string" && v.length > 0 && v.length <= max && B64URL.test(v);
  const shortText = (v, max = 2048) => typeof v === "string" && v.length <= max;

  function checkDescriptors(list, field) {
    if (list === undefined) return;
    check(Array.isArray(list) && list.length <= 256, `${field} must be a list`);
    for (const d of list) {
      check(isObject(d) && b64url(d.id, 2048), `${field}[].id must be base64url`);
      check(d.type === undefined || d.type === "public-key", `${field}[].type must be public-key`);
      check(d.transports === undefined || (Array.isArray(d.transports) && d.transports.every((t) => shortText(t, 32))),
        `${field}[].transports must be strings`);
    }
  }

  function checkCreationOptions(o) {
    check(isObject(o), "options must be an object");
    check(b64url(o.challenge), "options.challenge must be base64url");
    check(isObject(o.rp) && (o.rp.id === undefined || shortText(o.rp.id, 253)), "options.rp must be an object");
    check(isObject(o.user) && b64url(o.user.id, 128), "options.user.id must be base64url (1–64 bytes)");
    check(Array.isArray(o.pubKeyCredParams) && o.pubKeyCredParams.length <= 64, "options.pubKeyCredParams must be a list");
    checkDescriptors(o.excludeCredentials, "options.excludeCredentials");
    check(o.timeout === undefined || (Number.isFinite(o.timeout) && o.timeout >= 0), "options.timeout must be a number");
  }

  function checkRequestOptions(o) {
    check(isObject(o), "options must be an object");
    check(b64url(o.challenge), "options.challenge must be base64url");
    check(o.rpId === undefined || shortText(o.rpId, 253), "options.rpId must be a string");
    checkDescriptors(o.allowCredentials, "options.allowCredentials");
    check(o.timeout === undefined || (Number.isFinite(o.timeout) && o.timeout >= 0), "options.timeout must be a number");
  }

  function checkRegisteredKeys(list) {
    check(Array.isArray(list) && list.length <= 256, "registeredKeys must be a list");
    for (const k of list) {
      check(isObject(k) && b64url(k.keyHandle, 2048), "registeredKeys[].keyHandle must be websafe base64");
      check(k.version === undefined || shortText(k.version, 16), "registeredKeys[].version must be a string");
      check(k.appId === undefined || shortText(k.appId), "registeredKeys[].appId must be a string");
      check(k.challenge === undefined || b64url(k.challenge), "registeredKeys[].challenge must be websafe base64");
    }
  }

  function checkU2fCommon(msg) {
    check(msg.appId === undefined || shortText(msg.appId), "appId must be a string");
    check(msg.timeoutSeconds === undefined || (Number.isFinite(msg.timeoutSeconds) && msg.timeoutSeconds > 0 && msg.timeoutSeconds <= 600),
      "timeoutSeconds must be a number of seconds (at most 600)");
    checkRegisteredKeys(msg.registeredKeys);
  }

  /** A JSON object with a well-formed request id, or ChannelError. */
  function parseJSONObject(text) {
    check(typeof text === "string", "a message must be a JSON string");
    check(text.length <= MAX_CHARS, "the message is too large");
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      throw new ChannelError("the message is not JSON");
    }
    check(isObject(msg), "the message must be an object");
    check(typeof msg.id === "string" && ID.test(msg.id), "the message id is malformed");
    return msg;
  }

  /** Parse what the page's bridge sent (content side). Returns the message; throws ChannelError. */
  function parsePageMessage(text) {
    const msg = parseJSONObject(text);
    switch (msg.type) {
      case "webauthn.create":
        onlyKeys(msg, ["type", "id", "options"]);
        checkCreationOptions(msg.options);
        break;
      case "webauthn.get":
        onlyKeys(msg, ["type", "id", "options"]);
        checkRequestOptions(msg.options);
        break;
      case "u2f.register":
        onlyKeys(msg, ["type", "id", "appId", "registerRequests", "registeredKeys", "timeoutSeconds"]);
        check(Array.isArray(msg.registerRequests) && msg.registerRequests.length > 0 && msg.registerRequests.length <= 16,
          "registerRequests must be a non-empty list");
        for (const r of msg.registerRequests) {
          check(isObject(r) && b64url(r.challenge) && shortText(r.version ?? "", 16), "registerRequests[] needs a websafe-base64 challenge");
        }
        checkU2fCommon(msg);
        break;
      case "u2f.sign":
        onlyKeys(msg, ["type", "id", "appId", "challenge", "registeredKeys", "timeoutSeconds"]);
        check(msg.challenge === undefined || b64url(msg.challenge), "challenge must be websafe base64");
        checkU2fCommon(msg);
        check(msg.challenge !== undefined || msg.registeredKeys.every((k) => k.challenge !== undefined),
          "challenge is required unless every registered key has its own");
        break;
      case "abort":
        onlyKeys(msg, ["type", "id"]);
        break;
      default:
        throw new ChannelError(`unknown message type ${String(msg.type).slice(0, 40)}`);
    }
    return msg;
  }

  globalThis.__tracker2faFidoChannel = Object.freeze({
    ChannelError,
    MAX_CHARS,
    parseJSONObject,
    parsePageMessage,
  });
})();
