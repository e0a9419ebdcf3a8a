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

  // ---- the attestation object: just enough CBOR to read authData and the credential's COSE key, which
  // getAuthenticatorData() / getPublicKey() / getPublicKeyAlgorithm() answer (the host's JSON has only the
  // attestationObject) ----

  /** Decode one CBOR item at `at`; returns [value, next offset]. Maps become Map; throws on anything odd. */
  function cborItem(bytes, at, depth = 0) {
    if (depth > 16 || at >= bytes.length) throw new TypeError("malformed CBOR");
    const head = bytes[at];
    const major = head >> 5;
    const info = head & 31;
    let pos = at + 1;
    let n = info;
    if (info >= 24) {
      const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
      if (size === undefined || pos + size > bytes.length) throw new TypeError("malformed CBOR");
      n = 0;
      for (let i = 0; i < size; i++) n = n * 256 + bytes[pos + i];
      pos += size;
    }
    switch (major) {
      case 0:
        return [n, pos];
      case 1:
        return [-1 - n, pos];
      case 2:
      case 3: {
        if (pos + n > bytes.length) throw new TypeError("malformed CBOR");
        const slice = bytes.slice(pos, pos + n);
        return [major === 2 ? slice : new TextDecoder().decode(slice), pos + n];
      }
      case 4: {
        const out = [];
        for (let i = 0; i < n; i++) {
          const [v, next] = cborItem(bytes, pos, depth + 1);
          out.push(v);
          pos = next;
        }
        return [out, pos];
      }
      case 5: {
        const out = new Map();
        for (let i = 0; i < n; i++) {
          const [k, afterKey] = cborItem(bytes, pos, depth + 1);
          const [v, next] = cborItem(bytes, afterKey, depth + 1);
          out.set(k, v);
          pos = next;
        }
        return [out, pos];
      }
      case 7:
        if (info === 20 || info === 21) return [info === 21, pos];
        if (info === 22) return [null, pos];
        throw new TypeError("unsupported CBOR simple value");
      default:
        throw new TypeError("unsupported CBOR item");
    }
  }

  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const hex = (text) => Uint8Array.from(text.match(/../g), (h) => parseInt(h, 16));
  // SubjectPublicKeyInfo prefixes: P-256 (ES256, uncompressed point follows) and Ed25519.
  const SPKI_P256 = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
  const SPKI_ED25519 = hex("302a300506032b6570032100");

  /** {authData, algorithm, publicKey} from an attestationObject (publicKey: SPKI DER, or null when unknown). */
  function attestedKey(attestationObject) {
    const [object] = cborItem(new Uint8Array(attestationObject), 0);
    const authData = object instanceof Map ? object.get("authData") : undefined;
    if (!(authData instanceof Uint8Array) || authData.length < 37) throw new TypeError("no authData");
    if (!(authData[32] & 0x40) || authData.length < 55) return { authData, algorithm: null, publicKey: null };
    const idLength = (authData[53] << 8) | authData[54];
    const [cose] = cborItem(authData, 55 + idLength);
    const algorithm = cose instanceof Map && Number.isInteger(cose.get(3)) ? cose.get(3) : null;
    let publicKey = null;
    if (cose.get(1) === 2 && cose.get(-1) === 1 && cose.get(-2)?.length === 32 && cose.get(-3)?.length === 32) {
      publicKey = concat(SPKI_P256, [4], cose.get(-2), cose.get(-3));
    } else if (cose.get(1) === 1 && cose.get(-1) === 6 && cose.get(-2)?.length === 32) {
      publicKey = concat(SPKI_ED25519, cose.get(-2));
    }
    return { authData, algorithm, publicKey };
  }

  /**
   * RegistrationResponseJSON (kind "create") or AuthenticationResponseJSON (kind "get") → the credential's
   * record: ArrayBuffers for the binary members, the Level 3 values the getters answer (authenticatorData,
   * publicKey, publicKeyAlgorithm: the host's when it sent them, else read from the attestation object),
   * and the extension results in their JSON form. Throws TypeError on a malformed response. The MAIN-world
   * script (content/fido_objects.js) turns a record into the object a page gets.
   */
  function credentialRecord(json, kind) {
    if (!isObject(json) || !isObject(json.response)) throw new TypeError("the credential is not an object");
    if (typeof json.id !== "string" || !isB64url(json.id) || json.id === "") throw new TypeError("credential id is not base64url");
    if (json.rawId !== undefined && json.rawId !== json.id) throw new TypeError("credential rawId differs from id");
    if (json.type !== "public-key") throw new TypeError("credential type is not public-key");
    const r = json.response;
    const extensionResults = extensionsToJSON(json.clientExtensionResults ?? {});
    extensionResultsFromJSON(extensionResults); // refuses malformed results now, not on first use
    const attachment = json.authenticatorAttachment ?? null;
    if (attachment !== null && typeof attachment !== "string") throw new TypeError("authenticatorAttachment is not a string");
    let response;
    if (kind === "create") {
      const attestationObject = fromB64url(r.attestationObject, "response.attestationObject");
      let attested = { authData: null, algorithm: null, publicKey: null };
      try {
        attested = attestedKey(attestationObject);
      } catch {
        // An attestation object these getters cannot read: they answer null; the server judges the object.
      }
      const buffer = (bytes) => (bytes === null ? null : bytes.slice().buffer);
      response = {
        clientDataJSON: fromB64url(r.clientDataJSON, "response.clientDataJSON"),
        attestationObject,
        transports: Array.isArray(r.transports) ? r.transports.filter((t) => typeof t === "string") : [],
        authenticatorData: r.authenticatorData !== undefined ? fromB64url(r.authenticatorData, "response.authenticatorData") : buffer(attested.authData),
        publicKey: r.publicKey !== undefined ? fromB64url(r.publicKey, "response.publicKey") : buffer(attested.publicKey),
        publicKeyAlgorithm: Number.isInteger(r.publicKeyAlgorithm) ? r.publicKeyAlgorithm : attested.algorithm,
      };
    } else if (kind === "get") {
      response = {
        clientDataJSON: fromB64url(r.clientDataJSON, "response.clientDataJSON"),
        authenticatorData: fromB64url(r.authenticatorData, "response.authenticatorData"),
        signature: fromB64url(r.signature, "response.signature"),
        userHandle: r.userHandle === undefined || r.userHandle === null ? null : fromB64url(r.userHandle, "response.userHandle"),
      };
    } else {
      throw new TypeError(`unknown credential kind ${String(kind)}`);
    }
    return Object.freeze({
      kind,
      id: json.id,
      rawId: fromB64url(json.id, "rawId"),
      type: "public-key",
      authenticatorAttachment: attachment,
      response: Object.freeze(response),
      extensionResults,
    });
  }

  /** getClientExtensionResults() of a record: a fresh object each call, binary outputs as ArrayBuffers. */
  function recordExtensionResults(record) {
    return extensionResultsFromJSON(record.extensionResults);
  }

  /**
   * toJSON() of a record, as Chromium builds it from the IDL dictionaries: members in their IDL (sorted)
   * order, optional members left out rather than null (userHandle, publicKey, authenticatorAttachment).
   */
  function recordToJSON(record) {
    const r = record.response;
    const response = {};
    if (record.kind === "create") {
      response.attestationObject = toB64url(r.attestationObject);
      if (r.authenticatorData !== null) response.authenticatorData = toB64url(r.authenticatorData);
      response.clientDataJSON = toB64url(r.clientDataJSON);
      if (r.publicKey !== null) response.publicKey = toB64url(r.publicKey);
      if (r.publicKeyAlgorithm !== null) response.publicKeyAlgorithm = r.publicKeyAlgorithm;
      response.transports = [...r.transports];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.clientDataJSON = toB64url(r.clientDataJSON);
      response.signature = toB64url(r.signature);
      if (r.userHandle !== null) response.userHandle = toB64url(r.userHandle);
    }
    const out = {};
    if (record.authenticatorAttachment !== null) out.authenticatorAttachment = record.authenticatorAttachment;
    out.clientExtensionResults = JSON.parse(JSON.stringify(record.extensionResults));
    out.id = record.id;
    out.rawId = record.id;
    out.response = response;
    out.type = record.type;
    return out;
  }

  /** A PublicKeyCredential (the browser's or ours) → its JSON form, as toJSON() defines it, read through the
   * getters (what a page without toJSON() would send). */
  function credentialToJSON(credential) {
    const r = credential.response;
    const created = r.attestationObject !== undefined;
    const buffer = (value) => (value === null || value === undefined ? null : value);
    const record = {
      kind: created ? "create" : "get",
      id: credential.id,
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment ?? null,
      extensionResults: extensionResultsToJSON(credential.getClientExtensionResults?.() ?? {}),
      response: created
        ? {
            attestationObject: r.attestationObject,
            clientDataJSON: r.clientDataJSON,
            authenticatorData: buffer(r.getAuthenticatorData?.()),
            publicKey: buffer(r.getPublicKey?.()),
            publicKeyAlgorithm: r.getPublicKeyAlgorithm?.() ?? null,
            transports: typeof r.getTransports === "function" ? r.getTransports() : [],
          }
        : { authenticatorData: r.authenticatorData, clientDataJSON: r.clientDataJSON, signature: r.signature, userHandle: r.userHandle ?? null },
    };
    return recordToJSON(record);
  }

  globalThis.__tracker2faWebAuthnJSON = Object.freeze({
    attestedKey,
    isBufferSource,
    isB64url,
    toB64url,
    fromB64url,
    creationOptionsToJSON,
    requestOptionsToJSON,
    creationOptionsFromJSON,
    requestOptionsFromJSON,
    credentialRecord,
    recordExtensionResults,
    recordToJSON,
    credentialToJSON,
  });
})();
