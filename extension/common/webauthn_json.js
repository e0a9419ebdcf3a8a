// The ONE place where WebAuthn values cross between their JavaScript form (ArrayBuffers, the objects a page
// passes to navigator.credentials.create/get and gets back) and their JSON form (base64url strings: what
// PublicKeyCredential.parseCreationOptionsFromJSON / toJSON() and the host's fido.create / fido.get speak).
// Pure; no browser API beyond ArrayBuffer. A plain script loaded into the page's MAIN world (first, before
// the page runs) and into Node for the tests: it sets `globalThis.__tracker2faWebAuthnJSON`, which the
// MAIN-world bridge takes and deletes at once.
(() => {
  const B64URL = /^[A-Za-z0-9_-]*$/;
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const INDEX = new Map([...ALPHABET].map((c, i) => [c, i]));

  /** True for an ArrayBuffer or a view of one (the WebIDL BufferSource). */
  function isBufferSource(value) {
    return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
  }

  function bytesOf(source) {
    if (source instanceof ArrayBuffer) return new Uint8Array(source);
    if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    throw new TypeError("expected an ArrayBuffer or a view of one");
  }

  /** base64url without padding of a BufferSource. */
  function toB64url(source) {
    const bytes = bytesOf(source);
    let out = "";
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
    }
    const rest = bytes.length - i;
    if (rest === 1) {
      const n = bytes[i] << 16;
      out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
    } else if (rest === 2) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
      out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
    }
    return out;
  }

  /** True for a canonical base64url string (no padding, no stray bits). */
  function isB64url(text) {
    if (typeof text !== "string" || !B64URL.test(text) || text.length % 4 === 1) return false;
    const rest = text.length % 4;
    if (rest === 0) return true;
    const last = INDEX.get(text[text.length - 1]);
    return rest === 2 ? (last & 15) === 0 : (last & 3) === 0;
  }

  /** An ArrayBuffer from base64url (padding tolerated); TypeError on anything else. */
  function fromB64url(text, field = "value") {
    const bare = typeof text === "string" ? text.replace(/=+$/, "") : text;
    if (!isB64url(bare)) throw new TypeError(`${field} is not base64url`);
    const out = new Uint8Array(Math.floor((bare.length * 3) / 4));
    let bits = 0;
    let acc = 0;
    let j = 0;
    for (const c of bare) {
      acc = (acc << 6) | INDEX.get(c);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[j++] = (acc >> bits) & 255;
      }
    }
    return out.buffer;
  }

  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

  // Any BufferSource inside extension inputs (prf eval, largeBlob write, …) becomes base64url, as in the
  // WebAuthn L3 JSON forms; everything else is copied as JSON would copy it.
  function extensionsToJSON(value, depth = 0) {
    if (depth > 8) throw new TypeError("extensions are nested too deeply");
    if (isBufferSource(value)) return toB64url(value);
    if (Array.isArray(value)) return value.map((v) => extensionsToJSON(v, depth + 1));
    if (isObject(value)) {
      const out = {};
      for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = extensionsToJSON(v, depth + 1);
      return out;
    }
    if (typeof value === "function" || typeof value === "symbol" || typeof value === "bigint") {
      throw new TypeError("extensions hold a value that is not data");
    }
    return value;
  }

  function descriptorsToJSON(list, field) {
    if (list === undefined) return undefined;
    if (!Array.isArray(list)) throw new TypeError(`${field} must be an array`);
    return list.map((d, i) => {
      if (!isObject(d) || !isBufferSource(d.id)) throw new TypeError(`${field}[${i}].id must be a BufferSource`);
      const out = { type: String(d.type ?? "public-key"), id: toB64url(d.id) };
      if (d.transports !== undefined) out.transports = [...d.transports].map(String);
      return out;
    });
  }

  function copyScalars(from, to, names) {
    for (const name of names) if (from[name] !== undefined) to[name] = from[name];
  }

  /** PublicKeyCredentialCreationOptions (a page's `publicKey`) → PublicKeyCredentialCreationOptionsJSON. */
  function creationOptionsToJSON(options) {
    if (!isObject(options)) throw new TypeError("publicKey must be an object");
    if (!isBufferSource(options.challenge)) throw new TypeError("publicKey.challenge must be a BufferSource");
    if (!isObject(options.rp)) throw new TypeError("publicKey.rp must be an object");
    if (!isObject(options.user) || !isBufferSource(options.user.id)) throw new TypeError("publicKey.user.id must be a BufferSource");
    if (!Array.isArray(options.pubKeyCredParams)) throw new TypeError("publicKey.pubKeyCredParams must be an array");
    const rp = {};
    copyScalars(options.rp, rp, ["id", "name"]);
    const user = { id: toB64url(options.user.id) };
    copyScalars(options.user, user, ["name", "displayName"]);
    const out = {
      rp,
      user,
      challenge: toB64url(options.challenge),
      pubKeyCredParams: options.pubKeyCredParams.map((p) => ({ type: String(p?.type ?? "public-key"), alg: Number(p?.alg) })),
    };
    copyScalars(options, out, ["timeout", "attestation"]);
    const exclude = descriptorsToJSON(options.excludeCredentials, "publicKey.excludeCredentials");
    if (exclude !== undefined) out.excludeCredentials = exclude;
    if (options.authenticatorSelection !== undefined) out.authenticatorSelection = extensionsToJSON(options.authenticatorSelection);
    if (options.hints !== undefined) out.hints = [...options.hints].map(String);
    if (options.attestationFormats !== undefined) out.attestationFormats = [...options.attestationFormats].map(String);
    if (options.extensions !== undefined) out.extensions = extensionsToJSON(options.extensions);
    return out;
  }

  /** PublicKeyCredentialRequestOptions → PublicKeyCredentialRequestOptionsJSON. */
  function requestOptionsToJSON(options) {
    if (!isObject(options)) throw new TypeError("publicKey must be an object");
    if (!isBufferSource(options.challenge)) throw new TypeError("publicKey.challenge must be a BufferSource");
    const out = { challenge: toB64url(options.challenge) };
    copyScalars(options, out, ["timeout", "rpId", "userVerification"]);
    const allow = descriptorsToJSON(options.allowCredentials, "publicKey.allowCredentials");
    if (allow !== undefined) out.allowCredentials = allow;
    if (options.hints !== undefined) out.hints = [...options.hints].map(String);
    if (options.extensions !== undefined) out.extensions = extensionsToJSON(options.extensions);
    return out;
  }

  function descriptorsFromJSON(list, field) {
    if (list === undefined) return undefined;
    if (!Array.isArray(list)) throw new TypeError(`${field} must be an array`);
    return list.map((d, i) => ({ ...d, id: fromB64url(d?.id, `${field}[${i}].id`) }));
  }

  // The reverse of extensionsToJSON for the fields WebAuthn defines as binary (prf eval values).
  function prfInputsFromJSON(extensions) {
    if (!isObject(extensions?.prf)) return extensions;
    const values = (v) => {
      const out = { first: fromB64url(v.first, "prf.first") };
      if (v.second !== undefined) out.second = fromB64url(v.second, "prf.second");
      return out;
    };
    const prf = {};
    if (extensions.prf.eval !== undefined) prf.eval = values(extensions.prf.eval);
    if (extensions.prf.evalByCredential !== undefined) {
      prf.evalByCredential = Object.fromEntries(Object.entries(extensions.prf.evalByCredential).map(([k, v]) => [k, values(v)]));
    }
    return { ...extensions, prf };
  }

  /** PublicKeyCredentialCreationOptionsJSON → options (what parseCreationOptionsFromJSON returns). */
  function creationOptionsFromJSON(json) {
    if (!isObject(json) || !isObject(json.user) || !isObject(json.rp)) throw new TypeError("not creation options JSON");
    const out = { ...json, challenge: fromB64url(json.challenge, "challenge"), user: { ...json.user, id: fromB64url(json.user.id, "user.id") } };
    const exclude = descriptorsFromJSON(json.excludeCredentials, "excludeCredentials");
    if (exclude !== undefined) out.excludeCredentials = exclude;
    if (json.extensions !== undefined) out.extensions = prfInputsFromJSON(json.extensions);
    return out;
  }

  /** PublicKeyCredentialRequestOptionsJSON → options (what parseRequestOptionsFromJSON returns). */
  function requestOptionsFromJSON(json) {
    if (!isObject(json)) throw new TypeError("not request options JSON");
    const out = { ...json, challenge: fromB64url(json.challenge, "challenge") };
    const allow = descriptorsFromJSON(json.allowCredentials, "allowCredentials");
    if (allow !== undefined) out.allowCredentials = allow;
    if (json.extensions !== undefined) out.extensions = prfInputsFromJSON(json.extensions);
    return out;
  }

  // Binary client extension outputs (prf results) are ArrayBuffers in getClientExtensionResults() and
  // base64url in toJSON().
  function extensionResultsFromJSON(results) {
    if (results === undefined || results === null) return {};
    if (!isObject(results)) throw new TypeError("clientExtensionResults must be an object");
    const out = { ...results };
    if (isObject(results.prf) && isObject(results.prf.results)) {
      const r = { first: fromB64url(results.prf.results.first, "prf.results.first") };
      if (results.prf.results.second !== undefined) r.second = fromB64url(results.prf.results.second, "prf.results.second");
      out.prf = { ...results.prf, results: r };
    }
    return out;
  }

  function extensionResultsToJSON(results) {
    return extensionsToJSON(results);
  }

  const protoOf = (name) => globalThis[name]?.prototype ?? Object.prototype;
  const frozenCopy = (list) => Object.freeze([...list]);

  function define(target, values) {
    for (const [name, value] of Object.entries(values)) {
      Object.defineProperty(target, name, { value, enumerable: typeof value !== "function", configurable: false, writable: false });
    }
    return target;
  }

  /**
   * RegistrationResponseJSON (kind "create") or AuthenticationResponseJSON (kind "get") → an object that
   * behaves as the PublicKeyCredential the browser would return: ArrayBuffers in `rawId` and `response`,
   * `getClientExtensionResults()`, `toJSON()`, `response.getTransports()`, … (and `instanceof
   * PublicKeyCredential` holds where that interface exists). Throws TypeError on a malformed response.
   */
  function credentialFromJSON(json, kind) {
    if (!isObject(json) || !isObject(json.response)) throw new TypeError("the credential is not an object");
    if (typeof json.id !== "string" || !isB64url(json.id)) throw new TypeError("credential id is not base64url");
    if (json.rawId !== undefined && json.rawId !== json.id) throw new TypeError("credential rawId differs from id");
    if (json.type !== "public-key") throw new TypeError("credential type is not public-key");
    const r = json.response;
    extensionResultsFromJSON(json.clientExtensionResults); // refuses malformed results now, not on first use
    const attachment = json.authenticatorAttachment ?? null;
    if (attachment !== null && typeof attachment !== "string") throw new TypeError("authenticatorAttachment is not a string");
    let response;
    if (kind === "create") {
      const transports = Array.isArray(r.transports) ? r.transports.filter((t) => typeof t === "string") : [];
      const fields = {
        clientDataJSON: fromB64url(r.clientDataJSON, "response.clientDataJSON"),
        attestationObject: fromB64url(r.attestationObject, "response.attestationObject"),
      };
      const authData = r.authenticatorData === undefined ? null : fromB64url(r.authenticatorData, "response.authenticatorData");
      const publicKey = r.publicKey === undefined ? null : fromB64url(r.publicKey, "response.publicKey");
      const algorithm = Number.isInteger(r.publicKeyAlgorithm) ? r.publicKeyAlgorithm : null;
      response = define(Object.create(protoOf("AuthenticatorAttestationResponse")), {
        ...fields,
        getTransports: () => [...transports],
        getAuthenticatorData: () => (authData === null ? null : authData.slice(0)),
        getPublicKey: () => (publicKey === null ? null : publicKey.slice(0)),
        getPublicKeyAlgorithm: () => algorithm,
      });
    } else if (kind === "get") {
      const fields = {
        clientDataJSON: fromB64url(r.clientDataJSON, "response.clientDataJSON"),
        authenticatorData: fromB64url(r.authenticatorData, "response.authenticatorData"),
        signature: fromB64url(r.signature, "response.signature"),
        userHandle: r.userHandle === undefined || r.userHandle === null ? null : fromB64url(r.userHandle, "response.userHandle"),
      };
      response = define(Object.create(protoOf("AuthenticatorAssertionResponse")), fields);
    } else {
      throw new TypeError(`unknown credential kind ${String(kind)}`);
    }
    const copy = JSON.parse(JSON.stringify(json)); // what toJSON() answers: a fresh copy each time
    const credential = Object.create(protoOf("PublicKeyCredential"));
    return define(credential, {
      id: json.id,
      rawId: fromB64url(json.id, "rawId"),
      type: "public-key",
      authenticatorAttachment: attachment,
      response,
      getClientExtensionResults: () => extensionResultsFromJSON(json.clientExtensionResults),
      toJSON: () => JSON.parse(JSON.stringify(copy)),
    });
  }

  /** A PublicKeyCredential (the browser's or ours) → its JSON form, as toJSON() defines it. */
  function credentialToJSON(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject !== undefined) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    const out = { id: credential.id, rawId: toB64url(credential.rawId), type: credential.type, response };
    out.clientExtensionResults = extensionResultsToJSON(credential.getClientExtensionResults?.() ?? {});
    if (credential.authenticatorAttachment) out.authenticatorAttachment = credential.authenticatorAttachment;
    return out;
  }

  globalThis.__tracker2faWebAuthnJSON = Object.freeze({
    isBufferSource,
    isB64url,
    toB64url,
    fromB64url,
    creationOptionsToJSON,
    requestOptionsToJSON,
    creationOptionsFromJSON,
    requestOptionsFromJSON,
    credentialFromJSON,
    credentialToJSON,
  });
})();
