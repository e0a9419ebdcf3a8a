// The portal's script: security-key ceremonies. Options arrive as WebAuthn JSON (binary fields base64url),
// converted by verifier/web/webauthn_json.js (loaded before it); the answer goes back in the same form.
// Same-origin JSON POSTs (the server checks Origin).
"use strict";

async function postJSON(url, body) {
  const res = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  try { return await res.json(); } catch (_) { return { ok: false, message: `HTTP ${res.status}` }; }
}

function showError(message) {
  const el = document.getElementById("webauthn-error");
  el.textContent = message;
  el.hidden = !message;
}

async function ceremony(prefix, kind, button, extra) {
  button.disabled = true;
  showError("");
  document.body.dataset.webauthn = "pending";
  try {
    const begin = await postJSON(`${prefix}/begin`, {});
    if (!begin.ok) throw new Error(begin.message || "The portal refused to start.");
    const publicKey = decodeOptions(begin.options);
    const cred = kind === "get"
      ? await navigator.credentials.get({ publicKey })
      : await navigator.credentials.create({ publicKey });
    const done = await postJSON(`${prefix}/complete`, { credential: encodeCredential(cred), ...extra() });
    if (!done.ok) throw new Error(done.message || "The security key was not accepted.");
    document.body.dataset.webauthn = "done";
    window.location.assign(done.redirect);
  } catch (err) {
    document.body.dataset.webauthn = "failed";
    showError(err && err.name && err.name !== "Error" ? `${err.name}: ${err.message}` : String(err.message || err));
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const useKey = document.getElementById("use-security-key");
  if (useKey) {
    useKey.addEventListener("click", () => ceremony("/2fa/webauthn", "get", useKey, () => {
      const remember = document.getElementById("remember-device");
      return { remember: Boolean(remember && remember.checked), rd: document.body.dataset.rd || "" };
    }));
  }
  const register = document.getElementById("register-key");
  if (register) {
    register.addEventListener("click", () => ceremony("/settings/keys", "create", register, () => ({
      name: document.getElementById("key-name").value,
    })));
  }
  document.body.dataset.ready = "true";
});
