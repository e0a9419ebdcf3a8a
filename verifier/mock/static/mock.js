// The mock tracker's script: WebAuthn ceremonies and the admin activity feed. Options arrive in the WebAuthn
// JSON form (binary fields base64url), converted by verifier/web/webauthn_json.js (loaded before it); answers
// go back in the same form.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

async function postJSON(url, body) {
  const res = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body || {}),
  });
  let data = {};
  try { data = await res.json(); } catch (_) { data = { ok: false, message: `HTTP ${res.status}` }; }
  return data;
}

function showError(message) {
  const el = document.getElementById("webauthn-error");
  el.textContent = message;
  el.hidden = !message;
}

async function ceremony(prefix, kind, extra) {
  const button = document.getElementById(kind === "get" ? "use-security-key" : "register-key");
  button.disabled = true;
  showError("");
  document.body.dataset.webauthn = "pending";
  try {
    const begin = await postJSON(`${prefix}/begin`, {});
    if (!begin.ok) throw new Error(begin.message || "The server refused to start.");
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

function startActivityFeed() {
  const feed = document.getElementById("activity-feed");
  const live = document.getElementById("activity-live");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/admin/ws`);
  socket.onopen = () => { live.textContent = "(live)"; document.body.dataset.feed = "live"; };
  socket.onclose = () => { live.textContent = "(disconnected)"; document.body.dataset.feed = "closed"; };
  socket.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    const li = document.createElement("li");
    li.className = "event";
    li.dataset.event = ev.event || "";
    li.dataset.testid = "activity-event";
    const when = typeof ev.ts === "number" ? new Date(ev.ts * 1000).toISOString().slice(11, 19) : "";
    li.textContent = [when, ...["event", "username", "method", "credential", "result", "ip", "actor"].map((k) => ev[k])]
      .filter((x) => x !== undefined && x !== null && x !== "").join(" · ");
    feed.prepend(li);
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  const useKey = document.getElementById("use-security-key");
  if (useKey) {
    useKey.addEventListener("click", () => ceremony("/2fa/webauthn", "get", () => ({
      remember: document.getElementById("remember-device").checked,
    })));
  }
  const register = document.getElementById("register-key");
  if (register) {
    register.addEventListener("click", () => ceremony("/account/keys", "create", () => ({
      name: document.getElementById("key-name").value,
    })));
  }
  if (page === "admin") startActivityFeed();
  document.body.dataset.ready = "true";
});
