// The page side of the bridge's channel (see common/fido_channel.js for the shapes): parses what the
// content script answers on the private port, refusing anything else. Pure; a plain script loaded into
// the MAIN world just before content/fido_page.js (which takes `globalThis.__tracker2faFidoReply` and
// deletes it) and into Node for the tests.
(() => {
  const MAX_CHARS = 1024 * 1024;
  const ID = /^[A-Za-z0-9_-]{16,64}$/;
  const ERROR_NAMES = new Set([
    "NotAllowedError", "InvalidStateError", "AbortError", "SecurityError", "TypeError", "NotSupportedError", "UnknownError",
  ]);

  class ReplyError extends Error {}

  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

  function check(condition, what) {
    if (!condition) throw new ReplyError(what);
  }

  function onlyKeys(msg, allowed) {
    for (const key of Object.keys(msg)) check(allowed.includes(key), `unexpected field ${key}`);
  }

  /** Parse one reply: {type: "result", id, result} | {type: "error", id, name, message, u2fErrorCode?} | {type: "fallback", id}. */
  function parseBridgeReply(text) {
    check(typeof text === "string" && text.length <= MAX_CHARS, "a reply must be a JSON string");
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      throw new ReplyError("the reply is not JSON");
    }
    check(isObject(msg), "the reply must be an object");
    check(typeof msg.id === "string" && ID.test(msg.id), "the reply id is malformed");
    switch (msg.type) {
      case "result":
        onlyKeys(msg, ["type", "id", "result"]);
        check(isObject(msg.result), "result must be an object");
        break;
      case "error":
        onlyKeys(msg, ["type", "id", "name", "message", "u2fErrorCode"]);
        check(ERROR_NAMES.has(msg.name), "unknown error name");
        check(typeof msg.message === "string" && msg.message.length <= 4096, "message must be a string");
        check(msg.u2fErrorCode === undefined || [1, 2, 3, 4, 5].includes(msg.u2fErrorCode), "u2fErrorCode must be 1–5");
        break;
      case "fallback":
        onlyKeys(msg, ["type", "id"]);
        break;
      default:
        throw new ReplyError(`unknown reply type ${String(msg.type).slice(0, 40)}`);
    }
    return msg;
  }

  globalThis.__tracker2faFidoReply = Object.freeze({ ReplyError, ERROR_NAMES, parseBridgeReply });
})();
