// The toolbar popup: host and vault status, unlock/lock, the entries (this site first), codes with a
// countdown, copy/fill/bind, add account (QR on the page, pasted URI, by hand) and the auto-lock setting.
import { api, callBackground } from "../common/api.js";
import { selectValue } from "../common/select.js";
import { effectiveSettings } from "../common/settings.js";

const $ = (id) => document.getElementById(id);
const state = { tabId: null, origin: null, entries: [], codes: new Map(), timer: null };

const request = (method, params = {}) => callBackground("ext.request", { method, params });

function show(el, visible) {
  el.hidden = !visible;
}

function toast(text) {
  $("toast").textContent = text;
}

async function targetTab() {
  // ?tab=ID lets the popup be opened in a tab for a given page (tests, keyboard users, debugging).
  const fromQuery = new URLSearchParams(location.search).get("tab");
  if (fromQuery) return Number(fromQuery);
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  return tab?.id ?? null;
}

async function refresh() {
  const status = await callBackground("ext.status");
  show($("problem"), Boolean(status.error));
  $("problem").textContent = status.error?.message ?? "";
  $("problem").dataset.code = status.error?.code ?? "";
  $("host-status").textContent = status.host ? `Host ${status.host.version} connected` : "Host not connected";
  const vault = status.vault;
  $("vault-status").textContent = vault
    ? vault.exists
      ? `Vault ${vault.unlocked ? `unlocked, ${vault.entries} entries` : "locked"}`
      : "No vault yet: run `tracker2fa vault init`"
    : "";
  const unlocked = Boolean(vault?.unlocked);
  show($("unlock-form"), Boolean(vault?.exists) && !unlocked);
  show($("unlocked"), unlocked);
  show($("lock"), unlocked);
  document.body.dataset.vault = vault ? (vault.exists ? (unlocked ? "unlocked" : "locked") : "missing") : "unavailable";
  if (vault?.exists && !unlocked) $("password").focus();
  if (unlocked) await loadEntries();
}

async function loadEntries() {
  const { entries } = await request("vault.entries");
  state.entries = entries;
  render();
  const settings = await request("settings.get").catch(() => null);
  if (settings) selectValue($("auto-lock"), settings.auto_lock_seconds ?? 0);
  const managed = await effectiveSettings();
  const locked = managed.locked.autoLockSeconds;
  $("auto-lock").disabled = locked;
  show($("auto-lock-managed"), locked);
}

function entryItem(entry, onSite) {
  const li = document.createElement("li");
  li.dataset.entryId = entry.id;
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = entry.label;
  label.title = `${entry.label}\n${entry.origins.join("\n") || "not bound to any site"}`;
  const code = document.createElement("span");
  code.className = "code";
  code.setAttribute("aria-label", `code for ${entry.label}`);
  const left = document.createElement("span");
  left.className = "left";
  const actions = document.createElement("div");
  actions.className = "actions";
  const button = (text, title, handler) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.title = title;
    b.dataset.action = text.toLowerCase().replace(/\W+/g, "-");
    b.addEventListener("click", () => handler().catch((err) => toast(err.message)));
    actions.append(b);
  };
  button("Copy", `Copy the code for ${entry.label}`, async () => {
    const { code: value } = await request("vault.copy_code", { id: entry.id });
    await navigator.clipboard.writeText(value);
    toast("Code copied.");
  });
  if (onSite) {
    button("Fill", `Fill the code for ${entry.label} on this page`, async () => {
      await callBackground("ext.fillTab", { tabId: state.tabId, entryId: entry.id });
      toast("Code filled.");
    });
  } else if (state.origin) {
    button("Bind to this site", `Let ${state.origin} use ${entry.label}`, async () => {
      await request("vault.bind", { id: entry.id, origin: state.origin });
      toast(`Bound to ${state.origin}.`);
      await loadEntries();
    });
  }
  li.append(label, code, left, actions);
  showCode(entry.id, li);
  return li;
}

async function showCode(id, li) {
  let cached = state.codes.get(id);
  if (!cached || cached.until <= Date.now()) {
    try {
      const reply = await request("vault.copy_code", { id });
      cached = { code: reply.code, until: Date.now() + reply.expires_in * 1000 };
      state.codes.set(id, cached);
    } catch (err) {
      li.querySelector(".code").textContent = "—";
      li.querySelector(".left").textContent = err.message;
      return;
    }
  }
  li.querySelector(".code").textContent = cached.code;
  li.querySelector(".left").textContent = `${Math.max(0, Math.ceil((cached.until - Date.now()) / 1000))} s`;
}

