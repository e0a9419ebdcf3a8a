// The toolbar popup: host and vault status, unlock/lock, the entries (this site first), codes with a
// countdown, copy/fill/bind, add account (QR on the page, pasted URI, by hand) and the auto-lock setting.
// Everything shown comes from one `state` and one `render()`: counts never go stale, and each message
// sits next to the control that caused it.
import { api, callBackground } from "../common/api.js";
import { localize, t } from "../common/i18n.js";
import { selectValue } from "../common/select.js";
import { effectiveSettings } from "../common/settings.js";

const $ = (id) => document.getElementById(id);
const state = {
  tabId: null,
  origin: null,
  status: null, // {host, vault, error} from the service worker
  entries: [], // every entry (all pages of vault.entries)
  autoLockSeconds: 0,
  autoLockManaged: false,
  notes: { unlock: null, add: null, autoLock: null, entry: new Map() }, // {text, kind}
  codes: new Map(), // id -> {code, until} | {error}
  // null, or the security-key unlock's phase: "waiting" (asked the host), "busy" (the key serves another
  // request; this unlock waits for it) or "touch" (a key waits for a touch)
  keyUnlock: null,
  // The origin whose security-key request was declined in this tab because keys are off for it (or null), and
  // after the button: the origin they were turned on for.
  fidoDeclined: null,
  fidoEnabled: null,
};
const KEY_STATUS = { waiting: "popup_key_waiting", busy: "popup_key_busy", touch: "popup_key_touch" };
const items = new Map(); // entry id -> its <li>, kept across renders (focus stays where it was)

const request = (method, params = {}) => callBackground("ext.request", { method, params });

function show(el, visible) {
  el.hidden = !visible;
}

function setNote(el, note) {
  el.textContent = note?.text ?? "";
  if (note?.kind) el.dataset.state = note.kind; // "added", "error", "ok"; none while still working
  else delete el.dataset.state;
}

async function targetTab() {
  // ?tab=ID lets the popup be opened in a tab for a given page (tests, keyboard users, debugging).
  const fromQuery = new URLSearchParams(location.search).get("tab");
  if (fromQuery) return Number(fromQuery);
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  return tab?.id ?? null;
}

/** Every entry: vault.entries answers in pages (next_offset) when a vault is large. */
async function allEntries() {
  const out = [];
  let offset = 0;
  for (;;) {
    const page = await request("vault.entries", { offset });
    out.push(...page.entries);
    if (page.next_offset === null || page.next_offset === undefined || page.next_offset <= offset) return out;
    offset = page.next_offset;
  }
}

async function refresh() {
  state.status = await callBackground("ext.status");
  if (state.tabId !== null) {
    state.fidoDeclined = (await callBackground("ext.fidoDeclined", { tabId: state.tabId }).catch(() => null))?.origin ?? null;
  }
  if (state.status.vault?.unlocked) {
    state.entries = await allEntries();
    const settings = await request("settings.get").catch(() => null);
    const managed = await effectiveSettings();
    state.autoLockManaged = managed.locked.autoLockSeconds;
    state.autoLockSeconds = state.autoLockManaged ? managed.autoLockSeconds : (settings?.auto_lock_seconds ?? 0);
  } else {
    state.entries = [];
    state.codes.clear();
  }
  render();
}

function vaultSummary(vault) {
  if (!vault) return "";
  // The path the browser-started host opens: a shell's TRACKER2FA_VAULT may point elsewhere (two vaults).
  if (!vault.exists) return vault.path ? t("popup_vault_missing_at", vault.path) : t("popup_vault_missing");
  if (!vault.unlocked) return t("popup_vault_locked");
  // Counted from the list shown, never from an older status reply.
  const n = state.entries.length;
  return n === 1 ? t("popup_vault_unlocked_one") : t("popup_vault_unlocked_many", n);
}

