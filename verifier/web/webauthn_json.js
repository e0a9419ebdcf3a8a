// WebAuthn options and credentials between their JSON form (binary fields base64url, as the verifier's API
// speaks it) and the objects navigator.credentials takes and gives, and one ceremony of a button: shared by
// the verifier's two front ends that run ceremonies, the mock tracker (verifier/mock/static/mock.js) and the gate's portal
// (verifier/gate/portal/static/gate.js). A classic script: its functions are globals of the page, loaded
// (deferred) before the page's own script.
"use strict";

function b64urlToBuf(value) {
  const b64 = value.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(value.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
}

function bufToB64url(buf) {
  let s = "";
  for (const byte of new Uint8Array(buf)) s += String.fromCharCode(byte);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeOptions(raw) {
  const o = structuredClone(raw.publicKey || raw);
  o.challenge = b64urlToBuf(o.challenge);
  if (o.user && typeof o.user.id === "string") o.user.id = b64urlToBuf(o.user.id);
  for (const list of [o.allowCredentials, o.excludeCredentials]) {
    for (const cred of list || []) cred.id = b64urlToBuf(cred.id);
  }
  return o;
}

function encodeCredential(cred) {
  const r = cred.response;
  const response = { clientDataJSON: bufToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bufToB64url(r.attestationObject);
    if (r.getTransports) response.transports = r.getTransports();
  } else {
    response.authenticatorData = bufToB64url(r.authenticatorData);
    response.signature = bufToB64url(r.signature);
    if (r.userHandle) response.userHandle = bufToB64url(r.userHandle);
  }
  return {
    id: cred.id,
    rawId: bufToB64url(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    response,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

function showError(message) {
  const el = document.getElementById("webauthn-error");
  el.textContent = message;
  el.hidden = !message;
}

// One ceremony of a page's button: `post(url, body)` is the page's own JSON POST (its CSRF header), `prefix`
// the server's begin/complete routes, `kind` "get" or "create", `extra()` what the complete call adds.
// body[data-webauthn] says pending, done or failed; #webauthn-error says why.
async function ceremony(post, prefix, kind, button, extra) {
  button.disabled = true;
  showError("");
  document.body.dataset.webauthn = "pending";
  try {
    const begin = await post(`${prefix}/begin`, {});
    if (!begin.ok) throw new Error(begin.message || "The server refused to start.");
    const publicKey = decodeOptions(begin.options);
    const cred = kind === "get"
      ? await navigator.credentials.get({ publicKey })
      : await navigator.credentials.create({ publicKey });
    const done = await post(`${prefix}/complete`, { credential: encodeCredential(cred), ...extra() });
    if (!done.ok) throw new Error(done.message || "The security key was not accepted.");
    document.body.dataset.webauthn = "done";
    window.location.assign(done.redirect);
  } catch (err) {
    document.body.dataset.webauthn = "failed";
    showError(err && err.name && err.name !== "Error" ? `${err.name}: ${err.message}` : String(err.message || err));
    button.disabled = false;
  }
}
