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

document.addEventListener("DOMContentLoaded", () => {
  const useKey = document.getElementById("use-security-key");
  if (useKey) {
    useKey.addEventListener("click", () => ceremony(postJSON, "/2fa/webauthn", "get", useKey, () => {
      const remember = document.getElementById("remember-device");
      return { remember: Boolean(remember && remember.checked), rd: document.body.dataset.rd || "" };
    }));
  }
  const register = document.getElementById("register-key");
  if (register) {
    register.addEventListener("click", () => ceremony(postJSON, "/settings/keys", "create", register, () => ({
      name: document.getElementById("key-name").value,
    })));
  }
  document.body.dataset.ready = "true";
});