function render() {
  const { status } = state;
  const vault = status?.vault ?? null;
  const unlocked = Boolean(vault?.unlocked);
  show($("problem"), Boolean(status?.error));
  $("problem").textContent = status?.error?.message ?? "";
  $("problem").dataset.code = status?.error?.code ?? "";
  show($("auto-confirm"), (status?.autoConfirmed ?? 0) > 0);
  show($("fido-declined"), Boolean(state.fidoDeclined || state.fidoEnabled));
  show($("fido-enable"), Boolean(state.fidoDeclined));
  $("fido-declined-text").textContent = state.fidoDeclined
    ? t("popup_fido_declined", state.fidoDeclined)
    : state.fidoEnabled ? t("popup_fido_enabled", state.fidoEnabled) : "";
  $("host-status").textContent = status
    ? status.host
      ? t("popup_host_connected", status.host.version)
      : t("popup_host_not_connected")
    : t("popup_host_connecting");
  $("vault-status").textContent = vaultSummary(vault);
  show($("unlock-form"), Boolean(vault?.exists) && !unlocked);
  // The key unlock is offered when the vault has a security-key slot (vault.status security_keys: [] none,
  // null no readable vault). A host from before that field: the button follows its capability, and a vault
  // without a slot answers no_key_slot (shown beside the button).
  const keyCapable = Boolean(status?.host?.capabilities?.includes("vault_security_key"));
  const slots = vault?.security_keys;
  const keyOffered = Array.isArray(slots) ? slots.length > 0 : slots === undefined && keyCapable;
  show($("unlock-key"), keyOffered && !state.keyUnlock);
  show($("key-status"), Boolean(state.keyUnlock));
  $("key-status").textContent = state.keyUnlock ? t(KEY_STATUS[state.keyUnlock]) : "";
  $("key-status").dataset.phase = state.keyUnlock ?? "";
  show($("cancel-key"), Boolean(state.keyUnlock));
  setNote($("unlock-error"), state.notes.unlock);
  show($("unlock-error"), Boolean(state.notes.unlock));
  show($("unlocked"), unlocked);
  show($("lock"), unlocked);
  document.body.dataset.vault = vault ? (vault.exists ? (unlocked ? "unlocked" : "locked") : "missing") : "unavailable";
  document.body.dataset.entries = String(state.entries.length);
  if (!unlocked) return;

  const empty = state.entries.length === 0;
  show($("empty"), empty);
  show($("search"), !empty);
  // An empty vault opens the add section: that is the one thing to do.
  if (empty) $("add").open = true;
  renderLists(empty);
  $("bind-label").textContent = state.origin ? t("popup_bind_to", state.origin) : t("popup_bind_not_web");
  setNote($("add-result"), state.notes.add);
  selectValue($("auto-lock"), state.autoLockSeconds, t("lock_seconds", state.autoLockSeconds));
  $("auto-lock").disabled = state.autoLockManaged;
  show($("auto-lock-managed"), state.autoLockManaged);
  setNote($("auto-lock-note"), state.notes.autoLock);
}

function renderLists(empty) {
  const query = $("search").value.trim().toLowerCase();
  const matches = (e) => !query || `${e.label} ${e.origins.join(" ")}`.toLowerCase().includes(query);
  const onSite = state.entries.filter((e) => state.origin && e.origins.includes(state.origin));
  const rest = state.entries.filter((e) => !onSite.includes(e));
  show($("site"), !empty && Boolean(state.origin));
  $("site-origin").textContent = state.origin ?? "";
  place($("site-entries"), onSite.filter(matches), true);
  show($("site-empty"), Boolean(state.origin) && onSite.length === 0);
  $("site-empty").textContent = rest.length ? t("popup_site_empty_bind") : t("popup_site_empty_add");
  const shown = rest.filter(matches);
  show($("all"), shown.length > 0);
  place($("all-entries"), shown.slice(0, 50), false);
  show($("all-more"), shown.length > 50);
  $("all-more").textContent = t("popup_more", shown.length - 50);
  for (const id of items.keys()) {
    if (!state.entries.some((e) => e.id === id)) items.delete(id);
  }
}

/** Put the entries' items into `list`, reusing them; the DOM is only rebuilt when the order changed. */
function place(list, entries, onSite) {
  const wanted = entries.map((e) => itemFor(e, onSite));
  const current = [...list.children];
  if (wanted.length !== current.length || wanted.some((li, i) => li !== current[i])) list.replaceChildren(...wanted);
}

