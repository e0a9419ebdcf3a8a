// The credentials a page gets through tracker2fa behave as the browser's own: `instanceof
// PublicKeyCredential`, every field a getter on the interface's prototype (no own properties:
// Object.keys(credential) is empty), ArrayBuffers that are the same object on every read, toJSON() with the
// WebAuthn Level 3 members, and structuredClone() refusing them (DataCloneError), as for platform objects.
//
// How: each credential and response is a Proxy (structured cloning refuses exotic objects) around an
// object whose prototype is the browser's own interface prototype, and the accessors and methods on those
// prototypes are replaced by ones that answer from our record for our objects and call the browser's own
// accessor for everything else (the browser's credentials, when a page falls back to them, are unchanged).
//
// A plain script in the page's MAIN world, loaded after common/webauthn_json.js and before
// content/fido_page.js, which takes `globalThis.__tracker2faFidoObjects` and deletes it.
(() => {
  const J = globalThis.__tracker2faWebAuthnJSON;
  const PKC = globalThis.PublicKeyCredential;
  if (!J || !PKC) return; // not a secure context: no WebAuthn to stand in for

  // Our credential or response (the Proxy) -> {is: "credential" | "response", record, response?}. A getter of
  // one interface called on the other (descriptor.get.call(...)) is an illegal invocation, as natively.
  const records = new WeakMap();
  const defineProperty = Object.defineProperty;
  const describe = Object.getOwnPropertyDescriptor;

  const illegal = () => new TypeError("Illegal invocation");
  const CredentialProto = globalThis.Credential?.prototype;

  /** Replace the accessor `name` of `proto`: ours for our objects, the browser's for its own. */
  function accessor(proto, name, value, is = proto === PKC.prototype || proto === CredentialProto ? "credential" : "response") {
    if (!proto) return;
    const native = describe(proto, name)?.get;
    const get = describe({
      get [name]() {
        const mine = records.get(this);
        if (mine !== undefined) {
          if (mine.is !== is) throw illegal();
          return value(mine);
        }
        if (native) return native.call(this);
        throw illegal();
      },
    }, name).get;
    defineProperty(proto, name, { get, set: undefined, enumerable: true, configurable: true });
  }

  /** Replace the method `name` of `proto` the same way. */
  function method(proto, name, value, is = proto === PKC.prototype ? "credential" : "response") {
    if (!proto) return;
    const native = describe(proto, name)?.value;
    const fn = {
      [name](...args) {
        const mine = records.get(this);
        if (mine !== undefined) {
          if (mine.is !== is) throw illegal();
          return value(mine);
        }
        if (typeof native === "function") return native.apply(this, args);
        throw illegal();
      },
    }[name];
    defineProperty(proto, name, { value: fn, writable: true, enumerable: true, configurable: true });
  }

  const copy = (buffer) => (buffer === null ? null : buffer.slice(0));
  const ResponseProto = globalThis.AuthenticatorResponse?.prototype;
  const AttestationProto = globalThis.AuthenticatorAttestationResponse?.prototype;
  const AssertionProto = globalThis.AuthenticatorAssertionResponse?.prototype;

  accessor(CredentialProto, "id", ({ record }) => record.id);
  accessor(CredentialProto, "type", ({ record }) => record.type);
  accessor(PKC.prototype, "rawId", ({ record }) => record.rawId);
  accessor(PKC.prototype, "response", ({ response }) => response);
  accessor(PKC.prototype, "authenticatorAttachment", ({ record }) => record.authenticatorAttachment);
  method(PKC.prototype, "getClientExtensionResults", ({ record }) => J.recordExtensionResults(record));
  method(PKC.prototype, "toJSON", ({ record }) => J.recordToJSON(record));
  accessor(ResponseProto, "clientDataJSON", ({ record }) => record.response.clientDataJSON);
  accessor(AttestationProto, "attestationObject", ({ record }) => record.response.attestationObject);
  method(AttestationProto, "getTransports", ({ record }) => [...record.response.transports]);
  method(AttestationProto, "getAuthenticatorData", ({ record }) => copy(record.response.authenticatorData));
  method(AttestationProto, "getPublicKey", ({ record }) => copy(record.response.publicKey));
  method(AttestationProto, "getPublicKeyAlgorithm", ({ record }) => record.response.publicKeyAlgorithm);
  accessor(AssertionProto, "authenticatorData", ({ record }) => record.response.authenticatorData);
  accessor(AssertionProto, "signature", ({ record }) => record.response.signature);
  accessor(AssertionProto, "userHandle", ({ record }) => record.response.userHandle);

  const EMPTY_HANDLER = Object.freeze({});

  /** The object a page gets for the host's RegistrationResponseJSON / AuthenticationResponseJSON. */
  function credentialFromJSON(json, kind) {
    const record = J.credentialRecord(json, kind);
    const responseProto = (kind === "create" ? AttestationProto : AssertionProto) ?? ResponseProto ?? Object.prototype;
    const response = new Proxy(Object.create(responseProto), EMPTY_HANDLER);
    const credential = new Proxy(Object.create(PKC.prototype), EMPTY_HANDLER);
    records.set(response, { is: "response", record });
    records.set(credential, { is: "credential", record, response });
    return credential;
  }

  globalThis.__tracker2faFidoObjects = Object.freeze({ credentialFromJSON });
})();