function render() {
  const query = $("search").value.trim().toLowerCase();
  const matches = (e) => !query || `${e.label} ${e.origins.join(" ")}`.toLowerCase().includes(query);
  const onSite = state.entries.filter((e) => state.origin && e.origins.includes(state.origin));
  $("site-entries").replaceChildren(...onSite.filter(matches).map((e) => entryItem(e, true)));
  show($("site-empty"), Boolean(state.origin) && onSite.length === 0);
  const rest = state.entries.filter((e) => !onSite.includes(e)).filter(matches).slice(0, 50);
  $("all-entries").replaceChildren(...rest.map((e) => entryItem(e, false)));
}

function tick() {
  for (const li of document.querySelectorAll(".entries li")) showCode(li.dataset.entryId, li);
}

async function addEntry(params, how) {
  const origins = $("bind-site").checked && state.origin ? [state.origin] : [];
  try {
    const { entry } = await request("vault.add", { ...params, origins });
    $("add-result").textContent = `Added ${entry.label}${origins.length ? ` for ${origins[0]}` : ""} (${how}).`;
    $("add-result").dataset.state = "added";
    await loadEntries();
  } catch (err) {
    $("add-result").textContent = err.message;
    $("add-result").dataset.state = "error";
  }
}

async function scanQr() {
  $("add-result").textContent = "Looking for a QR code on the page…";
  const { dataUrl } = await callBackground("ext.capture", { tabId: state.tabId });
  const image = new Image();
  image.src = dataUrl;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(image, 0, 0);
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const found = globalThis.jsQR(pixels.data, pixels.width, pixels.height);
  if (!found?.data) {
    $("add-result").textContent = "No QR code was found in the visible part of the page. Scroll it into view and try again.";
    $("add-result").dataset.state = "error";
    return;
  }
  if (!found.data.startsWith("otpauth://")) {
    $("add-result").textContent = "The QR code on the page is not an otpauth:// account code.";
    $("add-result").dataset.state = "error";
    return;
  }
  await addEntry({ uri: found.data }, "from the QR code");
}

async function main() {
  state.tabId = await targetTab();
  if (state.tabId !== null) {
    const info = await callBackground("ext.tabOrigin", { tabId: state.tabId }).catch(() => null);
    state.origin = info?.origin ?? null;
  }
  $("site-origin").textContent = state.origin ?? "(not a web page)";
  $("bind-origin").textContent = state.origin ?? "this site (not a web page)";
  $("bind-site").disabled = !state.origin;
  $("scan-qr").disabled = state.tabId === null;

  $("unlock-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const password = $("password").value;
    $("password").value = "";
    show($("unlock-error"), false);
    try {
      await request("vault.unlock", { password });
      if (new URLSearchParams(location.search).get("return") === "1" && state.tabId !== null) {
        // Opened from a page's "Unlock" button: go back to that page.
        await callBackground("ext.returnToTab", { tabId: state.tabId });
        return;
      }
      await refresh();
    } catch (err) {
      $("unlock-error").textContent = err.message;
      $("unlock-error").dataset.code = err.code;
      show($("unlock-error"), true);
      $("password").focus();
    }
  });
  $("lock").addEventListener("click", async () => {
    await request("vault.lock");
    state.codes.clear();
    await refresh();
  });
  $("search").addEventListener("input", render);
  $("scan-qr").addEventListener("click", () => scanQr().catch((err) => ($("add-result").textContent = err.message)));
  $("add-uri-form").addEventListener("submit", (event) => {
    event.preventDefault();
    addEntry({ uri: $("add-uri").value.trim() }, "from the URI").then(() => ($("add-uri").value = ""));
  });
  $("add-manual-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const entry = {
      secret: $("add-secret").value,
      issuer: $("add-issuer").value.trim(),
      account: $("add-account").value.trim(),
      kind: "totp",
      algorithm: "SHA1",
      digits: Number($("add-digits").value),
      period: Number($("add-period").value),
      counter: 0,
    };
    addEntry({ entry }, "by hand").then(() => ($("add-secret").value = ""));
  });
  $("auto-lock").addEventListener("change", async () => {
    await request("settings.set", { auto_lock_seconds: Number($("auto-lock").value) });
    toast("Auto-lock saved.");
  });
  api.runtime.onMessage.addListener((msg) => {
    if (msg?.type === "host.event") refresh();
  });
  state.timer = setInterval(tick, 1000);
  await refresh();
  document.body.dataset.ready = "true";
}

main().catch((err) => {
  $("problem").textContent = err.message;
  $("problem").dataset.code = err.code ?? "";
  show($("problem"), true);
  document.body.dataset.ready = "true";
});
