// Runs the security-key bridge's pure modules under Node for tests/e2e_extension/test_fido_modules.py: one
// JSON request per line on stdin ({"fn": name, "args": [...]}), one JSON reply per line on stdout
// ({"value": ...} or {"error": "..."}). Binary values cross as arrays of byte values.
import { createInterface } from "node:readline";

const root = new URL("../../extension/", import.meta.url);

// Node has no WebAuthn interfaces: stand-ins shaped like the browser's (accessors on the prototypes that
// refuse any object but their own, as a native getter does), so content/fido_objects.js runs as in a page.
function nativeInterface(name, parent, accessors, methods = []) {
  const cls = { [name]: class extends (parent ?? Object) {} }[name];
  for (const a of accessors) {
    Object.defineProperty(cls.prototype, a, { get() { throw new TypeError("Illegal invocation"); }, enumerable: true, configurable: true });
  }
  for (const m of methods) {
    Object.defineProperty(cls.prototype, m, { value() { throw new TypeError("Illegal invocation"); }, writable: true, enumerable: true, configurable: true });
  }
  Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: name, configurable: true });
  globalThis[name] = cls;
  return cls;
}
const Credential = nativeInterface("Credential", null, ["id", "type"]);
nativeInterface("PublicKeyCredential", Credential, ["rawId", "response", "authenticatorAttachment"], ["getClientExtensionResults", "toJSON"]);
const Response = nativeInterface("AuthenticatorResponse", null, ["clientDataJSON"]);
nativeInterface("AuthenticatorAttestationResponse", Response, ["attestationObject"],
  ["getTransports", "getAuthenticatorData", "getPublicKey", "getPublicKeyAlgorithm"]);
nativeInterface("AuthenticatorAssertionResponse", Response, ["authenticatorData", "signature", "userHandle"]);

await import(new URL("common/webauthn_json.js", root));
await import(new URL("content/fido_objects.js", root));
await import(new URL("common/fido_channel.js", root));
await import(new URL("common/fido_reply.js", root));
const fido = await import(new URL("background/fido.js", root));
const scripts = await import(new URL("background/fido_scripts.js", root));
const J = globalThis.__tracker2faWebAuthnJSON;
const C = globalThis.__tracker2faFidoChannel;
const R = globalThis.__tracker2faFidoReply;
const O = globalThis.__tracker2faFidoObjects;

const bytes = (buffer) => [...new Uint8Array(buffer)];
const attempt = (f) => {
  try {
    return { ok: f() };
  } catch (err) {
    return { refused: err?.constructor?.name ?? "Error", message: String(err?.message ?? err) };
  }
};

// A credential object as a page sees it, flattened to JSON-able facts.
function inspect(credential) {
  const r = credential.response;
  const out = {
    id: credential.id,
    type: credential.type,
    rawId: bytes(credential.rawId),
    rawIdIsArrayBuffer: credential.rawId instanceof ArrayBuffer,
    authenticatorAttachment: credential.authenticatorAttachment,
    clientDataJSON: bytes(r.clientDataJSON),
    extensions: credential.getClientExtensionResults(),
    toJSON: credential.toJSON(),
    reencoded: J.credentialToJSON(credential),
    ownKeys: Reflect.ownKeys(credential).map(String),
    responseOwnKeys: Reflect.ownKeys(r).map(String),
    isPublicKeyCredential: credential instanceof PublicKeyCredential,
    sameRawId: credential.rawId === credential.rawId,
    cloneRefused: (() => {
      try {
        structuredClone(credential);
        return false;
      } catch (err) {
        return err.name;
      }
    })(),
  };
  if (r.attestationObject) {
    out.attestationObject = bytes(r.attestationObject);
    out.transports = r.getTransports();
    const authData = r.getAuthenticatorData();
    const publicKey = r.getPublicKey();
    out.authenticatorData = authData === null ? null : bytes(authData);
    out.publicKey = publicKey === null ? null : bytes(publicKey);
    out.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
  } else {
    out.authenticatorData = bytes(r.authenticatorData);
    out.signature = bytes(r.signature);
    out.userHandle = r.userHandle === null ? null : bytes(r.userHandle);
  }
  const prf = out.extensions.prf?.results;
  if (prf) out.extensions = { ...out.extensions, prf: { results: { first: bytes(prf.first), ...(prf.second ? { second: bytes(prf.second) } : {}) } } };
  return out;
}

function binaryPaths(json, paths) {
  // The page's options: the named base64url fields become Uint8Arrays (as a page would pass them).
  const copy = structuredClone(json);
  for (const path of paths) {
    let node = copy;
    for (const key of path.slice(0, -1)) node = node?.[key];
    const last = path[path.length - 1];
    if (node && typeof node[last] === "string") node[last] = new Uint8Array(J.fromB64url(node[last]));
  }
  return copy;
}

const functions = {
  toB64url: (values) => J.toB64url(Uint8Array.from(values)),
  fromB64url: (text) => attempt(() => bytes(J.fromB64url(text))),
  isB64url: (text) => J.isB64url(text),
  creationToJSON: (json, paths) => attempt(() => J.creationOptionsToJSON(binaryPaths(json, paths))),
  requestToJSON: (json, paths) => attempt(() => J.requestOptionsToJSON(binaryPaths(json, paths))),
  creationRoundTrip: (json) => attempt(() => J.creationOptionsToJSON(J.creationOptionsFromJSON(json))),
  requestRoundTrip: (json) => attempt(() => J.requestOptionsToJSON(J.requestOptionsFromJSON(json))),
  credential: (json, kind) => attempt(() => inspect(O.credentialFromJSON(json, kind))),
  parsePageMessage: (text) => attempt(() => C.parsePageMessage(text)),
  parseBridgeReply: (text) => attempt(() => R.parseBridgeReply(text)),
  rpIdPlausible: (origin, rpId) => fido.rpIdPlausible(origin, rpId),
  pageError: (err) => fido.pageError(err),
  confirmsByItself: (listing) => fido.confirmsByItself(listing),
  matchPattern: (origin) => fido.matchPattern(origin),
  bridgeScripts: (origins) => scripts.bridgeScripts(origins),
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let reply;
  try {
    const { fn, args } = JSON.parse(line);
    reply = { value: (await functions[fn](...args)) ?? null };
  } catch (err) {
    reply = { error: String(err?.stack ?? err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