function itemFor(entry, onSite) {
  let li = items.get(entry.id);
  const key = `${entry.label}|${entry.origins.join(" ")}|${onSite}|${state.origin}`;
  if (!li || li.dataset.key !== key) {
    li = entryItem(entry, onSite);
    li.dataset.key = key;
    items.set(entry.id, li);
  }
  setNote(li.querySelector(".note"), state.notes.entry.get(entry.id));
  showCode(entry.id, li);
  return li;
}

function entryItem(entry, onSite) {
  const li = document.createElement("li");
  li.dataset.entryId = entry.id;
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = entry.label;
  label.title = `${entry.label}\n${entry.origins.join("\n") || t("popup_not_bound")}`;
  const code = document.createElement("span");
  code.className = "code";
  code.setAttribute("aria-label", t("popup_code_for", entry.label));
  const left = document.createElement("span");
  left.className = "left";
  const actions = document.createElement("div");
  actions.className = "actions";
  const note = document.createElement("p");
  note.className = "note";
  note.setAttribute("role", "status");
  note.setAttribute("aria-live", "polite");
  const say = (text, kind = "ok") => {
    state.notes.entry.set(entry.id, { text, kind });
    render();
  };
  const button = (action, text, title, handler) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.title = title;
    b.dataset.action = action;
    b.addEventListener("click", () => handler().catch((err) => say(err.message, "error")));
    actions.append(b);
  };
  button("copy", t("popup_copy"), t("popup_copy_title", entry.label), async () => {
    const { code: value } = await request("vault.copy_code", { id: entry.id });
    await navigator.clipboard.writeText(value);
    say(t("popup_copied"));
  });
  if (onSite) {
    button("fill", t("popup_fill"), t("popup_fill_title", entry.label), async () => {
      await callBackground("ext.fillTab", { tabId: state.tabId, entryId: entry.id });
      say(t("popup_filled"));
    });
  } else if (state.origin) {
    button("bind-to-this-site", t("popup_bind"), t("popup_bind_title", state.origin, entry.label), async () => {
      await request("vault.bind", { id: entry.id, origin: state.origin });
      state.notes.entry.set(entry.id, { text: t("popup_bound", state.origin), kind: "ok" });
      await refresh();
    });
  }
  li.append(label, code, left, actions, note);
  return li;
}

async function showCode(id, li) {
  let cached = state.codes.get(id);
  if (!cached || (cached.until && cached.until <= Date.now())) {
    try {
      const reply = await request("vault.copy_code", { id });
      cached = { code: reply.code, until: Date.now() + reply.expires_in * 1000 };
    } catch (err) {
      cached = { error: err.message };
    }
    state.codes.set(id, cached);
  }
  li.querySelector(".code").textContent = cached.error ? "—" : cached.code;
  li.querySelector(".left").textContent = cached.error
    ? cached.error
    : t("popup_seconds_left", Math.max(0, Math.ceil((cached.until - Date.now()) / 1000)));
}

function tick() {
  for (const li of document.querySelectorAll(".entries li")) showCode(li.dataset.entryId, li);
}

async function addEntry(params, how) {
  const origins = $("bind-site").checked && state.origin ? [state.origin] : [];
  try {
    const { entry } = await request("vault.add", { ...params, origins });
    const text = origins.length ? t("popup_added_for", entry.label, origins[0], how) : t("popup_added", entry.label, how);
    state.notes.add = { text, kind: "added" };
    state.notes.entry.set(entry.id, { text: t("popup_new"), kind: "ok" });
    await refresh();
    return true;
  } catch (err) {
    state.notes.add = { text: err.message, kind: "error" };
    render();
    return false;
  } finally {
    $("add-result").scrollIntoView({ block: "nearest" });
  }
}

async function scanQr() {
  state.notes.add = { text: t("popup_looking_for_qr"), kind: null };
  render();
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
  if (!found?.data || !found.data.startsWith("otpauth://")) {
    state.notes.add = { text: t(found?.data ? "popup_qr_not_otpauth" : "popup_no_qr"), kind: "error" };
    render();
    return;
  }
  await addEntry({ uri: found.data }, t("popup_how_qr"));
}

