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
    useKey.addEventListener("click", () => ceremony(postJSON, "/2fa/webauthn", "get", useKey, () => ({
      remember: document.getElementById("remember-device").checked,
    })));
  }
  const register = document.getElementById("register-key");
  if (register) {
    register.addEventListener("click", () => ceremony(postJSON, "/account/keys", "create", register, () => ({
      name: document.getElementById("key-name").value,
    })));
  }
  if (page === "admin") startActivityFeed();
  document.body.dataset.ready = "true";
});