/** Unlock by touching an enrolled security key (vault.unlock {"method": "security_key"} in the worker). */
async function unlockWithKey() {
  state.notes.unlock = null;
  state.keyUnlock = "waiting";
  render();
  $("cancel-key").focus();
  try {
    await callBackground("ext.unlockWithKey");
    state.keyUnlock = null;
    if (await returnToPage()) return;
    await refresh();
  } catch (err) {
    state.keyUnlock = null;
    state.notes.unlock = { text: err.message, kind: "error" };
    render();
    $("unlock-error").dataset.code = err.code;
    $("unlock-key").focus();
  }
}

/**
 * The host's events for the waiting key unlock (docs/protocol.md, "Security keys"). fido.key_busy: the key
 * serves another request and this unlock waits for it (Cancel still ends it at once). A key that then
 * answers (fido.touch: it waits for a touch; fido.selected: it answered) replaces that message. "Touch your
 * key" is not replaced by another key's busy: the user can act on the one that waits for a touch.
 */
function keyUnlockEvent(event) {
  let next = state.keyUnlock;
  if (event === "fido.key_busy" && state.keyUnlock === "waiting") next = "busy";
  else if (event === "fido.touch") next = "touch";
  else if (event === "fido.selected") next = "waiting";
  if (next === state.keyUnlock) return;
  state.keyUnlock = next;
  render();
}

/** Opened from a page's "Unlock" button: go back to that page (true when it did). */
async function returnToPage() {
  if (new URLSearchParams(location.search).get("return") !== "1" || state.tabId === null) return false;
  await callBackground("ext.returnToTab", { tabId: state.tabId });
  return true;
}

async function main() {
  localize();
  render();
  state.tabId = await targetTab();
  if (state.tabId !== null) {
    const info = await callBackground("ext.tabOrigin", { tabId: state.tabId }).catch(() => null);
    state.origin = info?.origin ?? null;
  }
  $("bind-site").disabled = !state.origin;
  $("scan-qr").disabled = state.tabId === null;

  $("unlock-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const password = $("password").value;
    $("password").value = "";
    state.notes.unlock = null;
    try {
      await request("vault.unlock", { password });
      if (await returnToPage()) return;
      await refresh();
    } catch (err) {
      state.notes.unlock = { text: err.message, kind: "error" };
      render();
      $("unlock-error").dataset.code = err.code;
      $("password").focus();
    }
  });
  $("unlock-key").addEventListener("click", unlockWithKey);
  $("fido-enable").addEventListener("click", async () => {
    const { origin } = await callBackground("ext.enableSecurityKeys", { tabId: state.tabId });
    state.fidoDeclined = null;
    state.fidoEnabled = origin;
    render();
  });
  $("cancel-key").addEventListener("click", () => callBackground("ext.cancelKeyUnlock").catch(() => {}));
  $("lock").addEventListener("click", async () => {
    await request("vault.lock");
    await refresh();
    $("password").focus();
  });
  $("search").addEventListener("input", render);
  $("scan-qr").addEventListener("click", () =>
    scanQr().catch((err) => {
      state.notes.add = { text: err.message, kind: "error" };
      render();
    }),
  );
  $("add-uri-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await addEntry({ uri: $("add-uri").value.trim() }, t("popup_how_uri"))) $("add-uri").value = "";
  });
  $("add-manual-form").addEventListener("submit", async (event) => {
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
    if (await addEntry({ entry }, t("popup_how_hand"))) $("add-secret").value = "";
  });
  $("auto-lock").addEventListener("change", async () => {
    try {
      const saved = await request("settings.set", { auto_lock_seconds: Number($("auto-lock").value) });
      state.autoLockSeconds = saved.auto_lock_seconds;
      state.notes.autoLock = { text: t("popup_auto_lock_saved"), kind: "ok" };
    } catch (err) {
      state.notes.autoLock = { text: err.message, kind: "error" };
    }
    render();
  });
  api.runtime.onMessage.addListener((msg) => {
    if (msg?.type === "host.event") refresh();
    if (msg?.type === "key.unlock.event" && state.keyUnlock) keyUnlockEvent(msg.event);
  });
  setInterval(tick, 1000);
  await refresh();
  if (state.status?.vault?.exists && !state.status.vault.unlocked) $("password").focus();
  document.body.dataset.ready = "true";
}

main().catch((err) => {
  $("problem").textContent = err.message;
  $("problem").dataset.code = err.code ?? "";
  show($("problem"), true);
  document.body.dataset.ready = "true";
});
